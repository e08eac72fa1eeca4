import {
  ApiError, EMAIL_PATTERN, basicCredentials, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext,
} from './base.ts';
import { synthesiseCompany } from './enrichment.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * A lead scoring tool (use case 7), mimicking MadKudu's API v1: HTTP Basic with the API key
 * as user name and an empty password; a person answer of `{ email, object_type: 'person',
 * properties: { customer_fit: { segment, score, top_signals }, likelihood_to_buy: {…} },
 * company }`. Errors are `{ error, message }`.
 *
 * Routes:
 * - GET  /v1/persons?email=            score from what the tool knows (firmographics from the email's domain)
 * - POST /v1/persons  { email, first_name?, last_name?, title?, company?: { name?, domain?, employees?, industry? },
 *                       traits?: { pageviews_30d?, requested_demo?, signed_up?, emails_opened_30d? } }
 *                      score with the attributes sent (they are remembered for later GETs)
 * - GET  /v1/companies?domain=
 *
 * Scores are deterministic (see scoreFit / scoreBehaviour) so tests can assert thresholds;
 * options.scores pins the fit score of chosen emails.
 */

export type Segment = 'very good' | 'good' | 'medium' | 'low';
export interface Signal { name: string; value: string; type: 'positive' | 'negative' }
export interface PersonInput {
  email: string;
  first_name?: string;
  last_name?: string;
  title?: string;
  company?: { name?: string; domain?: string; employees?: number; industry?: string };
  traits?: { pageviews_30d?: number; requested_demo?: boolean; signed_up?: boolean; emails_opened_30d?: number };
}

export interface ScoringOptions extends CommonOptions {
  /** Default `mk_test_scoring_key`. */
  apiKey?: string;
  /** Fixed fit scores by email (0..100). */
  scores?: Record<string, number>;
  /** Industries that fit the ideal customer profile (lower case; default software, internet, financial services, saas). */
  targetIndustries?: string[];
}

export interface ScoringEmulator extends Emulator {
  apiKey: string;
  /** What was sent by POST, by email. */
  known: Map<string, PersonInput>;
  /** The answer the API would give for this input, without a request. */
  score(input: PersonInput): ReturnType<typeof personBody>;
}

const PERSONAL = new Set(['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'proton.me', 'aol.com']);

export function segmentOf(score: number): Segment {
  return score >= 85 ? 'very good' : score >= 70 ? 'good' : score >= 50 ? 'medium' : 'low';
}

/** Fit: company size, industry, seniority; personal addresses score low. */
export function scoreFit(input: PersonInput, employees: number, industry: string, targets: string[]): { score: number; signals: Signal[] } {
  const signals: Signal[] = [];
  let score = 10;
  if (employees >= 1000) { score += 35; signals.push({ name: 'employee count', value: String(employees), type: 'positive' }); }
  else if (employees >= 200) { score += 25; signals.push({ name: 'employee count', value: String(employees), type: 'positive' }); }
  else if (employees >= 50) score += 15;
  else if (employees >= 10) score += 5;
  else signals.push({ name: 'employee count', value: String(employees), type: 'negative' });
  if (targets.some((t) => industry.toLowerCase().includes(t))) { score += 20; signals.push({ name: 'industry', value: industry, type: 'positive' }); }
  const title = input.title ?? '';
  if (/\b(chief|vp|vice president|head|director|founder|owner|c[etfio]o)\b/i.test(title)) { score += 15; signals.push({ name: 'seniority', value: title, type: 'positive' }); }
  else if (/\bmanager\b/i.test(title)) score += 8;
  const domain = input.email.split('@')[1]?.toLowerCase() ?? '';
  if (PERSONAL.has(domain)) { score -= 30; signals.push({ name: 'personal email', value: domain, type: 'negative' }); }
  return { score: Math.max(0, Math.min(100, score)), signals };
}

/** Behaviour: web visits, demo requests, sign-ups, email engagement. */
export function scoreBehaviour(traits: PersonInput['traits'] = {}): { score: number; signals: Signal[] } {
  const signals: Signal[] = [];
  let score = 5;
  if (traits.requested_demo) { score += 45; signals.push({ name: 'requested demo', value: 'true', type: 'positive' }); }
  if ((traits.pageviews_30d ?? 0) >= 20) { score += 25; signals.push({ name: 'pageviews (30d)', value: String(traits.pageviews_30d), type: 'positive' }); }
  else if ((traits.pageviews_30d ?? 0) >= 5) score += 10;
  if (traits.signed_up) { score += 15; signals.push({ name: 'signed up', value: 'true', type: 'positive' }); }
  if ((traits.emails_opened_30d ?? 0) >= 3) score += 10;
  return { score: Math.min(100, score), signals };
}

function personBody(input: PersonInput, targets: string[], pinned: number | undefined) {
  const domain = input.company?.domain ?? input.email.split('@')[1] ?? '';
  const known = PERSONAL.has(domain.toLowerCase()) ? undefined : synthesiseCompany(domain.toLowerCase());
  const employees = input.company?.employees ?? known?.metrics.employees ?? 0;
  const industry = input.company?.industry ?? known?.category.industry ?? 'Unknown';
  const fit = scoreFit(input, employees, industry, targets);
  const fitScore = pinned ?? fit.score;
  const behaviour = scoreBehaviour(input.traits);
  const formatted = (signals: Signal[]) => signals.map((s) => `${s.type === 'positive' ? '↑' : '↓'} ${s.name}: ${s.value}`).join(', ');
  return {
    email: input.email.toLowerCase(),
    object_type: 'person',
    properties: {
      first_name: input.first_name ?? null,
      last_name: input.last_name ?? null,
      title: input.title ?? null,
      domain,
      is_student: false,
      is_spam: false,
      is_personal_email: PERSONAL.has(domain.toLowerCase()),
      customer_fit: { segment: segmentOf(fitScore), score: fitScore, top_signals: fit.signals, top_signals_formatted: formatted(fit.signals) },
      likelihood_to_buy: { segment: segmentOf(behaviour.score), score: behaviour.score, top_signals: behaviour.signals, top_signals_formatted: formatted(behaviour.signals) },
    },
    company: {
      properties: { name: input.company?.name ?? known?.name ?? null, domain, industry, employees, location: known ? { state: known.geo.state, country: known.geo.country, country_code: known.geo.countryCode } : null },
    },
  };
}

function mkError(status: number, error: string, message: string): Reply {
  return { status, body: { error, message } };
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return mkError(status, 'Too Many Requests', 'API rate limit exceeded');
    case 'server_error': return mkError(status, status === 503 ? 'Service Unavailable' : 'Internal Server Error', 'An internal error occurred');
    case 'not_found': return mkError(404, 'Not Found', message);
    case 'method_not_allowed': return mkError(405, 'Method Not Allowed', message);
    case 'invalid_body': return mkError(400, 'Bad Request', message);
    default: return mkError(status, status >= 500 ? 'Internal Server Error' : 'Bad Request', message);
  }
}

export async function startScoringEmulator(options: ScoringOptions = {}): Promise<ScoringEmulator> {
  const apiKey = options.apiKey ?? 'mk_test_scoring_key';
  const targets = (options.targetIndustries ?? ['software', 'internet', 'financial services', 'saas', 'capital markets']).map((t) => t.toLowerCase());
  const known = new Map<string, PersonInput>();
  const score = (input: PersonInput) => personBody(input, targets, options.scores?.[input.email.toLowerCase()]);

  const emailOf = (value: unknown, where: string): string => {
    if (typeof value !== 'string' || value === '') throw new ApiError(mkError(400, 'Bad Request', `${where} is required`));
    if (!EMAIL_PATTERN.test(value)) throw new ApiError(mkError(400, 'Bad Request', `${where} is not a valid email address: ${value}`));
    return value.toLowerCase();
  };

  const routes = [
    {
      method: 'GET', path: '/v1/persons',
      handle(ctx: RouteContext): Reply {
        const email = emailOf(ctx.search.get('email') ?? undefined, 'email');
        return { status: 200, body: score(known.get(email) ?? { email }) };
      },
    },
    {
      method: 'POST', path: '/v1/persons',
      handle(ctx: RouteContext): Reply {
        const body = ctx.req.body;
        if (!isPlainObject(body)) throw new ApiError(mkError(400, 'Bad Request', 'body must be a JSON object with at least an email'));
        const email = emailOf(body.email, 'email');
        const problems: string[] = [];
        for (const k of ['first_name', 'last_name', 'title']) if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') problems.push(`${k} must be a string`);
        if (body.company !== undefined && !isPlainObject(body.company)) problems.push('company must be an object');
        if (isPlainObject(body.company) && body.company.employees !== undefined && (typeof body.company.employees !== 'number' || body.company.employees < 0)) problems.push('company.employees must be a non-negative number');
        if (body.traits !== undefined && !isPlainObject(body.traits)) problems.push('traits must be an object');
        if (problems.length > 0) throw new ApiError(mkError(400, 'Bad Request', problems.join('; ')));
        const input: PersonInput = { ...(body as unknown as PersonInput), email };
        known.set(email, input);
        return { status: 200, body: score(input) };
      },
    },
    {
      method: 'GET', path: '/v1/companies',
      handle(ctx: RouteContext): Reply {
        const domain = ctx.search.get('domain');
        if (!domain) throw new ApiError(mkError(400, 'Bad Request', 'domain is required'));
        if (PERSONAL.has(domain.toLowerCase())) throw new ApiError(mkError(404, 'Not Found', `No company found for domain ${domain}`));
        const c = synthesiseCompany(domain.toLowerCase());
        const fit = scoreFit({ email: `x@${domain}`, title: 'Director' }, c.metrics.employees, c.category.industry, targets);
        return {
          status: 200,
          body: {
            domain, object_type: 'company',
            properties: { name: c.name, domain, industry: c.category.industry, employees: c.metrics.employees, customer_fit: { segment: segmentOf(fit.score), score: fit.score, top_signals: fit.signals } },
          },
        };
      },
    },
  ];

  return startHttpEmulator({
    name: 'scoring',
    routes,
    authenticate(req) {
      const creds = basicCredentials(req.headers);
      if (!creds || creds.user === '') return mkError(401, 'Unauthorized', 'Missing API key: use HTTP Basic authentication with your API key as the username');
      if (creds.user !== apiKey) return mkError(401, 'Unauthorized', 'Invalid API key');
      return null;
    },
    errorReply,
    resetState() {
      known.clear();
    },
  }, options, { apiKey, known, score });
}

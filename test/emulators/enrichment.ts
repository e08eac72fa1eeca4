import {
  ApiError, EMAIL_PATTERN, basicCredentials, bearerToken, md5, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext,
} from './base.ts';

/**
 * A data enrichment provider (use case 4), mimicking Clearbit's Enrichment API v2 (the
 * person.clearbit.com and company.clearbit.com hosts are paths of one base URL here).
 * Auth: `Authorization: Bearer <key>` or Basic with the key as user name, as Clearbit
 * accepts. Errors are `{ error: { type, message } }`.
 *
 * Routes:
 * - GET /v2/combined/find?email=    → { person, company } (company from the email's domain; null for webmail)
 * - GET /v2/people/find?email=      → person
 * - GET /v2/companies/find?domain=  → company
 * 404 `unknown_record` for unknown records (a domain ending in `.invalid`, or listed in
 * options.unknown); 422 for a missing or malformed email/domain; 202 `{ error: { type:
 * 'queued' } }` the first time a record listed in options.queued is asked for (Clearbit's
 * asynchronous lookup), 200 afterwards. Records not seeded are synthesised
 * deterministically from the domain, so any test address gets stable, plausible data.
 */

export interface EnrichedCompany {
  id: string;
  name: string;
  legalName: string | null;
  domain: string;
  domainAliases: string[];
  site: { phoneNumbers: string[]; emailAddresses: string[] };
  category: { sector: string; industryGroup: string; industry: string; subIndustry: string; sicCode: string; naicsCode: string };
  tags: string[];
  description: string;
  foundedYear: number;
  location: string;
  timeZone: string;
  utcOffset: number;
  geo: { streetNumber: string | null; streetName: string | null; city: string; state: string | null; stateCode: string | null; postalCode: string | null; country: string; countryCode: string; lat: number | null; lng: number | null };
  logo: string;
  linkedin: { handle: string | null };
  twitter: { handle: string | null; followers: number | null };
  type: 'private' | 'public' | 'nonprofit' | 'education' | 'government' | 'personal';
  ticker: string | null;
  phone: string | null;
  metrics: {
    alexaUsRank: number | null; alexaGlobalRank: number | null; trafficRank: string | null;
    employees: number; employeesRange: string; marketCap: number | null; raised: number | null;
    annualRevenue: number | null; estimatedAnnualRevenue: string; fiscalYearEnd: number | null;
  };
  indexedAt: string;
  tech: string[];
  techCategories: string[];
  parent: { domain: string | null };
  ultimateParent: { domain: string | null };
}

export interface EnrichedPerson {
  id: string;
  name: { fullName: string; givenName: string; familyName: string };
  email: string;
  location: string;
  timeZone: string;
  utcOffset: number;
  geo: { city: string; state: string | null; stateCode: string | null; country: string; countryCode: string; lat: number | null; lng: number | null };
  bio: string | null;
  site: string | null;
  avatar: string | null;
  employment: { domain: string; name: string; title: string; role: string; subRole: string; seniority: 'executive' | 'director' | 'manager' | 'senior' | 'junior' | null };
  facebook: { handle: string | null };
  github: { handle: string | null; followers: number | null };
  twitter: { handle: string | null; followers: number | null };
  linkedin: { handle: string | null };
  googleplus: { handle: null };
  gravatar: { handle: null; avatars: [] };
  fuzzy: boolean;
  emailProvider: boolean;
  indexedAt: string;
  phone: string | null;
  activeAt: string;
  inactiveAt: string | null;
}

export interface EnrichmentOptions extends CommonOptions {
  /** Default `sk_test_enrichment_key`. */
  apiKey?: string;
  /** Seeded people by email (merged over synthesised values). */
  people?: Record<string, Partial<EnrichedPerson>>;
  /** Seeded companies by domain (merged over synthesised values; `metrics` merged too). */
  companies?: Record<string, Partial<Omit<EnrichedCompany, 'metrics'>> & { metrics?: Partial<EnrichedCompany['metrics']> }>;
  /** Emails or domains that are not found (404). */
  unknown?: string[];
  /** Emails or domains answered 202 (queued) on their first lookup. */
  queued?: string[];
}

export interface EnrichmentEmulator extends Emulator {
  apiKey: string;
  /** What the API would answer for this email / domain, without a request. */
  person(email: string): EnrichedPerson | null;
  company(domain: string): EnrichedCompany | null;
}

const WEBMAIL = new Set(['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'proton.me', 'aol.com']);
const INDUSTRIES = [
  { sector: 'Information Technology', industryGroup: 'Software & Services', industry: 'Internet Software & Services', subIndustry: 'Internet Software & Services', sicCode: '73', naicsCode: '51' },
  { sector: 'Financials', industryGroup: 'Diversified Financials', industry: 'Capital Markets', subIndustry: 'Investment Banking & Brokerage', sicCode: '62', naicsCode: '52' },
  { sector: 'Health Care', industryGroup: 'Health Care Equipment & Services', industry: 'Health Care Providers & Services', subIndustry: 'Health Care Services', sicCode: '80', naicsCode: '62' },
  { sector: 'Industrials', industryGroup: 'Capital Goods', industry: 'Machinery', subIndustry: 'Industrial Machinery', sicCode: '35', naicsCode: '33' },
  { sector: 'Consumer Discretionary', industryGroup: 'Retailing', industry: 'Internet & Catalog Retail', subIndustry: 'Internet & Direct Marketing Retail', sicCode: '59', naicsCode: '45' },
];
const SIZES: { employees: number; range: string; revenue: string; annual: number | null; raised: number | null }[] = [
  { employees: 8, range: '1-10', revenue: '$0-$1M', annual: null, raised: null },
  { employees: 45, range: '11-50', revenue: '$1M-$10M', annual: 4_000_000, raised: 3_000_000 },
  { employees: 180, range: '51-250', revenue: '$10M-$50M', annual: 28_000_000, raised: 42_000_000 },
  { employees: 950, range: '251-1K', revenue: '$50M-$100M', annual: 86_000_000, raised: 120_000_000 },
  { employees: 4_200, range: '1K-5K', revenue: '$250M-$500M', annual: 410_000_000, raised: null },
  { employees: 12_000, range: '10K-50K', revenue: '$1B-$10B', annual: 3_200_000_000, raised: null },
];
const TITLES: { title: string; role: string; subRole: string; seniority: EnrichedPerson['employment']['seniority'] }[] = [
  { title: 'Chief Technology Officer', role: 'engineering', subRole: 'engineering', seniority: 'executive' },
  { title: 'VP of Sales', role: 'sales', subRole: 'sales', seniority: 'executive' },
  { title: 'Director of Marketing', role: 'marketing', subRole: 'marketing', seniority: 'director' },
  { title: 'Engineering Manager', role: 'engineering', subRole: 'software', seniority: 'manager' },
  { title: 'Senior Software Engineer', role: 'engineering', subRole: 'software', seniority: 'senior' },
  { title: 'Account Coordinator', role: 'sales', subRole: 'account_management', seniority: 'junior' },
];
const TECH = ['salesforce', 'hubspot', 'google_apps', 'slack', 'aws_route_53', 'segment', 'snowflake', 'stripe', 'zendesk', 'intercom'];

function hashNumber(text: string): number {
  return parseInt(md5(text).slice(0, 8), 16);
}

function uuidFrom(text: string): string {
  const h = md5(text);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function titleCase(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1).toLowerCase();
}

export function synthesiseCompany(domain: string): EnrichedCompany {
  const h = hashNumber(domain);
  const label = domain.split('.')[0] ?? domain;
  const name = label.split(/[-_]/).map(titleCase).join(' ');
  const size = SIZES[h % SIZES.length]!;
  const category = INDUSTRIES[(h >>> 4) % INDUSTRIES.length]!;
  const tech = TECH.filter((_, i) => ((h >>> (i + 8)) & 1) === 1);
  return {
    id: uuidFrom(`company:${domain}`),
    name,
    legalName: `${name} Inc.`,
    domain,
    domainAliases: [],
    site: { phoneNumbers: ['+1 415-555-0100'], emailAddresses: [`info@${domain}`] },
    category,
    tags: [category.sector === 'Information Technology' ? 'SAAS' : 'B2B', 'Enterprise'].slice(0, size.employees > 500 ? 2 : 1),
    description: `${name} builds products for ${category.industry.toLowerCase()}.`,
    foundedYear: 1990 + (h % 33),
    location: '548 Market St, San Francisco, CA 94104, USA',
    timeZone: 'America/Los_Angeles',
    utcOffset: -8,
    geo: { streetNumber: '548', streetName: 'Market Street', city: 'San Francisco', state: 'California', stateCode: 'CA', postalCode: '94104', country: 'United States', countryCode: 'US', lat: 37.79, lng: -122.4 },
    logo: `https://logo.clearbit.com/${domain}`,
    linkedin: { handle: `company/${label}` },
    twitter: { handle: label, followers: (h % 50_000) + 100 },
    type: size.employees > 4_000 ? 'public' : 'private',
    ticker: size.employees > 4_000 ? label.slice(0, 4).toUpperCase() : null,
    phone: '+1 415-555-0100',
    metrics: {
      alexaUsRank: null, alexaGlobalRank: null, trafficRank: size.employees > 900 ? 'high' : 'medium',
      employees: size.employees, employeesRange: size.range, marketCap: null, raised: size.raised,
      annualRevenue: size.annual, estimatedAnnualRevenue: size.revenue, fiscalYearEnd: 12,
    },
    indexedAt: '2025-01-10T08:00:00.000Z',
    tech,
    techCategories: tech.length > 0 ? ['crm', 'productivity'] : [],
    parent: { domain: null },
    ultimateParent: { domain: null },
  };
}

export function synthesisePerson(email: string, company: EnrichedCompany | null): EnrichedPerson {
  const [local = 'someone', domain = 'example.com'] = email.toLowerCase().split('@');
  const parts = local.split(/[._-]+/).filter(Boolean);
  const givenName = titleCase(parts[0] ?? 'Alex');
  const familyName = titleCase(parts[1] ?? 'Smith');
  const role = TITLES[hashNumber(email) % TITLES.length]!;
  return {
    id: uuidFrom(`person:${email.toLowerCase()}`),
    name: { fullName: `${givenName} ${familyName}`, givenName, familyName },
    email: email.toLowerCase(),
    location: 'San Francisco, CA, US',
    timeZone: 'America/Los_Angeles',
    utcOffset: -8,
    geo: { city: 'San Francisco', state: 'California', stateCode: 'CA', country: 'United States', countryCode: 'US', lat: 37.77, lng: -122.42 },
    bio: null,
    site: null,
    avatar: null,
    employment: { domain: company?.domain ?? domain, name: company?.name ?? titleCase(domain.split('.')[0] ?? domain), title: role.title, role: role.role, subRole: role.subRole, seniority: role.seniority },
    facebook: { handle: null },
    github: { handle: role.role === 'engineering' ? `${parts[0] ?? 'dev'}${parts[1] ?? ''}` : null, followers: role.role === 'engineering' ? 42 : null },
    twitter: { handle: null, followers: null },
    linkedin: { handle: `in/${parts.join('-')}` },
    googleplus: { handle: null },
    gravatar: { handle: null, avatars: [] },
    fuzzy: false,
    emailProvider: WEBMAIL.has(domain),
    indexedAt: '2025-01-10T08:00:00.000Z',
    phone: null,
    activeAt: '2025-01-09T12:00:00.000Z',
    inactiveAt: null,
  };
}

function clearbitError(status: number, type: string, message: string): Reply {
  return { status, body: { error: { type, message } } };
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return clearbitError(status, 'rate_limit', 'Rate limit exceeded. Please slow down your requests.');
    case 'server_error': return clearbitError(status, 'server_error', 'Something went wrong on our end; please try again.');
    case 'not_found': return clearbitError(404, 'not_found', message);
    case 'invalid_body': return clearbitError(400, 'params_invalid', message);
    default: return clearbitError(status, status >= 500 ? 'server_error' : 'request_invalid', message);
  }
}

const DOMAIN_PATTERN = /^(?=.{3,253}$)[a-z0-9-]+(\.[a-z0-9-]+)+$/i;

export async function startEnrichmentEmulator(options: EnrichmentOptions = {}): Promise<EnrichmentEmulator> {
  const apiKey = options.apiKey ?? 'sk_test_enrichment_key';
  const unknown = new Set((options.unknown ?? []).map((s) => s.toLowerCase()));
  const queued = new Set((options.queued ?? []).map((s) => s.toLowerCase()));
  const asked = new Set<string>();

  const company = (domain: string): EnrichedCompany | null => {
    const d = domain.toLowerCase();
    if (unknown.has(d) || d.endsWith('.invalid') || WEBMAIL.has(d)) return null;
    const seeded = options.companies?.[d];
    const base = synthesiseCompany(d);
    if (!seeded) return base;
    return { ...base, ...seeded, metrics: { ...base.metrics, ...seeded.metrics } } as EnrichedCompany;
  };
  const person = (email: string): EnrichedPerson | null => {
    const e = email.toLowerCase();
    const domain = e.split('@')[1] ?? '';
    if (unknown.has(e) || unknown.has(domain) || domain.endsWith('.invalid')) return null;
    const base = synthesisePerson(e, company(domain));
    const seeded = options.people?.[e];
    return seeded ? { ...base, ...seeded, employment: { ...base.employment, ...seeded.employment } } as EnrichedPerson : base;
  };

  const queuedReply = (key: string): Reply | undefined => {
    if (!queued.has(key) || asked.has(key)) return undefined;
    asked.add(key);
    return clearbitError(202, 'queued', 'Your lookup has been queued. Retry in a few seconds, or use a webhook.');
  };
  const emailParam = (ctx: RouteContext): string => {
    const email = ctx.search.get('email');
    if (email === null || email === '') throw new ApiError(clearbitError(422, 'params_invalid', 'Missing required param: email'));
    if (!EMAIL_PATTERN.test(email)) throw new ApiError(clearbitError(422, 'email_invalid', `Invalid email: ${email}`));
    return email.toLowerCase();
  };
  /** The person both email lookups answer with, after the one-time queued answer. */
  const findPerson = (ctx: RouteContext): { email: string; person: EnrichedPerson } => {
    const email = emailParam(ctx);
    const q = queuedReply(email);
    if (q) throw new ApiError(q);
    const p = person(email);
    if (!p) throw new ApiError(clearbitError(404, 'unknown_record', 'Unknown email address'));
    return { email, person: p };
  };

  const routes = [
    {
      method: 'GET', path: '/v2/combined/find',
      handle(ctx: RouteContext): Reply {
        const found = findPerson(ctx);
        return { status: 200, body: { person: found.person, company: found.person.emailProvider ? null : company(found.email.split('@')[1]!) } };
      },
    },
    {
      method: 'GET', path: '/v2/people/find',
      handle: (ctx: RouteContext): Reply => ({ status: 200, body: findPerson(ctx).person }),
    },
    {
      method: 'GET', path: '/v2/companies/find',
      handle(ctx: RouteContext): Reply {
        const domain = ctx.search.get('domain');
        if (domain === null || domain === '') throw new ApiError(clearbitError(422, 'params_invalid', 'Missing required param: domain'));
        if (!DOMAIN_PATTERN.test(domain)) throw new ApiError(clearbitError(422, 'domain_invalid', `Invalid domain: ${domain}`));
        const q = queuedReply(domain.toLowerCase());
        if (q) return q;
        const c = company(domain);
        if (!c) throw new ApiError(clearbitError(404, 'unknown_record', 'Unknown domain'));
        return { status: 200, body: c };
      },
    },
  ];

  return startHttpEmulator({
    name: 'enrichment',
    routes,
    authenticate(req) {
      const given = bearerToken(req.headers) ?? basicCredentials(req.headers)?.user;
      if (given === undefined || given === '') return clearbitError(401, 'auth_required', 'API key required. Pass it as a Bearer token or as the Basic auth user name.');
      if (given !== apiKey) return clearbitError(401, 'unauthorized', 'Invalid API key provided.');
      return null;
    },
    errorReply,
    resetState() {
      asked.clear();
    },
  }, options, { apiKey, person, company });
}

/**
 * The http step (`{method, url, headers, query, body?, auth?, timeoutMs, retry, accept?}`:
 * schema, checks and handler): one request through the SSRF-guarded client (libs/http),
 * which also applies the step's `retry` (429/5xx, connection failures, timeouts;
 * Retry-After honoured). Decisions:
 *
 * - Retries: the step's `retry.maxAttempts` is the number of requests the step may make.
 *   Once the client has used them, its error is final for the engine too (retriable:
 *   false), so the engine's own step retries never multiply them (3 × 5 requests for a
 *   "5 attempts" step). One exception: HTTP_ABORTED (the executor stopping or the run
 *   cancelled) stays retriable, as the run resumes later.
 * - Idempotency: requests other than GET/HEAD carry `Idempotency-Key: <idempotencyKey>` (unless
 *   the step sets one), the same for every attempt and after a crash, so APIs that honour
 *   it (Stripe, Adyen…) apply a repeated request once.
 * - Secrets: the credential is resolved at execution and only its name is in the step's
 *   input (what the run records). Response headers go through redactHeaders, and the
 *   resolved secret values are replaced by "[redacted]" wherever they come back (an echo
 *   API, an error message). A header credential other than Authorization/Cookie (which the
 *   client drops on a cross-origin redirect) turns redirect following off: the client
 *   would carry that header to another origin. The step then answers with the 3xx.
 * - Time limit (`timeoutMs(input)`): enough for every attempt plus the waits between them.
 *   A wait is the backoff or the server's Retry-After, both capped by the client at
 *   MAX_WAIT_MS (60 s), so: timeoutMs × maxAttempts + (maxAttempts − 1) × 60 s + 5 s
 *   (credential lookup, redirects' bookkeeping).
 * - Dry run: the request is built (credential resolved, so a missing one fails the dry
 *   run too) and shown, with the credential's header as "[credential <name>]"; nothing is sent.
 */
import { HubError, errorFactory, pickErrors } from '../../errors/index.ts';
import { HttpStatusError, redactHeaders, redactSecrets, type HttpClient } from '../../http/index.ts';
import { MAX_WAIT_MS } from '../../http/retry.ts';
import type { StepHandler, StepRunContext } from '../interpreter.ts';
import type { HttpInput } from '../../contracts/workflow.ts';
import { inputObject, integerSchema, type CredentialResolver, type StepTypeSpec } from '../step-spec.ts';
import { escapePointer as esc, kindOf } from '../../json/index.ts';

export type { CredentialResolver } from '../step-spec.ts';

export const httpStepErrors = pickErrors('CREDENTIAL_NOT_FOUND', 'CREDENTIAL_TYPE_UNSUPPORTED', 'HTTP_STEP_INPUT_INVALID');

const raise = errorFactory(httpStepErrors);

export interface HttpStepDeps {
  client: HttpClient;
  credentials: CredentialResolver;
  /** The body is recorded on the run, so it is kept small: default 1 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const MARGIN_MS = 5000;
const EXCERPT_CHARS = 300;
/** Headers the client drops on a cross-origin redirect. */
const DROPPED_CROSS_ORIGIN: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie']);
/** Client errors about where the request goes: reported at the step's url. */
const URL_ERRORS: ReadonlySet<string> = new Set(['HTTP_URL_INVALID', 'HTTP_ADDRESS_BLOCKED', 'HTTP_HOST_NOT_FOUND']);


interface Prepared {
  method: HttpInput['method'];
  url: URL;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: unknown;
}

/** The rendered input as a request; templates may have rendered to anything. */
function prepare(input: HttpInput, ctx: StepRunContext): Prepared {
  if (typeof input.url !== 'string') throw raise('HTTP_STEP_INPUT_INVALID', `url must render to a string, got ${kindOf(input.url)}`, { path: '/url' });
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw raise('HTTP_STEP_INPUT_INVALID', 'url must render to an absolute http(s) URL', { path: '/url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw raise('HTTP_STEP_INPUT_INVALID', `url must be http: or https:, not ${url.protocol}`, { path: '/url' });
  for (const [name, value] of Object.entries(input.query ?? {})) {
    // null leaves the parameter out; an array repeats it (ids=1&ids=2).
    for (const v of Array.isArray(value) ? value : value === null ? [] : [value]) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) throw raise('HTTP_STEP_INPUT_INVALID', `query parameter "${name}" must render to a string, number, boolean or an array of them, got ${kindOf(v)}`, { path: `/query/${esc(name)}` });
      url.searchParams.append(name, String(v));
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (value === null) continue;
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw raise('HTTP_STEP_INPUT_INVALID', `header ${name} must render to a string, got ${kindOf(value)}`, { path: `/headers/${esc(name)}` });
    headers[name.toLowerCase()] = String(value);
  }
  if (input.method !== 'GET' && input.method !== 'HEAD' && headers['idempotency-key'] === undefined) headers['idempotency-key'] = ctx.idempotencyKey ?? ctx.effectId;
  return { method: input.method, url, headers, body: input.body };
}

interface Auth { header: string; value: string; secrets: string[] }

async function authFor(d: HttpStepDeps, input: HttpInput, ctx: StepRunContext): Promise<Auth | null> {
  if (!input.auth) return null;
  const name = input.auth.credential;
  const cred = await d.credentials.resolve(ctx.workspaceId, name);
  const path = '/auth/credential';
  if (!cred) throw raise('CREDENTIAL_NOT_FOUND', `no credential "${name}" in this workspace; create it with POST /v1/credentials`, { path });
  switch (cred.type) {
    case 'bearer':
      return { header: 'authorization', value: `Bearer ${cred.token.reveal()}`, secrets: [cred.token.reveal()] };
    case 'basic': {
      const encoded = Buffer.from(`${cred.username}:${cred.password.reveal()}`, 'utf8').toString('base64');
      return { header: 'authorization', value: `Basic ${encoded}`, secrets: [cred.password.reveal(), encoded] };
    }
    case 'header':
      return { header: cred.header.toLowerCase(), value: cred.value.reveal(), secrets: [cred.value.reveal()] };
    default:
      throw raise('CREDENTIAL_TYPE_UNSUPPORTED', `credential "${name}" is a ${cred.type} credential; an http step takes a bearer, basic or header one`, { path });
  }
}

/** A short, single-line view of an error answer's body, for the step's error message. */
function excerpt(body: unknown): string {
  const text = (typeof body === 'string' ? body : JSON.stringify(body) ?? '').replace(/\s+/g, ' ').trim();
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

/** The client's error as the step's: final for the engine (see the module comment), secrets redacted. */
function stepError(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof HubError)) return err;
  const clean = (text: string) => redactSecrets(text, secrets);
  if (err instanceof HttpStatusError) {
    const body = excerpt(err.response.body);
    return new HubError(err.code, { status: err.status, retriable: false }, clean(`${err.message}${body ? `: ${body}` : ''}`), { cause: err });
  }
  const retriable = err.code === 'HTTP_ABORTED' ? err.retriable : false;
  const path = err.path ?? (URL_ERRORS.has(err.code) ? '/url' : undefined);
  return new HubError(err.code, { status: err.status, retriable }, clean(err.message), { ...(path ? { path } : {}), cause: err });
}

export function createHttpStepHandler(d: HttpStepDeps): StepHandler {
  const maxResponseBytes = d.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return {
    timeoutMs(raw) {
      const input = raw as HttpInput;
      const attempts = input.retry?.maxAttempts ?? 1;
      return (input.timeoutMs ?? 10_000) * attempts + (attempts - 1) * MAX_WAIT_MS + MARGIN_MS;
    },
    async execute(raw, _step, ctx) {
      const input = raw as HttpInput;
      const req = prepare(input, ctx);
      const auth = await authFor(d, input, ctx);
      if (ctx.dryRun) {
        // Redacted before the step's own values are added: "Idempotency-Key" names a key, not a secret.
        const headers: Record<string, string> = { ...redactHeaders(req.headers) };
        if (req.headers['idempotency-key'] !== undefined) headers['idempotency-key'] = req.headers['idempotency-key'];
        if (auth) headers[auth.header] = `[credential ${input.auth!.credential}]`;
        return { dryRun: { wouldRequest: { method: req.method, url: req.url.href, headers, ...(req.body === undefined ? {} : { body: req.body }) } } };
      }
      const secrets = auth?.secrets ?? [];
      const headers = auth ? { ...req.headers, [auth.header]: auth.value } : req.headers;
      let res;
      try {
        res = await d.client.request({
          method: req.method, url: req.url.href, headers, ...(req.body === undefined ? {} : { body: req.body }),
          timeoutMs: input.timeoutMs, retry: input.retry, maxResponseBytes, signal: ctx.signal,
          ...(auth && !DROPPED_CROSS_ORIGIN.has(auth.header) ? { maxRedirects: 0 } : {}),
        });
      } catch (err) {
        if (err instanceof HttpStatusError) {
          ctx.countTries?.(err.response.attempts);
          // An accepted status is an answer the workflow handles (a branch on steps.x.status).
          if (input.accept?.includes(err.response.status)) {
            return { status: err.response.status, headers: redactSecrets(redactHeaders(err.response.headers), secrets), body: redactSecrets(err.response.body, secrets) };
          }
        }
        throw stepError(err, secrets);
      }
      ctx.countTries?.(res.attempts);
      return {
        status: res.status,
        headers: redactSecrets(redactHeaders(res.headers), secrets),
        body: redactSecrets(res.body, secrets),
      };
    },
  };
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
/** Any case ("get" is GET): each letter as a class, since JSON Schema patterns have no flags. */
const METHOD_PATTERN = `^(?:${HTTP_METHODS.map((m) => [...m].map((c) => `[${c}${c.toLowerCase()}]`).join('')).join('|')})$`;
/** Secrets belong in stored credentials (`auth.credential`), never in workflow text. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'api-key']);
const ACCEPT_MESSAGE = 'accept must be a list of up to 20 HTTP statuses from 400 to 599 that complete the step instead of failing it';

function absoluteHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

export const http: StepTypeSpec = {
  type: 'http',
  description: 'One HTTP request through the SSRF guard, retrying 429 and 5xx per `retry`; output {status, headers, body}',
  inputSchema: ({ limits }) => inputObject(['method', 'url'], {
    method: { type: 'string', pattern: METHOD_PATTERN, description: `${HTTP_METHODS.join(', ')} (any case)`, 'x-message': `method must be one of ${HTTP_METHODS.join(', ')}` },
    url: { type: 'string', minLength: 1, maxLength: 8000, description: 'An absolute http(s) URL; may hold templates' },
    headers: {
      type: 'object', default: {}, description: 'Header names to strings or templates; credentials go in `auth`',
      propertyNames: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$", 'x-message': '{value} is not a valid header name' },
      additionalProperties: { type: 'string', maxLength: 8000, 'x-message': 'header values must be strings of at most 8000 characters' },
      'x-message': 'headers must be an object of header names to strings',
    },
    query: {
      type: 'object', default: {}, description: 'Query parameters (a whole template may render to an array: repeated)',
      additionalProperties: { type: ['string', 'number', 'boolean'], 'x-message': 'query values must be strings, numbers or booleans' },
      'x-message': 'query must be an object of parameter names to strings, numbers or booleans',
    },
    body: { description: 'The JSON body (not for GET or HEAD); may hold templates' },
    auth: {
      type: 'object', additionalProperties: false, required: ['credential'],
      properties: { credential: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,200}$', 'x-message': 'credential must be the id of a stored credential (letters, digits, _ . : -)' } },
    },
    timeoutMs: integerSchema(100, limits.httpTimeoutMaxMs, 10_000, 'Per request'),
    retry: {
      type: 'object', additionalProperties: false, default: { maxAttempts: 1, backoffMs: 1000 },
      properties: {
        maxAttempts: integerSchema(1, limits.httpRetryMaxAttempts, 1, 'Requests the step may make (429, 5xx, timeouts)'),
        backoffMs: integerSchema(0, 60_000, 1000, 'First wait, doubled each time; Retry-After wins'),
      },
    },
    accept: {
      type: 'array', maxItems: 20, description: 'Error statuses that complete the step with their answer instead of failing it',
      items: { type: 'integer', minimum: 400, maximum: 599, 'x-report-on-parent': true, 'x-message': ACCEPT_MESSAGE },
      'x-message': ACCEPT_MESSAGE,
    },
  }),
  check(input, ctx) {
    const v = input as Partial<Record<keyof HttpInput, unknown>> & { method: string; url: string };
    const method = v.method.toUpperCase() as HttpInput['method'];
    ctx.templates(v.url, '/url');
    if (!v.url.includes('{{') && !absoluteHttpUrl(v.url)) ctx.fail('/url', 'url must be an absolute http(s) URL (or a template)');
    const headers = (v.headers ?? {}) as Record<string, string>;
    for (const name of Object.keys(headers)) {
      if (SECRET_HEADERS.has(name.toLowerCase())) ctx.fail(`/headers/${esc(name)}`, `${name} carries a secret: store it as a credential and name it in auth.credential`);
    }
    ctx.templates(headers, '/headers');
    const query = (v.query ?? {}) as Record<string, unknown>;
    ctx.templates(query, '/query');
    if (v.body !== undefined) {
      if (method === 'GET' || method === 'HEAD') ctx.fail('/body', `${method} requests have no body`);
      ctx.templates(v.body, '/body');
    }
    const retry = v.retry as { maxAttempts?: number; backoffMs?: number } | undefined;
    return {
      input: {
        method, url: v.url, headers, query,
        ...(v.body === undefined ? {} : { body: v.body }), ...(v.auth === undefined ? {} : { auth: { credential: (v.auth as { credential: string }).credential } }),
        timeoutMs: (v.timeoutMs as number | undefined) ?? 10_000,
        retry: { maxAttempts: retry?.maxAttempts ?? 1, backoffMs: retry?.backoffMs ?? 1000 },
        ...(v.accept === undefined ? {} : { accept: v.accept }),
      },
    };
  },
  handler: (d) => createHttpStepHandler({ client: d.http, credentials: d.credentials }),
};

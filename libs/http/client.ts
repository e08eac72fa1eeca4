import http from 'node:http';
import https from 'node:https';
import { HubError } from '../errors/index.ts';
import { HttpStatusError, raise, type HttpResponse } from './errors.ts';
import { createAddressGuard, type AddressGuard, type Resolve } from './address-guard.ts';
import { exchange, type Hop, type HopContext } from './exchange.ts';
import { MAX_WAIT_MS, retryAfterMs, waitToRetry, type Sleep } from './retry.ts';
import { backoffDelayMs } from '../time/sleep.ts';

export type { HttpResponse } from './errors.ts';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  /** An object is sent as JSON (content-type application/json); a string or bytes as is. */
  body?: unknown;
  /** Per attempt, redirects included. Default 10 s. */
  timeoutMs?: number;
  /** Default 5 MiB. */
  maxResponseBytes?: number;
  /** Default 5; 0 returns the 3xx answer itself. */
  maxRedirects?: number;
  retry?: { maxAttempts: number; backoffMs: number };
  signal?: AbortSignal;
}

export interface HttpClient {
  /** Resolves with 2xx and final 3xx answers; a final 4xx/5xx throws HttpStatusError (HTTP_STATUS). */
  request(r: HttpRequest): Promise<HttpResponse>;
}

export interface HttpClientOptions {
  /** Operator-allowed IPs, CIDRs and host names (see parseAllowlist). */
  allowlist?: readonly string[];
  userAgent?: string;
  /** DNS, injectable for tests; default the system resolver (getaddrinfo). */
  resolve?: Resolve;
  now?: () => number;
  sleep?: Sleep;
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Headers the client owns: framing, and identity encoding so the size cap counts real bytes. */
const OWN_HEADERS: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'accept-encoding',
]);
/** Credentials are not carried to another origin by a redirect (as fetch does). */
const CROSS_ORIGIN_DROPPED = ['authorization', 'proxy-authorization', 'cookie'];
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,200}$/;
const JSON_TYPE = /^(application|text)\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;
const MiB = 1024 * 1024;

interface Compiled {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer | undefined;
  timeoutMs: number;
  maxResponseBytes: number;
  maxRedirects: number;
  maxAttempts: number;
  backoffMs: number;
}

function checkScheme(url: URL, what: string): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw raise('HTTP_URL_INVALID', `${what} has scheme "${url.protocol}", which is refused: only http: and https: are allowed`);
  }
  if (url.username !== '' || url.password !== '') {
    throw raise('HTTP_URL_INVALID', `${what} carries a user name or password; store it as a credential instead`);
  }
}

function parseUrl(text: string, base?: URL): URL {
  try {
    return new URL(text, base);
  } catch {
    throw raise('HTTP_URL_INVALID', base ? `${base.hostname} redirected to an invalid URL` : 'url is not an absolute URL');
  }
}

function integer(value: number | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw raise('HTTP_REQUEST_INVALID', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function encodeBody(body: unknown, headers: Record<string, string>): Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (err) {
    throw raise('HTTP_REQUEST_INVALID', `body cannot be sent as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text === undefined) throw raise('HTTP_REQUEST_INVALID', 'body cannot be sent as JSON');
  headers['content-type'] ??= 'application/json';
  return Buffer.from(text, 'utf8');
}

function compile(r: HttpRequest, userAgent: string): Compiled {
  const method = typeof r.method === 'string' ? r.method.toUpperCase() : '';
  if (!METHODS.has(method)) throw raise('HTTP_REQUEST_INVALID', `method must be one of ${[...METHODS].join(', ')}`);
  const url = parseUrl(String(r.url));
  checkScheme(url, 'url');
  for (const [name, value] of Object.entries(r.query ?? {})) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw raise('HTTP_REQUEST_INVALID', `query parameter "${name}" must be a string, number or boolean`);
    url.searchParams.append(name, String(value));
  }
  const headers: Record<string, string> = {
    'user-agent': userAgent, accept: 'application/json, text/plain;q=0.9, */*;q=0.8', 'accept-encoding': 'identity',
  };
  for (const [rawName, value] of Object.entries(r.headers ?? {})) {
    const name = rawName.toLowerCase();
    if (!HEADER_NAME.test(name)) throw raise('HTTP_REQUEST_INVALID', `"${rawName}" is not a valid header name`);
    if (OWN_HEADERS.has(name)) throw raise('HTTP_REQUEST_INVALID', `header ${rawName} is set by the HTTP client and cannot be given`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw raise('HTTP_REQUEST_INVALID', `header ${rawName} must be a string without line breaks`);
    headers[name] = value;
  }
  if (r.body !== undefined && (method === 'GET' || method === 'HEAD')) throw raise('HTTP_REQUEST_INVALID', `${method} requests have no body`);
  const body = encodeBody(r.body, headers);
  return {
    method, url, headers, body,
    timeoutMs: integer(r.timeoutMs, 'timeoutMs', 10_000, 1, 600_000),
    maxResponseBytes: integer(r.maxResponseBytes, 'maxResponseBytes', 5 * MiB, 1, 1024 * MiB),
    maxRedirects: integer(r.maxRedirects, 'maxRedirects', 5, 0, 20),
    maxAttempts: integer(r.retry?.maxAttempts, 'retry.maxAttempts', 1, 1, 20),
    backoffMs: integer(r.retry?.backoffMs, 'retry.backoffMs', 1000, 0, 60_000),
  };
}

/** JSON when the content type says so (and it parses), else text in the declared charset. */
export function decodeBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (bytes.length === 0) return '';
  const charset = /;\s*charset="?([\w.:-]+)"?/i.exec(contentType ?? '')?.[1];
  let text: string;
  try {
    text = new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    text = new TextDecoder('utf-8').decode(bytes);
  }
  if (contentType && JSON_TYPE.test(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function without(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([n]) => !names.includes(n)));
}

/** Follows redirects by hand so every hop goes through the address guard again. */
async function followRedirects(c: Compiled, ctx: Omit<HopContext, 'skipBody'>): Promise<Omit<HttpResponse, 'attempts'>> {
  const follows = (status: number, headers: Record<string, string>): boolean => c.maxRedirects > 0 && REDIRECTS.has(status) && headers.location !== undefined;
  let hop: Hop = { url: c.url, method: c.method, headers: c.headers, body: c.body };
  for (let redirects = 0; ; redirects++) {
    ctx.guard.checkHost(hop.url.hostname);
    const res = await exchange(hop, { ...ctx, skipBody: follows });
    if (!follows(res.status, res.headers)) {
      return { status: res.status, headers: res.headers, body: decodeBody(res.body, res.headers['content-type']), url: hop.url.href };
    }
    if (redirects >= c.maxRedirects) {
      throw raise('HTTP_TOO_MANY_REDIRECTS', `${c.method} ${c.url.hostname} redirected more than ${c.maxRedirects} times`);
    }
    const next = parseUrl(res.headers.location as string, hop.url);
    checkScheme(next, `the redirect from ${hop.url.hostname}`);
    let { method, headers, body } = hop;
    if ((res.status === 303 && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      headers = without(headers, ['content-type']);
    }
    if (next.origin !== hop.url.origin) headers = without(headers, CROSS_ORIGIN_DROPPED);
    hop = { url: next, method, headers, body };
  }
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const guard: AddressGuard = createAddressGuard({
    ...(options.allowlist ? { allowlist: options.allowlist } : {}),
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  // Our own agents, without keep-alive: a pooled socket (Node's global agent keeps them)
  // would skip the lookup, and so the guard, of the client that reuses it.
  const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };
  const userAgent = options.userAgent ?? 'crm-integration-hub/0.1';
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? waitToRetry;

  async function attempt(c: Compiled, signal: AbortSignal | undefined): Promise<Omit<HttpResponse, 'attempts'>> {
    const controller = new AbortController();
    const host = c.url.hostname;
    const timer = setTimeout(() => controller.abort(raise('HTTP_TIMEOUT', `${c.method} ${host} did not answer within ${c.timeoutMs} ms`)), c.timeoutMs);
    const cancel = (): void => controller.abort(raise('HTTP_ABORTED', `${c.method} ${host} was cancelled`));
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await followRedirects(c, { guard, agents, signal: controller.signal, maxResponseBytes: c.maxResponseBytes });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    }
  }

  async function request(r: HttpRequest): Promise<HttpResponse> {
    const c = compile(r, userAgent);
    for (let n = 1; ; n++) {
      let error: HubError;
      let waitMs = backoffDelayMs(n, { initialMs: c.backoffMs, maxMs: MAX_WAIT_MS });
      try {
        const res = { ...(await attempt(c, r.signal)), attempts: n };
        if (res.status < 400) return res;
        error = new HttpStatusError(res, c.method, c.url.hostname);
        waitMs = retryAfterMs(res.headers['retry-after'], now()) ?? waitMs;
      } catch (err) {
        error = err instanceof HubError ? err : raise('HTTP_CONNECTION_FAILED', String(err), { cause: err });
        if (n > 1 && error.code !== 'HTTP_STATUS') error.message += ` (attempt ${n} of ${c.maxAttempts})`;
      }
      if (!error.retriable || n >= c.maxAttempts || error.code === 'HTTP_ABORTED') throw error;
      try {
        await sleep(waitMs, r.signal);
      } catch (err) {
        throw err instanceof HubError ? err : raise('HTTP_ABORTED', 'the request was cancelled while waiting to retry', { cause: err });
      }
      if (r.signal?.aborted) throw raise('HTTP_ABORTED', 'the request was cancelled while waiting to retry');
    }
  }

  return Object.freeze({ request });
}

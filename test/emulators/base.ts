import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { sleep } from '../../libs/time/sleep.ts';

/**
 * The shared machinery of the HTTP emulators used by the end-to-end tests: a tiny router on
 * node:http bound to 127.0.0.1 on an ephemeral port, a log of every request received,
 * injected failures (429 with Retry-After, 5xx, …) and per-API auth and error bodies.
 *
 * Order of checks for each request, as in the real services: the request is recorded →
 * an injected failure (failNext) answers first, whatever the auth (rate limiters and
 * overloaded front ends answer before the application) → latency → auth → route → body
 * parsing errors → the route's handler. The answer's status is written on the record.
 */

export interface ReceivedRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/customers`. */
  path: string;
  /** The query string; a repeated parameter keeps its last value (see `search` for all). */
  query: Record<string, string>;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed: JSON, or an object for `application/x-www-form-urlencoded` (Stripe's `a[b]=` nesting understood), else the text; undefined when empty. */
  body: unknown;
  /** Date.now() when the request arrived. */
  at: number;
  /** The body exactly as received. */
  rawBody: string;
  /** The status this emulator answered (0 until answered). */
  status: number;
  /** True when the answer came from failNext rather than from the API's logic. */
  injected: boolean;
}

export interface EmulatorFailure {
  status: number;
  /** Sends `Retry-After: <seconds>`. */
  retryAfterSeconds?: number;
  /** The body to answer; default: the emulated API's own error body for that status. */
  body?: unknown;
  /** Waits this long before answering (e.g. to run into a client's timeout). */
  delayMs?: number;
  /**
   * Process the request as usual (state changes, idempotent results saved), then answer
   * this failure instead: the "request succeeded but the response was lost" case that
   * idempotency keys exist for. Default false: the failure answers before the API runs.
   */
  afterProcessing?: boolean;
}

export interface Emulator {
  /** `http://127.0.0.1:<ephemeral port>`, no trailing slash. */
  url: string;
  received: ReceivedRequest[];
  /** The next n requests (optionally only those whose path starts with pathPrefix, and of that method) answer this. */
  failNext(n: number, failure: EmulatorFailure, pathPrefix?: string, method?: string): void;
  /** Forgets received requests and pending failures, and puts the state back as it was at start. */
  reset(): void;
  close(): Promise<void>;
}

/** Options every HTTP emulator takes. */
export interface CommonOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Added before every answer, to look like a real network hop. */
  latencyMs?: number;
  /**
   * The API's own rate limit: past `max` requests in a rolling `windowMs`, answer 429 with
   * Retry-After (whole seconds until a slot frees) and the API's rate-limit body.
   */
  rateLimit?: { max: number; windowMs: number };
}

export interface Reply {
  status: number;
  /** Serialised as JSON unless it is a string or a Buffer. Omitted for 204. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Thrown by handlers (and helpers) to answer with an error reply. */
export class ApiError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

export interface RouteContext {
  req: ReceivedRequest;
  params: Record<string, string>;
  /** All query values, for repeated parameters. */
  search: URLSearchParams;
  /** The emulator's base URL, for links in answers. */
  baseUrl: string;
}

export interface Route {
  method: string;
  /** `/crm/v3/objects/:objectType/:id`: a `:name` segment matches one non-empty segment. */
  path: string;
  handle(ctx: RouteContext): Reply | Promise<Reply>;
}

/** What the API answers in its own words for errors that the base produces. */
export type ErrorKind = 'rate_limited' | 'server_error' | 'not_found' | 'method_not_allowed' | 'invalid_body' | 'too_large' | 'failure';

export interface EmulatorSpec {
  /** For messages. */
  name: string;
  routes: Route[];
  /** null when the request may go on, else the API's 401/403 reply. */
  authenticate(req: ReceivedRequest): Reply | null;
  /** The API's error body (and headers) for a status the base must answer. */
  errorReply(status: number, kind: ErrorKind, message: string): Reply;
  /** Puts the in-memory state back to its initial content. */
  resetState(): void;
  /** Larger bodies are answered 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Headers telling the client its quota under options.rateLimit (HubSpot's X-HubSpot-RateLimit-*), added to every answer. */
  rateLimitHeaders?(remaining: number, max: number, windowMs: number): Record<string, string>;
}

interface PendingFailure { remaining: number; failure: EmulatorFailure; pathPrefix: string | undefined; method: string | undefined }

interface CompiledRoute { route: Route; method: string; segments: string[] }

const DEFAULT_MAX_BODY = 1024 * 1024;

/** Starts an HTTP emulator and returns it merged with `extra` (the emulator's own helpers and state). */
export async function startHttpEmulator<T extends object>(spec: EmulatorSpec, options: CommonOptions, extra: T): Promise<Emulator & T> {
  const received: ReceivedRequest[] = [];
  let pending: PendingFailure[] = [];
  /** Arrival times of the requests counted by options.rateLimit. */
  const accepted: number[] = [];
  const compiled: CompiledRoute[] = spec.routes.map((route) => ({ route, method: route.method.toUpperCase(), segments: splitPath(route.path) }));
  const maxBody = spec.maxBodyBytes ?? DEFAULT_MAX_BODY;
  let baseUrl = '';

  const takeFailure = (path: string, method: string): EmulatorFailure | undefined => {
    const i = pending.findIndex((p) => (p.pathPrefix === undefined || path.startsWith(p.pathPrefix)) && (p.method === undefined || p.method === method));
    if (i < 0) return undefined;
    const p = pending[i]!;
    p.remaining -= 1;
    if (p.remaining <= 0) pending.splice(i, 1);
    return p.failure;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const at = Date.now();
    const target = new URL(request.url ?? '/', 'http://emulator.invalid');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    const query: Record<string, string> = {};
    for (const [k, v] of target.searchParams) query[k] = v;
    const req: ReceivedRequest = {
      method: (request.method ?? 'GET').toUpperCase(), path: target.pathname, query, headers, body: undefined, at, rawBody: '', status: 0, injected: false,
    };
    received.push(req);

    let quota: Record<string, string> = {};
    const send = (reply: Reply, injected = false): void => {
      req.status = reply.status;
      req.injected = injected;
      writeReply(response, { ...reply, headers: { ...quota, ...reply.headers } });
    };

    let raw: Buffer;
    try {
      raw = await readBody(request, maxBody);
    } catch {
      send(spec.errorReply(413, 'too_large', `request body is larger than ${maxBody} bytes`));
      return;
    }
    req.rawBody = raw.toString('utf8');
    let parseError: string | undefined;
    try {
      req.body = parseBody(headers['content-type'], req.rawBody);
    } catch (err) {
      parseError = (err as Error).message;
      req.body = req.rawBody;
    }

    const failure = takeFailure(req.path, req.method);
    const injectedReply = (f: EmulatorFailure): Reply => {
      const reply = f.body === undefined
        ? spec.errorReply(f.status, f.status === 429 ? 'rate_limited' : f.status >= 500 ? 'server_error' : 'failure', failureMessage(f.status))
        : { status: f.status, body: f.body };
      const extraHeaders: Record<string, string> = { ...reply.headers };
      if (f.retryAfterSeconds !== undefined) extraHeaders['retry-after'] = String(f.retryAfterSeconds);
      return { ...reply, status: f.status, headers: extraHeaders };
    };
    if (!failure && options.rateLimit) {
      const { max, windowMs } = options.rateLimit;
      while (accepted.length > 0 && accepted[0]! <= at - windowMs) accepted.shift();
      if (accepted.length >= max) {
        const waitMs = accepted[0]! + windowMs - at;
        const reply = spec.errorReply(429, 'rate_limited', 'rate limit exceeded');
        send({ ...reply, headers: { ...reply.headers, 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) } });
        return;
      }
      accepted.push(at);
      if (spec.rateLimitHeaders) quota = spec.rateLimitHeaders(max - accepted.length, max, windowMs);
    }
    if (failure && !failure.afterProcessing) {
      if (failure.delayMs) await sleep(failure.delayMs);
      send(injectedReply(failure), true);
      return;
    }
    if (options.latencyMs) await sleep(options.latencyMs);
    const reply = await answer(req, target.searchParams, parseError);
    if (failure) {
      // The API did the work (state changed, idempotent result saved); the answer is lost.
      if (failure.delayMs) await sleep(failure.delayMs);
      send(injectedReply(failure), true);
    } else send(reply);
  };

  /** The API's own answer: auth, route, body errors, handler. */
  const answer = async (req: ReceivedRequest, search: URLSearchParams, parseError: string | undefined): Promise<Reply> => {
    const refused = spec.authenticate(req);
    if (refused) return refused;
    const segments = splitPath(req.path);
    let methodMismatch = false;
    for (const c of compiled) {
      const params = matchPath(c.segments, segments);
      if (!params) continue;
      if (c.method !== req.method) {
        methodMismatch = true;
        continue;
      }
      if (parseError !== undefined) return spec.errorReply(400, 'invalid_body', parseError);
      try {
        return await c.route.handle({ req, params, search, baseUrl });
      } catch (err) {
        if (err instanceof ApiError) return err.reply;
        console.error(`[${spec.name} emulator] handler failed`, err);
        return spec.errorReply(500, 'server_error', `emulator bug: ${(err as Error).message}`);
      }
    }
    if (methodMismatch) return spec.errorReply(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}`);
    return spec.errorReply(404, 'not_found', `no route ${req.method} ${req.path}`);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => {
      console.error(`[${spec.name} emulator] request failed`, err);
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const emulator: Emulator = {
    url: baseUrl,
    received,
    failNext(n, failure, pathPrefix, method) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError('failNext needs a positive integer count');
      pending.push({ remaining: n, failure, pathPrefix, method: method?.toUpperCase() });
    },
    reset() {
      received.length = 0;
      pending = [];
      accepted.length = 0;
      spec.resetState();
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return Object.assign(emulator, extra);
}

function failureMessage(status: number): string {
  if (status === 429) return 'rate limit exceeded';
  if (status === 503) return 'service unavailable';
  if (status >= 500) return 'internal server error';
  return `injected failure ${status}`;
}

function writeReply(response: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: Buffer | undefined;
  if (reply.status !== 204 && reply.status !== 304 && reply.body !== undefined) {
    if (Buffer.isBuffer(reply.body)) payload = reply.body;
    else if (typeof reply.body === 'string') {
      payload = Buffer.from(reply.body, 'utf8');
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
  }
  if (payload) headers['content-length'] = String(payload.length);
  response.writeHead(reply.status, headers);
  response.end(payload);
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => (tooLarge ? reject(new Error('too large')) : resolve(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

/** JSON, form-encoded (with `a[b][0]=` nesting, as Stripe and Rails-style forms send), or text. */
export function parseBody(contentType: string | undefined, text: string): unknown {
  if (text.length === 0) return undefined;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new Error(`body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (type === 'application/x-www-form-urlencoded') return parseForm(text);
  return text;
}

/** `a=1&b[c]=2&d[]=3&d[]=4&e[0][f]=5` → { a: '1', b: { c: '2' }, d: ['3', '4'], e: [{ f: '5' }] } */
export function parseForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) {
      root[key] = value;
      continue;
    }
    const path = [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') break;
      const last = i === path.length - 1;
      const nextIsIndex = !last && (path[i + 1] === '' || /^\d+$/.test(path[i + 1]!));
      if (Array.isArray(node)) {
        const idx = seg === '' ? node.length : Number(seg);
        if (last) node[idx] = value;
        else node = (node[idx] ??= nextIsIndex ? [] : {}) as Record<string, unknown> | unknown[];
      } else if (last) {
        const prev = node[seg];
        node[seg] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      } else {
        node = (node[seg] ??= nextIsIndex ? [] : {}) as Record<string, unknown> | unknown[];
      }
    }
  }
  return root;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchPath(pattern: string[], actual: string[]): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(a);
      } catch {
        return null;
      }
    } else if (p !== a) return null;
  }
  return params;
}

// ---- helpers for the emulators --------------------------------------------------------

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(headers: Record<string, string>): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return m?.[1];
}

/** The user and password of `Authorization: Basic <base64(user:pass)>`, or undefined. */
export function basicCredentials(headers: Record<string, string>): { user: string; pass: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(headers.authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

/** Random id of letters and digits, e.g. `newId('cus_')` → `cus_Q2mVx8r0aLk3Zt`. */
export function newId(prefix = '', length = 14): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

export function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

export const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;

/** Opaque cursors that carry an offset, like the base64 tokens real APIs hand out. */
export function encodeCursor(offset: number, salt = ''): string {
  return Buffer.from(JSON.stringify({ o: offset, s: salt }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, salt = ''): number | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown; s?: unknown };
    return Number.isSafeInteger(v.o) && (v.o as number) >= 0 && v.s === salt ? (v.o as number) : undefined;
  } catch {
    return undefined;
  }
}

// ---- outgoing webhooks (senders such as form tools, call recorders, an external CRM) ---

/**
 * The Standard Webhooks signature (standardwebhooks.com): `v1,` + base64(HMAC-SHA256(key,
 * `${id}.${timestamp}.${body}`)). A `whsec_` secret's key is the base64 after the prefix; a
 * secret without it is used as UTF-8 bytes, as the hub does for partners with plain
 * passwords (the reference libraries would base64-decode it instead).
 */
export function standardWebhookSignature(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestampSeconds}.`, 'utf8').update(body).digest('base64');
}

export interface WebhookDelivery {
  status: number;
  headers: Record<string, string>;
  /** JSON when the answer was JSON, else the text. */
  body: unknown;
  /** The webhook-id sent (the same on every retry), when signed or given. */
  webhookId: string | undefined;
  /** How many requests were made (1 + retries used). */
  attempts: number;
}

export interface SendOptions {
  method?: 'POST' | 'GET' | 'PUT';
  contentType?: string;
  /** Standard Webhooks secret: adds webhook-id, webhook-timestamp and webhook-signature. */
  secret?: string;
  /** Default: `msg_` + random; kept across retries, as the spec requires. */
  webhookId?: string;
  /** Seconds; default now. Re-signed with the current time on each retry. */
  timestampSeconds?: number;
  headers?: Record<string, string>;
  /** Retries on 429, 5xx and network errors, like real webhook senders (default 0). */
  retries?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
}

/**
 * Sends one webhook: `payload` is the exact body (for GET, the query string), signed as is.
 * Retries reuse the webhook-id so that the receiver can deduplicate them.
 */
export async function sendWebhook(url: string, payload: string, options: SendOptions = {}): Promise<WebhookDelivery> {
  const method = options.method ?? 'POST';
  const webhookId = options.webhookId ?? (options.secret !== undefined ? `msg_${randomUUID().replace(/-/g, '')}` : undefined);
  const retries = options.retries ?? 0;
  let attempts = 0;
  // For GET the signed "body" is the whole query string as sent.
  const [base, existingQuery] = url.split('?', 2) as [string, string | undefined];
  const signed = method === 'GET' && existingQuery ? `${existingQuery}&${payload}` : payload;
  for (;;) {
    attempts += 1;
    const headers: Record<string, string> = { 'user-agent': 'crm-hub-test-emulator/1.0', ...options.headers };
    if (method !== 'GET' && options.contentType) headers['content-type'] = options.contentType;
    if (webhookId !== undefined) headers['webhook-id'] = webhookId;
    if (options.secret !== undefined) {
      const ts = attempts === 1 && options.timestampSeconds !== undefined ? options.timestampSeconds : Math.floor(Date.now() / 1000);
      headers['webhook-timestamp'] = String(ts);
      headers['webhook-signature'] = standardWebhookSignature(options.secret, webhookId!, ts, signed);
    }
    const target = method === 'GET' ? (signed === '' ? base : `${base}?${signed}`) : url;
    let retriable: boolean;
    try {
      const res = await fetch(target, {
        method, headers, ...(method === 'GET' ? {} : { body: payload }), signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const text = await res.text();
      const resHeaders: Record<string, string> = {};
      res.headers.forEach((v, k) => { resHeaders[k] = v; });
      let body: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
        try { body = JSON.parse(text); } catch { body = text; }
      }
      retriable = res.status === 429 || res.status >= 500;
      if (!retriable || attempts > retries) return { status: res.status, headers: resHeaders, body, webhookId, attempts };
    } catch (err) {
      if (attempts > retries) throw err;
    }
    await sleep(options.retryDelayMs ?? 100);
  }
}

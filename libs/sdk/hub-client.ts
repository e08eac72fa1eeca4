/**
 * The HTTP SDK of the hub's ingress (`POST /v1/events`): batching within the server's
 * limits, ids assigned before the first attempt, retries with backoff.
 *
 * Delivery and the answer. Every event without an `id` gets a UUID before anything is
 * sent, so each retry resends the same ids and the ingress publishes an id at most
 * once (it answers the ids it already had as `duplicates`). `emit` returns the answers
 * of the final attempt of each chunk, concatenated: when an attempt's response was
 * lost (connection dropped, timeout, 502/504) after the ingress had accepted the
 * chunk, the retry reports those events under `duplicates` although this very call
 * delivered them. No rule can tell "delivered by the lost attempt" from "delivered by
 * an earlier call with the same id", so the SDK does not guess: `accepted` and
 * `duplicates` together are the events the hub holds, each exactly once; `duplicates`
 * alone does not mean "sent before this call".
 *
 * The server is the authority on what an event may contain: the client checks only
 * what it must to split a batch, the byte size of each event's JSON.
 */
import { randomUUID } from 'node:crypto';
import { HubError, errorMessage } from '../errors/index.ts';
import { backoffDelayMs, sleep } from '../time/sleep.ts';
import type { RecordEventInput } from '../kafka/record-events.ts';

export type HubEvent = RecordEventInput;

export interface EmitResult {
  accepted: string[];
  duplicates: string[];
}

export interface HubClientOptions {
  /** Root of the ingress, e.g. https://hub.example.com (the client appends /v1/events). */
  url: string;
  apiKey: string;
  maxBatchEvents?: number;
  /** Limit of one request body in bytes (the JSON sent). */
  maxBatchBytes?: number;
  /** Attempts per chunk, the first included. */
  maxAttempts?: number;
  initialBackoffMs?: number;
  /** Cap of every wait between attempts, a server's Retry-After included. */
  maxBackoffMs?: number;
  /** Per attempt, the response body included. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Statuses worth another attempt: overload (429) or the ingress/Kafka unavailable. */
const retriableStatuses: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const EVENTS_PATH = '/v1/events';
// Every request wraps its events in {"events":[...]}, one event or many.
const ENVELOPE_BYTES = Buffer.byteLength('{"events":[]}');

/**
 * Why `emit` failed. `status` is the HTTP status of the last answer (0 when none came:
 * network error, timeout, or refused before sending); `code`, `message` and `path`
 * are the server's when it sent an error body, with `path` renumbered to the index in
 * the caller's input. `retriable` says whether the same events may succeed later;
 * `delivered` holds what earlier chunks of the call delivered, `remaining` the events
 * (with their assigned ids) from the failed chunk on: pass them to `emit` to resume.
 */
export class HubClientError extends HubError {
  readonly attempts: number;
  /** The server's error body (parsed JSON, or text), when it sent one. */
  readonly body: unknown;
  readonly delivered: EmitResult;
  readonly remaining: readonly HubEvent[];

  constructor(init: {
    code: string; status: number; retriable: boolean; message: string; attempts: number;
    path?: string | undefined; body?: unknown; delivered?: EmitResult; remaining?: readonly HubEvent[]; cause?: unknown;
  }) {
    super(init.code, { status: init.status, retriable: init.retriable }, init.message, { path: init.path, cause: init.cause });
    this.name = 'HubClientError';
    this.attempts = init.attempts;
    this.body = init.body;
    this.delivered = init.delivered ?? { accepted: [], duplicates: [] };
    this.remaining = init.remaining ?? [];
  }
}

interface Chunk {
  /** Index of the chunk's first event in the caller's input. */
  offset: number;
  events: HubEvent[];
  body: string;
}

/** Why one attempt failed, before it becomes the HubClientError of the call. */
interface Failure {
  code: string;
  status: number;
  message: string;
  path?: string | undefined;
  body?: unknown;
  cause?: unknown;
}

/** One attempt's outcome: an answer to return, or a failure and whether to try again. */
type Outcome =
  | { ok: true; result: EmitResult }
  | { ok: false; error: Failure; retry: boolean; retryAfterMs?: number | undefined };

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new HubClientError({ code: 'CLIENT_OPTIONS_INVALID', status: 0, retriable: false, attempts: 0, message: `${name} must be a positive integer, got ${value}` });
  }
  return value;
}

/** Milliseconds to wait from a Retry-After header (delay-seconds or HTTP-date), if it parses. */
export function parseRetryAfter(header: string | null, nowMs = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export class HubClient {
  private readonly endpoint: string;
  private readonly apiKey: string;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private closed = false;

  constructor(options: HubClientOptions) {
    if (!options.url || !options.apiKey) {
      throw new HubClientError({ code: 'CLIENT_OPTIONS_INVALID', status: 0, retriable: false, attempts: 0, message: 'url and apiKey are required' });
    }
    this.endpoint = `${options.url.replace(/\/+$/, '')}${EVENTS_PATH}`;
    this.apiKey = options.apiKey;
    this.maxBatchEvents = positiveInt('maxBatchEvents', options.maxBatchEvents ?? 500);
    this.maxBatchBytes = positiveInt('maxBatchBytes', options.maxBatchBytes ?? 1024 * 1024);
    this.maxAttempts = positiveInt('maxAttempts', options.maxAttempts ?? 8);
    this.initialBackoffMs = positiveInt('initialBackoffMs', options.initialBackoffMs ?? 100);
    this.maxBackoffMs = positiveInt('maxBackoffMs', options.maxBackoffMs ?? 10_000);
    this.timeoutMs = positiveInt('timeoutMs', options.timeoutMs ?? 10_000);
    // Looked up at call time by default, so a fetch replaced after construction is used.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Sends the events (in order, chunk after chunk, each chunk all-or-nothing) and
   * resolves once the hub acknowledged every one. See the module comment for what
   * `duplicates` means after a retried attempt. The caller's objects are not changed:
   * ids are assigned on copies; give your own ids to make your own retries safe.
   */
  async emit(input: HubEvent | readonly HubEvent[]): Promise<EmitResult> {
    if (this.closed) throw new HubClientError({ code: 'CLIENT_CLOSED', status: 0, retriable: false, attempts: 0, message: 'emit after close()' });
    const events = (Array.isArray(input) ? input : [input]).map(withId);
    const chunks = this.split(events);
    const delivered: EmitResult = { accepted: [], duplicates: [] };
    for (const [i, chunk] of chunks.entries()) {
      const { outcome, attempts } = await this.send(chunk);
      if (!outcome.ok) {
        const e = outcome.error;
        const where = chunks.length > 1 ? ` (chunk ${i + 1} of ${chunks.length}: events ${chunk.offset}..${chunk.offset + chunk.events.length - 1})` : '';
        throw new HubClientError({
          code: e.code, status: e.status, retriable: outcome.retry, attempts, path: e.path, body: e.body, cause: e.cause,
          message: `${e.message}${outcome.retry ? `; gave up after ${attempts} attempts` : ''}${where}`,
          delivered, remaining: events.slice(chunk.offset),
        });
      }
      delivered.accepted.push(...outcome.result.accepted);
      delivered.duplicates.push(...outcome.result.duplicates);
    }
    return delivered;
  }

  /** Refuses later calls; there are no connections of its own to release. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Greedy split in input order; throws before anything is sent when one event alone cannot fit. */
  private split(events: HubEvent[]): Chunk[] {
    const chunks: Chunk[] = [];
    let current: { offset: number; events: HubEvent[]; json: string[]; bytes: number } | undefined;
    const flush = () => {
      if (current) chunks.push({ offset: current.offset, events: current.events, body: `{"events":[${current.json.join(',')}]}` });
    };
    events.forEach((event, i) => {
      const json = serialize(event, i);
      const size = Buffer.byteLength(json);
      if (ENVELOPE_BYTES + size > this.maxBatchBytes) {
        throw new HubClientError({
          code: 'EVENT_TOO_LARGE', status: 0, retriable: false, attempts: 0, path: `/events/${i}`, remaining: events,
          message: `event ${i} is ${size} bytes of JSON; a request carries at most ${this.maxBatchBytes} bytes (${ENVELOPE_BYTES} of them the wrapping {"events":[]}): nothing was sent`,
        });
      }
      // A comma separates it from the previous event of the same chunk.
      if (current && (current.events.length >= this.maxBatchEvents || current.bytes + 1 + size > this.maxBatchBytes)) {
        flush();
        current = undefined;
      }
      if (!current) {
        current = { offset: i, events: [event], json: [json], bytes: ENVELOPE_BYTES + size };
      } else {
        current.events.push(event);
        current.json.push(json);
        current.bytes += 1 + size;
      }
    });
    flush();
    return chunks;
  }

  /** One chunk, attempted until it is answered, refused for good, or out of attempts. */
  private async send(chunk: Chunk): Promise<{ outcome: Outcome; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(chunk);
      if (outcome.ok || !outcome.retry || attempt >= this.maxAttempts) return { outcome, attempts: attempt };
      await sleep(this.delay(attempt, outcome.retryAfterMs));
    }
  }

  /**
   * Exponential backoff with "equal jitter" (half fixed, half random): waits still grow
   * but clients failing together do not retry together. A Retry-After is honoured as
   * sent; both are capped by maxBackoffMs.
   */
  private delay(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.maxBackoffMs);
    const base = backoffDelayMs(attempt, { initialMs: this.initialBackoffMs, maxMs: this.maxBackoffMs });
    return base / 2 + Math.random() * (base / 2);
  }

  private async attempt(chunk: Chunk): Promise<Outcome> {
    let status: number;
    let retryAfter: string | null;
    let text: string;
    try {
      const res = await this.fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: chunk.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      // The request may or may not have reached the ingress: retrying with the same ids is safe either way.
      const timedOut = (err as { name?: string } | null)?.name === 'TimeoutError';
      const reason = errorMessage(err) + causeDetail(err);
      return {
        ok: false,
        retry: true,
        error: {
          code: timedOut ? 'HUB_TIMEOUT' : 'HUB_UNREACHABLE', status: 0, cause: err,
          message: timedOut ? `no answer from ${this.endpoint} within ${this.timeoutMs} ms` : `cannot reach ${this.endpoint}: ${reason}`,
        },
      };
    }

    if (status >= 200 && status < 300) {
      const result = parseResult(text);
      if (result) return { ok: true, result };
      return {
        ok: false, retry: false,
        error: { code: 'HUB_BAD_RESPONSE', status, body: text, message: `${this.endpoint} answered ${status} without {"accepted": [...], "duplicates": [...]}: ${text.slice(0, 200)}` },
      };
    }
    const body = parseBody(text);
    const served = serverError(body);
    const retry = retriableStatuses.has(status);
    const error: Failure = {
      code: served?.code ?? `HTTP_${status}`,
      status,
      body,
      path: served?.path === undefined ? undefined : renumber(served.path, chunk.offset),
      message: `hub answered ${status}${served ? ` ${served.code}: ${served.message}` : `: ${text.slice(0, 200)}`}`,
    };
    return { ok: false, error, retry, retryAfterMs: retry ? parseRetryAfter(retryAfter) : undefined };
  }
}

function withId(event: HubEvent): HubEvent {
  // Non-objects go as they are: the server refuses them with a precise error.
  if (event === null || typeof event !== 'object' || Array.isArray(event) || event.id !== undefined) return event;
  return { ...event, id: randomUUID() };
}

function serialize(event: HubEvent, index: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(event);
  } catch (err) {
    throw new HubClientError({ code: 'EVENT_NOT_SERIALIZABLE', status: 0, retriable: false, attempts: 0, path: `/events/${index}`, cause: err, message: `event ${index} cannot be written as JSON: ${errorMessage(err)}` });
  }
  if (json === undefined) {
    throw new HubClientError({ code: 'EVENT_NOT_SERIALIZABLE', status: 0, retriable: false, attempts: 0, path: `/events/${index}`, message: `event ${index} has no JSON form (${typeof event})` });
  }
  return json;
}

/** The server numbers events within the chunk; the caller knows them by input index. */
function renumber(path: string, offset: number): string {
  const m = /^\/events\/(\d+)(\/.*)?$/.exec(path);
  return m ? `/events/${Number(m[1]) + offset}${m[2] ?? ''}` : path;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function parseResult(text: string): EmitResult | undefined {
  const body = parseBody(text) as { accepted?: unknown; duplicates?: unknown } | null;
  if (!body || typeof body !== 'object' || !isStringArray(body.accepted) || !isStringArray(body.duplicates)) return undefined;
  return { accepted: body.accepted, duplicates: body.duplicates };
}

function serverError(body: unknown): { code: string; message: string; path?: string } | undefined {
  const e = (body as { error?: { code?: unknown; message?: unknown; path?: unknown } } | null)?.error;
  if (!e || typeof e.code !== 'string') return undefined;
  return {
    code: e.code,
    message: typeof e.message === 'string' ? e.message : '',
    ...(typeof e.path === 'string' ? { path: e.path } : {}),
  };
}

/** fetch reports "fetch failed"; the reason (ECONNREFUSED, socket closed) is in its cause. */
function causeDetail(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause === undefined ? '' : ` (${errorMessage(cause)})`;
}

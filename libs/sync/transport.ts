/**
 * One request to an app, through the guarded HTTP client (libs/http), paced by the
 * connection's rate limiter. Retries live here rather than in the client because the
 * budget must see every 429 (to pause every caller) and every quota header, and because
 * only the connector knows whether resending a write is safe: `resend: 'never'` hands a
 * failed write back as `AppUnavailable` with `maybeApplied`, so the connector can look the
 * record up before trying again (HubSpot has no idempotency keys).
 */
import { HubError, errorFactory, pickErrors } from '../errors/index.ts';
import { HttpStatusError, type HttpClient } from '../http/index.ts';
import { retryAfterMs } from '../http/retry.ts';
import { backoffDelayMs } from '../time/sleep.ts';
import type { AppError } from './connector.ts';
import { systemClock, type Clock, type RateLimiter } from './rate-limit.ts';

export const syncErrors = pickErrors(
  'SYNC_APP_UNAVAILABLE', 'SYNC_APP_RATE_LIMITED', 'SYNC_APP_AUTH_FAILED', 'SYNC_APP_REFUSED', 'SYNC_APP_ANSWER_INVALID',
  'SYNC_CURSOR_INVALID', 'SYNC_OBJECT_UNSUPPORTED', 'SYNC_MAPPING_INVALID', 'SYNC_WEBHOOK_PAYLOAD_INVALID',
);
export const raiseSync = errorFactory(syncErrors);

/** The app failed past the retries; for a write sent with `resend: 'never'`, it may have been applied. */
export class AppUnavailable extends HubError {
  constructor(message: string, readonly maybeApplied: boolean, readonly lastStatus: number | undefined, options: { cause?: unknown } = {}) {
    super('SYNC_APP_UNAVAILABLE', syncErrors.SYNC_APP_UNAVAILABLE, message, options);
  }
}

export interface AppRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean>;
  /** JSON by default; a string is sent as is (with `contentType`). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** `always` for reads and keyed writes; `never` for writes the app cannot deduplicate. */
  resend: 'always' | 'never';
}

export interface AppAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface TransportOptions {
  app: string;
  baseUrl: string;
  http: HttpClient;
  limiter: RateLimiter;
  headers(): Record<string, string>;
  /** The app's error body → AppError. */
  errorOf(answer: AppAnswer): AppError;
  /** The app's remaining quota in the current window, when its headers say. */
  remainingOf?(headers: Record<string, string>): number | undefined;
  clock?: Clock;
  timeoutMs?: number;
}

export type Send = (r: AppRequest, signal?: AbortSignal) => Promise<AppAnswer>;

/**
 * Returns `send`: 2xx and 4xx answers come back (the connector reads per-record errors);
 * 401/403 throw SYNC_APP_AUTH_FAILED; 429, 5xx and network failures are retried within the
 * policy, then throw SYNC_APP_RATE_LIMITED or AppUnavailable.
 */
export function createTransport(o: TransportOptions): Send {
  const clock = o.clock ?? systemClock;
  const policy = o.limiter.policy;
  return async function send(r, signal) {
    const deadline = clock.now() + policy.maxWaitMs;
    const what = `${o.app} ${r.method} ${r.path}`;
    let lastStatus: number | undefined;
    let last: unknown;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const token = await o.limiter.take(deadline, signal);
      if (token === null) break;
      if (signal?.aborted) throw raiseSync('SYNC_APP_UNAVAILABLE', `${what} was cancelled`);
      let answer: AppAnswer;
      try {
        const res = await o.http.request({
          method: r.method, url: o.baseUrl + r.path, ...(r.query ? { query: r.query } : {}),
          headers: { ...o.headers(), ...(r.contentType ? { 'content-type': r.contentType } : {}), ...r.headers },
          ...(r.body !== undefined ? { body: r.body } : {}), timeoutMs: o.timeoutMs ?? 30_000, ...(signal ? { signal } : {}),
        });
        answer = { status: res.status, headers: res.headers, body: res.body };
      } catch (err) {
        if (!(err instanceof HttpStatusError)) {
          if (!(err instanceof HubError) || !err.retriable || err.code === 'HTTP_ABORTED') throw err;
          // Network failure or timeout: the request may have reached the app.
          last = err;
          lastStatus = undefined;
          if (r.resend === 'never') throw new AppUnavailable(`${what}: ${err.message}`, true, undefined, { cause: err });
          if (!await wait(backoffDelayMs(attempt, { initialMs: policy.backoffMs, maxMs: policy.maxWaitMs }), deadline, signal)) break;
          continue;
        }
        answer = { status: err.response.status, headers: err.response.headers, body: err.response.body };
      } finally {
        token.done();
      }
      const remaining = o.remainingOf?.(answer.headers);
      if (remaining !== undefined) o.limiter.observeRemaining(remaining);
      if (answer.status < 400) return answer;
      lastStatus = answer.status;
      last = answer;
      if (answer.status === 401 || answer.status === 403) {
        const e = o.errorOf(answer);
        throw raiseSync('SYNC_APP_AUTH_FAILED', `${what} answered ${answer.status}: ${e.message}`);
      }
      if (answer.status === 429) {
        const after = retryAfterMs(answer.headers['retry-after'], clock.now());
        const pause = after ?? backoffDelayMs(attempt, { initialMs: policy.backoffMs, maxMs: policy.maxWaitMs });
        if (clock.now() + pause > deadline) break;
        o.limiter.pauseUntil(clock.now() + pause);
        continue;
      }
      if (answer.status >= 500) {
        // The app may have done the work before failing (an answer lost on the way back).
        if (r.resend === 'never') throw new AppUnavailable(`${what} answered ${answer.status}`, true, answer.status);
        if (!await wait(backoffDelayMs(attempt, { initialMs: policy.backoffMs, maxMs: policy.maxWaitMs }), deadline, signal)) break;
        continue;
      }
      return answer;
    }
    if (lastStatus === 429) throw raiseSync('SYNC_APP_RATE_LIMITED', `${what}: still rate limited after waiting up to ${policy.maxWaitMs} ms`);
    const why = lastStatus !== undefined ? `answered ${lastStatus}` : last instanceof Error ? last.message : 'was not sent within the wait budget';
    throw new AppUnavailable(`${what} ${why} (after ${policy.maxAttempts} attempts at most)`, false, lastStatus, { cause: last });
  };

  async function wait(ms: number, deadline: number, signal?: AbortSignal): Promise<boolean> {
    if (clock.now() + ms > deadline) return false;
    await clock.sleep(ms, signal);
    return !signal?.aborted;
  }
}

/** A 4xx answer that refuses the whole request → SYNC_APP_REFUSED with the app's message. */
export function refused(app: string, answer: AppAnswer, error: AppError): HubError {
  return raiseSync('SYNC_APP_REFUSED', `${app} refused the request (${answer.status} ${error.code}): ${error.message}`);
}

/** Splits `items` into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

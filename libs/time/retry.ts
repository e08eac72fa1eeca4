/**
 * The one retry helper: tries `f` until it resolves, waiting `backoffDelayMs` between
 * attempts. The caller says which failures may pass later (`again`) and for how long
 * the work is still its own (`active`): a consumer that lost its partition, or a run
 * handed over, stops retrying at once instead of acting for someone else.
 */
import { backoffDelayMs, sleep, type Backoff } from './sleep.ts';

export interface RetryOptions {
  backoff: Backoff;
  /** Whether failed attempt number `attempt` may be tried again; when false its error is thrown. Default: always. */
  again?(err: unknown, attempt: number): boolean;
  /** Checked before every attempt; once false, `retry` gives up with `RetryAbandoned`. */
  active?(): boolean;
  /** Ends a wait early (and counts as no longer active). */
  signal?: AbortSignal;
  /** Called before each wait: log the failure (one line per decision), heartbeat. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void | Promise<void>;
}

/** The work stopped being the caller's (`active()` turned false) before it succeeded. */
export class RetryAbandoned extends Error {
  constructor(readonly lastError: unknown) {
    super('given up: the work is no longer ours');
    this.name = 'RetryAbandoned';
  }
}

export async function retry<T>(f: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    if (o.signal?.aborted || (o.active && !o.active())) throw new RetryAbandoned(last);
    try {
      return await f(attempt);
    } catch (err) {
      if (o.again && !o.again(err, attempt)) throw err;
      last = err;
      const delayMs = backoffDelayMs(attempt, o.backoff);
      await o.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, o.signal);
    }
  }
}

/**
 * An app's rate limit as a budget shared by every call of one connection (one account).
 * A token bucket whose tokens come back one window after they were spent: HubSpot's
 * window is rolling (TEN_SECONDLY_ROLLING), and a bucket refilled at a steady rate would
 * let twice the limit into one window. It also obeys what the app says — a 429's
 * Retry-After pauses every caller, and a remaining-quota header (HubSpot's
 * X-HubSpot-RateLimit-Remaining) takes tokens away, since other clients of the same
 * account spend the same quota. Our own because it must hear those answers.
 */
import { sleep as realSleep } from '../time/sleep.ts';

export interface RateLimitPolicy {
  /** Requests per window: HubSpot 100 per 10 s per private app; Stripe 25/s in test mode. */
  max: number;
  windowMs: number;
  /** Longest one call may wait in all (tokens, Retry-After, backoff) before SYNC_APP_RATE_LIMITED. */
  maxWaitMs: number;
  /** Attempts for one request on 429, 5xx and network failures. */
  maxAttempts: number;
  /** First backoff after a 5xx or a 429 without Retry-After; doubles per attempt. */
  backoffMs: number;
  /** Most inputs one batch request takes (HubSpot 100). */
  maxBatch: number;
  /**
   * Spreads the window's requests: at most its share (max × spreadMs / windowMs, rounded
   * up) in any `spreadMs`. Without it a busy caller spends a whole window's budget in a
   * burst and then every caller waits most of a window (seconds, at HubSpot's 10 s); with
   * it the longest wait for a token is about `spreadMs`.
   */
  spreadMs?: number;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms` or when `signal` aborts (the caller checks which). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: Date.now, sleep: realSleep };

/** A token taken: `done()` when the app's answer arrived, for the app counted the request somewhere before that. */
export interface Token {
  waitedMs: number;
  done(): void;
}

export interface RateLimiter {
  readonly policy: RateLimitPolicy;
  /** Waits for a token; null when the wait would pass `deadline` (nothing taken then). */
  take(deadline: number, signal?: AbortSignal): Promise<Token | null>;
  /** Every caller waits until `untilMs` (a 429's Retry-After). */
  pauseUntil(untilMs: number): void;
  /** The app's own count of what is left in the current window. */
  observeRemaining(remaining: number): void;
}

export function createRateLimiter(policy: RateLimitPolicy, clock: Clock = systemClock): RateLimiter {
  /**
   * When each token of the current window was spent: the answer's arrival once known (an
   * upper bound of when the app counted it), else when the request is to be sent.
   */
  let spent: { at: number }[] = [];
  let pausedUntil = 0;
  const spreadMs = policy.spreadMs ?? 0;
  const spreadMax = spreadMs > 0 ? Math.max(1, Math.ceil((policy.max * spreadMs) / policy.windowMs)) : Infinity;
  const live = (now: number) => {
    spent = spent.filter((s) => s.at > now - policy.windowMs);
    return spent.map((s) => s.at).sort((a, b) => a - b);
  };
  return {
    policy,
    async take(deadline, signal) {
      const start = clock.now();
      // Waiters take no slot while they wait: each looks again on waking, for answers that
      // arrived meanwhile may have moved the window's tokens later.
      for (;;) {
        const now = clock.now();
        const times = live(now);
        // The token spent `max` requests ago comes back one window after it was spent.
        const back = times.length >= policy.max ? times[times.length - policy.max]! + policy.windowMs : now;
        // Likewise the share of the spread window: the one spent `spreadMax` ago comes back after it.
        const recent = times.filter((t) => t > now - spreadMs);
        const spreadBack = recent.length >= spreadMax ? recent[recent.length - spreadMax]! + spreadMs : now;
        const at = Math.max(now, pausedUntil, back, spreadBack);
        if (at > deadline) return null;
        if (at <= now) {
          const entry = { at: now };
          spent.push(entry);
          return { waitedMs: now - start, done: () => { entry.at = Math.max(entry.at, clock.now()); } };
        }
        await clock.sleep(at - now, signal);
        if (signal?.aborted) return null;
      }
    },
    pauseUntil(untilMs) {
      pausedUntil = Math.max(pausedUntil, untilMs);
    },
    observeRemaining(remaining) {
      if (!Number.isFinite(remaining) || remaining < 0) return;
      const now = clock.now();
      const inWindow = live(now).filter((t) => t <= now).length;
      // Spent by someone else: counted as spent now, back one window later.
      for (let i = inWindow + Math.floor(remaining); i < policy.max; i++) spent.push({ at: now });
    },
  };
}

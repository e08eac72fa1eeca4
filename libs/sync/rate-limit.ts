/**
 * An app's rate limit as a budget shared by every call of one connection (one account):
 * a token bucket refilled at `max` per `windowMs`, which also obeys what the app says —
 * a 429's Retry-After pauses every caller, and a remaining-quota header (HubSpot's
 * X-HubSpot-RateLimit-Remaining) lowers the tokens we think we have, since other clients
 * of the same account spend the same quota. Our own because it must hear those answers.
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
}

export interface Clock {
  now(): number;
  /** Resolves after `ms` or when `signal` aborts (the caller checks which). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: Date.now, sleep: realSleep };

export interface RateLimiter {
  readonly policy: RateLimitPolicy;
  /** Waits for a token; the wait in ms, or Infinity when it would pass `deadline` (nothing taken then). */
  take(deadline: number, signal?: AbortSignal): Promise<number>;
  /** Every caller waits until `untilMs` (a 429's Retry-After). */
  pauseUntil(untilMs: number): void;
  /** The app's own count of what is left in the current window. */
  observeRemaining(remaining: number): void;
}

export function createRateLimiter(policy: RateLimitPolicy, clock: Clock = systemClock): RateLimiter {
  const perMs = policy.max / policy.windowMs;
  let tokens = policy.max;
  let stamp = clock.now();
  let pausedUntil = 0;
  const refill = (): void => {
    const now = clock.now();
    tokens = Math.min(policy.max, tokens + (now - stamp) * perMs);
    stamp = now;
  };
  return {
    policy,
    async take(deadline, signal) {
      refill();
      const now = clock.now();
      // Tokens may go below zero: each caller reserves its slot, so concurrent callers queue in order.
      const wait = Math.max(pausedUntil - now, tokens >= 1 ? 0 : (1 - tokens) / perMs);
      if (now + wait > deadline) return Infinity;
      tokens -= 1;
      if (wait > 0) await clock.sleep(Math.ceil(wait), signal);
      return wait;
    },
    pauseUntil(untilMs) {
      pausedUntil = Math.max(pausedUntil, untilMs);
    },
    observeRemaining(remaining) {
      refill();
      if (Number.isFinite(remaining) && remaining >= 0 && remaining < tokens) tokens = remaining;
    },
  };
}

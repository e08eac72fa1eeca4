import { raise } from './errors.ts';

/**
 * A token bucket per workspace, per process: `ratePerSecond` requests sustained,
 * `burst` at once. A refusal tells the client when a token will be there.
 */
export interface RateLimiter { take(workspaceId: string): void }

export function createRateLimiter(ratePerSecond: number, burst: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(workspaceId) {
      const t = now();
      const b = buckets.get(workspaceId) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * ratePerSecond);
      b.at = t;
      buckets.set(workspaceId, b);
      if (b.tokens < 1) {
        const retryAfterS = Math.max(1, Math.ceil((1 - b.tokens) / ratePerSecond));
        throw Object.assign(raise('RATE_LIMITED', `workspace ${workspaceId} is over ${ratePerSecond} requests/s; retry after ${retryAfterS}s`), { retryAfterS });
      }
      b.tokens -= 1;
    },
  };
}

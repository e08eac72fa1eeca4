/** Waits `ms`; an abort signal ends the wait early (resolving, not rejecting: callers check what they need). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Exponential backoff: `initialMs` for attempt 1, doubling, capped at `maxMs`. */
export function backoffDelayMs(attempt: number, b: Backoff): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
}

import { raise } from './errors.ts';
import { sleep as wait } from '../time/sleep.ts';

/** No wait between attempts is longer than this, whatever the server or the backoff asks. */
export const MAX_WAIT_MS = 60_000;

const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** `Retry-After` as a wait in ms (delay-seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d{1,10}$/.test(v)) return Math.min(MAX_WAIT_MS, Number(v) * 1000);
  if (!IMF_FIXDATE.test(v)) return undefined;
  return Math.min(MAX_WAIT_MS, Math.max(0, Date.parse(v) - nowMs));
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The shared sleep, rejecting (HTTP_ABORTED) when the request is cancelled meanwhile. */
export const waitToRetry: Sleep = async (ms, signal) => {
  await wait(ms, signal);
  if (signal?.aborted) throw raise('HTTP_ABORTED', 'the request was cancelled while waiting to retry');
};

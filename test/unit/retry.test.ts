/** The one retry helper: backoff between attempts, who decides to try again, giving up when the work is no longer ours. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retry, RetryAbandoned } from '../../libs/time/retry.ts';
import { backoffDelayMs } from '../../libs/time/sleep.ts';

const backoff = { initialMs: 1, maxMs: 4 };

test('retries until the work passes, with capped doubling delays', async () => {
  const delays: number[] = [];
  const value = await retry(async (attempt) => { if (attempt < 5) throw new Error(`no ${attempt}`); return attempt; }, { backoff, onRetry: (_e, _a, d) => { delays.push(d); } });
  assert.equal(value, 5);
  assert.deepEqual(delays, [1, 2, 4, 4]);
  assert.deepEqual([1, 2, 3, 30, 100].map((a) => backoffDelayMs(a, { initialMs: 100, maxMs: 30_000 })), [100, 200, 400, 30_000, 30_000]);
});

test('a failure `again` refuses is thrown as it is', async () => {
  const err = new Error('for good');
  let calls = 0;
  await assert.rejects(retry(async () => { calls += 1; throw err; }, { backoff, again: (_e, attempt) => attempt < 3 }), (e) => e === err);
  assert.equal(calls, 3);
});

test('work that is no longer ours is abandoned, with the last error', async () => {
  let mine = true;
  const err = new Error('broker away');
  const out = retry(async () => { mine = false; throw err; }, { backoff, active: () => mine });
  await assert.rejects(out, (e) => e instanceof RetryAbandoned && e.lastError === err);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(retry(async () => 1, { backoff, signal: controller.signal }), RetryAbandoned);
});

/** The connection's rate-limit budget: tokens back one window after they were spent, 429 Retry-After and the app's remaining-quota headers obeyed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRateLimiter, type Clock } from '../../libs/sync/rate-limit.ts';

function fakeClock(): Clock & { waits: number[] } {
  let now = 1_000_000;
  const waits: number[] = [];
  return { waits, now: () => now, async sleep(ms) { waits.push(ms); now += ms; } };
}
const policy = { max: 100, windowMs: 10_000, maxWaitMs: 30_000, maxAttempts: 8, backoffMs: 500, maxBatch: 100 };

test('HubSpot\'s 100 requests per rolling 10 s: the first 100 go at once, the next waits until the first is a window old', async () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(policy, clock);
  for (let i = 0; i < 100; i++) assert.equal((await limiter.take(Infinity))?.waitedMs, 0);
  assert.equal((await limiter.take(Infinity))?.waitedMs, 10_000);
  assert.deepEqual(clock.waits, [10_000]);
  // Steady use: never more than 100 in any 10 s.
  const times: number[] = [];
  for (let i = 0; i < 300; i++) { await limiter.take(Infinity); times.push(clock.now()); }
  for (let i = 100; i < times.length; i++) assert.ok(times[i]! - times[i - 100]! >= 10_000);
});

test('a 429\'s Retry-After pauses every caller; a call that would wait past its deadline takes nothing', async () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(policy, clock);
  limiter.pauseUntil(clock.now() + 2000);
  assert.equal(await limiter.take(clock.now() + 1000), null);
  assert.equal((await limiter.take(Infinity))?.waitedMs, 2000);
  assert.equal((await limiter.take(Infinity))?.waitedMs, 0);
});

test('the app\'s remaining-quota header lowers our tokens (other clients share the account)', async () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(policy, clock);
  limiter.observeRemaining(1);
  assert.equal((await limiter.take(Infinity))?.waitedMs, 0);
  assert.equal((await limiter.take(Infinity))?.waitedMs, 10_000, 'the others\' share comes back a window later');
  limiter.observeRemaining(500);
  assert.equal((await limiter.take(Infinity))?.waitedMs, 0, 'a higher count never adds tokens beyond the window\'s');
});

test('a spread policy hands out the window in shares: a busy caller waits about spreadMs at most, never most of a window', async () => {
  const clock = fakeClock();
  const limiter = createRateLimiter({ ...policy, spreadMs: 1000 }, clock);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) { await limiter.take(Infinity); times.push(clock.now()); }
  // 10 in any second (100 × 1 s / 10 s), and still never more than 100 in any 10 s.
  for (let i = 10; i < times.length; i++) assert.ok(times[i]! - times[i - 10]! >= 1000, `take ${i} came ${times[i]! - times[i - 10]!} ms after take ${i - 10}`);
  for (let i = 100; i < times.length; i++) assert.ok(times[i]! - times[i - 100]! >= 10_000);
  assert.ok(Math.max(...clock.waits) <= 1000, `longest wait ${Math.max(...clock.waits)} ms`);
  // Without a spread the same caller waits a whole window once its burst is spent.
  const bursty = fakeClock();
  const plain = createRateLimiter(policy, bursty);
  for (let i = 0; i < 300; i++) await plain.take(Infinity);
  assert.ok(Math.max(...bursty.waits) >= 9000);
});

/**
 * The reliability scenarios (test/reliability/) in their short versions: under a minute
 * of mixed load each, with their fault. Nothing acknowledged is lost, nothing happens
 * twice; the long versions are run by hand (`npm run reliability -- <scenario>`) and
 * their figures kept in RELIABILITY.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubServices } from '../support/e2e-hub.ts';
import { details, runScenario, tableRow, type ScenarioName, type ScenarioOptions, type ScenarioReport } from '../reliability/scenarios.ts';
import { doubledOf, lostOf } from '../reliability/end-state.ts';

const short: ScenarioOptions = { minutes: 0.75, rate: 20, outageSeconds: 20, killsPerService: 1, drainTimeoutMs: 300_000 };

async function run(t: { diagnostic(m: string): void }, scenario: ScenarioName): Promise<ScenarioReport> {
  const report = await runScenario(scenario, short);
  t.diagnostic(tableRow(report));
  for (const line of details(report)) t.diagnostic(line);
  assert.equal(report.load.unexpectedCount, 0, `unexpected answers: ${JSON.stringify(report.load.unexpected)}`);
  assert.ok(report.end.accepted > 0.5 * report.load.offered, 'most of the offered load was accepted during the run');
  assert.equal(report.end.accepted, report.load.offered, 'every offered unit was accepted in the end (clients retry)');
  assert.equal(lostOf(report.end), 0, `lost: ${JSON.stringify(report.end.lost)} ${report.end.examples.join('; ')}`);
  assert.equal(doubledOf(report.end), 0, `doubled: ${JSON.stringify(report.end.doubled)} ${report.end.examples.join('; ')}`);
  assert.equal(report.end.completedRuns, report.end.accepted, 'one completed run per accepted unit');
  return report;
}

test('soak (short): steady mixed load, nothing lost or doubled', { timeout: 600_000 }, async (t) => {
  const report = await run(t, 'soak');
  assert.deepEqual(report.restarts, {}, 'no service exited');
});

test('kill (short): every service killed with SIGKILL under load and restarted, nothing lost or doubled', { timeout: 600_000 }, async (t) => {
  const report = await run(t, 'kill');
  for (const name of hubServices) assert.ok((report.restarts[name] ?? 0) >= 1, `${name} was killed and restarted`);
});

test('broker (short): Kafka away under load: 503 with Retry-After meanwhile, retrying clients lose nothing', { timeout: 600_000 }, async (t) => {
  const report = await run(t, 'broker');
  assert.ok(report.load.unavailable > 0, 'the ingress refused while the broker was away');
  assert.equal(report.load.unavailableWithRetryAfter, report.load.unavailable, 'every 503 says when to retry');
});

test('store (short): FerretDB away under load: 503 with Retry-After or waiting, the backlog drains after', { timeout: 600_000 }, async (t) => {
  const report = await run(t, 'store');
  assert.equal(report.load.unavailableWithRetryAfter, report.load.unavailable, 'every 503 says when to retry');
});

test('poison (short): undecodable and foreign messages on every consumed topic go to their groups\' DLQs; every consumer goes on', { timeout: 600_000 }, async (t) => {
  const report = await run(t, 'poison');
  assert.ok(report.poison, 'poison was injected');
  assert.deepEqual(report.poison.missing, [], 'every poison message parked on the DLQ of every group consuming its topic');
  assert.equal(report.poison.parked, report.poison.expectedParked);
  assert.deepEqual(Object.keys(report.poison.codes), ['MESSAGE_UNDECODABLE'], 'parked with the reason');
  assert.deepEqual(report.restarts, {}, 'no consumer crashed on poison');
});

/**
 * The ops service's pure parts: lag statuses (an idle partition is never lagging), rates,
 * alert evaluation over a clock (fires once after `forMinutes`, resolves once), and the
 * masking of parked messages' values (names, known secret shapes, JSON carried as text).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lagMessages, partitionStatus, rate, worst } from '../../services/ops/lag.ts';
import { evaluate, type AlertInstance, type AlertRule, type Observation } from '../../services/ops/alerts.ts';
import { maskHeaders, maskValue, MASKED } from '../../services/ops/mask.ts';
import { foldChanges } from '../../services/ops/rebuild.ts';
import { foldRecord, recordKey, type RecordChange, type RecordDocument } from '../../libs/store/records.ts';
import { seededRandom } from '../support/random.ts';

const t = { stallAfterMs: 60_000, laggingAfterSeconds: 30 };
const base = { committed: 10n, low: 0n, end: 10n, committedSince: 0, oldestWaitingSeconds: 0, members: 1, now: 10_000_000 };

test('lag: idle when nothing waits, however old the last message; stalled when nobody moves; lagging when behind in time', () => {
  assert.equal(partitionStatus(base, t), 'idle');
  assert.equal(partitionStatus({ ...base, members: 0 }, t), 'idle', 'an idle group without members is idle, not stalled');
  assert.equal(partitionStatus({ ...base, end: 15n, committedSince: base.now - 1000, oldestWaitingSeconds: 2 }, t), 'ok');
  assert.equal(partitionStatus({ ...base, end: 15n, committedSince: base.now - 1000, oldestWaitingSeconds: 45 }, t), 'lagging');
  assert.equal(partitionStatus({ ...base, end: 15n, committedSince: base.now - 61_000, oldestWaitingSeconds: 45 }, t), 'stalled');
  assert.equal(partitionStatus({ ...base, end: 15n, committedSince: base.now, members: 0 }, t), 'stalled');
  assert.equal(lagMessages({ committed: null, low: 5n, end: 9n }), 4, 'a group that never committed starts at the log start');
  assert.equal(lagMessages({ committed: 2n, low: 5n, end: 9n }), 4, 'a committed offset below the log start (retention) counts from the start');
  assert.equal(worst(['idle', 'ok', 'lagging']), 'lagging');
  assert.equal(worst([]), 'idle');
});

test('rates: messages per second over the window; null with fewer than two samples', () => {
  assert.equal(rate([{ at: 0, value: 0 }], 60_000, 1000), null);
  assert.equal(rate([{ at: 0, value: 0 }, { at: 10_000, value: 50 }], 60_000, 10_000), 5);
  assert.equal(rate([{ at: 0, value: 0 }, { at: 100_000, value: 50 }, { at: 110_000, value: 60 }], 60_000, 110_000), 1);
});

test('alerts: fire once after forMinutes, stay quiet while firing, resolve once', () => {
  const rules: AlertRule[] = [{ id: 'behind', when: 'lag_seconds_above', seconds: 60, forMinutes: 2 }];
  const obs = (lagSeconds: number): Observation[] => [{ group: 'g', lagSeconds, status: 'lagging', members: 1, parked: 0 }];
  let state = new Map<string, AlertInstance>();
  const step = (lag: number, at: number) => {
    const r = evaluate(rules, state, obs(lag), at);
    state = r.instances;
    return r.events.map((e) => e.state);
  };
  assert.deepEqual(step(90, 0), []);
  assert.deepEqual(step(90, 60_000), []);
  assert.deepEqual(step(90, 120_000), ['firing']);
  assert.deepEqual(step(95, 135_000), []);
  assert.deepEqual(step(10, 150_000), ['resolved']);
  assert.deepEqual(step(10, 165_000), []);
  // The condition must hold without a break for forMinutes.
  assert.deepEqual(step(90, 180_000), []);
  assert.deepEqual(step(10, 200_000), []);
  assert.deepEqual(step(90, 210_000), []);
  assert.deepEqual(step(90, 329_000), []);
  assert.deepEqual(step(90, 330_000), ['firing']);
});

test('alerts: a DLQ rule fires when the parked count grows past what it first saw and resolves when it is back', () => {
  const rules: AlertRule[] = [{ id: 'dlq', when: 'dlq_grew' }];
  let state = new Map<string, AlertInstance>();
  const step = (parked: number, at: number) => {
    const r = evaluate(rules, state, [{ group: 'g', lagSeconds: 0, status: 'idle', members: 1, parked }], at);
    state = r.instances;
    return r.events.map((e) => e.state);
  };
  assert.deepEqual(step(3, 0), [], 'what was parked before the rule is its baseline');
  assert.deepEqual(step(4, 15_000), ['firing']);
  assert.deepEqual(step(5, 30_000), []);
  assert.deepEqual(step(3, 45_000), ['resolved']);
  assert.deepEqual(step(0, 60_000), []);
  assert.deepEqual(step(1, 75_000), ['firing'], 'after a redrive to 0, one new parked message fires');
});

test('alerts: a group without members and a stalled group, for every group when none is named', () => {
  const rules: AlertRule[] = [{ id: 'gone', when: 'group_no_members' }, { id: 'stuck', when: 'group_stalled', group: 'b' }];
  const r = evaluate(rules, new Map(), [
    { group: 'a', lagSeconds: 0, status: 'idle', members: 0, parked: 0 },
    { group: 'b', lagSeconds: 5, status: 'stalled', members: 1, parked: 0 },
  ], 0);
  assert.deepEqual(r.events.map((e) => `${e.ruleId}:${e.group}`).sort(), ['gone:a', 'stuck:b']);
});

test('masking: secret-like names, known secret shapes and JSON carried as text are masked; the rest is kept', () => {
  const v = maskValue({
    name: 'Ada', password: 'hunter2', apiKey: 'abc', nested: { Authorization: 'Bearer x', list: [{ token: 't' }] },
    record: JSON.stringify({ email: 'ada@example.com', client_secret: 's3', note: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc' }),
    empty: null, count: 3,
  }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(v.name, 'Ada');
  assert.equal(v.password, MASKED);
  assert.equal(v.apiKey, MASKED);
  assert.equal(v.nested.Authorization, MASKED);
  assert.equal(v.nested.list[0].token, MASKED);
  assert.deepEqual(JSON.parse(v.record as string), { email: 'ada@example.com', client_secret: MASKED, note: MASKED });
  assert.equal(v.empty, null);
  assert.equal(v.count, 3);
  assert.deepEqual(maskHeaders({ authorization: 'Bearer abc', 'x-trace': '1' }), { authorization: MASKED, 'x-trace': '1' });
});

test('rebuild fold: keeping the first, newest and newest live change per record gives the projector\'s document (random logs, out of order, deletes)', () => {
  const rnd = seededRandom(42);
  for (let round = 0; round < 300; round++) {
    const changes: RecordChange[] = Array.from({ length: 1 + Math.floor(rnd() * 12) }, (_, i) => {
      const deleted = rnd() < 0.25;
      return {
        workspaceId: 'ws_a', object: 'people', recordId: `r${Math.floor(rnd() * 3)}`, eventId: `e${Math.floor(rnd() * 5)}`,
        version: 1 + Math.floor(rnd() * 4), occurredAt: new Date(1_000_000 + i * 1000), deleted,
        fields: deleted ? null : { name: `n${i}`, score: Math.floor(rnd() * 100), tags: ['a', String(i)] },
      };
    });
    const sequential = new Map<string, RecordDocument>();
    for (const c of changes) {
      const id = recordKey(c.workspaceId, c.object, c.recordId);
      const next = foldRecord(sequential.get(id) ?? null, c);
      if (next) sequential.set(id, next);
    }
    assert.deepEqual(foldChanges(changes), sequential, JSON.stringify(changes));
  }
});

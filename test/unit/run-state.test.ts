/**
 * The run-state reducer without Kafka: every transition of the run table, step records,
 * a retry's resumeFrom, idempotent re-application, and what it does with what the table
 * does not allow (ignored: the same run object comes back).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRunEvent, transitionTargets } from '../../services/action-executor/run-state.ts';
import { runFromRequest, type Run } from '../../libs/store/runs.ts';
import { runStatuses, runTransitions, type RunStatus, type StepRecord } from '../../libs/contracts/run.ts';
import type { RunEvent, RunEventType } from '../../libs/kafka/events.ts';

let seq = 0;
const ev = (type: RunEventType, data: unknown = {}, stepKey: string | null = null, occurredAt = 1000): RunEvent => ({
  eventId: `e${++seq}`, type, workspaceId: 'ws', occurredAt, correlationId: 'c', causationId: 't', causationDepth: 0,
  runId: 'run_1', workflowId: 'wf', version: 1, stepKey, data: JSON.stringify(data),
});

const queued = (): Run => runFromRequest({
  runId: 'run_1', workspaceId: 'ws', workflowId: 'wf', version: 1, definition: { name: 'n', trigger: { type: 'manual', availability: 'global' }, steps: [] },
  triggerType: 'manual', triggerEventId: 't', trigger: {}, correlationId: 'c', causationId: null, depth: 0, requestedAt: 500,
}, new Date(500));

const step = (key: string, status: 'completed' | 'failed'): StepRecord => ({
  key, id: key.replace(/\[.*$/, ''), type: 'record.create', status, input: { key }, output: status === 'completed' ? { ok: key } : null,
  error: status === 'failed' ? { code: 'X', message: 'x', retriable: false } : null, attempts: 1, startedAt: 1, endedAt: 2,
});

const error = { code: 'X', message: 'x', retriable: false, stepKey: 'b' };

/** The event that moves a run to `to`. */
function eventTo(to: RunStatus, at = 2000): RunEvent {
  switch (to) {
    case 'running': return ev('run.started', { attempt: 1 }, null, at);
    case 'queued': return ev('run.retried', { attempt: 2, resumeFrom: ['b'] }, null, at);
    case 'completed': return ev('run.completed', {}, null, at);
    case 'failed': return ev('run.failed', { error }, null, at);
    case 'cancelled': return ev('run.cancelled', {}, null, at);
  }
}

/** A run in `status`, reached the way the executor reaches it. */
function runIn(status: RunStatus): Run {
  const paths: Record<RunStatus, RunStatus[]> = { queued: [], running: ['running'], completed: ['running', 'completed'], failed: ['running', 'failed'], cancelled: ['cancelled'] };
  let run = queued();
  for (const to of paths[status]) run = applyRunEvent(run, eventTo(to, 1500));
  if (status === 'failed') run = { ...run, steps: { a: step('a', 'completed'), b: step('b', 'failed') } };
  assert.equal(run.status, status);
  return run;
}

test('every transition of the run table is made by its event, with its times, error and attempt', () => {
  assert.deepEqual(new Set(Object.values(transitionTargets)), new Set(runStatuses), 'an event for every status');
  let checked = 0;
  for (const from of runStatuses) {
    for (const to of runTransitions[from]) {
      const before = runIn(from);
      const after = applyRunEvent(before, eventTo(to));
      assert.equal(after.status, to, `${from} → ${to}`);
      if (to === 'running') assert.ok(after.startedAt, 'started at');
      if (to === 'failed') assert.deepEqual(after.error, error);
      if (to === 'failed' || to === 'completed' || to === 'cancelled') assert.deepEqual(after.endedAt, new Date(2000));
      if (to === 'queued') assert.deepEqual([after.attempt, after.error, after.endedAt], [2, null, null]);
      checked += 1;
    }
  }
  assert.equal(checked, Object.values(runTransitions).flat().length);
});

test('what the table does not allow is ignored: the same run comes back, unchanged', () => {
  let checked = 0;
  for (const from of runStatuses) {
    for (const to of runStatuses) {
      if (runTransitions[from].includes(to)) continue;
      const before = runIn(from);
      const copy = structuredClone(before);
      assert.equal(applyRunEvent(before, eventTo(to)), before, `${from} → ${to} ignored`);
      assert.deepEqual(before, copy);
      checked += 1;
    }
  }
  assert.ok(checked >= 15, 'running → running, completed → anything, a retry of a run that did not fail…');
  for (const type of ['run.requested', 'run.retry-requested', 'run.cancel-requested', 'step.result'] as const) {
    const run = runIn('running');
    assert.equal(applyRunEvent(run, ev(type, {}, type === 'step.result' ? 'r1' : null)), run, `${type} is a command, not a change`);
  }
});

test('step records: kept while running (a later record of a key replaces it), a step on a queued run says it started, an ended run keeps its steps', () => {
  let run = runIn('running');
  run = applyRunEvent(run, ev('step.completed', step('a', 'completed'), 'a'));
  run = applyRunEvent(run, ev('step.failed', step('loop[0]', 'failed'), 'loop[0]'));
  assert.deepEqual(run.steps, { a: step('a', 'completed'), 'loop[0]': step('loop[0]', 'failed') });
  run = applyRunEvent(run, ev('step.completed', step('loop[0]', 'completed'), 'loop[0]'));
  assert.equal(run.steps['loop[0]']?.status, 'completed');

  const resumed = applyRunEvent(queued(), ev('step.completed', step('a', 'completed'), 'a', 1234));
  assert.equal(resumed.status, 'running');
  assert.deepEqual(resumed.startedAt, new Date(1234));

  for (const status of ['completed', 'failed', 'cancelled'] as const) {
    const ended = runIn(status);
    assert.equal(applyRunEvent(ended, ev('step.completed', step('z', 'completed'), 'z')), ended, `a ${status} run ignores a late step record`);
  }
});

test('a retry drops the failed steps it names and keeps the completed ones, so the run resumes from its failed step', () => {
  const failed = { ...runIn('failed'), steps: { a: step('a', 'completed'), b: step('b', 'failed'), 'it[0]': step('it[0]', 'completed'), 'it[1]': step('it[1]', 'failed') } };
  const retried = applyRunEvent(failed, ev('run.retried', { attempt: 2, resumeFrom: ['b', 'it[1]'] }));
  assert.deepEqual(Object.keys(retried.steps).sort(), ['a', 'it[0]']);
  assert.deepEqual([retried.status, retried.attempt, retried.error, retried.endedAt], ['queued', 2, null, null]);
  assert.equal(Object.keys(failed.steps).length, 4, 'the failed run given is unchanged');
});

test('idempotent: each event applied twice, or the whole log folded again, gives the same state', () => {
  const log = [
    eventTo('running', 1100),
    ev('step.completed', step('a', 'completed'), 'a'),
    ev('step.failed', step('b', 'failed'), 'b'),
    ev('run.failed', { error }, null, 1200),
    ev('run.retried', { attempt: 2, resumeFrom: ['b'] }),
    ev('run.started', { attempt: 2 }, null, 1300),
    ev('step.completed', step('b', 'completed'), 'b'),
    ev('run.completed', {}, null, 1400),
  ];
  const once = log.reduce(applyRunEvent, queued());
  assert.deepEqual([once.status, once.attempt, Object.keys(once.steps).sort(), once.endedAt], ['completed', 2, ['a', 'b'], new Date(1400)]);
  assert.deepEqual(log.flatMap((e) => [e, e]).reduce(applyRunEvent, queued()), once, 'every event delivered twice');
  assert.deepEqual(log.reduce(applyRunEvent, once), once, 'a replay of the whole log');
  // A restore starts from the projection (behind the log) and folds from an earlier offset.
  const projected = log.slice(0, 3).reduce(applyRunEvent, queued());
  assert.deepEqual(log.reduce(applyRunEvent, projected), once, 'folding a log the state is partly past');
});

/** The executor's pure parts: committable offsets with out-of-order completion, the per-workspace scheduler, and folding recorded run events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionOffsets } from '../../libs/kafka/offset-tracker.ts';
import { WorkspaceScheduler } from '../../services/action-executor/workspace-queue.ts';
import { applyRunEvent } from '../../services/action-executor/run-state.ts';
import { runFromRequest } from '../../libs/store/runs.ts';
import type { RunEvent } from '../../libs/kafka/events.ts';

test('offsets: only what is before the oldest unfinished message is committable', () => {
  const o = new PartitionOffsets();
  assert.equal(o.committable(), null);
  o.begin('10'); o.begin('11'); o.skip('12'); o.begin('13');
  assert.equal(o.committable(), '10');
  o.end('11'); o.end('13');
  assert.equal(o.committable(), '10', 'later ones finished, the oldest did not');
  o.end('10');
  assert.equal(o.committable(), '14');
  assert.equal(o.inFlight, 0);
});

test('scheduler: a limit per workspace, arrival order, and other workspaces unaffected', async () => {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const s = new WorkspaceScheduler<string>(2, (item) => new Promise<void>((resolve) => { started.push(item); release.set(item, resolve); }));
  for (const i of ['a1', 'a2', 'a3', 'a4']) s.submit('A', i);
  s.submit('B', 'b1');
  assert.deepEqual(started, ['a1', 'a2', 'b1']);
  assert.equal(s.queued('A'), 2);
  assert.ok(s.remove('A', 'a4'));
  release.get('a1')!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3']);
  assert.equal(s.running('A'), 2);
});

const ev = (type: RunEvent['type'], data: unknown, stepKey: string | null = null, occurredAt = 1000): RunEvent => ({
  eventId: `e-${type}-${stepKey}`, type, workspaceId: 'ws', occurredAt, correlationId: 'c', causationId: 'x', causationDepth: 0,
  runId: 'run_1', workflowId: 'wf', version: 1, stepKey, data: JSON.stringify(data),
});

test('restore: folding recorded events gives the state the executor had, through a failure and a retry', () => {
  let run = runFromRequest({ runId: 'run_1', workspaceId: 'ws', workflowId: 'wf', version: 1, definition: { name: 'n', trigger: { type: 'manual', availability: 'global' }, steps: [] }, triggerType: 'manual', triggerEventId: 't', trigger: {}, correlationId: 'c', causationId: null, depth: 0, requestedAt: 500 }, new Date(500));
  const step = (key: string, status: 'completed' | 'failed') => ({ key, id: key, type: 'record.create', status, input: {}, output: status === 'completed' ? { ok: 1 } : null, error: status === 'failed' ? { code: 'X', message: 'x', retriable: false } : null, attempts: 1, startedAt: 1, endedAt: 2 });
  for (const e of [
    ev('run.started', { attempt: 1 }),
    ev('step.completed', step('a', 'completed'), 'a'),
    ev('step.failed', step('b', 'failed'), 'b'),
    ev('run.failed', { error: { code: 'X', message: 'x', retriable: false, stepKey: 'b' } }, null, 2000),
  ]) run = applyRunEvent(run, e);
  assert.equal(run.status, 'failed');
  assert.equal(run.error?.stepKey, 'b');
  assert.deepEqual(run.endedAt, new Date(2000));
  run = applyRunEvent(run, ev('run.retried', { attempt: 2, resumeFrom: ['b'] }));
  assert.equal(run.status, 'queued');
  assert.equal(run.attempt, 2);
  assert.deepEqual(Object.keys(run.steps), ['a'], 'the completed step stays, the failed one goes');
  run = applyRunEvent(run, ev('step.completed', step('b', 'completed'), 'b'));
  run = applyRunEvent(run, ev('run.completed', {}, null, 3000));
  assert.equal(run.status, 'completed');
  assert.equal(run.error, null);
  assert.deepEqual(Object.keys(run.steps).sort(), ['a', 'b']);
});

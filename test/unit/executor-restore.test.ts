/**
 * Restore after an assignment: a partition kept through a rebalance is read again while
 * some of its runs are still held in memory. Their messages must wait for those runs, or
 * the next commit passes runs that have not run yet and a crash then loses them (the
 * reliability kill run left 52 runs queued with their messages committed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveRuns } from '../../services/action-executor/active-runs.ts';
import { createRestore } from '../../services/action-executor/restore.ts';
import type { RunProjection } from '../../services/action-executor/projection.ts';
import type { RunEvent } from '../../libs/kafka/events.ts';
import { runFromRequest } from '../../libs/store/runs.ts';
import { testLogger } from '../support/env.ts';

const definition = { name: 'W', trigger: { type: 'manual', availability: 'global' }, steps: [] } as const;
const request = (runId: string): RunEvent => ({
  eventId: `e-${runId}`, type: 'run.requested', workspaceId: 'ws_a', occurredAt: 1, correlationId: 'c', causationId: null, causationDepth: 0,
  runId, workflowId: 'wf_a', version: 1, stepKey: null,
  data: JSON.stringify({ triggerType: 'manual', triggerEventId: 't', trigger: {}, correlationId: 'c', causationId: null, depth: 0, requestedAt: 1, definition }),
});

test('a run still held here when its partition is read again keeps its message unfinished until the run is done', async () => {
  const projection: RunProjection = { mark: () => undefined, saved: async () => undefined, flush: async () => undefined, stop: async () => undefined };
  // A workspace limit of 0: admitted runs stay queued, as behind a busy workspace.
  const active = new ActiveRuns(0, projection, async () => undefined);
  const held = active.admit(runFromRequest({ ...JSON.parse(request('run_held').data), runId: 'run_held', workspaceId: 'ws_a', workflowId: 'wf_a', version: 1 }, new Date(1)), '0');
  const restore = createRestore({
    runs: { get: async () => null }, definitions: { definition: async () => definition } as never, projection, active,
    handle: async () => ({ done: Promise.resolve({}) }), log: testLogger('restore'), now: () => 1,
  }, '0');
  await restore.fold(request('run_held'), '10');
  await restore.fold(request('run_new'), '11');
  const holds = await restore.finish();
  assert.ok(holds.has('10'), 'the held run\'s message waits for it');
  assert.ok(holds.has('11'), 'a run folded from the log is admitted and waited for');
  let settled = false;
  void holds.get('10')!.then(() => { settled = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, 'not done while the run has not run');
  held.finish({});
  await holds.get('10');
  assert.equal(active.get('run_new')?.run.status, 'queued');
});

/**
 * The run loop when something fails that is neither a refusal nor a hand-over (a bug, a
 * store that throws): the run is taken up again from its recorded steps, and its message
 * is not let go until the run has ended. Letting it go at once (as before) committed
 * the offset of a run that never ended, and a crash then lost it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveRuns, type ActiveRun } from '../../services/action-executor/active-runs.ts';
import { createRunLoop } from '../../services/action-executor/run-loop.ts';
import { createRecorder } from '../../services/action-executor/transitions.ts';
import { StepResultMailbox } from '../../services/action-executor/step-results.ts';
import type { RunProjection } from '../../services/action-executor/projection.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RunEvent } from '../../libs/kafka/events.ts';
import { runFromRequest, type Run } from '../../libs/store/runs.ts';
import { testLogger } from '../support/env.ts';

const definition = { name: 'W', trigger: { type: 'manual', availability: 'global' }, steps: [] } as const;

function queuedRun(runId: string): Run {
  return runFromRequest({
    runId, workspaceId: 'ws_a', workflowId: 'wf_a', version: 1, triggerType: 'manual', triggerEventId: 't', trigger: {},
    correlationId: 'c', causationId: null, depth: 0, requestedAt: 1, definition,
  } as never, new Date(1));
}

test('a run that fails unexpectedly is taken up again and its message waits until it has ended', async () => {
  const published: RunEvent[] = [];
  const bus: EventBus = {
    publish: async (_topic, events) => { published.push(...events.map((e) => e.value as RunEvent)); },
    publishRaw: async () => undefined,
  };
  const saved: Run[] = [];
  let failSaves = 1;
  const projection: RunProjection = {
    mark: () => undefined,
    // The first save of the run's end throws, as a store client with a bug would.
    saved: async (run) => {
      if (failSaves-- > 0) throw new Error('boom: unexpected');
      saved.push(run);
    },
    flush: async () => undefined,
    stop: async () => undefined,
  };
  const log = testLogger('run-loop');
  const recorder = createRecorder({ bus, runsTopic: 'hub.runs', projection, log, now: () => 1 });
  const loop = createRunLoop({
    handlers: new Map(), limits: { runsPerWorkspace: 4, stepTimeoutMs: 1000, stepMaxAttempts: 1, retryBackoffMs: 1, retryBackoffMaxMs: 1 },
    log, now: () => 1, projection, recorder, mailbox: new StepResultMailbox(), stopping: () => false,
  });
  const active: ActiveRuns = new ActiveRuns(4, projection, (a): Promise<void> => loop.execute(a, active));
  const ar: ActiveRun = active.admit(queuedRun('run_a'), '0');
  let settled = false;
  void ar.done.then(() => { settled = true; });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(settled, false, 'the message is not let go after the unexpected failure');
  await ar.done;
  assert.equal(ar.run.status, 'completed');
  assert.equal(saved.at(-1)?.status, 'completed', 'the end reached the projection on the second try');
  assert.deepEqual(published.map((e) => e.type), ['run.started', 'run.completed'], 'taken up again without recording its start or end twice');
});

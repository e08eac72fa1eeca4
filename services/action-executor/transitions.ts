/**
 * Recording a run's transitions: every change is an event first (on hub.runs, acks=all,
 * the record of truth), then the run's state (run-state.ts, the same reducer restore
 * folds with), then the projection (written behind). A publish failing for a passing
 * reason is retried while the run is still this executor's; a refusal no retry fixes
 * (the event is too large, invalid) is thrown to the caller.
 */
import { randomUUID } from 'node:crypto';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RunEvent, RunEventType } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { Run } from '../../libs/store/runs.ts';
import { errorMessage, HubError } from '../../libs/errors/index.ts';
import { retry, RetryAbandoned } from '../../libs/time/retry.ts';
import { applyRunEvent, transitionTargets } from './run-state.ts';
import { Abandoned } from './active-runs.ts';
import type { RunProjection } from './projection.ts';

export const isRefusal = (err: unknown): err is HubError => err instanceof HubError && !err.retriable;

export interface RecorderDeps {
  bus: EventBus;
  runsTopic: string;
  projection: RunProjection;
  log: Logger;
  now(): number;
}

/** What holds a run's current state while it changes (an active run, or a run being retried). */
export interface RunHolder {
  run: Run;
}

export interface Recorder {
  /** An event of the run, as of now. */
  event(run: Run, type: RunEventType, stepKey: string | null, data: unknown): RunEvent;
  /** Publishes the event while `ours()` holds, then applies it to the holder's run and marks the projection. */
  record(holder: RunHolder, e: RunEvent, ours: () => boolean): Promise<void>;
}

export function createRecorder(d: RecorderDeps): Recorder {
  const publish = (e: RunEvent) => d.bus.publish(d.runsTopic, [{ key: e.workspaceId, value: e, headers: { 'hub.event-type': e.type, 'hub.run-id': e.runId } }]);
  return {
    event: (run, type, stepKey, data) => ({
      eventId: randomUUID(), type, workspaceId: run.workspaceId, occurredAt: d.now(),
      correlationId: run.correlationId, causationId: run.triggerEventId, causationDepth: run.depth,
      runId: run.runId, workflowId: run.workflowId, version: run.version, stepKey, data: JSON.stringify(data ?? {}),
    }),
    async record(holder, e, ours) {
      try {
        await retry(() => publish(e), {
          backoff: { initialMs: 200, maxMs: 10_000 },
          again: (err) => !isRefusal(err),
          active: ours,
          onRetry: (err, attempt, delayMs) => d.log.warn({ runId: e.runId, what: e.type, attempt, delayMs, err: errorMessage(err) }, 'recording a run event failed; retrying'),
        });
      } catch (err) {
        throw err instanceof RetryAbandoned ? new Abandoned() : err;
      }
      const next = applyRunEvent(holder.run, e);
      if (next === holder.run && transitionTargets[e.type] !== undefined) {
        d.log.error({ runId: e.runId, status: holder.run.status, event: e.type }, 'a transition the run table does not allow was recorded; the state is left as it was');
      }
      holder.run = next;
      d.projection.mark(next);
    },
  };
}

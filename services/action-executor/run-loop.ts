/**
 * Running one admitted run: started, its steps through the interpreter (each step's
 * record published before the next step), ended; every transition recorded by
 * transitions.ts. A run whose events hub.runs refuses for good fails in the
 * projection and its message is parked; a run handed over stops writing at once.
 */
import type { Logger } from '../../libs/log/index.ts';
import type { Run } from '../../libs/store/runs.ts';
import { errorMessage, HubError } from '../../libs/errors/index.ts';
import { executeRun, StepFailed, type EngineOptions, type RunOutcome, type StepHandlers } from '../../libs/workflow/interpreter.ts';
import { isTerminal, type RunError, type StepError, type StepRecord } from '../../libs/contracts/run.ts';
import type { RunEventType } from '../../libs/kafka/events.ts';
import { runErrors } from '../../libs/workflow/run-errors.ts';
import { retry } from '../../libs/time/retry.ts';
import { sleep } from '../../libs/time/sleep.ts';
import { applyRunEvent } from './run-state.ts';
import { Abandoned, type ActiveRun, type ActiveRuns } from './active-runs.ts';
import { isRefusal, type Recorder, type RunHolder } from './transitions.ts';
import type { RunProjection } from './projection.ts';
import type { StepResultMailbox } from './step-results.ts';
import type { ExecutorLimits } from './executor.ts';

export interface RunLoopDeps {
  handlers: StepHandlers;
  limits: ExecutorLimits;
  log: Logger;
  now(): number;
  afterEffect?: EngineOptions['afterEffect'];
  projection: RunProjection;
  recorder: Recorder;
  mailbox: StepResultMailbox;
  stopping(): boolean;
}

export interface RunLoop {
  /** Runs an admitted run to its end (or until it is handed over); releases it from `active`. */
  execute(ar: ActiveRun, active: ActiveRuns): Promise<void>;
  /** Cancels a run that is not executing here (queued, or left over). */
  cancelIdle(run: Run): Promise<void>;
}

export function createRunLoop(d: RunLoopDeps): RunLoop {
  const log = d.log;
  const engine: EngineOptions = {
    handlers: d.handlers,
    stepTimeoutMs: d.limits.stepTimeoutMs,
    stepMaxAttempts: d.limits.stepMaxAttempts,
    retryBackoffMs: d.limits.retryBackoffMs,
    retryBackoffMaxMs: d.limits.retryBackoffMaxMs,
    now: d.now,
    log,
    ...(d.afterEffect ? { afterEffect: d.afterEffect } : {}),
  };

  const transition = (holder: RunHolder, ours: () => boolean, type: RunEventType, stepKey: string | null, data: unknown) =>
    d.recorder.record(holder, d.recorder.event(holder.run, type, stepKey, data), ours);

  async function ended(holder: RunHolder, ours: () => boolean, outcome: RunOutcome): Promise<void> {
    if (outcome.status === 'completed') await transition(holder, ours, 'run.completed', null, {});
    else if (outcome.status === 'failed') await transition(holder, ours, 'run.failed', null, { error: outcome.error });
    else await transition(holder, ours, 'run.cancelled', null, {});
    // The message is done once the final state is in the projection, not only on the log.
    await d.projection.saved(holder.run);
  }

  async function recordStep(ar: ActiveRun, ours: () => boolean, step: StepRecord): Promise<void> {
    try {
      await transition(ar, ours, step.status === 'completed' ? 'step.completed' : 'step.failed', step.key, step);
    } catch (err) {
      if (!(err instanceof HubError) || err.code !== 'KAFKA_MESSAGE_TOO_LARGE') throw err;
      // Recorded without its input and output, and the run fails: better than a run stuck retrying.
      const error: StepError = { code: runErrors.STEP_RECORD_TOO_LARGE.code, message: `the record of step ${step.key} (its input and output) is larger than hub.runs takes, so it was not kept: ${err.message}`, retriable: false };
      await transition(ar, ours, 'step.failed', step.key, { ...step, status: 'failed', input: null, output: null, error } satisfies StepRecord);
      throw new StepFailed({ ...error, stepKey: step.key });
    }
  }

  /** hub.runs refuses the run's events: the projection alone says so (the message goes to the DLQ). */
  async function notRecordable(ar: ActiveRun, err: HubError): Promise<void> {
    log.error({ runId: ar.run.runId, code: err.code, err: err.message }, 'hub.runs refuses this run\'s events; the run is failed and its message parked');
    const error: RunError = { code: runErrors.RUN_NOT_RECORDABLE.code, message: `hub.runs refused the run's events (${err.code}): ${err.message}`, retriable: false, stepKey: null };
    ar.run = applyRunEvent(ar.run, d.recorder.event(ar.run, 'run.failed', null, { error }));
    d.projection.mark(ar.run);
    await d.projection.saved(ar.run).catch((e: unknown) => log.error({ runId: ar.run.runId, err: errorMessage(e) }, 'cannot save the run'));
  }

  /** The interpreter from the run's recorded steps; a failure that is not the run's (a bug, most likely) resumes it. */
  async function steps(ar: ActiveRun, ours: () => boolean): Promise<RunOutcome> {
    try {
      return await retry(() => {
        const run = ar.run;
        return executeRun({
          runId: run.runId, workspaceId: run.workspaceId, workflowId: run.workflowId, version: run.version, definition: run.definition,
          trigger: run.trigger, triggerEventId: run.triggerEventId, correlationId: run.correlationId, depth: run.depth,
          dryRun: false, recorded: run.steps, attempt: run.attempt, signal: ar.controller.signal,
          awaitResult: (id, signal) => d.mailbox.wait(id, signal),
          onStep: (step) => recordStep(ar, ours, step),
        }, engine);
      }, {
        backoff: { initialMs: 1000, maxMs: 1000 },
        again: (err) => !(err instanceof Abandoned || ar.abandoned || isRefusal(err)),
        onRetry: (err) => log.error({ runId: ar.run.runId, err: errorMessage(err) }, 'run interrupted; resuming from its recorded steps'),
      });
    } catch (err) {
      throw ar.abandoned ? new Abandoned() : err;
    }
  }

  async function runOnce(ar: ActiveRun): Promise<void> {
    const ours = () => !ar.abandoned && !d.stopping();
    // Taken up again after its end was recorded: only the projection's copy is left to save.
    if (isTerminal(ar.run.status)) return d.projection.saved(ar.run);
    if (ar.controller.signal.aborted) return ended(ar, ours, { status: 'cancelled' });
    if (ar.definitionMissing) {
      const error: RunError = { code: runErrors.WORKFLOW_VERSION_MISSING.code, message: `workflow ${ar.run.workflowId} has no version ${ar.run.version} on hub.workflows`, retriable: false, stepKey: null };
      log.error({ runId: ar.run.runId, workflowId: ar.run.workflowId, version: ar.run.version }, error.message);
      return ended(ar, ours, { status: 'failed', error });
    }
    if (ar.run.status !== 'running') await transition(ar, ours, 'run.started', null, { attempt: ar.run.attempt });
    const outcome = await steps(ar, ours);
    if (outcome.status === 'cancelled' && ar.abandoned) throw new Abandoned();
    await ended(ar, ours, outcome);
    log.info({ runId: ar.run.runId, workspaceId: ar.run.workspaceId, workflowId: ar.run.workflowId, status: ar.run.status }, 'run ended');
  }

  return {
    async execute(ar, active) {
      let refused: HubError | undefined;
      try {
        // A failure that is neither a refusal nor a hand-over is ours (a bug, most likely): the
        // run is taken up again from its recorded steps rather than its message let go undone.
        for (let attempt = 1; ; attempt++) {
          try {
            await runOnce(ar);
            return;
          } catch (err) {
            if (isRefusal(err)) {
              refused = err;
              await notRecordable(ar, err);
              return;
            }
            if (err instanceof Abandoned || ar.abandoned) return;
            const delayMs = Math.min(30_000, 1000 * attempt);
            log.error({ runId: ar.run.runId, attempt, delayMs, err: errorMessage(err) }, 'run stopped unexpectedly; taking it up again from its recorded steps');
            await sleep(delayMs);
          }
        }
      } finally {
        active.release(ar);
        // An abandoned run's message stays uncommitted here: its new owner takes it up.
        if (!ar.abandoned) ar.finish(refused ? { refused } : {});
      }
    },
    async cancelIdle(run) {
      await ended({ run }, () => !d.stopping(), { status: 'cancelled' });
    },
  };
}

/**
 * A run's state as a fold of its events: the one reducer of the executor, used live
 * (the executor builds an event, publishes it, then applies it here) and on restore
 * (folding hub.runs read again). Pure: returns the next run, never changes the one given.
 *
 * What a fold may meet: after a crash or a rebalance the projection (written behind
 * the log) is read first and hub.runs folded from an earlier offset, so events the
 * state is already past come again, and two owners of a moving partition may both
 * record the end of a step. Hence:
 * - a status change the table (`runTransitions`) does not allow is ignored: the same
 *   run object is returned, so re-applying an event changes nothing;
 * - a step record is kept while the run is queued or running; on a queued run it says
 *   the run started (steps are only recorded while running); an ended run ignores it;
 * - `run.retried` drops the failed steps it names, so the run resumes from them.
 * Step records are copied per record (the price of purity: about 4 s of CPU in all for
 * a run of 5,000 steps; runs are mostly far shorter).
 */
import type { RunEvent, RunEventType } from '../../libs/kafka/events.ts';
import type { Run } from '../../libs/store/runs.ts';
import { canTransition, type RunError, type RunStatus, type StepRecord } from '../../libs/contracts/run.ts';

/** The status each transition event moves a run to. */
export const transitionTargets: Readonly<Partial<Record<RunEventType, RunStatus>>> = {
  'run.started': 'running',
  'run.retried': 'queued',
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
};

export function applyRunEvent(run: Run, e: RunEvent): Run {
  const at = new Date(e.occurredAt);
  if (e.type === 'step.completed' || e.type === 'step.failed') {
    if (e.stepKey === null || (run.status !== 'queued' && run.status !== 'running')) return run;
    const started = run.status === 'queued' ? { status: 'running' as const, startedAt: run.startedAt ?? at } : {};
    return { ...run, ...started, steps: { ...run.steps, [e.stepKey]: JSON.parse(e.data) as StepRecord } };
  }
  const to = transitionTargets[e.type];
  if (to === undefined || !canTransition(run.status, to)) return run;
  switch (to) {
    case 'running':
      return { ...run, status: 'running', startedAt: run.startedAt ?? at };
    case 'queued': {
      const { attempt, resumeFrom } = JSON.parse(e.data) as { attempt: number; resumeFrom: string[] };
      const steps = { ...run.steps };
      for (const k of resumeFrom) delete steps[k];
      return { ...run, status: 'queued', attempt, error: null, endedAt: null, steps };
    }
    case 'failed':
      return { ...run, status: 'failed', endedAt: at, error: (JSON.parse(e.data) as { error: RunError }).error };
    default:
      return { ...run, status: to, endedAt: at };
  }
}

/**
 * What the executor does with each command read from hub.runs: a run request admits
 * its run (once: a replayed request finds it running or ended), a cancel stops it
 * before its next step, a retry resumes a failed run from its failed steps, a step
 * result goes to the step waiting for it. Each answers when the message's work is done.
 */
import type { RunEvent } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import { runFromRequest, type Run, type RunStore } from '../../libs/store/runs.ts';
import { isTerminal, type RunRequest } from '../../libs/contracts/run.ts';
import type { WorkflowDefinition } from '../../libs/contracts/workflow.ts';
import type { DefinitionSource } from '../../libs/workflow/versions.ts';
import type { StepResult } from '../../libs/workflow/interpreter.ts';
import type { ActiveRuns, RunDone } from './active-runs.ts';
import type { Recorder } from './transitions.ts';
import type { RunLoop } from './run-loop.ts';
import type { StepResultMailbox } from './step-results.ts';

/** Projection reads done ahead for a batch: which ids were asked for, and what was found. */
export interface KnownRuns {
  queried: ReadonlySet<string>;
  found: ReadonlyMap<string, Run>;
}

export interface CommandDeps {
  runs: Pick<RunStore, 'get'>;
  definitions: DefinitionSource;
  active: ActiveRuns;
  loop: RunLoop;
  recorder: Recorder;
  mailbox: StepResultMailbox;
  log: Logger;
  now(): number;
  stopping(): boolean;
}

export type Handled = { done: Promise<RunDone> };

/** What a run whose version cannot be found carries instead (it fails before any step). */
const NO_DEFINITION: WorkflowDefinition = { name: '', trigger: { type: 'manual', availability: 'global' }, steps: [] };

/** A run.requested event as a new run, its definition read from the version it names (older requests carry it). */
export async function runOfRequest(e: RunEvent, definitions: DefinitionSource, now: number): Promise<{ run: Run; definitionMissing: boolean }> {
  const data = JSON.parse(e.data) as Omit<RunRequest, 'runId' | 'workspaceId' | 'workflowId' | 'version' | 'definition'> & { definition?: WorkflowDefinition };
  const definition = data.definition ?? await definitions.definition(e.workflowId, e.version);
  const request: RunRequest = { ...data, definition: definition ?? NO_DEFINITION, runId: e.runId, workspaceId: e.workspaceId, workflowId: e.workflowId, version: e.version };
  return { run: runFromRequest(request, new Date(now)), definitionMissing: definition === undefined };
}

export function createCommands(d: CommandDeps): (e: RunEvent, source: string, known?: KnownRuns) => Promise<Handled> {
  const resolved: Handled = { done: Promise.resolve({}) };

  /** A message read again (after a rebalance) for a run in progress is done when the run is. */
  const inProgress = (runId: string): Handled | null => {
    const ar = d.active.get(runId);
    return ar ? { done: ar.done } : null;
  };

  async function requested(e: RunEvent, source: string, known?: KnownRuns): Promise<Handled> {
    const running = inProgress(e.runId);
    if (running) return running;
    const existing = known?.queried.has(e.runId) ? known.found.get(e.runId) ?? null : await d.runs.get(e.runId);
    // A replayed trigger finds its run ended; a manual run finds the record the API made.
    if (existing) return isTerminal(existing.status) ? resolved : d.active.admit(existing, source);
    const { run, definitionMissing } = await runOfRequest(e, d.definitions, d.now());
    return d.active.admit(run, source, definitionMissing);
  }

  async function cancel(e: RunEvent): Promise<Handled> {
    const ar = d.active.get(e.runId);
    if (ar) {
      ar.controller.abort();
      // Not started yet: ended here; started: it stops before its next step.
      if (d.active.unqueue(ar)) {
        d.active.release(ar);
        await d.loop.cancelIdle(ar.run);
        ar.finish({});
      }
      return resolved;
    }
    const run = await d.runs.get(e.runId);
    if (run && !isTerminal(run.status)) await d.loop.cancelIdle(run);
    return resolved;
  }

  async function retried(e: RunEvent, source: string): Promise<Handled> {
    const running = inProgress(e.runId);
    if (running) return running;
    const run = await d.runs.get(e.runId);
    if (!run) return resolved;
    if (run.status === 'failed') {
      const failed = Object.values(run.steps).filter((s) => s.status === 'failed').map((s) => s.key);
      const holder = { run };
      await d.recorder.record(holder, d.recorder.event(run, 'run.retried', null, { attempt: run.attempt + 1, resumeFrom: failed }), () => !d.stopping());
      d.log.info({ runId: run.runId, attempt: holder.run.attempt, resumeFrom: failed }, 'run retried from its failed step');
      return d.active.admit(holder.run, source);
    }
    // Retried before a crash, and not finished: take it up again.
    if (!isTerminal(run.status)) return d.active.admit(run, source);
    return resolved;
  }

  function result(e: RunEvent): Handled {
    if (e.stepKey !== null) d.mailbox.deliver(e.stepKey, JSON.parse(e.data) as StepResult);
    return resolved;
  }

  return async (e, source, known) => {
    switch (e.type) {
      case 'run.requested': return requested(e, source, known);
      case 'run.cancel-requested': return cancel(e);
      case 'run.retry-requested': return retried(e, source);
      case 'step.result': return result(e);
      default: return resolved;
    }
  };
}

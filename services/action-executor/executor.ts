/**
 * The action executor's core: takes run requests and commands from hub.runs, runs
 * each workspace's runs under its concurrency limit, and records every transition:
 * first as an event on hub.runs (acks=all, the record of truth), then in the runs
 * projection (write-behind, projection.ts).
 *
 * One executor owns a workspace at a time (hub.runs is keyed by workspace), so it is
 * the only writer of those runs' documents. A message's work is "done" when its run
 * reached a state that needs nothing more from it (terminal and written, or handed
 * over); the consumer commits only past done messages. After a crash or a
 * rebalance, the new owner re-reads hub.runs from the committed offset and folds
 * what it reads (restore) before running anything, so a run resumes after its last
 * recorded step.
 */
import { randomUUID } from 'node:crypto';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RunEvent, RunEventType } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import { runFromRequest, type Run, type RunStore } from '../../libs/store/runs.ts';
import { errorMessage, HubError } from '../../libs/errors/index.ts';
import { executeRun, StepFailed, type EngineOptions, type RunOutcome, type StepHandlers, type StepResult } from '../../libs/workflow/interpreter.ts';
import { isTerminal, type RunError, type RunRequest, type StepError, type StepRecord } from '../../libs/contracts/run.ts';
import type { WorkflowDefinition } from '../../libs/contracts/workflow.ts';
import type { DefinitionSource } from '../../libs/workflow/versions.ts';
import { runErrors } from '../../libs/workflow/run-errors.ts';
import { sleep, backoffDelayMs } from '../../libs/time/sleep.ts';
import { WorkspaceScheduler } from './workspace-queue.ts';
import type { RunProjection } from './projection.ts';

export interface ExecutorLimits {
  runsPerWorkspace: number;
  stepTimeoutMs: number;
  stepMaxAttempts: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
}

export interface ExecutorDeps {
  runs: Pick<RunStore, 'get' | 'getMany'>;
  /** Run requests name a workflow version; its definition comes from here. */
  definitions: DefinitionSource;
  projection: RunProjection;
  bus: EventBus;
  runsTopic: string;
  handlers: StepHandlers;
  limits: ExecutorLimits;
  log: Logger;
  now(): number;
  afterEffect?: EngineOptions['afterEffect'];
}

interface ActiveRun {
  run: Run;
  /** Which partition it came from: revoked partitions' runs are handed over. */
  source: string;
  controller: AbortController;
  /** Set when its partition was revoked: another executor owns it now; write nothing more. */
  abandoned: boolean;
  /** The run's version could not be found: it fails without running. */
  definitionMissing?: boolean;
  done: Promise<RunDone>;
  finish(outcome: RunDone): void;
}

/**
 * How the work of a message ended: done, or refused by hub.runs for a reason no retry
 * fixes (the consumer parks the message with that reason and moves on).
 */
export interface RunDone {
  refused?: HubError;
}

/** Projection reads done ahead for a batch: which ids were asked for, and what was found. */
export interface KnownRuns {
  queried: ReadonlySet<string>;
  found: ReadonlyMap<string, Run>;
}

export interface Restore {
  /** Folds one event read again from hub.runs (in order). */
  fold(event: RunEvent, offset: string): Promise<void>;
  /** Takes up what the fold found: unfinished runs are admitted; returns, per offset to hold, when it is done. */
  finish(): Promise<Map<string, Promise<RunDone>>>;
}

export interface Executor {
  /** Takes one hub.runs request or command; `done` resolves once its work is durable. `known`: projection reads done ahead for a batch. */
  handle(event: RunEvent, source: string, known?: KnownRuns): Promise<{ done: Promise<RunDone> }>;
  /** Starts folding a partition read again after an assignment. */
  restore(source: string): Restore;
  isActive(runId: string): boolean;
  /** Stops caring about runs taken from these sources (their partitions moved to another executor). */
  abandon(sources: ReadonlySet<string>): void;
  /** Runs admitted and not yet finished. */
  inFlight(): number;
  running(workspaceId: string): number;
  queued(workspaceId: string): number;
  stop(): Promise<void>;
}

class Abandoned extends Error {}

/** What a run whose version cannot be found carries instead (it fails before any step). */
const NO_DEFINITION: WorkflowDefinition = { name: '', trigger: { type: 'manual', availability: 'global' }, steps: [] };

/** A run.requested event as a request, its definition read from the version it names (older requests carry it). */
async function requestOf(e: RunEvent, definitions: DefinitionSource): Promise<{ request: RunRequest; definitionMissing: boolean }> {
  const data = JSON.parse(e.data) as Omit<RunRequest, 'runId' | 'workspaceId' | 'workflowId' | 'version' | 'definition'> & { definition?: WorkflowDefinition };
  const definition = data.definition ?? await definitions.definition(e.workflowId, e.version);
  return {
    request: { ...data, definition: definition ?? NO_DEFINITION, runId: e.runId, workspaceId: e.workspaceId, workflowId: e.workflowId, version: e.version },
    definitionMissing: definition === undefined,
  };
}

const isRefusal = (err: unknown): err is HubError => err instanceof HubError && !err.retriable;

/** Applies one recorded event to a run's state (restore): the same transitions the executor made. */
export function applyRunEvent(run: Run, e: RunEvent): void {
  const at = new Date(e.occurredAt);
  switch (e.type) {
    case 'run.started':
      run.status = 'running';
      run.startedAt ??= at;
      break;
    case 'step.completed':
    case 'step.failed':
      if (e.stepKey !== null) run.steps[e.stepKey] = JSON.parse(e.data) as StepRecord;
      break;
    case 'run.retried': {
      const data = JSON.parse(e.data) as { attempt: number; resumeFrom: string[] };
      for (const k of data.resumeFrom) delete run.steps[k];
      Object.assign(run, { status: 'queued', attempt: data.attempt, error: null, endedAt: null });
      break;
    }
    case 'run.completed':
      Object.assign(run, { status: 'completed', endedAt: at });
      break;
    case 'run.failed':
      Object.assign(run, { status: 'failed', endedAt: at, error: (JSON.parse(e.data) as { error: RunError }).error });
      break;
    case 'run.cancelled':
      Object.assign(run, { status: 'cancelled', endedAt: at });
      break;
    default:
      break;
  }
}

export function createExecutor(d: ExecutorDeps): Executor {
  const active = new Map<string, ActiveRun>();
  const log = d.log;
  const results = new Map<string, { resolve(r: StepResult): void }>();
  /** Results that arrived while nothing waited (kept briefly: the step may be about to ask). */
  const early = new Map<string, { result: StepResult; at: number }>();
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
  const scheduler = new WorkspaceScheduler<ActiveRun>(d.limits.runsPerWorkspace, (ar) => start(ar));
  let stopping = false;

  const event = (run: Run, type: RunEventType, stepKey: string | null, data: unknown): RunEvent => ({
    eventId: randomUUID(), type, workspaceId: run.workspaceId, occurredAt: d.now(),
    correlationId: run.correlationId, causationId: run.triggerEventId, causationDepth: run.depth,
    runId: run.runId, workflowId: run.workflowId, version: run.version, stepKey, data: JSON.stringify(data ?? {}),
  });

  const publish = (e: RunEvent) => d.bus.publish(d.runsTopic, [{ key: e.workspaceId, value: e, headers: { 'hub.event-type': e.type, 'hub.run-id': e.runId } }]);

  /**
   * Retries a publish that failed for a passing reason (broker away) until it passes,
   * unless the run was handed over; a refusal no retry fixes is thrown to the caller.
   */
  async function durably(ar: ActiveRun | null, what: string, f: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (ar?.abandoned || (stopping && ar)) throw new Abandoned();
      try {
        return await f();
      } catch (err) {
        if (isRefusal(err)) throw err;
        const delay = backoffDelayMs(attempt, { initialMs: 200, maxMs: 10_000 });
        log.warn({ what, attempt, delayMs: delay, err: errorMessage(err) }, 'recording a run event failed; retrying');
        await sleep(delay);
      }
    }
  }

  /** Records a transition: its event on hub.runs, then the projection (written behind). */
  async function transition(ar: ActiveRun, e: RunEvent, apply: (run: Run) => void): Promise<void> {
    await durably(ar, e.type, () => publish(e));
    apply(ar.run);
    d.projection.mark(ar.run);
  }

  const started = (ar: ActiveRun) => transition(ar, event(ar.run, 'run.started', null, { attempt: ar.run.attempt }), (run) => {
    run.status = 'running';
    run.startedAt ??= new Date(d.now());
  });

  const ended = async (ar: ActiveRun, outcome: RunOutcome): Promise<void> => {
    const at = new Date(d.now());
    if (outcome.status === 'completed') await transition(ar, event(ar.run, 'run.completed', null, {}), (run) => Object.assign(run, { status: 'completed', endedAt: at }));
    else if (outcome.status === 'failed') await transition(ar, event(ar.run, 'run.failed', null, { error: outcome.error }), (run) => Object.assign(run, { status: 'failed', error: outcome.error, endedAt: at }));
    else await transition(ar, event(ar.run, 'run.cancelled', null, {}), (run) => Object.assign(run, { status: 'cancelled', endedAt: at }));
    // The message is done once the final state is in the projection, not only on the log.
    await d.projection.saved(ar.run);
  };

  function awaitResult(resultId: string, signal: AbortSignal): Promise<StepResult> {
    const ready = early.get(resultId);
    if (ready) { early.delete(resultId); return Promise.resolve(ready.result); }
    return new Promise<StepResult>((resolve, reject) => {
      const onAbort = () => { results.delete(resultId); reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')); };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      results.set(resultId, { resolve: (r) => { signal.removeEventListener('abort', onAbort); results.delete(resultId); resolve(r); } });
    });
  }

  async function start(ar: ActiveRun): Promise<void> {
    const run = ar.run;
    let refused: HubError | undefined;
    try {
      if (ar.controller.signal.aborted) return await ended(ar, { status: 'cancelled' });
      if (ar.definitionMissing) {
        const error: RunError = { code: runErrors.WORKFLOW_VERSION_MISSING.code, message: `workflow ${run.workflowId} has no version ${run.version} on hub.workflows`, retriable: false, stepKey: null };
        log.error({ runId: run.runId, workflowId: run.workflowId, version: run.version }, error.message);
        return await ended(ar, { status: 'failed', error });
      }
      if (run.status !== 'running') await started(ar);
      let outcome: RunOutcome;
      for (;;) {
        try {
          outcome = await executeRun({
            runId: run.runId, workspaceId: run.workspaceId, workflowId: run.workflowId, version: run.version, definition: run.definition,
            trigger: run.trigger, triggerEventId: run.triggerEventId, correlationId: run.correlationId, depth: run.depth,
            dryRun: false, recorded: run.steps, attempt: run.attempt, signal: ar.controller.signal, awaitResult,
            onStep: (step) => recordStep(ar, step),
          }, engine);
          break;
        } catch (err) {
          if (err instanceof Abandoned || ar.abandoned) throw new Abandoned();
          if (isRefusal(err)) throw err;
          // Not the run's fault (a bug, most likely): resume from what is recorded.
          log.error({ runId: run.runId, err: errorMessage(err) }, 'run interrupted; resuming from its recorded steps');
          await sleep(1000);
        }
      }
      if (outcome.status === 'cancelled' && ar.abandoned) throw new Abandoned();
      await ended(ar, outcome);
      log.info({ runId: run.runId, workspaceId: run.workspaceId, workflowId: run.workflowId, status: run.status }, 'run ended');
    } catch (err) {
      if (isRefusal(err)) {
        refused = err;
        await notRecordable(ar, err);
      } else if (!(err instanceof Abandoned)) {
        log.error({ runId: run.runId, err: errorMessage(err) }, 'run stopped unexpectedly; it resumes after a restart');
      }
    } finally {
      active.delete(run.runId);
      // An abandoned run's message stays uncommitted here: its new owner takes it up.
      if (!ar.abandoned) ar.finish(refused ? { refused } : {});
    }
  }

  /** hub.runs refuses the run's events: the projection says so (the message goes to the DLQ). */
  async function notRecordable(ar: ActiveRun, err: HubError): Promise<void> {
    log.error({ runId: ar.run.runId, code: err.code, err: err.message }, 'hub.runs refuses this run\'s events; the run is failed and its message parked');
    Object.assign(ar.run, {
      status: 'failed', endedAt: new Date(d.now()),
      error: { code: runErrors.RUN_NOT_RECORDABLE.code, message: `hub.runs refused the run's events (${err.code}): ${err.message}`, retriable: false, stepKey: null },
    });
    d.projection.mark(ar.run);
    await d.projection.saved(ar.run).catch((e: unknown) => log.error({ runId: ar.run.runId, err: errorMessage(e) }, 'cannot save the run'));
  }

  async function recordStep(ar: ActiveRun, step: StepRecord): Promise<void> {
    try {
      await transition(ar, event(ar.run, step.status === 'completed' ? 'step.completed' : 'step.failed', step.key, step), (run) => { run.steps[step.key] = step; });
    } catch (err) {
      if (!(err instanceof HubError) || err.code !== 'KAFKA_MESSAGE_TOO_LARGE') throw err;
      // Recorded without its input and output, and the run fails: better than a run stuck retrying.
      const error: StepError = { code: runErrors.STEP_RECORD_TOO_LARGE.code, message: `the record of step ${step.key} (its input and output) is larger than hub.runs takes, so it was not kept: ${err.message}`, retriable: false };
      const compact: StepRecord = { ...step, status: 'failed', input: null, output: null, error };
      await transition(ar, event(ar.run, 'step.failed', step.key, compact), (run) => { run.steps[step.key] = compact; });
      throw new StepFailed({ ...error, stepKey: step.key });
    }
  }

  function admit(run: Run, source: string, definitionMissing = false): ActiveRun {
    let finish!: (outcome: RunDone) => void;
    const done = new Promise<RunDone>((resolve) => { finish = resolve; });
    const ar: ActiveRun = { run, source, controller: new AbortController(), abandoned: false, done, finish, ...(definitionMissing ? { definitionMissing } : {}) };
    active.set(run.runId, ar);
    d.projection.mark(run);
    scheduler.submit(run.workspaceId, ar);
    return ar;
  }

  const resolved: { done: Promise<RunDone> } = { done: Promise.resolve({}) };

  /** A message read again (after a rebalance) for a run in progress is done when the run is. */
  const inProgress = (runId: string) => {
    const ar = active.get(runId);
    return ar ? { done: ar.done } : null;
  };

  async function onRequested(e: RunEvent, source: string, known?: KnownRuns): Promise<{ done: Promise<RunDone> }> {
    const running = inProgress(e.runId);
    if (running) return running;
    const existing = known?.queried.has(e.runId) ? known.found.get(e.runId) ?? null : await d.runs.get(e.runId);
    // A replayed trigger finds its run ended; a manual run finds the record the API made.
    if (existing) return isTerminal(existing.status) ? resolved : admit(existing, source);
    const { request, definitionMissing } = await requestOf(e, d.definitions);
    return admit(runFromRequest(request, new Date(d.now())), source, definitionMissing);
  }

  /** Ends a run that is not executing here (queued, or left over). */
  async function endIdle(run: Run, source: string): Promise<void> {
    const ar: ActiveRun = { run, source, controller: new AbortController(), abandoned: false, done: Promise.resolve({}), finish: () => undefined };
    await ended(ar, { status: 'cancelled' });
  }

  async function onCancel(e: RunEvent, source: string): Promise<{ done: Promise<RunDone> }> {
    const ar = active.get(e.runId);
    if (ar) {
      ar.controller.abort();
      if (scheduler.remove(ar.run.workspaceId, ar)) {
        active.delete(ar.run.runId);
        await endIdle(ar.run, source);
        ar.finish({});
      }
      return resolved;
    }
    const run = await d.runs.get(e.runId);
    if (run && !isTerminal(run.status)) await endIdle(run, source);
    return resolved;
  }

  async function onRetry(e: RunEvent, source: string): Promise<{ done: Promise<RunDone> }> {
    const running = inProgress(e.runId);
    if (running) return running;
    const run = await d.runs.get(e.runId);
    if (!run) return resolved;
    if (run.status === 'failed') {
      const failed = Object.values(run.steps).filter((s) => s.status === 'failed').map((s) => s.key);
      const retried = event(run, 'run.retried', null, { attempt: run.attempt + 1, resumeFrom: failed });
      await durably(null, 'run.retried', () => publish(retried));
      applyRunEvent(run, retried);
      log.info({ runId: run.runId, attempt: run.attempt, resumeFrom: failed }, 'run retried from its failed step');
      return admit(run, source);
    }
    // Retried before a crash, and not finished: take it up again.
    if (!isTerminal(run.status)) return admit(run, source);
    return resolved;
  }

  function onResult(e: RunEvent): { done: Promise<RunDone> } {
    if (e.stepKey === null) return resolved;
    const result = JSON.parse(e.data) as StepResult;
    const waiter = results.get(e.stepKey);
    if (waiter) {
      waiter.resolve(result);
    } else {
      const now = Date.now();
      for (const [k, v] of early) if (now - v.at > 60_000) early.delete(k);
      early.set(e.stepKey, { result, at: now });
    }
    return resolved;
  }

  async function handle(e: RunEvent, source: string, known?: KnownRuns): Promise<{ done: Promise<RunDone> }> {
    if (stopping) throw new Abandoned();
    switch (e.type) {
      case 'run.requested': return onRequested(e, source, known);
      case 'run.cancel-requested': return onCancel(e, source);
      case 'run.retry-requested': return onRetry(e, source);
      case 'step.result': return onResult(e);
      default: return resolved;
    }
  }

  return {
    handle,
    restore(source) {
      const runs = new Map<string, { run: Run; firstOffset: string; definitionMissing: boolean }>();
      const commands: { event: RunEvent; offset: string }[] = [];
      return {
        async fold(e, offset) {
          if (e.type === 'run.cancel-requested' || e.type === 'run.retry-requested') { commands.push({ event: e, offset }); return; }
          // A resumed waiting step asks again, and gets its result again.
          if (e.type === 'step.result') return;
          let entry = runs.get(e.runId);
          if (!entry) {
            if (active.has(e.runId)) return;
            const stored = await d.runs.get(e.runId);
            let definitionMissing = false;
            let run = stored;
            if (!run && e.type === 'run.requested') {
              const r = await requestOf(e, d.definitions);
              run = runFromRequest(r.request, new Date(d.now()));
              definitionMissing = r.definitionMissing;
            }
            if (!run) return;
            entry = { run, firstOffset: offset, definitionMissing };
            runs.set(e.runId, entry);
          }
          applyRunEvent(entry.run, e);
        },
        async finish() {
          const holds = new Map<string, Promise<RunDone>>();
          let resumed = 0;
          for (const { run, firstOffset, definitionMissing } of runs.values()) {
            const ar = active.get(run.runId);
            if (ar) holds.set(firstOffset, ar.done);
            else if (isTerminal(run.status)) holds.set(firstOffset, d.projection.saved(run).then(() => ({})));
            else { holds.set(firstOffset, admit(run, source, definitionMissing).done); resumed += 1; }
          }
          for (const c of commands) holds.set(c.offset, (await handle(c.event, source)).done);
          if (runs.size > 0) log.info({ partition: source, runs: runs.size, resumed }, 'restored runs from hub.runs');
          return holds;
        },
      };
    },
    isActive: (runId) => active.has(runId),
    abandon(sources) {
      for (const ar of active.values()) {
        if (!sources.has(ar.source)) continue;
        ar.abandoned = true;
        ar.controller.abort();
        scheduler.remove(ar.run.workspaceId, ar);
        active.delete(ar.run.runId);
      }
    },
    inFlight: () => active.size,
    running: (ws) => scheduler.running(ws),
    queued: (ws) => scheduler.queued(ws),
    async stop() {
      stopping = true;
      for (const ar of active.values()) { ar.abandoned = true; ar.controller.abort(); }
      const deadline = Date.now() + 5000;
      while (active.size > 0 && Date.now() < deadline) await sleep(20);
    },
  };
}

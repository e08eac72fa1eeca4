/**
 * The action executor's core: takes run requests and commands from hub.runs, runs
 * each workspace's runs under its concurrency limit, and records every transition
 * (an event on hub.runs, then the runs projection).
 *
 * One executor owns a workspace at a time (hub.runs is keyed by workspace), so it is
 * the only writer of those runs' documents. A message's work is "done" when its
 * run reached a state that needs nothing more from this message (terminal, or
 * handed over); the consumer commits only past done messages, so after a crash the
 * run is taken up again from its recorded steps.
 */
import { randomUUID } from 'node:crypto';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RunEvent, RunEventType } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import { runFromRequest, type Run, type RunChange, type RunStore } from '../../libs/store/runs.ts';
import { errorMessage, isRetriable } from '../../libs/errors/index.ts';
import { executeRun, type EngineOptions, type RunOutcome, type StepHandlers } from '../../libs/workflow/engine.ts';
import { isTerminal, type RunError, type RunRequest, type StepRecord } from '../../libs/workflow/run-model.ts';
import { WorkspaceScheduler } from './scheduler.ts';

export interface ExecutorLimits {
  runsPerWorkspace: number;
  stepTimeoutMs: number;
  stepMaxAttempts: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
}

export interface ExecutorDeps {
  runs: RunStore;
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
  done: Promise<void>;
  finish(): void;
}

export interface Executor {
  /** Takes one hub.runs request or command; `done` resolves once its work is durable. */
  handle(event: RunEvent, source: string): Promise<{ done: Promise<void> }>;
  /** Stops caring about runs taken from these sources (their partitions moved to another executor). */
  abandon(sources: ReadonlySet<string>): void;
  /** Runs admitted and not yet finished. */
  inFlight(): number;
  running(workspaceId: string): number;
  queued(workspaceId: string): number;
  stop(): Promise<void>;
}

class Abandoned extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createExecutor(d: ExecutorDeps): Executor {
  const active = new Map<string, ActiveRun>();
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
  const scheduler = new WorkspaceScheduler<ActiveRun>(d.limits.runsPerWorkspace, (ar) => start(ar));
  let stopping = false;

  const event = (run: Run, type: RunEventType, stepKey: string | null, data: unknown): RunEvent => ({
    eventId: randomUUID(), type, workspaceId: run.workspaceId, occurredAt: d.now(),
    correlationId: run.correlationId, causationId: run.triggerEventId, causationDepth: run.depth,
    runId: run.runId, workflowId: run.workflowId, version: run.version, stepKey, data: JSON.stringify(data ?? {}),
  });

  const publish = (e: RunEvent) => d.bus.publish(d.runsTopic, [{ key: e.workspaceId, value: e, headers: { 'hub.event-type': e.type, 'hub.run-id': e.runId } }]);

  /** Retries infrastructure failures (broker, store) until they pass, unless the run was handed over. */
  async function durably<T>(ar: ActiveRun | null, what: string, f: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (ar?.abandoned) throw new Abandoned();
      try {
        return await f();
      } catch (err) {
        if (err instanceof Abandoned) throw err;
        if (stopping && ar) throw new Abandoned();
        const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 7));
        log.warn({ what, attempt, delayMs: delay, retriable: isRetriable(err), err: errorMessage(err) }, 'recording a run failed; retrying');
        await sleep(delay);
      }
    }
  }

  async function transition(ar: ActiveRun, type: RunEventType, change: RunChange, data: unknown = {}): Promise<void> {
    await durably(ar, type, () => publish(event(ar.run, type, null, data)));
    await durably(ar, type, () => d.runs.update(ar.run.runId, change));
    Object.assign(ar.run, change);
  }

  async function start(ar: ActiveRun): Promise<void> {
    const run = ar.run;
    try {
      if (ar.controller.signal.aborted) return await finishCancelled(ar);
      if (run.status !== 'running') await transition(ar, 'run.started', { status: 'running', startedAt: new Date(d.now()) }, { attempt: run.attempt });
      let outcome: RunOutcome;
      for (;;) {
        try {
          outcome = await executeRun({
            runId: run.runId, workspaceId: run.workspaceId, workflowId: run.workflowId, definition: run.definition,
            trigger: run.trigger, triggerEventId: run.triggerEventId, correlationId: run.correlationId, depth: run.depth,
            dryRun: false, recorded: run.steps, signal: ar.controller.signal,
            onStep: (step) => recordStep(ar, step),
          }, engine);
          break;
        } catch (err) {
          // Recording failed beyond retries (only when stopping or abandoned); or a bug: resume from what is recorded.
          if (err instanceof Abandoned || ar.abandoned) throw new Abandoned();
          log.error({ runId: run.runId, err: errorMessage(err) }, 'run interrupted; resuming from its recorded steps');
          await sleep(1000);
        }
      }
      if (outcome.status === 'cancelled' && ar.abandoned) throw new Abandoned();
      if (outcome.status === 'completed') await transition(ar, 'run.completed', { status: 'completed', endedAt: new Date(d.now()) });
      else if (outcome.status === 'failed') await transition(ar, 'run.failed', { status: 'failed', error: outcome.error, endedAt: new Date(d.now()) }, { error: outcome.error });
      else await finishCancelled(ar);
      log.info({ runId: run.runId, workspaceId: run.workspaceId, workflowId: run.workflowId, status: ar.run.status }, 'run ended');
    } catch (err) {
      if (!(err instanceof Abandoned)) log.error({ runId: run.runId, err: errorMessage(err) }, 'run stopped unexpectedly; it resumes after a restart');
    } finally {
      active.delete(run.runId);
      // An abandoned run's message stays uncommitted here: its new owner takes it up.
      if (!ar.abandoned) ar.finish();
    }
  }

  async function recordStep(ar: ActiveRun, step: StepRecord): Promise<void> {
    await durably(ar, 'step', () => publish(event(ar.run, step.status === 'completed' ? 'step.completed' : 'step.failed', step.key, step)));
    await durably(ar, 'step', () => d.runs.recordStep(ar.run.runId, step));
    ar.run.steps[step.key] = step;
  }

  async function finishCancelled(ar: ActiveRun): Promise<void> {
    await transition(ar, 'run.cancelled', { status: 'cancelled', endedAt: new Date(d.now()) });
  }

  function admit(run: Run, source: string): ActiveRun {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => { finish = resolve; });
    const ar: ActiveRun = { run, source, controller: new AbortController(), abandoned: false, done, finish };
    active.set(run.runId, ar);
    scheduler.submit(run.workspaceId, ar);
    return ar;
  }

  const resolved = { done: Promise.resolve() };

  /** A message read again (after a rebalance) for a run in progress is done when the run is. */
  const inProgress = (runId: string) => {
    const ar = active.get(runId);
    return ar ? { done: ar.done } : null;
  };

  async function onRequested(e: RunEvent, source: string): Promise<{ done: Promise<void> }> {
    const running = inProgress(e.runId);
    if (running) return running;
    const existing = await d.runs.get(e.runId);
    if (existing) {
      // A replayed trigger, or this run's own request read again after a crash.
      return isTerminal(existing.status) ? resolved : admit(existing, source);
    }
    const request = JSON.parse(e.data) as Omit<RunRequest, 'runId' | 'workspaceId' | 'workflowId' | 'version'>;
    const run = runFromRequest({ ...request, runId: e.runId, workspaceId: e.workspaceId, workflowId: e.workflowId, version: e.version }, new Date(d.now()));
    // The projection's insert records "queued"; run.started follows when a slot frees.
    if (!(await d.runs.insert(run))) return onRequested(e, source);
    return admit(run, source);
  }

  async function onCancel(e: RunEvent): Promise<{ done: Promise<void> }> {
    const ar = active.get(e.runId);
    if (ar) {
      if (scheduler.remove(ar.run.workspaceId, ar)) {
        ar.controller.abort();
        await finishCancelled(ar);
        active.delete(ar.run.runId);
        ar.finish();
      } else {
        ar.controller.abort();
      }
      return resolved;
    }
    const run = await d.runs.get(e.runId);
    if (run && !isTerminal(run.status)) {
      const orphan: ActiveRun = { run, source: '', controller: new AbortController(), abandoned: false, done: Promise.resolve(), finish: () => undefined };
      await finishCancelled(orphan);
    } else if (run?.status === 'failed') {
      // A failed run is ended already; cancelling it only means it will not be retried.
      log.info({ runId: run.runId }, 'cancel of a failed run: nothing to do');
    }
    return resolved;
  }

  async function onRetry(e: RunEvent, source: string): Promise<{ done: Promise<void> }> {
    const running = inProgress(e.runId);
    if (running) return running;
    const run = await d.runs.get(e.runId);
    if (!run) return resolved;
    if (run.status === 'failed') {
      const failed = Object.values(run.steps).filter((s) => s.status === 'failed').map((s) => s.key);
      const change: RunChange = { status: 'queued', error: null, endedAt: null, attempt: run.attempt + 1 };
      await publish(event(run, 'run.retried', null, { attempt: run.attempt + 1, resumeFrom: failed }));
      await d.runs.update(run.runId, change, { removeSteps: failed });
      for (const k of failed) delete run.steps[k];
      Object.assign(run, change);
      log.info({ runId: run.runId, attempt: run.attempt, resumeFrom: failed }, 'run retried from its failed step');
      return admit(run, source);
    }
    // Retried before a crash, and not finished: take it up again.
    if (!isTerminal(run.status)) return admit(run, source);
    return resolved;
  }

  return {
    async handle(e, source) {
      if (stopping) throw new Abandoned();
      switch (e.type) {
        case 'run.requested': return onRequested(e, source);
        case 'run.cancel-requested': return onCancel(e);
        case 'run.retry-requested': return onRetry(e, source);
        default: return resolved;
      }
    },
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

export type { RunError };

/**
 * The workflow interpreter: walks a definition's steps in order, renders each step's
 * input from the trigger and earlier outputs, runs it through its handler (with a
 * timeout, and retries with backoff for retriable errors) and records the result.
 *
 * Resumable: steps already recorded as completed are not run again, their outputs
 * are reused; a branch's decision and an iterator's items are recorded or re-derived
 * from recorded outputs, so a resumed run takes the same path. Handlers get a
 * deterministic `effectId` per step, so an effect repeated after a crash (between the
 * effect and its record) is recognised downstream.
 *
 * Control flow (branch, iterator) lives here; every other step type is a handler,
 * so new types plug in without touching the interpreter.
 */
import { HubError, errorMessage, isRetriable } from '../errors/index.ts';
import { holds } from '../rules/index.ts';
import type { Logger } from '../log/index.ts';
import type { BranchStep, IteratorStep, Step, WorkflowDefinition } from '../contracts/workflow.ts';
import { renderValue, type TemplateScope } from './template.ts';
import { effectId, stepKey, type RunError, type StepError, type StepRecord } from '../contracts/run.ts';
import { runErrors, raiseRun } from './run-errors.ts';
import { backoffDelayMs, sleep as defaultSleep } from '../time/sleep.ts';

/** The outcome of work done outside the executor for a waiting step (e.g. an email's delivery). */
export interface StepResult {
  status: 'succeeded' | 'failed';
  output: unknown;
  error: StepError | null;
}

/** What a handler knows about the run and the step it executes. */
export interface StepRunContext {
  runId: string;
  workspaceId: string;
  workflowId: string;
  /** The workflow version the run executes. */
  version: number;
  stepKey: string;
  /** Deterministic per (run, step key): use it as the effect's event id or idempotency key. */
  effectId: string;
  /**
   * The same for every attempt of the run (retries included): what a remote API
   * with idempotency keys should see, so a retried run whose earlier request did
   * go through (an answer lost, a 502 after processing) gets that request's answer.
   */
  idempotencyKey?: string;
  correlationId: string;
  /** The run's trigger event: what the step's own events are caused by. */
  causationId: string;
  /** Depth of the run's trigger event; an event the step emits is one deeper. */
  depth: number;
  /** Per-run memory shared by the run's handlers (records this run wrote, …); lost on a crash. */
  memory: Map<string, unknown>;
  /** Compute and show effects without performing them. */
  dryRun: boolean;
  attempt: number;
  /** Aborted on timeout or cancellation. */
  signal: AbortSignal;
  /**
   * The step tried its effect `n` times within this attempt (an http step's own
   * retries of 429/5xx): recorded in the step's `attempts`.
   */
  countTries?(n: number): void;
  /** What templates and rules read at this point. */
  scope: TemplateScope;
  /**
   * Waits for the result addressed to `resultId`, published on hub.runs as a
   * step.result event (by the notifier…). Rejects when the step is aborted (timeout,
   * cancel). Asking again after a crash is how a resumed step picks its result up.
   */
  awaitResult(resultId: string): Promise<StepResult>;
  now(): number;
  log: Logger;
}

export interface StepHandler {
  /** Defaults to rendering `step.input` strictly (a missing value is a user error). */
  render?(step: Step, scope: TemplateScope, path: string): unknown;
  /** This step's time limit per attempt when it differs from the executor's (its own retries, a delivery to wait for). */
  timeoutMs?(input: unknown): number;
  execute(input: unknown, step: Step, ctx: StepRunContext): Promise<unknown>;
}

export type StepHandlers = ReadonlyMap<string, StepHandler>;

export interface EngineOptions {
  handlers: StepHandlers;
  stepTimeoutMs: number;
  /** Attempts for retriable errors (timeouts, unreachable systems), including the first. */
  stepMaxAttempts: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  now(): number;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Called between a step's effect and its record (crash tests kill the process here). */
  afterEffect?(step: Step, stepKey: string): void;
  log: Logger;
}

export interface RunInput {
  runId: string;
  workspaceId: string;
  workflowId: string;
  version: number;
  definition: WorkflowDefinition;
  trigger: unknown;
  triggerEventId: string;
  correlationId: string;
  depth: number;
  dryRun: boolean;
  /** Steps recorded by earlier attempts of this run. */
  recorded: Readonly<Record<string, StepRecord>>;
  /** 1, then +1 per retry of the failed run (effect ids change with it). */
  attempt?: number;
  /** Persists a step's record (publish, project) before the run moves on. */
  onStep(record: StepRecord): Promise<void>;
  /** Aborted to cancel the run: the current step is interrupted, no further step starts. */
  signal: AbortSignal;
  /** Where waiting steps get their results; without it (dry runs) waiting is an error. */
  awaitResult?(resultId: string, signal: AbortSignal): Promise<StepResult>;
}

export type RunOutcome =
  | { status: 'completed' }
  | { status: 'failed'; error: RunError }
  | { status: 'cancelled' };

/** Ends the run as failed with this error; `onStep` may throw it when a step cannot be recorded as it is. */
export class StepFailed extends Error {
  constructor(readonly runError: RunError) { super(runError.message); }
}
class RunCancelled extends Error {}

function toStepError(err: unknown): StepError {
  if (err instanceof HubError) return { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}), retriable: err.retriable };
  return { code: 'STEP_FAILED', message: errorMessage(err), retriable: isRetriable(err) };
}

/** Runs `f` with a per-attempt AbortSignal that fires on timeout or when the run is cancelled. */
async function withTimeout<T>(ms: number, outer: AbortSignal, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (outer.aborted) throw new RunCancelled();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      f(controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = raiseRun('STEP_TIMEOUT', `the step did not finish within ${ms} ms`);
          controller.abort(err);
          reject(err);
        }, ms);
        onAbort = () => { controller.abort(new RunCancelled()); reject(new RunCancelled()); };
        outer.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) outer.removeEventListener('abort', onAbort);
  }
}

/** Ids of `steps` and of every step nested in them. */
function stepIds(steps: readonly Step[]): string[] {
  return steps.flatMap((s) => [
    s.id,
    ...(s.type === 'branch' ? [...s.input.branches.flatMap((b) => stepIds(b.steps)), ...stepIds(s.input.else)] : []),
    ...(s.type === 'iterator' ? stepIds(s.input.steps) : []),
  ]);
}

export async function executeRun(run: RunInput, o: EngineOptions): Promise<RunOutcome> {
  const sleep = o.sleep ?? defaultSleep;
  const log = o.log.child({ runId: run.runId, workspaceId: run.workspaceId });
  const trigger = run.trigger;
  const memory = new Map<string, unknown>();

  const leaf = async (step: Step, scope: TemplateScope, key: string, path: string): Promise<unknown> => {
    const handler = o.handlers.get(step.type);
    const startedAt = o.now();
    const record = (status: StepRecord['status'], input: unknown, output: unknown, error: StepError | null, attempts: number): StepRecord =>
      ({ key, id: step.id, type: step.type, status, input, output, error, attempts, startedAt, endedAt: o.now() });
    if (!handler) {
      const error: StepError = { code: runErrors.STEP_TYPE_UNSUPPORTED.code, message: `no handler for step type ${step.type} in this executor`, retriable: false };
      await run.onStep(record('failed', step.input, null, error, 0));
      throw new StepFailed({ ...error, stepKey: key });
    }
    let input: unknown;
    try {
      input = handler.render ? handler.render(step, scope, `${path}/input`) : renderValue(step.input, scope, { strict: true, path: `${path}/input` });
    } catch (err) {
      const error = toStepError(err);
      await run.onStep(record('failed', step.input, null, error, 0));
      throw new StepFailed({ ...error, stepKey: key });
    }
    // Tries beyond one per engine attempt, as handlers report them (countTries).
    let extraTries = 0;
    for (let attempt = 1; ; attempt++) {
      if (run.signal.aborted) throw new RunCancelled();
      const countTries = (n: number) => { if (Number.isInteger(n) && n > 1) extraTries += n - 1; };
      try {
        const ctx: StepRunContext = {
          runId: run.runId, workspaceId: run.workspaceId, workflowId: run.workflowId, version: run.version, stepKey: key,
          effectId: effectId(run.runId, key, run.attempt ?? 1), idempotencyKey: effectId(run.runId, key), correlationId: run.correlationId, causationId: run.triggerEventId, depth: run.depth, memory,
          dryRun: run.dryRun, attempt, signal: run.signal, scope, now: o.now, log,
          awaitResult: () => Promise.reject(new Error('this step waits for a result, which this run cannot receive')),
        };
        const output = await withTimeout(handler.timeoutMs?.(input) ?? o.stepTimeoutMs, run.signal, (signal) => handler.execute(input, step, {
          ...ctx, signal, countTries,
          awaitResult: (id) => (run.awaitResult ? run.awaitResult(id, signal) : ctx.awaitResult(id)),
        }));
        o.afterEffect?.(step, key);
        await run.onStep(record('completed', input, output ?? null, null, attempt + extraTries));
        return output ?? null;
      } catch (err) {
        if (err instanceof RunCancelled || err instanceof StepFailed) throw err;
        const error = toStepError(err);
        if (error.retriable && attempt < o.stepMaxAttempts) {
          const delay = backoffDelayMs(attempt, { initialMs: o.retryBackoffMs, maxMs: o.retryBackoffMaxMs });
          log.warn({ stepKey: key, attempt, delayMs: delay, code: error.code }, 'step failed; retrying');
          await sleep(delay, run.signal);
          continue;
        }
        await run.onStep(record('failed', input, null, error, attempt + extraTries));
        throw new StepFailed({ ...error, stepKey: key });
      }
    }
  };

  const branch = async (step: BranchStep, scope: TemplateScope, key: string, path: string, iteration: number[]): Promise<void> => {
    const prior = run.recorded[key];
    let chosen: number | 'else';
    if (prior?.status === 'completed') {
      chosen = (prior.output as { branch: number | 'else' }).branch;
    } else {
      const data = { trigger: scope.trigger, steps: scope.steps, item: scope.item, index: scope.index };
      const startedAt = o.now();
      try {
        const i = step.input.branches.findIndex((b) => holds(b.if, data, { now: o.now() }));
        chosen = i < 0 ? 'else' : i;
      } catch (err) {
        const error = toStepError(err);
        await run.onStep({ key, id: step.id, type: step.type, status: 'failed', input: null, output: null, error, attempts: 1, startedAt, endedAt: o.now() });
        throw new StepFailed({ ...error, stepKey: key });
      }
      // The decision is recorded before the chosen steps run, so a resumed run takes the same way.
      await run.onStep({ key, id: step.id, type: step.type, status: 'completed', input: null, output: { branch: chosen }, error: null, attempts: 1, startedAt, endedAt: o.now() });
    }
    (scope.steps as Record<string, unknown>)[step.id] = { branch: chosen };
    const steps = chosen === 'else' ? step.input.else : step.input.branches[chosen]!.steps;
    // Steps of the branches not taken read as null ("did not run"), so later steps can
    // tell which way was taken ({{steps.create}} is null when the record existed).
    const notTaken = [...step.input.branches.map((b) => b.steps), step.input.else].filter((list) => list !== steps);
    for (const id of notTaken.flatMap(stepIds)) if ((scope.steps as Record<string, unknown>)[id] === undefined) (scope.steps as Record<string, unknown>)[id] = null;
    const at = chosen === 'else' ? `${path}/input/else` : `${path}/input/branches/${chosen}/steps`;
    await list(steps, scope, iteration, at);
  };

  const iterator = async (step: IteratorStep, scope: TemplateScope, key: string, path: string, iteration: number[]): Promise<void> => {
    const startedAt = o.now();
    let items: unknown;
    try {
      items = renderValue(step.input.items, scope, { strict: true, path: `${path}/input/items` });
      if (!Array.isArray(items)) throw raiseRun('ITERATOR_ITEMS_INVALID', `items must render to an array, got ${items === null ? 'null' : typeof items}`, { path: `${path}/input/items` });
      if (items.length > step.input.maxItems) throw raiseRun('ITERATOR_TOO_MANY_ITEMS', `items has ${items.length} values, more than maxItems (${step.input.maxItems})`, { path: `${path}/input/items` });
    } catch (err) {
      const error = toStepError(err);
      await run.onStep({ key, id: step.id, type: step.type, status: 'failed', input: null, output: null, error, attempts: 1, startedAt, endedAt: o.now() });
      throw new StepFailed({ ...error, stepKey: key });
    }
    const list_ = items as unknown[];
    for (let i = 0; i < list_.length; i++) {
      // Each item sees the steps before the iterator plus its own iteration's outputs.
      const inner: TemplateScope = { trigger: scope.trigger, steps: { ...scope.steps }, item: list_[i], index: i };
      await list(step.input.steps, inner, [...iteration, i], `${path}/input/steps`);
    }
    const output = { count: list_.length };
    await run.onStep({ key, id: step.id, type: step.type, status: 'completed', input: { count: list_.length }, output, error: null, attempts: 1, startedAt, endedAt: o.now() });
    (scope.steps as Record<string, unknown>)[step.id] = output;
  };

  const list = async (steps: readonly Step[], scope: TemplateScope, iteration: number[], path: string): Promise<void> => {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const key = stepKey(step.id, iteration);
      const at = `${path}/${i}`;
      if (run.signal.aborted) throw new RunCancelled();
      if (step.type === 'branch') { await branch(step, scope, key, at, iteration); continue; }
      const prior = run.recorded[key];
      if (prior?.status === 'completed') {
        (scope.steps as Record<string, unknown>)[step.id] = prior.output;
        continue;
      }
      if (step.type === 'iterator') { await iterator(step, scope, key, at, iteration); continue; }
      (scope.steps as Record<string, unknown>)[step.id] = await leaf(step, scope, key, at);
    }
  };

  try {
    await list(run.definition.steps, { trigger, steps: {} }, [], '/steps');
    return { status: 'completed' };
  } catch (err) {
    if (err instanceof RunCancelled) return { status: 'cancelled' };
    if (err instanceof StepFailed) return { status: 'failed', error: err.runError };
    // A failure to record (store or broker down) is not the run's fault: the caller retries.
    throw err;
  }
}

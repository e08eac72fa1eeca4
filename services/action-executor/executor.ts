/**
 * The action executor's core: takes run requests and commands from hub.runs, runs
 * each workspace's runs under its concurrency limit, and records every transition:
 * first as an event on hub.runs (acks=all, the record of truth), then in the run's
 * state and the runs projection (write-behind, projection.ts).
 *
 * One executor owns a workspace at a time (hub.runs is keyed by workspace), so it is
 * the only writer of those runs' documents. A message's work is "done" when its run
 * reached a state that needs nothing more from it (terminal and written, or handed
 * over); the consumer commits only past done messages. After a crash or a rebalance
 * the new owner folds what it reads again (restore.ts) before running anything, so a
 * run resumes after its last recorded step.
 *
 * In parts: run-state.ts (the pure reducer), transitions.ts (event, publish, apply),
 * run-loop.ts (one run), commands.ts (what each command does), restore.ts, the
 * step-result mailbox (step-results.ts) and the runs held (active-runs.ts).
 */
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RunEvent } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { RunStore } from '../../libs/store/runs.ts';
import type { EngineOptions, StepHandlers } from '../../libs/workflow/interpreter.ts';
import type { DefinitionSource } from '../../libs/workflow/versions.ts';
import { Abandoned, ActiveRuns, type RunDone } from './active-runs.ts';
import { createRecorder } from './transitions.ts';
import { createRunLoop } from './run-loop.ts';
import { createCommands, type KnownRuns } from './commands.ts';
import { createRestore, type Restore } from './restore.ts';
import { StepResultMailbox } from './step-results.ts';
import type { RunProjection } from './projection.ts';

export type { RunDone } from './active-runs.ts';
export type { KnownRuns } from './commands.ts';
export type { Restore } from './restore.ts';

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

export function createExecutor(d: ExecutorDeps): Executor {
  let stopping = false;
  const isStopping = () => stopping;
  const mailbox = new StepResultMailbox(d.now);
  const recorder = createRecorder(d);
  const loop = createRunLoop({ ...d, recorder, mailbox, stopping: isStopping });
  const active: ActiveRuns = new ActiveRuns(d.limits.runsPerWorkspace, d.projection, (ar) => loop.execute(ar, active));
  const commands = createCommands({ ...d, active, loop, recorder, mailbox, stopping: isStopping });

  async function handle(e: RunEvent, source: string, known?: KnownRuns): Promise<{ done: Promise<RunDone> }> {
    if (stopping) throw new Abandoned();
    return commands(e, source, known);
  }

  return {
    handle,
    restore: (source) => createRestore({ ...d, active, handle }, source),
    isActive: (runId) => active.get(runId) !== undefined,
    abandon: (sources) => active.abandon(sources),
    inFlight: () => active.size,
    running: (ws) => active.running(ws),
    queued: (ws) => active.queued(ws),
    async stop() {
      stopping = true;
      await active.abandonAll(5000);
    },
  };
}

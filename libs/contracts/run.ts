/**
 * A workflow run: its states and allowed transitions (one table), what is recorded per
 * step, and the derived ids that make replays harmless.
 */
import { createHash } from 'node:crypto';
import type { Trigger, WorkflowDefinition } from './workflow.ts';

export const runStatuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof runStatuses)[number];

/**
 * Every allowed transition. A run fails before it starts when its version is missing or
 * hub.runs refuses its events; a retry moves a failed run back to queued; nothing
 * leaves completed or cancelled.
 */
export const runTransitions: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  failed: ['queued'],
  completed: [],
  cancelled: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return runTransitions[from].includes(to);
}

export const isTerminal = (s: RunStatus) => s === 'completed' || s === 'failed' || s === 'cancelled';

export interface StepError {
  code: string;
  message: string;
  path?: string;
  retriable: boolean;
}

export type StepStatus = 'completed' | 'failed';

/** One execution of one step (an iterator's inner steps have one per item). */
export interface StepRecord {
  /** `id`, then `[i]` per enclosing iterator item: `update[3]`. */
  key: string;
  id: string;
  type: string;
  status: StepStatus;
  /** The input after templates were rendered (what the step acted on). */
  input: unknown;
  output: unknown;
  error: StepError | null;
  attempts: number;
  startedAt: number;
  endedAt: number;
}

export interface RunError extends StepError {
  stepKey: string | null;
}

export type TriggerType = Trigger['type'];

/** What a run starts from; carried by run.requested so a run never looks its definition up. */
export interface RunRequest {
  runId: string;
  workspaceId: string;
  workflowId: string;
  version: number;
  definition: WorkflowDefinition;
  triggerType: TriggerType;
  triggerEventId: string;
  /** The data templates read as `trigger`. */
  trigger: unknown;
  /** Causation of the trigger event: the run's record writes are one level deeper. */
  correlationId: string;
  causationId: string | null;
  depth: number;
  requestedAt: number;
}

const digest = (...parts: (string | number)[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

/** The run of a workflow version for one trigger event: the same event always gives the same id. */
export function deriveRunId(workflowId: string, version: number, triggerEventId: string): string {
  return `run_${digest('run', workflowId, version, triggerEventId).slice(0, 24)}`;
}

/**
 * A step's effect id (record event ids, notification ids, idempotency keys): the same
 * on every re-execution of that step within one attempt of the run (a crash, a
 * rebalance), a new one when a failed run is retried (so a refused email or request
 * is really tried again).
 */
export function effectId(runId: string, stepKey: string, runAttempt = 1): string {
  const h = runAttempt <= 1 ? digest('effect', runId, stepKey) : digest('effect', runId, stepKey, runAttempt);
  // UUID-shaped (version nibble 5-like), since event ids elsewhere are UUIDs.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function stepKey(stepId: string, iteration: readonly number[]): string {
  return stepId + iteration.map((i) => `[${i}]`).join('');
}

export const isRunId = (text: string) => /^run_[0-9a-f]{24}$/.test(text);

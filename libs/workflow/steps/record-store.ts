/**
 * What the record steps share. They read the hub's materialized records (the
 * projector's collection) and write by publishing record events on crm.records, with
 * causation, so other workflows see them and users' consumers can apply them to the
 * CRM. A write's event id is the step's effect id: repeated after a crash, it is the
 * same event, which the projector and the trigger matcher recognise.
 */
import type { RecordChanged, RecordEventType } from '../../kafka/events.ts';
import type { RecordReader } from '../../store/records.ts';
import type { StepRunContext } from '../interpreter.ts';
import type { StepHandlerDeps } from '../step-spec.ts';
import { raiseRun } from '../run-errors.ts';
import type { RecordWriteLog } from './record-writes.ts';

export interface RecordStepDeps {
  reader: RecordReader;
  /** Publishes record events on crm.records (acks=all). */
  publish(events: RecordChanged[]): Promise<void>;
  /** A write whose event would be deeper than this fails the run (loop guard). */
  maxDepth: number;
  /** A search reading more candidates than this fails instead of answering partially. */
  searchScanMax: number;
  /** The executor's writes, serialized per record (absent in dry runs: nothing is written). */
  writes?: RecordWriteLog;
}

/** The record steps' part of the hub's handler deps. */
export const recordDeps = (d: StepHandlerDeps): RecordStepDeps =>
  ({ reader: d.records, publish: d.publishRecords, maxDepth: d.maxDepth, searchScanMax: d.searchScanMax, ...(d.recordWrites ? { writes: d.recordWrites } : {}) });

/** How templates see a record: its fields plus `id`. */
export type RecordView = Record<string, unknown> & { id: string };

/** A record as this run knows it. */
export interface Known { fields: Record<string, unknown>; deleted: boolean; version: number; eventId: string }

export function recordView(recordId: string, fields: Record<string, unknown>): RecordView {
  return { ...fields, id: recordId };
}

/** Where the run's memory keeps the records it wrote. */
export const memoPrefix = (object: string) => `record:${object}:`;
const memoKey = (object: string, recordId: string) => `${memoPrefix(object)}${recordId}`;
const writeKey = (ctx: StepRunContext, object: string, recordId: string) => `${ctx.workspaceId}:${object}:${recordId}`;

/** Runs a record step's read and write as one turn for that record (see record-writes.ts). */
export function oneWriterAtATime<T>(d: RecordStepDeps, ctx: StepRunContext, object: string, recordId: string, fn: () => Promise<T>): Promise<T> {
  return d.writes && !ctx.dryRun ? d.writes.serialize(writeKey(ctx, object, recordId), fn) : fn();
}

/** The trigger's record, when the trigger is a change of this very record. */
function triggerRecord(ctx: StepRunContext, object: string, recordId: string): Known | null {
  const t = ctx.scope.trigger as { object?: unknown; recordId?: unknown; record?: unknown; version?: unknown; eventId?: unknown; type?: unknown } | undefined;
  if (!t || t.object !== object || t.recordId !== recordId || typeof t.version !== 'number' || typeof t.eventId !== 'string') return null;
  const deleted = t.type === 'record.deleted';
  const fields = typeof t.record === 'object' && t.record !== null ? { ...(t.record as Record<string, unknown>) } : {};
  delete fields.id;
  return { fields, deleted, version: t.version, eventId: t.eventId };
}

/**
 * The newest the run can know of the record: its own last write, another run's write
 * through this executor, the projection's copy, or the trigger's (the projector may not
 * have applied the triggering change yet).
 */
export async function current(d: RecordStepDeps, ctx: StepRunContext, object: string, recordId: string): Promise<Known | null> {
  const mine = ctx.memory.get(memoKey(object, recordId)) as Known | undefined;
  const shared = ctx.dryRun ? undefined : d.writes?.latest(writeKey(ctx, object, recordId));
  const doc = await d.reader.get(ctx.workspaceId, object, recordId);
  const stored = doc ? { fields: doc.fields, deleted: doc.deleted, version: doc.version, eventId: doc.eventId } : undefined;
  const candidates = [mine, shared, stored, triggerRecord(ctx, object, recordId) ?? undefined].filter((k): k is Known => k !== undefined);
  // The newest wins; on a tie the earlier in this list (the run's own write first).
  return candidates.reduce<Known | null>((best, k) => (best === null || k.version > best.version ? k : best), null);
}

export function recordIdOf(value: unknown, path: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw raiseRun('RECORD_VALUES_INVALID', `recordId must render to a string of 1 to 200 characters, got ${JSON.stringify(value)?.slice(0, 100)}`, { path });
  }
  return value;
}

export function guardDepth(d: RecordStepDeps, ctx: StepRunContext): void {
  if (ctx.depth + 1 > d.maxDepth) {
    throw raiseRun('WORKFLOW_LOOP_DEPTH', `loop guard: this run was started by a chain of ${ctx.depth} workflow-written record events (correlation ${ctx.correlationId}); a write would make it ${ctx.depth + 1}, over the limit of ${d.maxDepth} (HUB_WORKFLOW_MAX_DEPTH)`);
  }
}

export async function write(d: RecordStepDeps, ctx: StepRunContext, type: RecordEventType, object: string, recordId: string, fields: Record<string, unknown> | null, before: Known | null, updatedFields: string[]): Promise<RecordChanged> {
  const occurredAt = ctx.now();
  const event: RecordChanged = {
    eventId: ctx.effectId, type, workspaceId: ctx.workspaceId, occurredAt,
    correlationId: ctx.correlationId, causationId: ctx.causationId, causationDepth: ctx.depth + 1,
    source: `workflow:${ctx.workflowId}:${ctx.runId}`, object, recordId,
    // Newer than what it replaces even when clocks disagree.
    version: Math.max(occurredAt, (before?.version ?? 0) + 1),
    record: fields === null ? null : JSON.stringify(fields),
    before: before && !before.deleted ? JSON.stringify(before.fields) : null,
    updatedFields,
  };
  if (!ctx.dryRun) await d.publish([event]);
  const state: Known = { fields: fields ?? before?.fields ?? {}, deleted: type === 'record.deleted', version: event.version, eventId: event.eventId };
  ctx.memory.set(memoKey(object, recordId), state);
  if (!ctx.dryRun) d.writes?.remember(writeKey(ctx, object, recordId), state);
  return event;
}

export function plainValues(values: unknown, path: string): Record<string, unknown> {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw raiseRun('RECORD_VALUES_INVALID', 'values must render to an object', { path });
  return values as Record<string, unknown>;
}

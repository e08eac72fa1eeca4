/**
 * Handlers of the record steps. They read the hub's materialized records (the
 * projector's collection) and write by publishing record events on crm.records, with
 * causation, so other workflows see them and users' consumers can apply them to the
 * CRM. A write's event id is the step's effect id: repeated after a crash, it is the
 * same event, which the projector and the trigger matcher recognise.
 */
import type { RecordChanged, RecordEventType } from '../../kafka/events.ts';
import type { RecordDocument, RecordReader } from '../../store/records.ts';
import { evaluate, holds, type Rule } from '../../rules/index.ts';
import type { RecordCreateInput, RecordDeleteInput, RecordSearchInput, RecordUpdateInput, SortKey } from '../../contracts/workflow.ts';
import type { StepHandler, StepRunContext } from '../interpreter.ts';
import { raiseRun } from '../run-errors.ts';
import { createHash } from 'node:crypto';

export interface RecordStepDeps {
  reader: RecordReader;
  /** Publishes record events on crm.records (acks=all). */
  publish(events: RecordChanged[]): Promise<void>;
  /** A write whose event would be deeper than this fails the run (loop guard). */
  maxDepth: number;
  /** A search reading more candidates than this fails instead of answering partially. */
  searchScanMax: number;
}

/** How templates see a record: its fields plus `id`. */
export type RecordView = Record<string, unknown> & { id: string };

interface Known { fields: Record<string, unknown>; deleted: boolean; version: number; eventId: string }

export function recordView(recordId: string, fields: Record<string, unknown>): RecordView {
  return { ...fields, id: recordId };
}

const memoKey = (object: string, recordId: string) => `record:${object}:${recordId}`;

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
 * The record as this run last wrote it, else the newer of the projection's copy and
 * the trigger's (the projector may not have applied the triggering change yet).
 */
async function current(d: RecordStepDeps, ctx: StepRunContext, object: string, recordId: string): Promise<Known | null> {
  const mine = ctx.memory.get(memoKey(object, recordId)) as Known | undefined;
  if (mine) return mine;
  const doc = await d.reader.get(ctx.workspaceId, object, recordId);
  const stored = doc ? { fields: doc.fields, deleted: doc.deleted, version: doc.version, eventId: doc.eventId } : null;
  const fromTrigger = triggerRecord(ctx, object, recordId);
  if (fromTrigger && (!stored || fromTrigger.version > stored.version)) return fromTrigger;
  return stored;
}

function recordIdOf(value: unknown, path: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw raiseRun('RECORD_VALUES_INVALID', `recordId must render to a string of 1 to 200 characters, got ${JSON.stringify(value)?.slice(0, 100)}`, { path });
  }
  return value;
}

function guardDepth(d: RecordStepDeps, ctx: StepRunContext): void {
  if (ctx.depth + 1 > d.maxDepth) {
    throw raiseRun('WORKFLOW_LOOP_DEPTH', `loop guard: this run was started by a chain of ${ctx.depth} workflow-written record events (correlation ${ctx.correlationId}); a write would make it ${ctx.depth + 1}, over the limit of ${d.maxDepth} (HUB_WORKFLOW_MAX_DEPTH)`);
  }
}

async function write(d: RecordStepDeps, ctx: StepRunContext, type: RecordEventType, object: string, recordId: string, fields: Record<string, unknown> | null, before: Known | null, updatedFields: string[]): Promise<RecordChanged> {
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
  ctx.memory.set(memoKey(object, recordId), { fields: fields ?? before?.fields ?? {}, deleted: type === 'record.deleted', version: event.version, eventId: event.eventId } satisfies Known);
  return event;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function plainValues(values: unknown, path: string): Record<string, unknown> {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw raiseRun('RECORD_VALUES_INVALID', 'values must render to an object', { path });
  return values as Record<string, unknown>;
}

export function createRecordStepHandlers(d: RecordStepDeps): Map<string, StepHandler> {
  const create: StepHandler = {
    async execute(raw, _step, ctx) {
      const input = raw as RecordCreateInput;
      const values = { ...plainValues(input.values, '/values') };
      let recordId: string;
      if (values.id !== undefined) {
        recordId = recordIdOf(values.id, '/values/id');
        delete values.id;
      } else {
        recordId = `rec_${createHash('sha256').update(ctx.effectId).digest('hex').slice(0, 20)}`;
      }
      guardDepth(d, ctx);
      const existing = await current(d, ctx, input.object, recordId);
      if (existing && existing.eventId === ctx.effectId) return { record: recordView(recordId, existing.fields) };
      if (existing && !existing.deleted) throw raiseRun('RECORD_VALUES_INVALID', `${input.object} ${recordId} already exists`, { path: '/values/id' });
      const event = await write(d, ctx, 'record.created', input.object, recordId, values, null, Object.keys(values));
      return { record: recordView(recordId, values), ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
    },
  };

  const update: StepHandler = {
    async execute(raw, _step, ctx) {
      const input = raw as RecordUpdateInput;
      const recordId = recordIdOf(input.recordId, '/recordId');
      const values = plainValues(input.values, '/values');
      guardDepth(d, ctx);
      const existing = await current(d, ctx, input.object, recordId);
      // Already done by an earlier execution of this very step (crash before its record).
      if (existing && existing.eventId === ctx.effectId) return { record: recordView(recordId, existing.fields), updatedFields: [] };
      if (!existing || existing.deleted) throw raiseRun('RECORD_NOT_FOUND', `no ${input.object} record ${recordId} to update`, { path: '/recordId' });
      const after = { ...existing.fields, ...values };
      delete after.id;
      const updatedFields = Object.keys(values).filter((k) => k !== 'id' && !same(existing.fields[k], values[k]));
      const event = await write(d, ctx, 'record.updated', input.object, recordId, after, existing, updatedFields);
      return { record: recordView(recordId, after), updatedFields, ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
    },
  };

  const remove: StepHandler = {
    async execute(raw, _step, ctx) {
      const input = raw as RecordDeleteInput;
      const recordId = recordIdOf(input.recordId, '/recordId');
      guardDepth(d, ctx);
      const existing = await current(d, ctx, input.object, recordId);
      if (existing && existing.eventId === ctx.effectId) return { recordId };
      if (!existing || existing.deleted) throw raiseRun('RECORD_NOT_FOUND', `no ${input.object} record ${recordId} to delete`, { path: '/recordId' });
      const event = await write(d, ctx, 'record.deleted', input.object, recordId, null, existing, []);
      return { recordId, ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
    },
  };

  const search: StepHandler = {
    // The filter is a rule evaluated per candidate, not a template.
    render(step) { return step.input; },
    async execute(raw, _step, ctx) {
      const input = raw as RecordSearchInput;
      const base = { trigger: ctx.scope.trigger, steps: ctx.scope.steps, item: ctx.scope.item, index: ctx.scope.index };
      const now = ctx.now();
      const equals = input.filter === undefined ? {} : pushdown(input.filter, base, now);
      // A filter on the record's id reads that one record (by key), whatever else it asks.
      const byKey = typeof equals.id === 'string' ? equals.id : null;
      delete equals.id;
      const docs = byKey !== null
        ? [await d.reader.get(ctx.workspaceId, input.object, byKey)].filter((doc): doc is RecordDocument => doc !== null && !doc.deleted)
        : await d.reader.scan(ctx.workspaceId, input.object, { equals, limit: d.searchScanMax + 1 });
      if (docs.length > d.searchScanMax) {
        throw raiseRun('SEARCH_TOO_BROAD', `the search reads more than ${d.searchScanMax} ${input.object} records; add an equality on a field (e.g. {"==": [{"var": "record.email"}, …]}) to the filter`, { path: '/filter' });
      }
      // What this run wrote wins over the projection, which may not have caught up yet.
      const byId = new Map<string, RecordView>(docs.map((doc: RecordDocument) => [doc.recordId, recordView(doc.recordId, doc.fields)]));
      for (const [key, value] of ctx.memory) {
        const prefix = `record:${input.object}:`;
        if (!key.startsWith(prefix)) continue;
        const known = value as Known;
        const id = key.slice(prefix.length);
        if (known.deleted) byId.delete(id); else byId.set(id, recordView(id, known.fields));
      }
      let records = [...byId.values()];
      if (input.filter !== undefined) records = records.filter((record) => holds(input.filter, { ...base, record }, { now }));
      records.sort(comparator(input.sort));
      const total = records.length;
      records = records.slice(0, input.limit);
      return { records, count: records.length, total };
    },
  };

  return new Map([['record.create', create], ['record.update', update], ['record.delete', remove], ['record.search', search]]);
}

const FIELD = /^[A-Za-z0-9_-]{1,200}$/;
const NUMERIC = /^\s*-?\d/;

/**
 * Equalities on record fields that a rule requires (top-level `==`/`===`, or inside a
 * top-level `and`) whose other side does not read the record: the store pre-filters
 * on them (`id`: the record is read by its key). Only where the store's strict equality cannot drop a match JSON Logic's
 * loose `==` would keep.
 */
export function pushdown(rule: Rule, base: Record<string, unknown>, now: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const visit = (r: unknown) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return;
    const [op, args] = Object.entries(r)[0] ?? [];
    if (op === 'and' && Array.isArray(args)) { args.forEach(visit); return; }
    if ((op !== '==' && op !== '===') || !Array.isArray(args) || args.length !== 2) return;
    for (const [a, b] of [[args[0], args[1]], [args[1], args[0]]]) {
      const field = recordVar(a);
      if (field === null || readsRecord(b)) continue;
      let value: unknown;
      try { value = evaluate(b as Rule, base, { now }); } catch { return; }
      const strict = op === '===';
      if (typeof value === 'string' && (strict || (value.length > 0 && !NUMERIC.test(value)))) out[field] = value;
      else if (strict && (typeof value === 'number' || typeof value === 'boolean')) out[field] = value;
      return;
    }
  };
  visit(rule);
  return out;
}

function recordVar(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || !('var' in v)) return null;
  const name = (v as { var: unknown }).var;
  const path = Array.isArray(name) ? name[0] : name;
  if (typeof path !== 'string' || !path.startsWith('record.')) return null;
  const field = path.slice('record.'.length);
  return FIELD.test(field) ? field : null;
}

function readsRecord(v: unknown): boolean {
  return JSON.stringify(v ?? null).includes('"record');
}

function rank(v: unknown): number {
  return v === null || v === undefined ? 3 : typeof v === 'number' ? 0 : typeof v === 'string' ? 1 : 2;
}

function comparator(sort: readonly SortKey[]) {
  return (a: RecordView, b: RecordView): number => {
    for (const { field, direction } of sort) {
      const x = a[field];
      const y = b[field];
      const sign = direction === 'desc' ? -1 : 1;
      const rx = rank(x);
      const ry = rank(y);
      // Missing values sort last either way.
      if (rx !== ry) return rx === 3 ? 1 : ry === 3 ? -1 : (rx - ry) * sign;
      if (rx === 3) continue;
      const cx = rx === 2 ? JSON.stringify(x) : (x as number | string);
      const cy = ry === 2 ? JSON.stringify(y) : (y as number | string);
      if (cx < cy) return -sign;
      if (cx > cy) return sign;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}

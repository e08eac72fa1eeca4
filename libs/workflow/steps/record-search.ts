/**
 * The record.search step: `{object, filter?, sort, limit}`. The filter is JSON Logic
 * over each candidate `record` plus the run's data, evaluated per record (never
 * rendered as a template); equalities the store can answer are pushed down to it.
 * Output: `{records, count, total}`.
 */
import type { RecordDocument } from '../../store/records.ts';
import { evaluate, holds, type Rule } from '../../rules/index.ts';
import type { RecordSearchInput, SortKey } from '../../contracts/workflow.ts';
import type { StepHandler } from '../interpreter.ts';
import { raiseRun } from '../run-errors.ts';
import { inputObject, RUN_ROOTS, integerSchema, objectNameSchema, ruleSchema, type StepTypeSpec } from '../step-spec.ts';
import { memoPrefix, recordDeps, recordView, type Known, type RecordStepDeps, type RecordView } from './record-store.ts';

export function createRecordSearchHandler(d: RecordStepDeps): StepHandler {
  return {
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
        const prefix = memoPrefix(input.object);
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
}

const SORT_MESSAGE = 'sort must be an array of at most 5 {"field", "direction"?: "asc" | "desc"}';

export const recordSearch: StepTypeSpec = {
  type: 'record.search',
  description: 'Finds records of `object` matching `filter`; output {records, count, total}',
  inputSchema: ({ limits }) => inputObject(['object'], {
    object: objectNameSchema,
    filter: ruleSchema('JSON Logic over each `record` plus {trigger, steps, item, index}; not templated'),
    sort: {
      type: 'array', maxItems: 5, default: [], 'x-message': SORT_MESSAGE,
      items: {
        type: 'object', additionalProperties: false, required: ['field'],
        properties: {
          field: { type: 'string', minLength: 1, maxLength: 200, 'x-message': 'field must be a field name of 1 to 200 characters' },
          direction: { enum: ['asc', 'desc'], default: 'asc', 'x-message': 'direction must be "asc" or "desc"' },
        },
      },
    },
    limit: integerSchema(1, limits.searchLimitMax, limits.searchDefaultLimit, 'Records answered at most'),
  }),
  check(input, ctx) {
    if (input.filter !== undefined) ctx.rule(input.filter, '/filter', ['record', ...RUN_ROOTS]);
    const sort = ((input.sort ?? []) as { field: string; direction?: 'asc' | 'desc' }[]).map((k): SortKey => ({ field: k.field, direction: k.direction ?? 'asc' }));
    const limit = (input.limit as number | undefined) ?? ctx.limits.searchDefaultLimit;
    return { input: { object: input.object, ...(input.filter === undefined ? {} : { filter: input.filter }), sort, limit } };
  },
  handler: (d) => createRecordSearchHandler(recordDeps(d)),
};
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

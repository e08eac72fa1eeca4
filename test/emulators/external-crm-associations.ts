import { ApiError, type Reply, type Route, type RouteContext } from './base.ts';
import type { CrmObject, ObjectType } from './external-crm.ts';
import { isPlainObject } from '../../libs/json/index.ts';
import { batchInputs, batchReply, hubspotError } from './external-crm-batch.ts';

/**
 * HubSpot's associations for the external-CRM emulator: the v4 API (labels as type ids,
 * one primary company per contact or deal) and the storage the v3 `associations`
 * parameters and `?associations=` reads share with it.
 *
 * - GET    /crm/v4/objects/:from/:id/associations/:to?limit(≤500)&after → { results: [{ toObjectId, associationTypes: [{ category, typeId, label }] }], paging? }
 * - PUT    /crm/v4/objects/:from/:id/associations/default/:to/:toId      → default (unlabeled) association
 * - PUT    /crm/v4/objects/:from/:id/associations/:to/:toId  [{ associationCategory, associationTypeId }]
 * - DELETE /crm/v4/objects/:from/:id/associations/:to/:toId               → 204
 * - POST   /crm/v4/associations/:from/:to/batch/read   { inputs: [{ id }] }  → results [{ from: { id }, to: [...] }]; no association: 207 with errors
 * - POST   /crm/v4/associations/:from/:to/batch/create { inputs: [{ from: { id }, to: { id }, types: [...] }] } → 201, or 207 with per-input errors
 * - POST   /crm/v4/associations/:from/:to/batch/archive { inputs: [{ from: { id }, to: [{ id }] }] } → 204 (every label between each pair removed; a pair not associated is no error)
 * Type ids (HUBSPOT_DEFINED): contact→company 279 (primary 1), company→contact 280 (primary 2), deal→company 341 (primary 5),
 * company→deal 342 (primary 6), deal→contact 3, contact→deal 4, note→contact 202, contact→note 201, task→contact 204, contact→task 203.
 */

interface PairTypes { unlabeled: number; primary?: number; reverse: number; reversePrimary?: number }

const PAIRS: Record<string, PairTypes> = {
  'contacts>companies': { unlabeled: 279, primary: 1, reverse: 280, reversePrimary: 2 },
  'deals>companies': { unlabeled: 341, primary: 5, reverse: 342, reversePrimary: 6 },
  'deals>contacts': { unlabeled: 3, reverse: 4 },
  'notes>contacts': { unlabeled: 202, reverse: 201 },
  'tasks>contacts': { unlabeled: 204, reverse: 203 },
};

/** The directed type ids between two object types: [unlabeled, primary?, and the reverse's]. */
function pairOf(from: ObjectType, to: ObjectType): { unlabeled: number; primary?: number; reverse: number; reversePrimary?: number } | undefined {
  const direct = PAIRS[`${from}>${to}`];
  if (direct) return direct;
  const back = PAIRS[`${to}>${from}`];
  return back ? { unlabeled: back.reverse, reverse: back.unlabeled, ...(back.reversePrimary ? { primary: back.reversePrimary } : {}), ...(back.primary ? { reversePrimary: back.primary } : {}) } : undefined;
}

/** The type id of an association from `from` to `to`: the primary one when asked and the pair has one, else the unlabeled one. */
export function associationTypeId(from: ObjectType, to: ObjectType, primary: boolean): number {
  const p = pairOf(from, to);
  if (!p) throw new Error(`${from} and ${to} do not associate`);
  return primary && p.primary !== undefined ? p.primary : p.unlabeled;
}

/** The object type a v3 `associations` entry from `from` with `typeId` points at. */
export function targetOfType(from: ObjectType, typeId: number): ObjectType | undefined {
  for (const to of ['contacts', 'companies', 'deals', 'notes', 'tasks'] as ObjectType[]) {
    const p = pairOf(from, to);
    if (p && (p.unlabeled === typeId || p.primary === typeId)) return to;
  }
  return undefined;
}

const LABELS: Record<number, string> = { 1: 'Primary', 2: 'Primary', 5: 'Primary', 6: 'Primary' };

export interface AssociationStore {
  /** Adds the association both ways; a primary type demotes the from-record's previous primary of that type. */
  add(from: CrmObject, to: CrmObject, typeId: number): void;
  remove(from: CrmObject, to: CrmObject): void;
  /** The from-record's associations to `toType`, with their type ids. */
  list(from: CrmObject, toType: ObjectType): { toId: string; types: number[] }[];
  clear(): void;
}

export function createAssociationStore(objects: Record<ObjectType, Map<string, CrmObject>>): AssociationStore {
  const types = new Map<string, Set<number>>();
  const key = (a: CrmObject, b: CrmObject) => `${a.objectType}:${a.id}>${b.objectType}:${b.id}`;
  const put = (a: CrmObject, b: CrmObject, id: number) => {
    types.set(key(a, b), (types.get(key(a, b)) ?? new Set()).add(id));
    const ids = (a.associations[b.objectType] ??= []);
    if (!ids.includes(b.id)) ids.push(b.id);
  };
  return {
    add(from, to, typeId) {
      const p = pairOf(from.objectType, to.objectType);
      if (!p || (typeId !== p.unlabeled && typeId !== p.primary)) throw new Error(`type ${typeId} does not join ${from.objectType} to ${to.objectType}`);
      if (typeId === p.primary) {
        for (const otherId of from.associations[to.objectType] ?? []) {
          const other = objects[to.objectType].get(otherId);
          if (other) types.get(key(from, other))?.delete(p.primary);
          if (other && p.reversePrimary) types.get(key(other, from))?.delete(p.reversePrimary);
        }
        put(from, to, p.unlabeled);
      }
      put(from, to, typeId);
      put(to, from, p.reverse);
      if (typeId === p.primary && p.reversePrimary) put(to, from, p.reversePrimary);
    },
    remove(from, to) {
      types.delete(key(from, to));
      types.delete(key(to, from));
      from.associations[to.objectType] = (from.associations[to.objectType] ?? []).filter((id) => id !== to.id);
      to.associations[from.objectType] = (to.associations[from.objectType] ?? []).filter((id) => id !== from.id);
    },
    list(from, toType) {
      return (from.associations[toType] ?? [])
        .filter((id) => objects[toType].get(id)?.archived === false)
        .map((id) => ({ toId: id, types: [...(types.get(`${from.objectType}:${from.id}>${toType}:${id}`) ?? [])].sort((a, b) => a - b) }));
    },
    clear() { types.clear(); },
  };
}

const typesView = (ids: number[]) => ids.map((typeId) => ({ category: 'HUBSPOT_DEFINED', typeId, label: LABELS[typeId] ?? null }));

/** The v4 routes over the store. `typeOf` reads and checks an object type parameter. */
export function associationRoutes(
  objects: Record<ObjectType, Map<string, CrmObject>>, store: AssociationStore, typeOf: (name: string) => ObjectType,
  /** Told of every association the routes add or remove (the emulator sends its webhooks). */
  changed: (from: CrmObject, to: CrmObject, removed: boolean) => void = () => undefined,
): Route[] {
  const recordOf = (type: ObjectType, id: string): CrmObject => {
    const r = objects[type].get(id);
    if (!r || r.archived) throw new ApiError(hubspotError(404, 'OBJECT_NOT_FOUND', `No ${type} with id ${id} exists.`, { context: { id: [id] } }));
    return r;
  };
  /** A v4 batch over `:from` and `:to`: each input adds a result or an error. */
  const batchRoute = (path: string, status: number, each: (input: unknown, from: ObjectType, to: ObjectType) => { result: unknown } | { error: unknown }): Route => ({
    method: 'POST', path,
    handle(ctx) {
      const started = new Date().toISOString();
      const from = typeOf(ctx.params.from!);
      const to = typeOf(ctx.params.to!);
      const results: unknown[] = [];
      const errors: unknown[] = [];
      for (const input of batchInputs(ctx.req.body, 1000)) {
        const outcome = each(input, from, to);
        if ('error' in outcome) errors.push(outcome.error);
        else results.push(outcome.result);
      }
      return batchReply(status, results, started, errors);
    },
  });
  const labelled = (ctx: RouteContext, typeIds: number[]): Reply => {
    const from = typeOf(ctx.params.from!);
    const to = typeOf(ctx.params.to!);
    const a = recordOf(from, ctx.params.id!);
    const b = recordOf(to, ctx.params.toId!);
    const p = pairOf(from, to);
    const bad = typeIds.find((t) => !p || (t !== p.unlabeled && t !== p.primary));
    if (!p || bad !== undefined) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `${bad ?? 'no'} is not a valid association type between ${from} and ${to}`));
    for (const t of typeIds) store.add(a, b, t);
    changed(a, b, false);
    return { status: 200, body: { fromObjectTypeId: from, fromObjectId: Number(a.id), toObjectTypeId: to, toObjectId: Number(b.id), labels: typeIds.map((t) => LABELS[t]).filter(Boolean) } };
  };
  return [
    {
      method: 'GET', path: '/crm/v4/objects/:from/:id/associations/:to',
      handle(ctx) {
        const r = recordOf(typeOf(ctx.params.from!), ctx.params.id!);
        const all = store.list(r, typeOf(ctx.params.to!));
        const limit = Number(ctx.search.get('limit') ?? 500);
        const offset = Number(ctx.search.get('after') ?? 0);
        const page = all.slice(offset, offset + limit);
        return {
          status: 200,
          body: { results: page.map((x) => ({ toObjectId: Number(x.toId), associationTypes: typesView(x.types) })), ...(offset + page.length < all.length ? { paging: { next: { after: String(offset + page.length) } } } : {}) },
        };
      },
    },
    { method: 'PUT', path: '/crm/v4/objects/:from/:id/associations/default/:to/:toId', handle: (ctx) => labelled(ctx, [pairOf(typeOf(ctx.params.from!), typeOf(ctx.params.to!))?.unlabeled ?? -1]) },
    {
      method: 'PUT', path: '/crm/v4/objects/:from/:id/associations/:to/:toId',
      handle(ctx) {
        const body = ctx.req.body;
        if (!Array.isArray(body) || body.length === 0) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: expected an array of { associationCategory, associationTypeId }'));
        return labelled(ctx, body.map((t: unknown) => Number(isPlainObject(t) ? t.associationTypeId : NaN)));
      },
    },
    {
      method: 'DELETE', path: '/crm/v4/objects/:from/:id/associations/:to/:toId',
      handle(ctx) {
        const a = objects[typeOf(ctx.params.from!)].get(ctx.params.id!);
        const b = objects[typeOf(ctx.params.to!)].get(ctx.params.toId!);
        if (a && b && (a.associations[b.objectType] ?? []).includes(b.id)) {
          store.remove(a, b);
          changed(a, b, true);
        }
        return { status: 204 };
      },
    },
    {
      method: 'POST', path: '/crm/v4/associations/:from/:to/batch/archive',
      handle(ctx) {
        const from = typeOf(ctx.params.from!);
        const to = typeOf(ctx.params.to!);
        for (const input of batchInputs(ctx.req.body, 1000)) {
          const fromId = isPlainObject(input) && isPlainObject(input.from) ? String(input.from.id) : '';
          const targets = isPlainObject(input) && Array.isArray(input.to) ? input.to.map((t: unknown) => (isPlainObject(t) ? String(t.id) : '')) : [];
          const a = objects[from].get(fromId);
          for (const toId of targets) {
            const b = objects[to].get(toId);
            if (a && b && (a.associations[b.objectType] ?? []).includes(b.id)) {
              store.remove(a, b);
              changed(a, b, true);
            }
          }
        }
        return { status: 204 };
      },
    },
    batchRoute('/crm/v4/associations/:from/:to/batch/read', 200, (input, from, to) => {
      const id = isPlainObject(input) ? String(input.id) : '';
      const r = objects[from].get(id);
      const list = r && !r.archived ? store.list(r, to) : [];
      if (list.length === 0) {
        return { error: { status: 'error', category: 'OBJECT_NOT_FOUND', subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND', message: `No ${to} is associated with ${SINGULAR_OF(from)} ${id}.`, context: { fromObjectId: [id] } } };
      }
      return { result: { from: { id }, to: list.map((x) => ({ toObjectId: Number(x.toId), associationTypes: typesView(x.types) })) } };
    }),
    batchRoute('/crm/v4/associations/:from/:to/batch/create', 201, (input, from, to) => {
      const fromId = isPlainObject(input) && isPlainObject(input.from) ? String(input.from.id) : '';
      const toId = isPlainObject(input) && isPlainObject(input.to) ? String(input.to.id) : '';
      const typeIds = isPlainObject(input) && Array.isArray(input.types) ? input.types.map((t: unknown) => Number(isPlainObject(t) ? t.associationTypeId : NaN)) : [];
      const a = objects[from].get(fromId);
      const b = objects[to].get(toId);
      const p = pairOf(from, to);
      const problem = !a || a.archived ? `${SINGULAR_OF(from)} ${fromId} does not exist` : !b || b.archived ? `${SINGULAR_OF(to)} ${toId} does not exist`
        : !p || typeIds.length === 0 || typeIds.some((t: number) => t !== p.unlabeled && t !== p.primary) ? `invalid association types ${JSON.stringify(typeIds)} between ${from} and ${to}` : undefined;
      if (problem) return { error: { status: 'error', category: 'VALIDATION_ERROR', message: problem, context: { fromObjectId: [fromId], toObjectId: [toId] } } };
      for (const t of typeIds) store.add(a!, b!, t);
      changed(a!, b!, false);
      return { result: { fromObjectTypeId: from, fromObjectId: Number(fromId), toObjectTypeId: to, toObjectId: Number(toId), labels: typeIds.map((t: number) => LABELS[t]).filter(Boolean) } };
    }),
  ];
}

const SINGULAR_OF = (t: ObjectType): string => t.replace(/ies$/, 'y').replace(/s$/, '');

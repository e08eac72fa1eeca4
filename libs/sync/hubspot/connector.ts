/**
 * The HubSpot connector: CRM v3 objects (contacts, companies, deals, products, notes,
 * tasks), the search API for changes, batch read/create/update, associations v4 and
 * webhooks v3. Auth: a private app token or an OAuth access token (Bearer).
 *
 * - Changes: search by the modification property (`lastmodifieddate` for contacts,
 *   `hs_lastmodifieddate` otherwise), ascending; the search caps at 10,000 results, so the
 *   cursor re-anchors at the last time seen, and it is eventually consistent, so a sweep's
 *   next cursor lags `overlapMs` behind the time it started.
 * - Deletions: archiving does not bump the modification date, so archived records are
 *   listed apart (`archived=true`) and filtered by `archivedAt`; HubSpot keeps them listable
 *   for a while only (90 days): poll this often.
 * - Writes: batches of ≤ 100 with an `objectWriteTraceId` per input, so HubSpot answers
 *   207 with per-input errors; a batch refused whole is split until the bad record is
 *   alone. HubSpot has no idempotency keys: a create whose answer was lost (5xx, timeout)
 *   is matched (contacts by email through batch read, which is consistent; others by
 *   search) before the rest is sent again. A 409 "Contact already exists. Existing ID: n"
 *   becomes `existing`.
 * - Rate limits: 100 requests per 10 s per account (the X-HubSpot-RateLimit-* headers
 *   lower the budget), the search API 4 per second on a budget of its own.
 */
import type { HttpClient } from '../../http/index.ts';
import type { Secret } from '../../secrets/crypto.ts';
import type {
  AppError, AppRecord, Association, AssociationKind, CallOptions, ChangePage, Connector, DeletedPage, MatchKeys, SyncObject, WriteInput, WriteResult,
} from '../connector.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { createRateLimiter, systemClock, type Clock, type RateLimiter, type RateLimitPolicy } from '../rate-limit.ts';
import { AppUnavailable, chunks, createTransport, raiseSync, refused, type AppAnswer, type Send } from '../transport.ts';
import { HUBSPOT_OBJECTS, hubspotObjects } from './mappings.ts';
import { hubspotCodec } from './values.ts';
import { parseHubSpotWebhook, verifyHubSpotWebhook } from './webhooks.ts';
import { backoffDelayMs } from '../../time/sleep.ts';

export const hubspotPolicy: RateLimitPolicy = { max: 100, windowMs: 10_000, maxWaitMs: 60_000, maxAttempts: 6, backoffMs: 500, maxBatch: 100, spreadMs: 1000 };
export const hubspotSearchPolicy: RateLimitPolicy = { ...hubspotPolicy, max: 4, windowMs: 1000, spreadMs: undefined };

export interface HubSpotOptions {
  connectionId: string;
  token: Secret;
  http: HttpClient;
  /** Default https://api.hubapi.com. */
  baseUrl?: string;
  /** Shared by every connector of the same account (default: its own). */
  limiter?: RateLimiter;
  searchLimiter?: RateLimiter;
  clock?: Clock;
  /** Extra properties to read per object (custom mappings), besides the default mappings'. */
  properties?: Partial<Record<SyncObject, readonly string[]>>;
  /** Search consistency margin (default 30 s). */
  overlapMs?: number;
  /** Page size of change listing (≤ 200; default 100). */
  pageSize?: number;
}

/** Association type ids (HUBSPOT_DEFINED) per kind: from → to, with the primary label's id. */
const ASSOCIATIONS: Partial<Record<AssociationKind, { from: string; to: string; unlabeled: number; primary?: number }>> = {
  'person-company': { from: 'contacts', to: 'companies', unlabeled: 279, primary: 1 },
  'opportunity-company': { from: 'deals', to: 'companies', unlabeled: 341, primary: 5 },
  'opportunity-person': { from: 'deals', to: 'contacts', unlabeled: 3 },
  'note-person': { from: 'notes', to: 'contacts', unlabeled: 202 },
  'task-person': { from: 'tasks', to: 'contacts', unlabeled: 204 },
};

/** HubSpot's own error categories (data of the app, not hub error codes). */
const CATEGORY = { conflict: 'CONFLICT', notFound: 'OBJECT_NOT_FOUND', rateLimits: 'RATE_LIMITS', noResult: 'NO_RESULT', unknown: 'ERROR' } as const;

const SEARCH_CAP = 10_000;
const EXISTING_ID = /Existing ID: ?(\d+)/;

interface ChangeCursor extends Record<string, unknown> { since: number; after?: string; max: number; started?: number }
interface DeletedCursor extends Record<string, unknown> { since: number; after?: string; max: number }
const isChangeCursor = (v: Record<string, unknown>): v is ChangeCursor => typeof v.since === 'number' && typeof v.max === 'number';

function errorOf(answer: AppAnswer): AppError {
  const b = answer.body as { category?: unknown; message?: unknown } | null;
  return { status: answer.status, code: typeof b?.category === 'string' ? b.category : `HTTP_${answer.status}`, message: typeof b?.message === 'string' ? b.message : `HubSpot answered ${answer.status}`, body: answer.body };
}

export function createHubSpotConnector(o: HubSpotOptions): Connector {
  const clock = o.clock ?? systemClock;
  const limiter = o.limiter ?? createRateLimiter(hubspotPolicy, clock);
  const common = {
    app: 'HubSpot', baseUrl: (o.baseUrl ?? 'https://api.hubapi.com').replace(/\/$/, ''), http: o.http, clock, errorOf,
    headers: () => ({ authorization: `Bearer ${o.token.reveal()}` }),
  };
  const send: Send = createTransport({
    ...common, limiter,
    remainingOf: (h) => (h['x-hubspot-ratelimit-remaining'] !== undefined ? Number(h['x-hubspot-ratelimit-remaining']) : undefined),
  });
  const search: Send = createTransport({ ...common, limiter: o.searchLimiter ?? createRateLimiter(hubspotSearchPolicy, clock) });
  const overlapMs = o.overlapMs ?? 30_000;
  const pageSize = Math.min(200, o.pageSize ?? 100);

  const spec = (object: SyncObject) => {
    const s = HUBSPOT_OBJECTS[object];
    if (!s) throw raiseSync('SYNC_OBJECT_UNSUPPORTED', `HubSpot does not sync ${object} here`);
    return s;
  };
  const propertiesOf = (object: SyncObject): string[] => [...new Set([
    ...(hubspotObjects[object]?.mappings ?? []).map((m) => m.app), ...(o.properties?.[object] ?? []), spec(object).modified,
  ])];
  const recordOf = (object: SyncObject, r: Record<string, unknown>): AppRecord => {
    const props = (r.properties ?? {}) as Record<string, unknown>;
    const modified = Date.parse(String(props[spec(object).modified] ?? r.updatedAt ?? ''));
    return { id: String(r.id), object, properties: props, modifiedAt: Number.isNaN(modified) ? 0 : modified, archived: r.archived === true };
  };
  const fail = (answer: AppAnswer): never => { throw refused('HubSpot', answer, errorOf(answer)); };
  const invalid = (what: string): never => { throw raiseSync('SYNC_APP_ANSWER_INVALID', `HubSpot answered an unexpected body for ${what}`); };
  const resultsOf = (answer: AppAnswer, what: string): Record<string, unknown>[] => {
    const results = (answer.body as { results?: unknown } | null)?.results;
    return Array.isArray(results) ? results as Record<string, unknown>[] : invalid(what);
  };
  const errorsOf = (answer: AppAnswer): Record<string, unknown>[] => {
    const errors = (answer.body as { errors?: unknown } | null)?.errors;
    return Array.isArray(errors) ? errors as Record<string, unknown>[] : [];
  };
  const contextOf = (e: Record<string, unknown>, key: string): string[] => {
    const v = (e.context as Record<string, unknown> | undefined)?.[key];
    return Array.isArray(v) ? v.map(String) : [];
  };

  async function listChanged(object: SyncObject, cursor: string | null, options: CallOptions & { limit?: number } = {}): Promise<ChangePage> {
    const c: ChangeCursor = cursor === null ? { since: 0, max: 0 } : decodeCursor('hubspot', cursor, isChangeCursor);
    const started = c.started ?? clock.now();
    const modified = spec(object).modified;
    const limit = Math.min(200, options.limit ?? pageSize);
    const answer = await search({
      method: 'POST', path: `/crm/v3/objects/${spec(object).type}/search`, resend: 'always',
      body: {
        filterGroups: c.since > 0 ? [{ filters: [{ propertyName: modified, operator: 'GTE', value: String(c.since) }] }] : [],
        sorts: [{ propertyName: modified, direction: 'ASCENDING' }], properties: propertiesOf(object), limit, ...(c.after ? { after: c.after } : {}),
      },
    }, options.signal);
    if (answer.status >= 400) fail(answer);
    const records = resultsOf(answer, 'a search').map((r) => recordOf(object, r));
    const max = records.reduce((m, r) => Math.max(m, r.modifiedAt), c.max);
    const next = (answer.body as { paging?: { next?: { after?: unknown } } }).paging?.next?.after;
    if (next !== undefined && Number(next) + limit <= SEARCH_CAP) {
      return { records, cursor: encodeCursor('hubspot', { since: c.since, after: String(next), max, started }), more: true };
    }
    if (next !== undefined) return { records, cursor: encodeCursor('hubspot', { since: max, max }), more: true }; // the 10,000 cap: re-anchor
    const since = Math.max(c.since, Math.min(max, started - overlapMs));
    return { records, cursor: encodeCursor('hubspot', { since, max }), more: false };
  }

  async function listDeleted(object: SyncObject, cursor: string | null, options: CallOptions = {}): Promise<DeletedPage> {
    const c: DeletedCursor = cursor === null ? { since: 0, max: 0 } : decodeCursor('hubspot', cursor, isChangeCursor);
    const answer = await send({
      method: 'GET', path: `/crm/v3/objects/${spec(object).type}`, resend: 'always',
      query: { archived: true, limit: 100, properties: 'hs_object_id', ...(c.after ? { after: c.after } : {}) },
    }, options.signal);
    if (answer.status >= 400) fail(answer);
    const deleted = resultsOf(answer, 'an archived list')
      .map((r) => ({ id: String(r.id), object, deletedAt: Date.parse(String(r.archivedAt ?? r.updatedAt ?? '')) }))
      .filter((d) => !Number.isNaN(d.deletedAt) && d.deletedAt >= c.since);
    const max = deleted.reduce((m, d) => Math.max(m, d.deletedAt), c.max);
    const next = (answer.body as { paging?: { next?: { after?: unknown } } }).paging?.next?.after;
    if (next !== undefined) return { deleted, cursor: encodeCursor('hubspot', { since: c.since, after: String(next), max }), more: true };
    return { deleted, cursor: encodeCursor('hubspot', { since: Math.max(c.since, max), max }), more: false };
  }

  async function read(object: SyncObject, ids: readonly string[], options: CallOptions = {}, idProperty?: string) {
    const records: AppRecord[] = [];
    const missing: string[] = [];
    for (const part of chunks(ids, limiter.policy.maxBatch)) {
      const answer = await send({
        method: 'POST', path: `/crm/v3/objects/${spec(object).type}/batch/read`, resend: 'always',
        body: { inputs: part.map((id) => ({ id })), properties: propertiesOf(object), ...(idProperty ? { idProperty } : {}) },
      }, options.signal);
      if (answer.status >= 400 && answer.status !== 404) fail(answer);
      if (answer.status === 404) { missing.push(...part); continue; }
      records.push(...resultsOf(answer, 'a batch read').map((r) => recordOf(object, r)));
      for (const e of errorsOf(answer)) missing.push(...contextOf(e, 'ids'));
    }
    return { records, missing };
  }

  /** One batch write; per-input outcomes by trace id; a batch refused whole is bisected. */
  async function writeBatch(op: 'create' | 'update', object: SyncObject, inputs: readonly WriteInput[], signal?: AbortSignal): Promise<WriteResult[]> {
    const answer = await send({
      method: 'POST', path: `/crm/v3/objects/${spec(object).type}/batch/${op}`, resend: op === 'create' ? 'never' : 'always',
      body: {
        inputs: inputs.map((x, i) => ({
          ...(op === 'update' ? { id: x.id } : {}), properties: op === 'create' ? withValues(x.properties) : x.properties, objectWriteTraceId: String(i),
          ...(op === 'create' && x.associations?.length ? { associations: x.associations.map(createAssociation) } : {}),
        })),
      },
    }, signal);
    if (answer.status < 400) {
      const out: (WriteResult | undefined)[] = inputs.map(() => undefined);
      const results = resultsOf(answer, `a batch ${op}`);
      results.forEach((r, i) => {
        const at = r.objectWriteTraceId !== undefined ? Number(r.objectWriteTraceId) : i;
        const input = inputs[at];
        if (input) out[at] = { ref: input.ref, status: op === 'create' ? 'created' : 'updated', id: String(r.id), record: recordOf(object, r) };
      });
      for (const e of errorsOf(answer)) {
        for (const trace of contextOf(e, 'objectWriteTraceId')) {
          const input = inputs[Number(trace)];
          if (input) out[Number(trace)] = outcomeOf(input, { status: statusOfCategory(e.category), headers: {}, body: e });
        }
      }
      return inputs.map((x, i) => out[i] ?? { ref: x.ref, status: 'refused', error: { status: answer.status, code: CATEGORY.noResult, message: 'HubSpot answered no result for this input', body: answer.body } });
    }
    if (inputs.length === 1) return [outcomeOf(inputs[0]!, answer)];
    if (![400, 404, 409, 422].includes(answer.status)) fail(answer); // refused for a reason no record carries
    const half = Math.ceil(inputs.length / 2);
    return [...await writeBatch(op, object, inputs.slice(0, half), signal), ...await writeBatch(op, object, inputs.slice(half), signal)];
  }

  function outcomeOf(input: WriteInput, answer: AppAnswer): WriteResult {
    const error = errorOf(answer);
    const existing = error.code === CATEGORY.conflict ? EXISTING_ID.exec(error.message)?.[1] : undefined;
    if (existing && !input.id) return { ref: input.ref, status: 'existing', id: existing };
    if (error.code === CATEGORY.notFound && input.id) return { ref: input.ref, status: 'missing', id: input.id };
    return { ref: input.ref, status: 'refused', error };
  }

  /** Looks up records a lost create may have made: contacts by email (batch read, consistent), others by search. */
  async function matchLost(object: SyncObject, inputs: readonly WriteInput[], signal?: AbortSignal): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    if (object === 'people') {
      const emails = inputs.map((x) => x.keys?.email ?? (typeof x.properties.email === 'string' ? x.properties.email.toLowerCase() : undefined));
      const wanted = emails.filter((e): e is string => !!e);
      if (wanted.length > 0) {
        const { records } = await read(object, wanted, signal ? { signal } : {}, 'email');
        emails.forEach((e, i) => {
          const hit = e ? records.find((r) => String(r.properties.email ?? '').toLowerCase() === e) : undefined;
          if (hit) found.set(i, hit.id);
        });
      }
      return found;
    }
    for (const [i, x] of inputs.entries()) {
      const keys = x.keys ?? {};
      if (Object.keys(keys).length === 0) throw new AppUnavailable(`HubSpot may have created ${object} ${x.ref} (the answer was lost) and it has no keys to look it up by`, true, undefined);
      const hit = (await find(object, keys, signal ? { signal } : {}))[0];
      if (hit) found.set(i, hit.id);
    }
    return found;
  }

  async function create(object: SyncObject, inputs: readonly WriteInput[], options: CallOptions = {}): Promise<WriteResult[]> {
    const out: WriteResult[] = [];
    for (const part of chunks(inputs, limiter.policy.maxBatch)) {
      let pending = part.map((input, index) => ({ input, index }));
      const results: WriteResult[] = new Array(part.length);
      for (let attempt = 1; pending.length > 0; attempt++) {
        try {
          const written = await writeBatch('create', object, pending.map((p) => p.input), options.signal);
          written.forEach((r, i) => { results[pending[i]!.index] = r; });
          pending = [];
        } catch (err) {
          if (!(err instanceof AppUnavailable) || !err.maybeApplied || attempt >= limiter.policy.maxAttempts) throw err;
          // The batch may have been applied: link what exists, send only the rest again.
          const found = await matchLost(object, pending.map((p) => p.input), options.signal);
          for (const [i, id] of found) results[pending[i]!.index] = { ref: pending[i]!.input.ref, status: 'existing', id };
          pending = pending.filter((_, i) => !found.has(i));
          await clock.sleep(backoffDelayMs(attempt, { initialMs: limiter.policy.backoffMs, maxMs: limiter.policy.maxWaitMs }), options.signal);
        }
      }
      out.push(...results);
    }
    return out;
  }

  async function update(object: SyncObject, inputs: readonly WriteInput[], options: CallOptions = {}): Promise<WriteResult[]> {
    const out: WriteResult[] = [];
    for (const part of chunks(inputs, limiter.policy.maxBatch)) out.push(...await writeBatch('update', object, part, options.signal));
    return out;
  }

  async function find(object: SyncObject, keys: MatchKeys, options: CallOptions = {}): Promise<AppRecord[]> {
    const groups: { propertyName: string; operator: 'EQ'; value: string }[][] = [];
    const eq = (propertyName: string, value: string) => ({ propertyName, operator: 'EQ' as const, value });
    if (object === 'people') {
      if (keys.email) groups.push([eq('email', keys.email)]);
      const [first, ...rest] = (keys.name ?? '').trim().split(/\s+/);
      if (first && rest.length > 0) groups.push([eq('firstname', first), eq('lastname', rest.join(' '))]);
    } else if (object === 'companies') {
      if (keys.domain) groups.push([eq('domain', keys.domain)]);
      if (keys.name) groups.push([eq('name', keys.name)]);
    } else if (object === 'products') {
      if (keys.sku) groups.push([eq('hs_sku', keys.sku)]);
      if (keys.name) groups.push([eq('name', keys.name)]);
    }
    if (groups.length === 0) return [];
    const answer = await search({
      method: 'POST', path: `/crm/v3/objects/${spec(object).type}/search`, resend: 'always',
      body: { filterGroups: groups.map((filters) => ({ filters })), properties: propertiesOf(object), limit: 10 },
    }, options.signal);
    if (answer.status >= 400) fail(answer);
    return resultsOf(answer, 'a search').map((r) => recordOf(object, r));
  }

  const associationSpec = (kind: AssociationKind) => {
    const a = ASSOCIATIONS[kind];
    if (!a) throw raiseSync('SYNC_OBJECT_UNSUPPORTED', `HubSpot does not sync ${kind} associations here`);
    return a;
  };

  async function readAssociations(kind: AssociationKind, fromIds: readonly string[], options: CallOptions = {}): Promise<Association[]> {
    const a = associationSpec(kind);
    const out: Association[] = [];
    for (const part of chunks(fromIds, 1000)) {
      const answer = await send({ method: 'POST', path: `/crm/v4/associations/${a.from}/${a.to}/batch/read`, resend: 'always', body: { inputs: part.map((id) => ({ id })) } }, options.signal);
      if (answer.status >= 400) fail(answer);
      for (const r of resultsOf(answer, 'an association read')) {
        const from = String((r.from as { id?: unknown } | undefined)?.id ?? '');
        for (const t of (Array.isArray(r.to) ? r.to : []) as { toObjectId: unknown; associationTypes?: { typeId?: unknown }[] }[]) {
          const primary = a.primary !== undefined && (t.associationTypes ?? []).some((x) => x.typeId === a.primary);
          out.push({ kind, fromId: from, toId: String(t.toObjectId), primary });
        }
      }
    }
    return out;
  }

  type Refused = { association: Association; error: AppError };

  /** Runs `each` over the associations a kind and a batch at a time; the refused ones it reports, together. */
  async function perBatch(list: readonly Association[], each: (spec: ReturnType<typeof associationSpec>, part: Association[]) => Promise<Refused[]>): Promise<Refused[]> {
    const refusedOnes: Refused[] = [];
    const byKind = new Map<AssociationKind, Association[]>();
    for (const x of list) byKind.set(x.kind, [...(byKind.get(x.kind) ?? []), x]);
    for (const [kind, items] of byKind) {
      for (const part of chunks(items, limiter.policy.maxBatch)) refusedOnes.push(...await each(associationSpec(kind), part));
    }
    return refusedOnes;
  }

  function writeAssociations(list: readonly Association[], options: CallOptions = {}): Promise<Refused[]> {
    return perBatch(list, async (a, part) => {
      const answer = await send({
        method: 'POST', path: `/crm/v4/associations/${a.from}/${a.to}/batch/create`, resend: 'always',
        body: { inputs: part.map((x) => ({ from: { id: x.fromId }, to: { id: x.toId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: x.primary && a.primary !== undefined ? a.primary : a.unlabeled }] })) },
      }, options.signal);
      if (answer.status >= 400) return part.map((x) => ({ association: x, error: errorOf(answer) }));
      const refusedOnes: Refused[] = [];
      for (const e of errorsOf(answer)) {
        const from = contextOf(e, 'fromObjectId')[0];
        const to = contextOf(e, 'toObjectId')[0];
        const x = part.find((p) => p.fromId === from && (to === undefined || p.toId === to));
        if (x) refusedOnes.push({ association: x, error: { status: statusOfCategory(e.category), code: String(e.category ?? CATEGORY.unknown), message: String(e.message ?? ''), body: e } });
      }
      return refusedOnes;
    });
  }

  function removeAssociations(list: readonly Association[], options: CallOptions = {}): Promise<Refused[]> {
    return perBatch(list, async (a, part) => {
      const byFrom = new Map<string, string[]>();
      for (const x of part) byFrom.set(x.fromId, [...(byFrom.get(x.fromId) ?? []), x.toId]);
      // Removing what is already gone is no error, so a resend after a lost answer is safe.
      const answer = await send({
        method: 'POST', path: `/crm/v4/associations/${a.from}/${a.to}/batch/archive`, resend: 'always',
        body: { inputs: [...byFrom].map(([fromId, toIds]) => ({ from: { id: fromId }, to: toIds.map((id) => ({ id })) })) },
      }, options.signal);
      return answer.status >= 400 ? part.map((x) => ({ association: x, error: errorOf(answer) })) : [];
    });
  }

  return Object.freeze({
    app: 'hubspot', objects: hubspotObjects, codec: hubspotCodec, idempotency: 'match' as const, modifiedAt: 'exact' as const, rateLimit: limiter.policy,
    listChanged, listDeleted, read: (object: SyncObject, ids: readonly string[], options?: CallOptions) => read(object, ids, options),
    create, update, find, readAssociations, writeAssociations, removeAssociations,
    verifyWebhook: verifyHubSpotWebhook, parseWebhook: parseHubSpotWebhook,
  });
}

/** An association made with the record (batch create's `associations`): the primary label where the pair has one. */
function createAssociation(a: { kind: AssociationKind; toId: string }) {
  const spec = ASSOCIATIONS[a.kind];
  if (!spec) throw raiseSync('SYNC_OBJECT_UNSUPPORTED', `HubSpot does not sync ${a.kind} associations here`);
  return { to: { id: a.toId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: spec.primary ?? spec.unlabeled }] };
}

/** A create sends only properties with a value ('' clears, which a new record has no need of). */
function withValues(properties: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== '' && v !== null && v !== undefined));
}

function statusOfCategory(category: unknown): number {
  return category === CATEGORY.conflict ? 409 : category === CATEGORY.notFound ? 404 : category === CATEGORY.rateLimits ? 429 : 400;
}

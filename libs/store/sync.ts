/**
 * Data-sync collections. `sync_connections` is the api's (the connections users configure);
 * the others are the sync reconciler's projections, written by the one owner of each
 * (connection, object) and read by the api for status, counts and record lists:
 *
 * - `sync_links`: one linked pair per document, `_id` = connection|object|hubId, with a
 *   unique index on (connection, object, appId) too, so neither side is ever linked twice;
 *   it keeps the last-synced base values, the hashes last written per side (echo
 *   suppression), the hub record's last known fields and the pair's state.
 * - `sync_app_ids`: `_id` = connection|object|appId → hubId (reads by app id stay `_id` reads).
 * - `sync_unlinked`: records with a state but no link (excluded, failing to create, a create
 *   in flight in an app without idempotency: `creating`, the intent recorded before sending).
 * - `sync_objects`: per (connection, object): phase, initial-sync progress, poll cursors,
 *   last synced time and change-latency samples.
 * - `sync_plan`, `sync_stage`, `sync_pending`: the initial sync's staged app records and planned
 *   decisions, and hub changes that arrived while the connection was paused.
 *
 * Values whose keys are mapping keys (`city=address.city`) are kept as JSON text: field names
 * with dots are not portable between MongoDB and FerretDB.
 */
import type { Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { isDuplicateKey, storeError } from './errors.ts';
import type { SyncConnection } from '../sync/connections.ts';

export const syncConnectionsCollection: CollectionSpec = {
  name: 'sync_connections',
  indexes: [{ name: 'by_workspace', key: { workspaceId: 1, createdAt: 1 } }],
};

export const syncStateCollections: CollectionSpec[] = [
  {
    name: 'sync_links',
    indexes: [
      { name: 'by_hub_id', key: { connectionId: 1, object: 1, hubId: 1 }, unique: true },
      { name: 'by_app_id', key: { connectionId: 1, object: 1, appId: 1 }, unique: true },
      { name: 'by_state', key: { connectionId: 1, state: 1 } },
    ],
  },
  { name: 'sync_app_ids', indexes: [] },
  { name: 'sync_unlinked', indexes: [{ name: 'by_state', key: { connectionId: 1, state: 1 } }] },
  { name: 'sync_objects', indexes: [{ name: 'by_connection', key: { connectionId: 1 } }] },
  { name: 'sync_plan', indexes: [{ name: 'by_plan', key: { planId: 1 } }] },
  { name: 'sync_stage', indexes: [{ name: 'by_object', key: { connectionId: 1, object: 1 } }] },
  { name: 'sync_pending', indexes: [{ name: 'by_object', key: { connectionId: 1, object: 1 } }] },
];

interface ConnectionDocument { _id: string; workspaceId: string; state: string; createdAt: string; json: string }

export interface SyncConnectionStore {
  /** False when the id exists. */
  insert(c: SyncConnection): Promise<boolean>;
  get(connectionId: string): Promise<SyncConnection | null>;
  list(workspaceId: string): Promise<SyncConnection[]>;
  put(c: SyncConnection): Promise<void>;
  remove(connectionId: string): Promise<void>;
}

export function createSyncConnectionStore(db: Db): SyncConnectionStore {
  const col = db.collection<ConnectionDocument>('sync_connections');
  const doc = (c: SyncConnection): ConnectionDocument => ({ _id: c.connectionId, workspaceId: c.workspaceId, state: c.state, createdAt: c.createdAt, json: JSON.stringify(c) });
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  return {
    async insert(c) {
      try {
        await col.insertOne(doc(c));
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw storeError(err, 'creating a sync connection');
      }
    },
    async get(id) {
      const d = await guard('reading a sync connection', () => col.findOne({ _id: id }));
      return d ? JSON.parse(d.json) as SyncConnection : null;
    },
    async list(workspaceId) {
      const docs = await guard('listing sync connections', () => col.find({ workspaceId }).toArray());
      return docs.map((d) => JSON.parse(d.json) as SyncConnection).filter((c) => c.state !== 'deleted').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    async put(c) {
      await guard('saving a sync connection', () => col.replaceOne({ _id: c.connectionId }, doc(c), { upsert: true }));
    },
    async remove(id) {
      await guard('deleting a sync connection', () => col.deleteOne({ _id: id }));
    },
  };
}

// ---- the reconciler's projections ----------------------------------------------------

export type LinkRecordState = 'in-sync' | 'failing' | 'deleted' | 'excluded';
export type UnlinkedState = 'excluded' | 'failing' | 'creating';
export type RecordState = 'in-sync' | 'excluded' | 'failing' | 'deleted';
export const recordStates: readonly RecordState[] = ['in-sync', 'excluded', 'failing', 'deleted'];

/** Why a record is where it is: a SYNC_* code or the app's code, a message, and for failures the app's own answer. */
export interface RecordReason { code: string; message: string; app?: unknown; rule?: string }

export interface LinkDocument {
  _id: string;
  connectionId: string;
  object: string;
  hubId: string;
  appId: string;
  state: LinkRecordState;
  reason: RecordReason | null;
  /** JSON of the base projection (values both sides held at the last sync). */
  base: string;
  written: { hub?: string; app?: string };
  appSeenAt: number;
  deletedOn: 'hub' | 'app' | null;
  /** JSON of the hub record's fields as last seen or written, and its version. */
  hubFields: string;
  hubVersion: number;
  syncedAt: Date;
}

export interface UnlinkedDocument {
  _id: string;
  connectionId: string;
  object: string;
  side: 'hub' | 'app';
  id: string;
  state: UnlinkedState;
  reason: RecordReason | null;
  /** For `creating`: the keys the record is looked up by before a create is sent again. */
  keys?: Record<string, string>;
  updatedAt: Date;
}

export interface ObjectStateDocument {
  _id: string;
  connectionId: string;
  object: string;
  phase: 'initial-sync' | 'running' | 'failed';
  /** The initial sync finished once (a later activation after a failure goes straight to running). */
  initialDone: boolean;
  error: RecordReason | null;
  cursors: { changed: string | null; deleted: string | null };
  polledAt: number;
  lastSyncedAt: number | null;
  /** Change latencies of the last hour: when (epoch ms) and how long (ms), in two arrays. */
  sampleAt: number[];
  sampleMs: number[];
  /** Ids of the last steps carried out (initial sync, passes): a step delivered twice is done once. */
  steps?: string[];
  updatedAt: Date;
}

export const linkId = (connectionId: string, object: string, hubId: string) => `${connectionId}|${object}|${hubId}`;
export const appIdKey = (connectionId: string, object: string, appId: string) => `${connectionId}|${object}|${appId}`;
export const unlinkedId = (connectionId: string, object: string, side: 'hub' | 'app', id: string) => `${connectionId}|${object}|${side}:${id}`;
export const objectStateId = (connectionId: string, object: string) => `${connectionId}|${object}`;

export interface SyncRecordView { object: string; hubId: string | null; appId: string | null; state: RecordState; reason: RecordReason | null; updatedAt: string }

export interface SyncStateReader {
  objectStates(connectionId: string): Promise<ObjectStateDocument[]>;
  /** Records by state, per object: { people: { 'in-sync': 3, … } }. */
  counts(connectionId: string): Promise<Record<string, Partial<Record<RecordState, number>>>>;
  /** Records of a connection, links first then unlinked ones, in `_id` order after `cursor`. */
  records(connectionId: string, o: { state?: RecordState; objects?: readonly string[]; limit: number; cursor?: { c: 'l' | 'u'; after: string } }): Promise<{ records: SyncRecordView[]; next: { c: 'l' | 'u'; after: string } | null }>;
}

export function createSyncStateReader(db: Db): SyncStateReader {
  const links = db.collection<LinkDocument>('sync_links');
  const unlinked = db.collection<UnlinkedDocument>('sync_unlinked');
  const objects = db.collection<ObjectStateDocument>('sync_objects');
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  return {
    objectStates: (connectionId) => guard('reading sync state', () => objects.find({ connectionId }).toArray()),
    async counts(connectionId) {
      const out: Record<string, Partial<Record<RecordState, number>>> = {};
      // One accumulator per $group (FerretDB computes only the first).
      for (const col of [links, unlinked] as const) {
        const rows = await guard('counting sync records', () => (col as typeof links).aggregate<{ _id: { object: string; state: string }; n: number }>([
          { $match: { connectionId } }, { $group: { _id: { object: '$object', state: '$state' }, n: { $sum: 1 } } },
        ]).toArray());
        for (const r of rows) {
          if (r._id.state === 'creating') continue;
          const per = (out[r._id.object] ??= {});
          const state = r._id.state as RecordState;
          per[state] = (per[state] ?? 0) + r.n;
        }
      }
      return out;
    },
    async records(connectionId, o) {
      const order: ('l' | 'u')[] = o.state === 'in-sync' || o.state === 'deleted' ? ['l'] : ['l', 'u'];
      const out: SyncRecordView[] = [];
      let started = o.cursor === undefined;
      for (const c of order) {
        if (!started && o.cursor?.c !== c) continue;
        const filter: Record<string, unknown> = { connectionId, ...(o.objects ? { object: { $in: [...o.objects] } } : {}) };
        filter.state = o.state ? o.state : c === 'u' ? { $in: ['excluded', 'failing'] } : { $in: ['in-sync', 'failing', 'deleted', 'excluded'] };
        if (!started && o.cursor) filter._id = { $gt: o.cursor.after };
        started = true;
        const want = o.limit + 1 - out.length;
        if (c === 'l') {
          const docs = await guard('listing sync records', () => links.find(filter).sort({ _id: 1 }).limit(want).toArray());
          out.push(...docs.map((d) => ({ object: d.object, hubId: d.hubId, appId: d.appId, state: d.state, reason: d.reason, updatedAt: d.syncedAt.toISOString(), _id: d._id, c })));
        } else {
          const docs = await guard('listing sync records', () => unlinked.find(filter).sort({ _id: 1 }).limit(want).toArray());
          out.push(...docs.map((d) => ({ object: d.object, hubId: d.side === 'hub' ? d.id : null, appId: d.side === 'app' ? d.id : null, state: d.state as RecordState, reason: d.reason, updatedAt: d.updatedAt.toISOString(), _id: d._id, c })));
        }
        if (out.length > o.limit) break;
      }
      const page = out.slice(0, o.limit) as (SyncRecordView & { _id?: string; c?: 'l' | 'u' })[];
      const last = page.at(-1);
      const next = out.length > o.limit && last ? { c: last.c!, after: last._id! } : null;
      return { records: page.map(({ _id: _i, c: _c, ...r }) => r), next };
    },
  };
}

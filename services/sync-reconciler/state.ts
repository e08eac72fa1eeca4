/**
 * The reconciler's projections (libs/store/sync.ts describes them), written only by the
 * owner of each (connection, object): links both ways, unlinked record states, per-object
 * phase, cursors and latency samples, and the initial sync's staged records and plan.
 * Reads on hot paths go by `_id`; scans by (connection, object) happen once per initial
 * sync, association pass or poll of failing records.
 */
import type { Db } from 'mongodb';
import { isDuplicateKey, storeError } from '../../libs/store/errors.ts';
import { deleteByIds, findByIds, inGroups } from '../../libs/store/by-ids.ts';
import {
  appIdKey, linkId, objectStateId, unlinkedId, type LinkDocument, type ObjectStateDocument, type RecordReason, type UnlinkedDocument,
} from '../../libs/store/sync.ts';
import type { AppRecord } from '../../libs/sync/connector.ts';

const HOUR_MS = 3600_000;
const MAX_SAMPLES = 2000;
/** Link saves in flight at once (each its own replaceOne: FerretDB hangs on large bulk writes). */
/** FerretDB hangs on large bulk writes; inserts go in slices of this size. */
const SLICE = 500;

export interface PlanChunk { _id: string; planId: string; seq: number; decisions: string }

export interface SyncState {
  link(connectionId: string, object: string, hubId: string): Promise<LinkDocument | null>;
  linkByApp(connectionId: string, object: string, appId: string): Promise<LinkDocument | null>;
  /** Every link of a (connection, object): initial sync and association passes. */
  links(connectionId: string, object: string): Promise<LinkDocument[]>;
  linksInState(connectionId: string, object: string, state: LinkDocument['state'], limit: number): Promise<LinkDocument[]>;
  /** The links of these hub ids (those that have one), in one read. */
  linksOf(connectionId: string, object: string, hubIds: readonly string[]): Promise<LinkDocument[]>;
  /** One page of a (connection, object)'s links in `_id` order, after `afterId`. */
  linksAfter(connectionId: string, object: string, afterId: string | null, limit: number): Promise<LinkDocument[]>;
  /** The links of these app ids (those that have one), in two reads. */
  linksOfApp(connectionId: string, object: string, appIds: readonly string[]): Promise<LinkDocument[]>;
  /** Inserts a new link (its app id claimed first); false when either side is linked already. */
  insertLink(doc: LinkDocument): Promise<boolean>;
  /** insertLink for many (one insertMany per collection; the ones that collide take insertLink's slow path); one answer per doc. */
  insertLinks(docs: readonly LinkDocument[]): Promise<boolean[]>;
  putLink(doc: LinkDocument): Promise<void>;
  /** putLink for many, several at a time (a batch of changes saves hundreds; one by one they outlasted the group's session). */
  putLinks(docs: readonly LinkDocument[]): Promise<void>;
  removeLink(doc: LinkDocument): Promise<void>;
  unlinked(connectionId: string, object: string, side: 'hub' | 'app', id: string): Promise<UnlinkedDocument | null>;
  unlinkedInState(connectionId: string, object: string, state: UnlinkedDocument['state'], limit: number): Promise<UnlinkedDocument[]>;
  putUnlinked(doc: Omit<UnlinkedDocument, '_id' | 'updatedAt'>, now: number): Promise<void>;
  removeUnlinked(connectionId: string, object: string, side: 'hub' | 'app', id: string): Promise<void>;
  removeUnlinkedMany(connectionId: string, object: string, ids: readonly { side: 'hub' | 'app'; id: string }[]): Promise<void>;
  objectState(connectionId: string, object: string): Promise<ObjectStateDocument | null>;
  putObjectState(doc: ObjectStateDocument): Promise<void>;
  /** Adds latency samples (kept for an hour, at most MAX_SAMPLES) and the time of the last synced change. */
  addSamples(doc: ObjectStateDocument, samplesMs: readonly number[], now: number): void;
  stage(connectionId: string, object: string, records: readonly AppRecord[]): Promise<void>;
  staged(connectionId: string, object: string): Promise<AppRecord[]>;
  putPlan(planId: string, chunks: readonly string[]): Promise<void>;
  planChunk(planId: string, seq: number): Promise<PlanChunk | null>;
  /** Drops the staged records and the plans of a (connection, object). */
  clearInitial(connectionId: string, object: string): Promise<void>;
  pend(connectionId: string, object: string, hubId: string): Promise<void>;
  pending(connectionId: string, object: string, limit: number): Promise<string[]>;
  unpend(connectionId: string, object: string, hubIds: readonly string[]): Promise<void>;
  /** Forgets everything of a (connection, object): links, states, cursors (records stay on both sides). */
  forget(connectionId: string, object: string): Promise<void>;
}

export function newObjectState(connectionId: string, object: string): ObjectStateDocument {
  return {
    _id: objectStateId(connectionId, object), connectionId, object, phase: 'initial-sync', error: null, cursors: { changed: null, deleted: null },
    polledAt: 0, lastSyncedAt: null, sampleAt: [], sampleMs: [], updatedAt: new Date(0), initialDone: false,
  };
}

export function createSyncState(db: Db): SyncState {
  const links = db.collection<LinkDocument>('sync_links');
  const appIds = db.collection<{ _id: string; hubId: string }>('sync_app_ids');
  const unlinked = db.collection<UnlinkedDocument>('sync_unlinked');
  const objects = db.collection<ObjectStateDocument>('sync_objects');
  const stage = db.collection<{ _id: string; connectionId: string; object: string; record: string }>('sync_stage');
  const plan = db.collection<PlanChunk & { connectionId?: string }>('sync_plan');
  const pending = db.collection<{ _id: string; connectionId: string; object: string; hubId: string }>('sync_pending');
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw storeError(err, what); }
  };
  /** Inserts in slices, unordered; the indexes of the docs refused as duplicates. */
  const insertCollecting = async <T extends { _id: string }>(col: { insertMany(docs: T[], o: { ordered: boolean }): Promise<unknown> }, docs: T[], what: string): Promise<Set<number>> => {
    const dup = new Set<number>();
    for (let i = 0; i < docs.length; i += SLICE) {
      try {
        await col.insertMany(docs.slice(i, i + SLICE), { ordered: false });
      } catch (err) {
        const errors = (err as { writeErrors?: { index: number; code?: number }[] | { index: number; code?: number } }).writeErrors;
        const list = Array.isArray(errors) ? errors : errors ? [errors] : [];
        if (!isDuplicateKey(err) && !(list.length > 0 && list.every((e) => e.code === 11000))) throw storeError(err, what);
        if (list.length === 0) { for (let j = i; j < Math.min(docs.length, i + SLICE); j++) dup.add(j); continue; }
        for (const e of list) dup.add(i + e.index);
      }
    }
    return dup;
  };
  const insertIgnoringDuplicates = async <T extends { _id: string }>(col: { insertMany(docs: T[], o: { ordered: boolean }): Promise<unknown> }, docs: T[], what: string) => {
    for (let i = 0; i < docs.length; i += SLICE) {
      try {
        await col.insertMany(docs.slice(i, i + SLICE), { ordered: false });
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError(err, what);
      }
    }
  };

  return {
    link: (c, o, hubId) => guard('reading a link', () => links.findOne({ _id: linkId(c, o, hubId) })),
    async linkByApp(c, o, appId) {
      const ref = await guard('reading a link by app id', () => appIds.findOne({ _id: appIdKey(c, o, appId) }));
      if (!ref) return null;
      const doc = await guard('reading a link', () => links.findOne({ _id: linkId(c, o, ref.hubId) }));
      return doc && doc.appId === appId ? doc : null;
    },
    links: (c, o) => guard('listing links', () => links.find({ connectionId: c, object: o }).toArray()),
    linksOf: (c, o, hubIds) => guard('reading links', () => findByIds(links, hubIds.map((h) => linkId(c, o, h)))),
    linksAfter: (c, o, afterId, limit) => guard('listing links', () => links.find({ connectionId: c, object: o, ...(afterId === null ? {} : { _id: { $gt: afterId } }) }).sort({ _id: 1 }).limit(limit).toArray()),
    async linksOfApp(c, o, wanted) {
      const refs = await guard('reading links by app id', () => findByIds(appIds, wanted.map((a) => appIdKey(c, o, a))));
      const asked = new Set(wanted);
      return (await this.linksOf(c, o, refs.map((r) => r.hubId))).filter((l) => asked.has(l.appId));
    },
    linksInState: (c, o, state, limit) => guard('listing links', () => links.find({ connectionId: c, object: o, state }).limit(limit).toArray()),
    async insertLink(doc) {
      // The app id is claimed first: a crash between the two writes leaves a claim that the
      // same (hub id, app id) pair takes again; another hub id is refused.
      try {
        await appIds.insertOne({ _id: appIdKey(doc.connectionId, doc.object, doc.appId), hubId: doc.hubId });
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError(err, 'claiming an app id');
        const owner = await guard('reading an app id', () => appIds.findOne({ _id: appIdKey(doc.connectionId, doc.object, doc.appId) }));
        if (owner?.hubId !== doc.hubId) {
          const current = await guard('reading a link', () => links.findOne({ _id: linkId(doc.connectionId, doc.object, owner?.hubId ?? '') }));
          if (current && current.appId === doc.appId) return false;
          // A claim left by a link since removed (resync, forget): take it over.
          await guard('claiming an app id', () => appIds.replaceOne({ _id: appIdKey(doc.connectionId, doc.object, doc.appId) }, { hubId: doc.hubId }));
        }
      }
      try {
        await links.insertOne(doc);
        return true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError(err, 'inserting a link');
        const current = await guard('reading a link', () => links.findOne({ _id: doc._id }));
        return current?.appId === doc.appId;
      }
    },
    async insertLinks(docs) {
      if (docs.length === 0) return [];
      const claims = await insertCollecting(appIds, docs.map((d) => ({ _id: appIdKey(d.connectionId, d.object, d.appId), hubId: d.hubId })), 'claiming app ids');
      const fresh = docs.map((_, i) => i).filter((i) => !claims.has(i));
      const collided = await insertCollecting(links, fresh.map((i) => docs[i]!), 'inserting links');
      const out: boolean[] = docs.map(() => true);
      const slow = new Set<number>([...claims, ...[...collided].map((k) => fresh[k]!)]);
      // Every collision gets insertLink's answer (a claim left by a removed link, the same pair inserted before a crash…).
      for (const i of slow) out[i] = await this.insertLink(docs[i]!);
      return out;
    },
    putLink: async (doc) => { await guard('saving a link', () => links.replaceOne({ _id: doc._id }, doc, { upsert: true })); },
    async putLinks(docs) {
      await inGroups(docs, (doc) => guard('saving a link', () => links.replaceOne({ _id: doc._id }, doc, { upsert: true })));
    },
    async removeLink(doc) {
      await guard('removing a link', () => links.deleteOne({ _id: doc._id }));
      await guard('removing an app id', () => appIds.deleteOne({ _id: appIdKey(doc.connectionId, doc.object, doc.appId), hubId: doc.hubId }));
    },
    async removeUnlinkedMany(c, o, ids) {
      if (ids.length === 0) return;
      await guard('removing record states', () => deleteByIds(unlinked, ids.map((x) => unlinkedId(c, o, x.side, x.id))));
    },
    unlinked: (c, o, side, id) => guard('reading a record state', () => unlinked.findOne({ _id: unlinkedId(c, o, side, id) })),
    unlinkedInState: (c, o, state, limit) => guard('listing record states', () => unlinked.find({ connectionId: c, object: o, state }).limit(limit).toArray()),
    async putUnlinked(doc, now) {
      const full: UnlinkedDocument = { ...doc, _id: unlinkedId(doc.connectionId, doc.object, doc.side, doc.id), updatedAt: new Date(now) };
      await guard('saving a record state', () => unlinked.replaceOne({ _id: full._id }, full, { upsert: true }));
    },
    removeUnlinked: async (c, o, side, id) => { await guard('removing a record state', () => unlinked.deleteOne({ _id: unlinkedId(c, o, side, id) })); },
    objectState: (c, o) => guard('reading an object state', () => objects.findOne({ _id: objectStateId(c, o) })),
    putObjectState: async (doc) => { await guard('saving an object state', () => objects.replaceOne({ _id: doc._id }, { ...doc, updatedAt: new Date() }, { upsert: true })); },
    addSamples(doc, samples, now) {
      if (samples.length === 0) return;
      const at = [...doc.sampleAt, ...samples.map(() => now)];
      const ms = [...doc.sampleMs, ...samples];
      const keep = at.map((t, i) => i).filter((i) => at[i]! > now - HOUR_MS).slice(-MAX_SAMPLES);
      doc.sampleAt = keep.map((i) => at[i]!);
      doc.sampleMs = keep.map((i) => ms[i]!);
      doc.lastSyncedAt = now;
    },
    async stage(c, o, records) {
      await insertIgnoringDuplicates(stage, records.map((r) => ({ _id: `${c}|${o}|${r.id}`, connectionId: c, object: o, record: JSON.stringify(r) })), 'staging app records');
    },
    async staged(c, o) {
      const docs = await guard('reading staged records', () => stage.find({ connectionId: c, object: o }).toArray());
      return docs.map((d) => JSON.parse(d.record) as AppRecord);
    },
    async putPlan(planId, chunks) {
      await guard('clearing a plan', () => plan.deleteMany({ planId }));
      await insertIgnoringDuplicates(plan, chunks.map((decisions, seq) => ({ _id: `${planId}|${seq}`, planId, seq, decisions })), 'saving a plan');
    },
    planChunk: (planId, seq) => guard('reading a plan', () => plan.findOne({ _id: `${planId}|${seq}` })),
    async clearInitial(c, o) {
      await guard('clearing staged records', () => stage.deleteMany({ connectionId: c, object: o }));
      await guard('clearing plans', () => plan.deleteMany({ _id: { $regex: `^${c.replace(/[^A-Za-z0-9_-]/g, '')}\\|${o}\\|` } } as never));
    },
    pend: async (c, o, hubId) => { await guard('recording a paused change', () => pending.replaceOne({ _id: `${c}|${o}|${hubId}` }, { connectionId: c, object: o, hubId }, { upsert: true })); },
    async pending(c, o, limit) {
      const docs = await guard('reading paused changes', () => pending.find({ connectionId: c, object: o }).limit(limit).toArray());
      return docs.map((d) => d.hubId);
    },
    unpend: async (c, o, hubIds) => { for (const h of hubIds) await guard('clearing a paused change', () => pending.deleteOne({ _id: `${c}|${o}|${h}` })); },
    async forget(c, o) {
      await guard('forgetting links', () => links.deleteMany({ connectionId: c, object: o }));
      await guard('forgetting app ids', () => appIds.deleteMany({ _id: { $regex: `^${c.replace(/[^A-Za-z0-9_-]/g, '')}\\|${o}\\|` } } as never));
      await guard('forgetting record states', () => unlinked.deleteMany({ connectionId: c, object: o }));
      await guard('forgetting paused changes', () => pending.deleteMany({ connectionId: c, object: o }));
      await guard('forgetting staged records', () => stage.deleteMany({ connectionId: c, object: o }));
      await guard('forgetting the object state', () => objects.deleteOne({ _id: objectStateId(c, o) }));
    },
  };
}

export type { RecordReason };

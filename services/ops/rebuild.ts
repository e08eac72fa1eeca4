/**
 * Rebuilding the records projection from crm.records into a shadow collection, then
 * switching to it while the live one serves (design: libs/store/active-collection.ts):
 *
 *  1. bulk: read the log from its start to its end as of now, fold each partition's
 *     changes in memory with the projector's own rule (foldRecord) and write the result
 *     with insertMany (FerretDB's fast path: one transaction per call); past
 *     `memoryDocs` documents the fold is flushed and later changes of flushed records go
 *     through the projector's conditional upsert, so memory stays bounded;
 *  2. catch up: apply what arrived meanwhile (conditional upserts) until little is left;
 *  3. switch: mark the pointer `switching` (the live projector holds its writes), wait
 *     for every projector to see it, apply the last messages, point `active` at the
 *     shadow. Readers keep reading the old collection until that one update.
 *
 * The shadow is written by this rebuild alone until the switch, and by the projector
 * alone after it: one writer per document, as FerretDB needs.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Db } from 'mongodb';
import type { AvroSerde } from '../../libs/kafka/serde.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import { watermarks } from '../../libs/kafka/offsets.ts';
import { recordChangeOf, hashCollection } from '../../libs/projections/records.ts';
import { createRecordStore, foldRecord, recordKey, recordsCollection, type RecordChange, type RecordDocument } from '../../libs/store/records.ts';
import { projectionsCollection, type ProjectionPointer } from '../../libs/store/active-collection.ts';
import { ensureCollections } from '../../libs/store/mongo.ts';
import { HubError, isRetriable } from '../../libs/errors/index.ts';
import { retry } from '../../libs/time/retry.ts';
import { readRanges, type Range } from './range-reader.ts';

export interface BuildDeps {
  kafka: Kafka;
  admin: Admin;
  serde: AvroSerde;
  db: Db;
  /** Physical name of crm.records. */
  topic: string;
  /** Prefix of the reading groups' ids. */
  groupPrefix: string;
  signal?: AbortSignal;
  onProgress?(messages: number): void;
  /** Documents folded in memory before a flush (default 500,000). */
  memoryDocs?: number;
  insertBatch?: number;
}

/**
 * What the fold keeps per record: only what its document is made of (the projector's
 * rule, foldRecord, applied to every change in order gives the same document): when it
 * was created (the first change in log order always applies), the newest change, and the
 * newest change that was not a delete (a tombstone keeps the last known fields). The
 * document is built once, at the flush, instead of once per event.
 */
interface Pending { first: Date; latest: RecordChange; lastLive: RecordChange | null }

const newer = (c: RecordChange, than: RecordChange) => than.version < c.version || (than.version === c.version && than.eventId < c.eventId);

export function documentOf(p: Pending): RecordDocument {
  const live = p.lastLive ? foldRecord(null, p.lastLive) : null;
  const doc = p.lastLive === p.latest ? live! : foldRecord(live, p.latest)!;
  return { ...doc, createdAt: p.first };
}

/** The fold of a partition's changes in log order (what documentOf builds from): for tests. */
export function foldChanges(changes: readonly RecordChange[]): Map<string, RecordDocument> {
  const pending = new Map<string, Pending>();
  for (const c of changes) {
    const id = recordKey(c.workspaceId, c.object, c.recordId);
    const p = pending.get(id);
    if (!p) pending.set(id, { first: c.occurredAt, latest: c, lastLive: c.deleted ? null : c });
    else if (newer(c, p.latest)) { p.latest = c; if (!c.deleted) p.lastLive = c; }
  }
  return new Map([...pending].map(([id, p]) => [id, documentOf(p)]));
}

export interface BuildResult { events: number; documents: number; readMs: number; writeMs: number; ends: Map<number, bigint> }

const storeRetry = { backoff: { initialMs: 200, maxMs: 5000 }, again: (err: unknown, attempt: number) => isRetriable(err) && attempt < 10 };

/** Step 1 into `collection` (created empty), from each partition's start to `ends` (default: the end as of now). */
export async function bulkBuild(d: BuildDeps, collection: string, ends?: Map<number, bigint>): Promise<BuildResult> {
  const marks = await watermarks(d.admin, d.topic);
  const to = ends ?? new Map([...marks].map(([p, m]) => [p, m.high]));
  const target = d.db.collection<RecordDocument>(collection);
  const store = createRecordStore(d.db, { collection });
  const memoryDocs = d.memoryDocs ?? 500_000;
  const insertBatch = d.insertBatch ?? 1000;
  let folded = new Map<string, Pending>();
  const flushed = new Set<string>();
  let events = 0;
  let documents = 0;
  let writeMs = 0;
  const started = Date.now();

  const flush = async () => {
    const docs = [...folded.values()].map(documentOf);
    folded = new Map();
    const t0 = Date.now();
    const chunks: RecordDocument[][] = [];
    for (let i = 0; i < docs.length; i += insertBatch) chunks.push(docs.slice(i, i + insertBatch));
    // A few inserts in flight: the store works while the next chunk is sent.
    let next = 0;
    await Promise.all(Array.from({ length: 3 }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        await retry(() => target.insertMany(chunk, { ordered: false }), storeRetry);
      }
    }));
    for (const doc of docs) flushed.add(doc._id);
    documents += docs.length;
    writeMs += Date.now() - t0;
  };

  await readRanges({
    kafka: d.kafka, admin: d.admin, groupId: `${d.groupPrefix}ops.rebuild.${collection}.${Date.now()}`,
    ranges: [...marks].map(([partition, m]) => ({ topic: d.topic, partition, from: m.low, to: to.get(partition) ?? m.high })),
    signal: d.signal,
    onBatch: async (topic, _partition, messages) => {
      for (const m of messages) {
        const change = await changeIn(d, topic, m.value);
        if (!change) continue;
        events++;
        const id = recordKey(change.workspaceId, change.object, change.recordId);
        if (flushed.has(id)) {
          const t0 = Date.now();
          await retry(() => store.apply(change), storeRetry);
          writeMs += Date.now() - t0;
          continue;
        }
        const p = folded.get(id);
        if (!p) folded.set(id, { first: change.occurredAt, latest: change, lastLive: change.deleted ? null : change });
        else if (newer(change, p.latest)) {
          p.latest = change;
          if (!change.deleted) p.lastLive = change;
        }
      }
      d.onProgress?.(events);
      if (folded.size >= memoryDocs) await flush();
    },
  });
  await flush();
  return { events, documents, readMs: Date.now() - started - writeMs, writeMs, ends: to };
}

/** The record change a message carries; null for what the live projector parked (undecodable, invalid) and never applied either. */
async function changeIn(d: BuildDeps, topic: string, value: Buffer | null) {
  try {
    return recordChangeOf(await d.serde.decode<RecordChanged>(topic, value));
  } catch (err) {
    if (err instanceof HubError && !err.retriable) return null;
    throw err;
  }
}

/** Applies [from, to) of each partition through the projector's conditional upsert (catch-up and the final tail). */
export async function applyRanges(d: BuildDeps, collection: string, ranges: Range[]): Promise<number> {
  const store = createRecordStore(d.db, { collection });
  let n = 0;
  await readRanges({
    kafka: d.kafka, admin: d.admin, groupId: `${d.groupPrefix}ops.rebuild-tail.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`, ranges, signal: d.signal,
    onBatch: async (topic, _p, messages) => {
      for (const m of messages) {
        const change = await changeIn(d, topic, m.value);
        if (!change) continue;
        await retry(() => store.apply(change), storeRetry);
        n++;
      }
      d.onProgress?.(n);
    },
  });
  return n;
}

export async function createShadow(db: Db, name: string): Promise<void> {
  await db.collection(name).drop().catch(() => undefined);
  await db.createCollection(name);
}

/** The records projection's indexes on a shadow, made after the bulk load (faster than maintaining them during it). */
export async function indexShadow(db: Db, name: string): Promise<void> {
  await ensureCollections(db, [{ ...recordsCollection, name }]);
}

export async function readPointer(db: Db): Promise<ProjectionPointer | null> {
  return db.collection<ProjectionPointer>(projectionsCollection.name).findOne({ _id: recordsCollection.name });
}

export async function writePointer(db: Db, p: ProjectionPointer): Promise<void> {
  await db.collection<ProjectionPointer>(projectionsCollection.name).replaceOne({ _id: p._id }, p, { upsert: true });
}

export interface RebuildOptions extends BuildDeps {
  replayId: string;
  /** How long projectors need to notice a pointer change (their cache) plus a margin. */
  settleMs?: number;
  log: { info(o: object, msg: string): void };
}

/** Steps 1 to 3; answers the new collection, its hash and counts. */
export async function rebuildAndSwitch(o: RebuildOptions): Promise<{ collection: string; previous: string; events: number; documents: number; tail: number; hash: string }> {
  const shadow = `${recordsCollection.name}__${o.replayId}`;
  await createShadow(o.db, shadow);
  const built = await bulkBuild(o, shadow);
  o.log.info({ shadow, events: built.events, documents: built.documents }, 'rebuild: bulk pass done');
  await indexShadow(o.db, shadow);
  let position = built.ends;
  let tail = 0;
  const rangesTo = async () => {
    const marks = await watermarks(o.admin, o.topic);
    const ranges = [...marks].map(([partition, m]) => ({ topic: o.topic, partition, from: position.get(partition) ?? m.low, to: m.high }));
    return { ranges, ends: new Map([...marks].map(([p, m]) => [p, m.high])) };
  };
  for (let round = 0; round < 5; round++) {
    const { ranges, ends } = await rangesTo();
    const waiting = ranges.reduce((n, r) => n + Number(r.to - r.from), 0);
    if (waiting < 1000) break;
    tail += await applyRanges(o, shadow, ranges);
    position = ends;
  }
  const before = await readPointer(o.db);
  const previous = before?.active ?? recordsCollection.name;
  const pointer: ProjectionPointer = { _id: recordsCollection.name, active: previous, state: 'switching', next: shadow, previous: before?.previous ?? null, switchedAt: new Date(), replayId: o.replayId };
  await ensureCollections(o.db, [projectionsCollection]);
  await writePointer(o.db, pointer);
  try {
    await new Promise((r) => setTimeout(r, o.settleMs ?? 3000));
    const { ranges } = await rangesTo();
    tail += await applyRanges(o, shadow, ranges);
    await writePointer(o.db, { ...pointer, active: shadow, state: 'active', next: null, previous, switchedAt: new Date() });
  } catch (err) {
    await writePointer(o.db, { ...pointer, state: 'active', next: null }).catch(() => undefined);
    throw err;
  }
  o.log.info({ shadow, previous, tail }, 'rebuild: switched');
  // Keep the previous collection (a rollback is one pointer update); drop older rebuilds.
  const names = (await o.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  for (const n of names) if (n.startsWith(`${recordsCollection.name}__`) && n !== shadow && n !== previous) await o.db.collection(n).drop().catch(() => undefined);
  return { collection: shadow, previous, events: built.events, documents: built.documents, tail, hash: await hashCollection(o.db.collection(shadow)) };
}

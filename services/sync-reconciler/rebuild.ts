/**
 * Rebuilds the reconciler's state in the store from the `sync.state` changelog (the latest
 * document per key): links and their app-id claims, unlinked record states and object
 * states (phase, cursors, latency samples), for the given connections or every one that
 * is not deleted. What a connection had in the store is replaced, not merged.
 *
 * The reconciler must not run meanwhile (it would write over what is rebuilt): the
 * rebuild refuses while its consumer group has members. Scratch work is not journaled: a
 * pair caught in its initial sync is reported and goes on from its next step (links keep
 * it from doubling anything); hub changes kept while paused are not restored.
 */
import type { Admin, Kafka } from 'kafkajs';
import { BSON, type Db } from 'mongodb';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import type { AvroSerde } from '../../libs/kafka/serde.ts';
import type { SyncConnectionChanged, SyncStateCollection, SyncStateSaved } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import { raise } from '../../libs/errors/index.ts';
import { storeError } from '../../libs/store/errors.ts';
import { appIdKey, type LinkDocument, type ObjectStateDocument } from '../../libs/store/sync.ts';

const SLICE = 500;

export interface RebuildDeps {
  kafka: Kafka;
  serde: AvroSerde;
  log: Logger;
  db: Db;
  topics: { state: string; connections: string };
  /** The owners' consumer group: it must have no members while the rebuild runs. */
  reconcilerGroup: string;
  groupPrefix: string;
}

export interface RebuiltConnection {
  connectionId: string;
  links: number;
  unlinked: number;
  objects: number;
  /** Objects whose initial sync was under way: they go on from their next step. */
  initialSyncUnderWay: string[];
}

export async function rebuildSyncState(d: RebuildDeps, only: readonly string[] = []): Promise<RebuiltConnection[]> {
  await refuseWhileRunning(d.kafka, d.reconcilerGroup);
  const latest = new Map<string, SyncStateSaved>();
  const wanted = (connectionId: string) => only.length === 0 || only.includes(connectionId);
  const changelog = followTopic<SyncStateSaved>({
    kafka: d.kafka, serde: d.serde, log: d.log, topic: d.topics.state, groupPrefix: `${d.groupPrefix}.state`,
    apply: (v) => { if (wanted(v.connectionId)) latest.set(`${v.collection}|${v.docId}`, v); },
  });
  const deleted = new Set<string>();
  const known = new Set<string>();
  const connections = followTopic<SyncConnectionChanged>({
    kafka: d.kafka, serde: d.serde, log: d.log, topic: d.topics.connections, groupPrefix: `${d.groupPrefix}.connections`,
    apply: (v) => { known.add(v.connectionId); if (v.state === 'deleted') deleted.add(v.connectionId); else deleted.delete(v.connectionId); },
  });
  try {
    await Promise.all([changelog.start(120_000), connections.start(120_000)]);
  } finally {
    await Promise.all([changelog.stop(), connections.stop()]);
  }
  for (const id of only) if (!known.has(id)) throw raise('NOT_FOUND', `no sync connection ${id} on the sync.connections topic`);

  const byConnection = new Map<string, Record<SyncStateCollection, unknown[]>>();
  for (const v of latest.values()) {
    if (deleted.has(v.connectionId)) continue;
    const docs = byConnection.get(v.connectionId) ?? { sync_links: [], sync_unlinked: [], sync_objects: [] };
    byConnection.set(v.connectionId, docs);
    if (v.doc !== null) docs[v.collection].push(BSON.EJSON.parse(v.doc, { relaxed: true }));
  }
  const out: RebuiltConnection[] = [];
  for (const connectionId of only.length > 0 ? only.filter((id) => !deleted.has(id)) : [...byConnection.keys()]) {
    const docs = byConnection.get(connectionId) ?? { sync_links: [], sync_unlinked: [], sync_objects: [] };
    const links = docs.sync_links as LinkDocument[];
    const objects = docs.sync_objects as ObjectStateDocument[];
    await replaceConnection(d.db, connectionId, {
      sync_links: links,
      sync_app_ids: links.map((l) => ({ _id: appIdKey(l.connectionId, l.object, l.appId), hubId: l.hubId })),
      sync_unlinked: docs.sync_unlinked as { _id: string }[],
      sync_objects: objects,
    });
    const rebuilt = { connectionId, links: links.length, unlinked: docs.sync_unlinked.length, objects: objects.length, initialSyncUnderWay: objects.filter((o) => o.phase === 'initial-sync').map((o) => o.object) };
    d.log.info(rebuilt, 'sync state rebuilt');
    out.push(rebuilt);
  }
  return out;
}

async function refuseWhileRunning(kafka: Kafka, group: string): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    const members = groups[0]?.members.length ?? 0;
    if (members > 0) throw raise('SYNC_RECONCILER_RUNNING', `the sync reconciler is running (${members} member(s) in group ${group}): stop it before rebuilding its state`);
  } finally {
    await admin.disconnect();
  }
}

/** Drops what the store holds of a connection's state, then inserts the rebuilt documents. */
async function replaceConnection(db: Db, connectionId: string, docs: Record<'sync_links' | 'sync_app_ids' | 'sync_unlinked' | 'sync_objects', { _id: string }[]>): Promise<void> {
  const prefix = { $regex: `^${connectionId.replace(/[^A-Za-z0-9_-]/g, '')}\\|` };
  try {
    await db.collection('sync_links').deleteMany({ connectionId });
    await db.collection('sync_app_ids').deleteMany({ _id: prefix } as never);
    await db.collection('sync_unlinked').deleteMany({ connectionId });
    await db.collection('sync_objects').deleteMany({ connectionId });
    for (const [name, list] of Object.entries(docs)) {
      for (let i = 0; i < list.length; i += SLICE) await db.collection<{ _id: string }>(name).insertMany(list.slice(i, i + SLICE), { ordered: false });
    }
  } catch (err) {
    throw storeError(err, `rebuilding the sync state of ${connectionId}`);
  }
}

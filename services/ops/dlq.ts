/**
 * Parked messages: an index of every `<group>.dlq` topic in the store (`dlq_messages`,
 * ops' own), with the value decoded through the schema registry and masked (mask.ts)
 * before it is stored; the original bytes stay only in Kafka. A redrive reads them back
 * by offset and publishes them again on their original topic (original key and headers,
 * plus `dlq.redriven-from`), each once: an entry is claimed before it is published and
 * marked redriven after. Every group reading that topic sees the message again, which
 * is harmless: every consumer of the hub is idempotent.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Collection, Db } from 'mongodb';
import type { Logger } from '../../libs/log/index.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { AvroSerde } from '../../libs/kafka/serde.ts';
import type { CollectionSpec } from '../../libs/store/mongo.ts';
import { isDuplicateKey, storeError } from '../../libs/store/errors.ts';
import { errorMessage, HubError, raise } from '../../libs/errors/index.ts';
import { maskHeaders, maskValue } from './mask.ts';
import { readRanges } from './range-reader.ts';

export interface DlqEntry {
  _id: string;
  group: string;
  dlqTopic: string;
  dlqPartition: number;
  dlqOffset: number;
  /** Where it was consumed from (logical topic name). */
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  workspaceId: string | null;
  error: { code: string; message: string };
  failedAt: string;
  parkedAt: string;
  headers: Record<string, string>;
  /** Decoded and masked; null when it could not be decoded (then `valueNote` says why). */
  value: unknown;
  valueNote: string | null;
  status: 'parked' | 'redriving' | 'redriven';
  redrivenAt: string | null;
  redriveCount: number;
}

/**
 * How an entry is stored: header names ("hub.event-id") and the keys of a decoded value
 * may hold '.' or start with '$', which a MongoDB-wire store refuses as field names, so
 * headers are stored as a list of {name, value} (it takes no nested arrays either) and the value as JSON text.
 */
interface StoredDlqEntry extends Omit<DlqEntry, 'headers' | 'value'> {
  headers: { name: string; value: string }[];
  valueJson: string | null;
}

const toStored = ({ headers, value, ...rest }: DlqEntry): StoredDlqEntry => ({
  ...rest, headers: Object.entries(headers).map(([name, value]) => ({ name, value })), valueJson: value === null || value === undefined ? null : JSON.stringify(value),
});

const fromStored = ({ headers, valueJson, ...rest }: StoredDlqEntry): DlqEntry => ({
  ...rest, headers: Object.fromEntries(headers.map((h) => [h.name, h.value])), value: valueJson === null ? null : JSON.parse(valueJson) as unknown,
});

export const dlqCollection: CollectionSpec = { name: 'dlq_messages', indexes: [{ name: 'by_group', key: { group: 1, dlqOffset: 1 } }] };

export const entryId = (group: string, partition: number, offset: number | string) => `${group}:${partition}:${offset}`;

const headerText = (m: KafkaMessage): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return out;
};

/** An index entry of one DLQ message: what a listing shows, masked. */
export async function entryOf(serde: AvroSerde, prefix: string, dlqTopic: string, partition: number, m: KafkaMessage): Promise<DlqEntry> {
  const h = headerText(m);
  const group = dlqTopic.slice(prefix.length, -'.dlq'.length);
  const original = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith('dlq.')));
  let value: unknown = null;
  let note: string | null = h['dlq.value-omitted'] ? `value omitted on the DLQ: ${h['dlq.value-omitted']}` : null;
  if (m.value && !note) {
    try {
      value = maskValue(await serde.decodeAny(m.value));
    } catch (err) {
      note = `not decodable through the registry (${errorMessage(err)}); ${m.value.length} bytes`;
      const text = m.value.toString('utf8');
      if (/^[\x20-\x7e\s]*$/.test(text)) value = maskValue(text);
    }
  }
  const key = m.key ? m.key.toString('utf8') : null;
  const ws = value && typeof value === 'object' && typeof (value as { workspaceId?: unknown }).workspaceId === 'string'
    ? (value as { workspaceId: string }).workspaceId
    : key && /^ws_[A-Za-z0-9_-]+/.test(key) ? /^ws_[A-Za-z0-9_-]+/.exec(key)![0] : null;
  const source = h['dlq.source.topic'] ?? '';
  return {
    _id: entryId(group, partition, m.offset), group, dlqTopic: dlqTopic.slice(prefix.length), dlqPartition: partition, dlqOffset: Number(m.offset),
    topic: source.startsWith(prefix) ? source.slice(prefix.length) : source, partition: Number(h['dlq.source.partition'] ?? -1), offset: Number(h['dlq.source.offset'] ?? -1),
    key, workspaceId: ws, error: { code: h['dlq.error.code'] ?? 'HANDLER_FAILED', message: h['dlq.error.message'] ?? '' },
    failedAt: h['dlq.failed-at'] ?? new Date(Number(m.timestamp)).toISOString(), parkedAt: new Date(Number(m.timestamp)).toISOString(),
    headers: maskHeaders(original), value, valueNote: note, status: 'parked', redrivenAt: null, redriveCount: 0,
  };
}

export interface DlqDeps {
  kafka: Kafka;
  admin: Admin;
  serde: AvroSerde;
  bus: EventBus;
  db: Db;
  prefix: string;
  log: Logger;
}

export interface RedriveResult {
  dryRun: boolean;
  redriven: { id: string; topic: string; partition: number; offset: number }[];
  skipped: { id: string; reason: string }[];
}

export function createDlq(d: DlqDeps) {
  const entries: Collection<StoredDlqEntry> = d.db.collection<StoredDlqEntry>(dlqCollection.name);
  let consumer: Consumer | null = null;
  let following = '';
  const locks = new Map<string, Promise<unknown>>();

  const insert = async (e: DlqEntry) => {
    try {
      await entries.insertOne(toStored(e));
    } catch (err) {
      if (!isDuplicateKey(err)) throw storeError(err, 'indexing a parked message');
    }
  };
  /**
   * An entry the store refuses (too large, say) is indexed without its headers and value,
   * which stay readable on the DLQ topic: the index must not stop at one odd message.
   */
  const store = async (e: DlqEntry) => {
    try {
      await insert(e);
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'STORE_REJECTED')) throw err;
      d.log.warn({ id: e._id, err: errorMessage(err) }, 'parked message indexed without its headers and value');
      await insert({ ...e, headers: {}, value: null, valueNote: `not indexed in full (${errorMessage(err)}); read it at ${e.dlqTopic}/${e.dlqPartition}@${e.dlqOffset}` });
    }
  };

  /** (Re)subscribes the index to these DLQ topics; committed per message, so each is indexed once. */
  async function follow(topics: string[]) {
    const wanted = [...topics].sort().join(',');
    if (wanted === following) return;
    if (consumer) await consumer.disconnect().catch(() => undefined);
    consumer = null;
    following = wanted;
    if (topics.length === 0) return;
    const c = d.kafka.consumer({ groupId: `${d.prefix}ops.dlq-index`, sessionTimeout: 30_000, heartbeatInterval: 3000, allowAutoTopicCreation: false });
    try {
      // A crash that kafkajs does not restart from leaves the index behind: follow again at the next sample.
      c.on(c.events.CRASH, ({ payload }) => {
        if (payload.restart) return;
        d.log.warn({ err: errorMessage(payload.error) }, 'the DLQ index stopped; following again at the next sample');
        if (consumer === c) following = '';
      });
      await c.connect();
      for (const topic of topics) await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ topic, partition, message }) => {
          await store(await entryOf(d.serde, d.prefix, topic, partition, message));
        },
      });
      consumer = c;
    } catch (err) {
      following = '';
      await c.disconnect().catch(() => undefined);
      d.log.warn({ err: errorMessage(err) }, 'cannot follow the DLQ topics; retrying at the next sample');
    }
  }

  /** Serialises redrives per group (one writer per entry). */
  async function locked<T>(group: string, f: () => Promise<T>): Promise<T> {
    const before = locks.get(group) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(f);
    locks.set(group, run);
    return run;
  }

  async function list(filter: { group?: string; workspaceId?: string; status?: string }, limit: number, after: string | null) {
    const q: Record<string, unknown> = {};
    if (filter.group) q.group = filter.group;
    if (filter.workspaceId) q.workspaceId = filter.workspaceId;
    if (filter.status) q.status = filter.status;
    try {
      const all = (await entries.find(q).toArray()).map(fromStored);
      all.sort((a, b) => (a.parkedAt < b.parkedAt ? -1 : a.parkedAt > b.parkedAt ? 1 : a._id < b._id ? -1 : 1));
      const start = after ? all.findIndex((e) => e._id === after) + 1 : 0;
      const page = all.slice(start, start + limit);
      return { messages: page.map(view), total: all.length, parked: all.filter((e) => e.status !== 'redriven').length, next: start + limit < all.length ? page[page.length - 1]?._id ?? null : null };
    } catch (err) {
      throw storeError(err, 'listing parked messages');
    }
  }

  /**
   * Puts parked messages back on their original topics, each once. `ids` absent: every
   * parked one of the group (and workspace). Unknown ids are refused before anything is done.
   */
  async function redrive(o: { group?: string; workspaceId?: string; ids?: string[]; dryRun: boolean }): Promise<RedriveResult> {
    const q: Record<string, unknown> = {};
    if (o.group) q.group = o.group;
    if (o.workspaceId) q.workspaceId = o.workspaceId;
    const all = (await entries.find(q).toArray().catch((err: unknown) => { throw storeError(err, 'reading parked messages'); })).map(fromStored);
    const byId = new Map(all.map((e) => [e._id, e]));
    const chosen = o.ids ? o.ids.map((id, i) => {
      const e = byId.get(id);
      if (!e) throw raise(o.workspaceId ? 'NOT_FOUND' : 'DLQ_MESSAGE_UNKNOWN', `no parked message ${id}${o.group ? ` of ${o.group}` : ''}`, { path: `/ids/${i}` });
      return e;
    }) : all.filter((e) => e.status === 'parked');
    const result: RedriveResult = { dryRun: o.dryRun, redriven: [], skipped: [] };
    const todo: DlqEntry[] = [];
    for (const e of chosen) {
      if (e.status === 'redriven') result.skipped.push({ id: e._id, reason: `already redriven at ${e.redrivenAt}` });
      else if (e.valueNote?.startsWith('value omitted')) result.skipped.push({ id: e._id, reason: `${e.valueNote}; read it at ${e.topic}/${e.partition}@${e.offset}` });
      else todo.push(e);
    }
    if (o.dryRun) {
      result.redriven = todo.map((e) => ({ id: e._id, topic: e.topic, partition: e.partition, offset: e.offset }));
      return result;
    }
    const groups = [...new Set(todo.map((e) => e.group))];
    for (const group of groups) {
      await locked(group, async () => {
        const mine = todo.filter((e) => e.group === group);
        const dlqTopic = `${d.prefix}${mine[0]!.dlqTopic}`;
        const wanted = new Map(mine.map((e) => [`${e.dlqPartition}:${e.dlqOffset}`, e]));
        const raw = new Map<string, KafkaMessage>();
        const byPartition = new Map<number, number[]>();
        for (const e of mine) byPartition.set(e.dlqPartition, [...(byPartition.get(e.dlqPartition) ?? []), e.dlqOffset]);
        await readRanges({
          kafka: d.kafka, admin: d.admin, groupId: `${d.prefix}ops.redrive.${randomUUID()}`,
          ranges: [...byPartition].map(([partition, offsets]) => ({ topic: dlqTopic, partition, from: BigInt(Math.min(...offsets)), to: BigInt(Math.max(...offsets)) + 1n })),
          onBatch: async (_t, partition, messages) => {
            for (const m of messages) if (wanted.has(`${partition}:${m.offset}`)) raw.set(`${partition}:${m.offset}`, m);
          },
        });
        for (const [k, e] of wanted) {
          const m = raw.get(k);
          if (!m) { result.skipped.push({ id: e._id, reason: 'no longer on the DLQ topic (retention)' }); continue; }
          // Claim, publish, mark: a crash between the first two leaves it "redriving" (shown; redrive it by id).
          const claimed = await entries.updateOne({ _id: e._id, status: { $ne: 'redriven' } }, { $set: { status: 'redriving' } });
          if (claimed.matchedCount === 0) { result.skipped.push({ id: e._id, reason: 'already redriven' }); continue; }
          const headers = Object.fromEntries(Object.entries(m.headers ?? {}).filter(([h]) => !h.startsWith('dlq.'))) as Record<string, string | Buffer>;
          const source = `${d.prefix}${e.topic}`;
          await d.bus.publishRaw(source, [{ key: m.key, value: m.value, headers: { ...headers, 'dlq.redriven-from': e._id, 'dlq.redrive-for': group } }]);
          await entries.updateOne({ _id: e._id }, { $set: { status: 'redriven', redrivenAt: new Date().toISOString() }, $inc: { redriveCount: 1 } });
          d.log.info({ id: e._id, group, topic: e.topic, workspaceId: e.workspaceId }, 'parked message redriven');
          result.redriven.push({ id: e._id, topic: e.topic, partition: e.partition, offset: e.offset });
        }
      });
    }
    return result;
  }

  /** Parked (not yet redriven) messages per group, source topic and partition: for the metric and alerts. */
  async function parkedCounts(): Promise<{ group: string; topic: string; partition: number; count: number }[]> {
    const all = await entries.find({ status: { $ne: 'redriven' } }, { projection: { group: 1, topic: 1, partition: 1 } }).toArray();
    const counts = new Map<string, { group: string; topic: string; partition: number; count: number }>();
    for (const e of all) {
      const k = `${e.group}|${e.topic}|${e.partition}`;
      const c = counts.get(k) ?? { group: e.group, topic: e.topic, partition: e.partition, count: 0 };
      c.count++;
      counts.set(k, c);
    }
    return [...counts.values()];
  }

  return {
    follow, list, redrive, parkedCounts,
    get: (id: string) => entries.findOne({ _id: id }).then((e) => (e ? view(fromStored(e)) : null)),
    async stop() {
      if (consumer) await consumer.disconnect().catch(() => undefined);
    },
  };
}

/** What the API shows of an entry. */
export function view(e: DlqEntry) {
  const { _id, ...rest } = e;
  return { id: _id, ...rest };
}

export type Dlq = ReturnType<typeof createDlq>;

/**
 * Reads given offset ranges of some topics with a consumer group of its own (set to the
 * ranges' starts before it joins), never touching any other group: what replays,
 * rebuilds, backfills and DLQ redrives read with. Batches are handed over in order per
 * partition; the group is deleted at the end.
 */
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { watermarks } from '../../libs/kafka/offsets.ts';

export interface Range { topic: string; partition: number; from: bigint; to: bigint }

export interface RangeReadOptions {
  kafka: Kafka;
  admin: Admin;
  groupId: string;
  ranges: readonly Range[];
  /** Messages of one partition below its range's end, in offset order. */
  onBatch(topic: string, partition: number, messages: KafkaMessage[]): Promise<void>;
  signal?: AbortSignal;
}

export async function readRanges(o: RangeReadOptions): Promise<void> {
  const pending = new Map(o.ranges.filter((r) => r.to > r.from).map((r) => [`${r.topic}:${r.partition}`, { ...r }]));
  if (pending.size === 0) return;
  const topics = [...new Set([...pending.values()].map((r) => r.topic))];
  for (const topic of topics) {
    const marks = await watermarks(o.admin, topic);
    await o.admin.setOffsets({
      groupId: o.groupId, topic,
      partitions: [...marks].map(([partition, m]) => ({ partition, offset: String(pending.get(`${topic}:${partition}`)?.from ?? m.high) })),
    });
  }
  const consumer = o.kafka.consumer({ groupId: o.groupId, sessionTimeout: 30_000, heartbeatInterval: 3000, allowAutoTopicCreation: false, maxBytesPerPartition: 4 * 1024 * 1024 });
  let finish: (err?: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => { finish = (err) => (err === undefined ? resolve() : reject(err)); });
  const onAbort = () => finish(o.signal?.reason ?? new Error('aborted'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning }) => {
        const r = pending.get(`${batch.topic}:${batch.partition}`);
        if (!r) { pause(); return; }
        const wanted = batch.messages.filter((m) => BigInt(m.offset) >= r.from && BigInt(m.offset) < r.to);
        try {
          if (wanted.length > 0 && isRunning()) await o.onBatch(batch.topic, batch.partition, wanted);
        } catch (err) {
          finish(err);
          return;
        }
        if (batch.messages.length > 0) resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
        await heartbeat().catch(() => undefined);
        if (BigInt(batch.lastOffset()) + 1n >= r.to) {
          pending.delete(`${batch.topic}:${batch.partition}`);
          pause();
          if (pending.size === 0) finish();
        }
      },
    });
    await finished;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await o.admin.deleteGroups([o.groupId]).catch(() => undefined);
  }
}

import { randomBytes } from 'node:crypto';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';

export interface ReadMessage<T> { key: string | null; headers: Record<string, string>; value: T; partition: number; offset: string }

/** Sum of a topic's high-water marks: how many messages it holds (nothing is ever deleted in tests). */
export async function topicSize(runtime: KafkaRuntime, topic: string): Promise<number> {
  const admin = runtime.kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads every message currently on a topic (decoded with its Avro schema), in partition
 * order. `skipUndecodable` leaves out what does not decode (a test's poison messages).
 */
export async function readTopic<T>(runtime: KafkaRuntime, topic: string, options: { timeoutMs?: number; skipUndecodable?: boolean } = {}): Promise<ReadMessage<T>[]> {
  const admin = runtime.kafka.admin();
  await admin.connect();
  const highs = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(highs.filter((p) => Number(p.high) > 0).map((p) => [p.partition, Number(p.high)]));
  const out: ReadMessage<T>[] = [];
  if (remaining.size === 0) return out;
  const consumer = runtime.kafka.consumer({ groupId: `reader-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), options.timeoutMs ?? 30_000);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        const value = await runtime.serde.decode<T>(topic, message.value).catch((err: unknown) => {
          if (options.skipUndecodable) return undefined;
          throw err;
        });
        if (value !== undefined) out.push({ key: message.key?.toString('utf8') ?? null, headers, value, partition, offset: message.offset });
        if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
        if (remaining.size === 0) { clearTimeout(timer); resolve(); }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}

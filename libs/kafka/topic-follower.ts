/**
 * A private reader of a whole (compacted) topic, folded into memory by the caller: a
 * consumer group of its own per process that never commits, so every replica reads
 * every record from the beginning. `catchUp` waits until what was on the topic when
 * it was called has been applied (read-your-writes for what another service published
 * before answering its caller).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { AvroSerde } from './serde.ts';
import type { Logger } from '../log/index.ts';
import { errorMessage, raise } from '../errors/index.ts';
import { sleep } from '../time/sleep.ts';
import { exitOnFatalCrash } from './fatal.ts';

export interface TopicFollower {
  /** Starts reading from the beginning and waits until the topic's current end is applied. */
  start(timeoutMs?: number): Promise<void>;
  /** Waits until the topic's end as of now is applied; INDEX_BEHIND (retriable) after the timeout. */
  catchUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface TopicFollowerOptions<T> {
  kafka: Kafka;
  serde: AvroSerde;
  log: Logger;
  topic: string;
  /** Prefix of the private group id (a random suffix is added). */
  groupPrefix: string;
  /** Applies one decoded value (tombstones, with a null value, are not passed). */
  apply(value: T, message: KafkaMessage): void;
}

export function followTopic<T>(o: TopicFollowerOptions<T>): TopicFollower {
  const admin: Admin = o.kafka.admin();
  const consumer: Consumer = o.kafka.consumer({ groupId: `${o.groupPrefix}.${randomUUID()}`, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: false });
  /** Next offset to read per partition. */
  const position = new Map<number, bigint>();

  async function catchUp(timeoutMs = 30_000): Promise<void> {
    const ends = await admin.fetchTopicOffsets(o.topic);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = ends.some((e) => BigInt(e.high) > (position.get(e.partition) ?? BigInt(e.low)));
      if (!behind) return;
      if (Date.now() > deadline) throw raise('INDEX_BEHIND', `the in-memory copy of ${o.topic} did not catch up in time`);
      await sleep(5);
    }
  }

  return {
    catchUp,
    async start(timeoutMs = 120_000) {
      await admin.connect();
      exitOnFatalCrash(consumer, o.log, `reader of ${o.topic}`);
      await consumer.connect();
      await consumer.subscribe({ topic: o.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          try {
            if (message.value) o.apply(await o.serde.decode<T>(o.topic, message.value), message);
          } catch (err) {
            o.log.error({ topic: o.topic, partition, offset: message.offset, err: errorMessage(err) }, 'unreadable record skipped');
          }
          position.set(partition, BigInt(message.offset) + 1n);
        },
      });
      await catchUp(timeoutMs);
    },
    async stop() {
      await consumer.disconnect();
      await admin.disconnect();
    },
  };
}

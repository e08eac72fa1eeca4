/**
 * Counts the bytes arriving on the hub's topics (Kafka's admin API has no sizes), for
 * bytes/s: a private reader from the end of every topic that decodes nothing and never
 * commits. Followed topics are re-read when the set changes (a new DLQ).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../../libs/log/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';

export interface TailReader {
  bytesSeen(): ReadonlyMap<string, number>;
  follow(topics: string[]): Promise<void>;
  stop(): Promise<void>;
}

export function createTailReader(o: { kafka: Kafka; groupPrefix: string; log: Logger }): TailReader {
  const seen = new Map<string, number>();
  let consumer: Consumer | null = null;
  let following = '';
  let busy: Promise<void> = Promise.resolve();

  async function restart(topics: string[]) {
    if (consumer) await consumer.disconnect().catch(() => undefined);
    consumer = null;
    if (topics.length === 0) return;
    const c = o.kafka.consumer({ groupId: `${o.groupPrefix}ops.tail.${randomUUID()}`, sessionTimeout: 30_000, heartbeatInterval: 3000, allowAutoTopicCreation: false });
    await c.connect();
    for (const topic of topics) await c.subscribe({ topic, fromBeginning: false });
    await c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let n = 0;
        for (const m of batch.messages) {
          n += (m.key?.length ?? 0) + (m.value?.length ?? 0);
          for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + (Buffer.isBuffer(v) ? v.length : String(v ?? '').length);
        }
        const key = `${batch.topic}:${batch.partition}`;
        seen.set(key, (seen.get(key) ?? 0) + n);
      },
    });
    consumer = c;
  }

  return {
    bytesSeen: () => seen,
    follow(topics) {
      const wanted = [...topics].sort().join(',');
      if (wanted === following) return busy;
      following = wanted;
      busy = busy.then(() => restart(topics)).catch((err: unknown) => {
        following = '';
        o.log.warn({ err: errorMessage(err) }, 'tail reader could not follow the topics; retrying at the next sample');
      });
      return busy;
    },
    async stop() {
      await busy;
      if (consumer) await consumer.disconnect().catch(() => undefined);
    },
  };
}

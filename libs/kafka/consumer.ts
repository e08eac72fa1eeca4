import type { Kafka, Consumer, KafkaMessage, IHeaders } from 'kafkajs';
import type { Logger } from '../log/index.ts';
import type { EventBus } from './producer.ts';
import type { AvroSerde } from './serde.ts';
import { parkOnDlq } from './dlq.ts';
import { exitOnFatalCrash } from './fatal.ts';
import { HubError, isRetriable, errorMessage } from '../errors/index.ts';

export interface ConsumedMessage<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  timestamp: number;
  value: T;
}

export type MessageHandler<T> = (message: ConsumedMessage<T>) => Promise<void>;

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Attempts for errors of unknown nature before the message is parked on the DLQ. */
  poisonAttempts: number;
}

export const defaultRetryPolicy: RetryPolicy = { initialDelayMs: 100, maxDelayMs: 30_000, poisonAttempts: 3 };

export interface ConsumerRunnerOptions<T> {
  kafka: Kafka;
  serde: AvroSerde;
  bus: EventBus;
  log: Logger;
  group: string;
  topics: string[];
  dlqTopic: string;
  handler: MessageHandler<T>;
  fromBeginning?: boolean;
  retry?: RetryPolicy;
  partitionsConsumedConcurrently?: number;
  /** How long a silent (crashed) member keeps its partitions before the group moves them. */
  sessionTimeoutMs?: number;
}

export interface ConsumerRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

/**
 * Runs a consumer group whose offsets move only past messages whose effect is done:
 * an offset is resolved after the handler resolved (its effect is durable), and
 * committed from there. Retriable errors (store, broker, registry down) are retried
 * with capped backoff for as long as it takes; a message that cannot succeed
 * (undecodable, invalid, or failing `poisonAttempts` times) is parked on the group's
 * DLQ with its original key, headers and bytes plus the error, and the group goes on.
 */
export function createConsumerRunner<T>(o: ConsumerRunnerOptions<T>): ConsumerRunner {
  const retry = o.retry ?? defaultRetryPolicy;
  const log = o.log.child({ group: o.group });
  const consumer: Consumer = o.kafka.consumer({
    groupId: o.group,
    sessionTimeout: o.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 60_000,
    allowAutoTopicCreation: false,
  });
  let stopping = false;

  const park = (topic: string, partition: number, m: KafkaMessage, err: unknown) =>
    parkOnDlq({ bus: o.bus, dlqTopic: o.dlqTopic, group: o.group, log }, topic, partition, m, err);

  /**
   * 'done' once the message's effect is durable or the message is parked; 'abandoned'
   * when the consumer stops or loses the partition first (the message is redelivered).
   */
  async function handleOne(topic: string, partition: number, m: KafkaMessage, heartbeat: () => Promise<void>, active: () => boolean): Promise<'done' | 'abandoned'> {
    let attempt = 0;
    for (;;) {
      attempt += 1;
      try {
        const value = await o.serde.decode<T>(topic, m.value);
        await o.handler({
          topic, partition, offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          headers: headersToStrings(m.headers),
          timestamp: Number(m.timestamp),
          value,
        });
        return 'done';
      } catch (err) {
        const retriable = isRetriable(err);
        const known = err instanceof HubError;
        if (!retriable && (known || attempt >= retry.poisonAttempts)) {
          return (await parkWithRetry(topic, partition, m, err, heartbeat, active)) ? 'done' : 'abandoned';
        }
        if (!active()) return 'abandoned';
        const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.min(attempt - 1, 20));
        log.warn({ topic, partition, offset: m.offset, attempt, delayMs: delay, err: errorMessage(err) }, 'handler failed; retrying');
        await sleep(delay);
        await heartbeat().catch(() => undefined);
      }
    }
  }

  async function parkWithRetry(topic: string, partition: number, m: KafkaMessage, cause: unknown, heartbeat: () => Promise<void>, active: () => boolean): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await park(topic, partition, m, cause);
        return true;
      } catch (err) {
        if (!active()) return false;
        log.error({ attempt, err: errorMessage(err) }, 'cannot write to DLQ; retrying');
        await sleep(Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.min(attempt, 20)));
        await heartbeat().catch(() => undefined);
      }
    }
  }

  return {
    async start() {
      exitOnFatalCrash(consumer, log, o.group);
      await consumer.connect();
      for (const topic of o.topics) await consumer.subscribe({ topic, fromBeginning: o.fromBeginning ?? true });
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: 1000,
        autoCommitThreshold: 500,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
          const active = () => !stopping && isRunning() && !isStale();
          for (const m of batch.messages) {
            if (!active()) break;
            if ((await handleOne(batch.topic, batch.partition, m, heartbeat, active)) === 'abandoned') break;
            resolveOffset(m.offset);
            await commitOffsetsIfNecessary();
          }
          await heartbeat();
        },
      });
    },
    async stop() {
      stopping = true;
      await consumer.disconnect();
    },
  };
}

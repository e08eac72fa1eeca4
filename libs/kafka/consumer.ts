/**
 * The consumer runtime every service plugs its handlers into (as kafkajs runs
 * `eachMessage` or `eachBatch` over one runner): one consumer group on some topics,
 * in one of three modes, chosen by which handler is given.
 *
 * - `handler` (per message): the offset moves past a message once its handler
 *   resolved; retriable errors are retried with capped backoff while the partition is
 *   ours, unknown ones `retry.poisonAttempts` times, then the message is parked on the
 *   group's DLQ; a HubError no retry fixes is parked at once (each-message.ts).
 * - `eachBatch` (per batch): one handler call per fetched batch returns each message's
 *   outputs; all are published before any offset of the batch moves; a message whose
 *   outputs cannot be published even alone is parked, the rest go on (each-batch.ts).
 * - `outOfOrder` (manual offsets): work started per message finishes later, out of
 *   order; a partition commits up to its oldest unfinished message; a partition read
 *   again after an assignment is folded first (restore); lost partitions are reported
 *   (out-of-order.ts).
 *
 * Every mode: at-least-once (an offset is committed only past work that is durable or
 * parked), one retry policy (consume-message.ts), DLQ `<group>.dlq` with `dlq.*` headers
 * (dlq.ts), and a consumer kafkajs stops for good exits its process (fatal.ts).
 */
import type { Consumer, ConsumerRunConfig, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../log/index.ts';
import type { EventBus } from './producer.ts';
import type { AvroSerde } from './serde.ts';
import { exitOnFatalCrash } from './fatal.ts';
import { defaultRetryPolicy, type ConsumerContext, type RetryPolicy } from './consume-message.ts';
import { eachMessageMode, type MessageHandler } from './each-message.ts';
import { eachBatchMode, type BatchMode } from './each-batch.ts';
import { outOfOrderMode, type OutOfOrderMode } from './out-of-order.ts';

export type { ConsumedMessage, MessageMeta, RetryPolicy } from './consume-message.ts';
export { defaultRetryPolicy } from './consume-message.ts';
export type { MessageHandler } from './each-message.ts';
export type { BatchMode, BatchOutput } from './each-batch.ts';
export type { OutOfOrderMode, Restorer, TopicPartition, Work, WorkDone } from './out-of-order.ts';

interface ConsumerCommonOptions {
  kafka: Kafka;
  serde: AvroSerde;
  bus: EventBus;
  log: Logger;
  /** Physical group id; its DLQ is `dlqTopic`. */
  group: string;
  topics: string[];
  dlqTopic: string;
  fromBeginning?: boolean;
  retry?: RetryPolicy;
  partitionsConsumedConcurrently?: number;
  /** How long a silent (crashed) member keeps its partitions before the group moves them. */
  sessionTimeoutMs?: number;
}

export type ConsumerRunnerOptions<T, C = void> = ConsumerCommonOptions & (
  | { handler: MessageHandler<T>; eachBatch?: never; outOfOrder?: never }
  | { eachBatch: BatchMode<T>; handler?: never; outOfOrder?: never }
  | { outOfOrder: OutOfOrderMode<T, C>; handler?: never; eachBatch?: never }
);

export interface ConsumerRunner {
  start(): Promise<void>;
  /** Takes no more messages, lets the mode drain, commits what finished, leaves the group. */
  stop(): Promise<void>;
}

/** What a mode gives the runner (internal). */
export interface ModeDriver {
  run: Pick<ConsumerRunConfig, 'autoCommit' | 'autoCommitInterval' | 'autoCommitThreshold'>;
  /** `active`: false once the runner stops or the batch's partition is no longer ours. */
  eachBatch(payload: EachBatchPayload, active: () => boolean): Promise<void>;
  /** After connecting, before subscribing. */
  start?(consumer: Consumer): Promise<void>;
  /** After the runner stopped taking messages, before the consumer disconnects. */
  stop?(): Promise<void>;
  /** After the consumer disconnected. */
  close?(): Promise<void>;
}

export function createConsumerRunner<T, C = void>(o: ConsumerRunnerOptions<T, C>): ConsumerRunner {
  const stopped = new AbortController();
  const log = o.log.child({ group: o.group });
  const c: ConsumerContext = { serde: o.serde, bus: o.bus, log, group: o.group, dlqTopic: o.dlqTopic, retry: o.retry ?? defaultRetryPolicy, signal: stopped.signal };
  const mode: ModeDriver = o.handler ? eachMessageMode(c, o.handler)
    : o.eachBatch ? eachBatchMode(c, o.eachBatch)
      : outOfOrderMode(c, o.outOfOrder!, o.kafka);
  const consumer: Consumer = o.kafka.consumer({
    groupId: o.group,
    sessionTimeout: o.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 60_000,
    allowAutoTopicCreation: false,
  });

  return {
    async start() {
      exitOnFatalCrash(consumer, log, o.group);
      await consumer.connect();
      await mode.start?.(consumer);
      for (const topic of o.topics) await consumer.subscribe({ topic, fromBeginning: o.fromBeginning ?? true });
      await consumer.run({
        ...mode.run,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 1,
        eachBatch: (p) => mode.eachBatch(p, () => !stopped.signal.aborted && p.isRunning() && !p.isStale()),
      });
    },
    async stop() {
      stopped.abort();
      await mode.stop?.();
      await consumer.disconnect();
      await mode.close?.();
    },
  };
}

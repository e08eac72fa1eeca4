/**
 * What every consumer mode shares: a message as handlers see it, one retry policy for
 * a message's work, and parking on the group's DLQ. Retriable errors (store, broker or
 * registry away) are retried with capped backoff for as long as the partition is ours;
 * an error of unknown nature `poisonAttempts` times; a HubError no retry fixes, or an
 * unknown one past its attempts, parks the message (original key, headers and bytes).
 */
import type { KafkaMessage, IHeaders } from 'kafkajs';
import type { Logger } from '../log/index.ts';
import type { EventBus } from './producer.ts';
import type { AvroSerde } from './serde.ts';
import { parkOnDlq } from './dlq.ts';
import { HubError, isRetriable, errorMessage } from '../errors/index.ts';
import { retry, RetryAbandoned, type RetryOptions } from '../time/retry.ts';

/** A consumed message without its value: what a mode knows before decoding. */
export interface MessageMeta {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface ConsumedMessage<T> extends MessageMeta {
  value: T;
}

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Attempts for errors of unknown nature before the message is parked on the DLQ. */
  poisonAttempts: number;
}

export const defaultRetryPolicy: RetryPolicy = { initialDelayMs: 100, maxDelayMs: 30_000, poisonAttempts: 3 };

/** The runner's own: shared by its modes. */
export interface ConsumerContext {
  serde: AvroSerde;
  bus: EventBus;
  log: Logger;
  group: string;
  dlqTopic: string;
  retry: RetryPolicy;
  /** Aborted when the runner stops. */
  signal: AbortSignal;
}

/** One fetched batch's hold on its partition. */
export interface BatchHold {
  /** False once the runner stops or the partition moved to another member. */
  active(): boolean;
  heartbeat(): Promise<void>;
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

export function metaOf(topic: string, partition: number, m: KafkaMessage): MessageMeta {
  return { topic, partition, offset: m.offset, key: m.key ? m.key.toString('utf8') : null, headers: headersToStrings(m.headers), timestamp: Number(m.timestamp) };
}

export const decodeMessage = async <T>(c: ConsumerContext, topic: string, partition: number, m: KafkaMessage): Promise<ConsumedMessage<T>> =>
  ({ ...metaOf(topic, partition, m), value: await c.serde.decode<T>(topic, m.value) });

/** The policy above as retry options: retriable errors always, unknown ones up to `poisonAttempts`. */
export function messageRetry(c: ConsumerContext, hold: BatchHold, what: string, fields: Record<string, unknown>): RetryOptions {
  return {
    backoff: { initialMs: c.retry.initialDelayMs, maxMs: c.retry.maxDelayMs },
    again: (err, attempt) => isRetriable(err) || (!(err instanceof HubError) && attempt < c.retry.poisonAttempts),
    active: hold.active,
    signal: c.signal,
    onRetry: (err, attempt, delayMs) => c.log.warn({ ...fields, attempt, delayMs, err: errorMessage(err) }, `${what} failed; retrying`),
  };
}

/**
 * The group no longer counts this member (its session expired during a long batch, or a
 * rebalance moved on): retrying the batch cannot succeed, and kafkajs rejoins only when
 * the error reaches it.
 */
export function membershipLost(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return type === 'UNKNOWN_MEMBER_ID' || type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'NOT_COORDINATOR_FOR_GROUP';
}

/** Before an attempt after a wait: the group hears from this member (kafkajs heartbeats only when asked). */
export async function heartbeatAfterWait(hold: BatchHold, attempt: number): Promise<void> {
  if (attempt > 1) await hold.heartbeat().catch(() => undefined);
}

/** Parks a message, retrying a DLQ that does not answer while the partition is ours; false when given up. */
export async function parkDurably(c: ConsumerContext, hold: BatchHold, topic: string, partition: number, m: KafkaMessage, cause: unknown): Promise<boolean> {
  try {
    await retry(async (attempt) => {
      await heartbeatAfterWait(hold, attempt);
      await parkOnDlq({ bus: c.bus, dlqTopic: c.dlqTopic, group: c.group, log: c.log }, topic, partition, m, cause);
    }, {
      backoff: { initialMs: c.retry.initialDelayMs, maxMs: c.retry.maxDelayMs },
      active: hold.active,
      signal: c.signal,
      onRetry: (err, attempt) => c.log.error({ attempt, err: errorMessage(err) }, 'cannot write to DLQ; retrying'),
    });
    return true;
  } catch (err) {
    if (err instanceof RetryAbandoned) return false;
    throw err;
  }
}

/**
 * Decodes a message and hands it to `handle` under the policy above. `done` with what
 * `handle` returned, `parked` when it cannot succeed, `abandoned` when the runner
 * stopped or lost the partition first (the message is delivered again).
 */
export async function handleMessage<T, R>(c: ConsumerContext, hold: BatchHold, topic: string, partition: number, m: KafkaMessage, handle: (message: ConsumedMessage<T>) => Promise<R>): Promise<{ done: R } | 'parked' | 'abandoned'> {
  try {
    const decodeAndHandle = async (attempt: number) => {
      await heartbeatAfterWait(hold, attempt);
      return handle(await decodeMessage<T>(c, topic, partition, m));
    };
    return { done: await retry(decodeAndHandle, messageRetry(c, hold, 'handler', { topic, partition, offset: m.offset })) };
  } catch (err) {
    if (err instanceof RetryAbandoned) return 'abandoned';
    return (await parkDurably(c, hold, topic, partition, m, err)) ? 'parked' : 'abandoned';
  }
}

import kafkajs, { type Kafka, type Producer, type Message } from 'kafkajs';
import { kafkaSendError } from './errors.ts';
import type { AvroSerde } from './serde.ts';
import { HubError } from '../errors/index.ts';
import { createProduceLimits, splitIntoRequests, type ProduceLimits } from './produce-limits.ts';

export interface OutgoingEvent {
  /** Partition key: the entity the event is about (order holds per key). */
  key: string;
  value: unknown;
  headers?: Record<string, string>;
}

export interface RawMessage {
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, string | Buffer>;
}

/** The one way services emit events; resolved only once every broker acknowledged (acks=all). */
export interface EventBus {
  publish(topic: string, events: readonly OutgoingEvent[]): Promise<void>;
  publishRaw(topic: string, messages: readonly RawMessage[]): Promise<void>;
}

export interface KafkaEventBus extends EventBus {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * An idempotent producer (acks=all, no duplicates on internal retries) that encodes
 * values with the topic's Avro schema and cuts every call into requests the topic
 * takes (produce-limits.ts), sent in order. A failure is KAFKA_UNAVAILABLE (retriable:
 * the caller has not been told "done", so it may send the same events again; some
 * may then be on the topic twice, which consumers' idempotence absorbs), or a refusal
 * no retry fixes (too large, invalid, not authorized), raised with its own code.
 */
export function createEventBus(kafka: Kafka, serde: AvroSerde, options: { transactionalId?: string; limits?: ProduceLimits } = {}): KafkaEventBus {
  const limits = options.limits ?? createProduceLimits(kafka);
  const producer: Producer = kafka.producer({
    // Java-compatible murmur2: other clients put the same key on the same partition.
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(options.transactionalId ? { transactionalId: options.transactionalId } : {}),
  });

  /** Sends in requests the topic takes; returns how many messages were acknowledged before a failure. */
  async function sendInRequests(topic: string, messages: Message[]): Promise<{ sent: number; error?: HubError }> {
    const requests = splitIntoRequests(topic, messages, await limits.maxRequestBytes(topic), limits.maxRequestMessages);
    let sent = 0;
    for (const request of requests) {
      try {
        await producer.send({ topic, messages: request, acks: -1 });
      } catch (err) {
        return { sent, error: kafkaSendError(err, `${request.length} message(s) on ${topic}`) };
      }
      sent += request.length;
    }
    return { sent };
  }

  async function send(topic: string, messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    const first = await sendInRequests(topic, messages);
    if (!first.error) return;
    // The broker refused a batch sized for its limit: the limit changed. Read it again, once.
    if (first.error.code !== 'KAFKA_MESSAGE_TOO_LARGE') throw first.error;
    limits.forget(topic);
    const second = await sendInRequests(topic, messages.slice(first.sent));
    if (second.error) throw second.error;
  }

  return {
    connect: () => producer.connect(),
    async disconnect() {
      await limits.close();
      await producer.disconnect();
    },
    async publish(topic, events) {
      // Encode everything first: an invalid value fails the whole call before anything is sent.
      const messages = events.map((e) => ({ key: e.key, value: serde.encode(topic, e.value), headers: e.headers }));
      await send(topic, messages);
    },
    async publishRaw(topic, messages) {
      await send(topic, messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })));
    },
  };
}

export function isKafkaUnavailable(err: unknown): boolean {
  return err instanceof HubError && err.code === 'KAFKA_UNAVAILABLE';
}

import kafkajs, { type Kafka, type Producer, type Message } from 'kafkajs';
import { raiseKafka } from './errors.ts';
import type { AvroSerde } from './serde.ts';
import { errorMessage, HubError } from '../errors/index.ts';

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
 * values with the topic's Avro schema. A failure is a retriable KAFKA_UNAVAILABLE:
 * the caller has not been told "done", so it may safely send the same events again.
 */
export function createEventBus(kafka: Kafka, serde: AvroSerde, options: { transactionalId?: string } = {}): KafkaEventBus {
  const producer: Producer = kafka.producer({
    // Java-compatible murmur2: other clients put the same key on the same partition.
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(options.transactionalId ? { transactionalId: options.transactionalId } : {}),
  });

  async function send(topic: string, messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await producer.send({ topic, messages, acks: -1 });
    } catch (err) {
      throw raiseKafka('KAFKA_UNAVAILABLE', `kafka did not acknowledge ${messages.length} message(s) on ${topic}: ${errorMessage(err)}`, { cause: err });
    }
  }

  return {
    connect: () => producer.connect(),
    disconnect: () => producer.disconnect(),
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

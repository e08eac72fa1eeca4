import type { Kafka } from 'kafkajs';
import type { BaseConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { createKafka } from './client.ts';
import { ensureTopics } from './admin.ts';
import { createEventBus, type KafkaEventBus } from './producer.ts';
import { AvroSerde } from './serde.ts';
import { dlqTopic, physicalName, topics, type TopicSpec } from './topics.ts';
import type { ConsumerRunnerOptions } from './consumer.ts';

/** What every consumer of a service is given alike: the runtime's clients, its group's physical id and DLQ. */
export type ConsumerBase = Pick<ConsumerRunnerOptions<unknown>, 'kafka' | 'serde' | 'bus' | 'log' | 'group' | 'dlqTopic'>;

export interface KafkaRuntime {
  kafka: Kafka;
  serde: AvroSerde;
  bus: KafkaEventBus;
  /** Physical topic name of a catalogue entry (applies the configured prefix). */
  topic(spec: TopicSpec | string): string;
  /** Physical consumer group id: hubs sharing a cluster under different prefixes never share a group. */
  group(name: string): string;
  /** The options of a consumer in group `name` (a logical name, as in `groups`) that are the same for every service. */
  consumer(name: string, log: Logger): ConsumerBase;
  close(): Promise<void>;
}

/**
 * What every service does first: create the catalogue's missing topics (and the DLQs
 * of its own groups), register every schema, connect the producer.
 */
export async function startKafkaRuntime(config: BaseConfig, log: Logger, options: { groups?: string[] } = {}): Promise<KafkaRuntime> {
  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId, log });
  const catalogue: TopicSpec[] = [...Object.values(topics), ...(options.groups ?? []).map(dlqTopic)];
  const created = await ensureTopics(kafka, catalogue, {
    prefix: config.topicPrefix,
    partitions: config.topicPartitions,
    replicationFactor: config.topicReplicationFactor,
  });
  if (created.length > 0) log.info({ topics: created }, 'created topics');
  const serde = AvroSerde.connect(config.schemaRegistryUrl);
  await serde.registerTopics(Object.values(topics), config.topicPrefix);
  const bus = createEventBus(kafka, serde);
  await bus.connect();
  return {
    kafka,
    serde,
    bus,
    topic: (spec) => physicalName(config.topicPrefix, spec),
    group: (name) => `${config.topicPrefix}${name}`,
    consumer: (name, consumerLog) => ({
      kafka, serde, bus, log: consumerLog, group: `${config.topicPrefix}${name}`, dlqTopic: physicalName(config.topicPrefix, dlqTopic(name)),
    }),
    close: () => bus.disconnect(),
  };
}

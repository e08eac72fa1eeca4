import type { Kafka } from 'kafkajs';
import type { BaseConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { createKafka } from './client.ts';
import { ensureTopics } from './admin.ts';
import { createEventBus, type KafkaEventBus } from './producer.ts';
import { AvroSerde } from './serde.ts';
import { dlqTopic, physicalName, topics, type TopicSpec } from './topics.ts';

export interface KafkaRuntime {
  kafka: Kafka;
  serde: AvroSerde;
  bus: KafkaEventBus;
  /** Physical topic name of a catalogue entry (applies the configured prefix). */
  topic(spec: TopicSpec | string): string;
  /** Physical consumer group id: hubs sharing a cluster under different prefixes never share a group. */
  group(name: string): string;
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
    close: () => bus.disconnect(),
  };
}

import type { Kafka } from 'kafkajs';
import { physicalName, type TopicSpec } from './topics.ts';

export interface TopicDefaults {
  prefix: string;
  partitions: number;
  replicationFactor: number;
}

/**
 * Creates the missing topics of the catalogue; existing ones are left as they are
 * (partition counts only grow by an operator's decision). Safe to call from every
 * service at start, concurrently.
 */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[], d: TopicDefaults): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(physicalName(d.prefix, s)));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: physicalName(d.prefix, s),
        numPartitions: s.partitions ?? d.partitions,
        replicationFactor: d.replicationFactor,
        configEntries: [
          { name: 'cleanup.policy', value: s.compacted ? 'compact' : 'delete' },
          ...(s.compacted ? [] : [{ name: 'retention.ms', value: String(s.retentionMs) }]),
          { name: 'min.insync.replicas', value: String(Math.min(2, d.replicationFactor)) },
        ],
      })),
    });
    return missing.map((s) => physicalName(d.prefix, s));
  } catch (err) {
    // Another service created them between our list and create: that is the goal.
    if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return [];
    throw err;
  } finally {
    await admin.disconnect();
  }
}

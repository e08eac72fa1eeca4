import type { Kafka } from 'kafkajs';
import { physicalName, type TopicSpec } from './topics.ts';
import { retry } from '../time/retry.ts';

export interface TopicDefaults {
  prefix: string;
  partitions: number;
  replicationFactor: number;
}

const ATTEMPTS = 8;

/**
 * Creates the missing topics of the catalogue; existing ones are left as they are
 * (partition counts only grow by an operator's decision). Safe to call from every
 * service at start, concurrently. A broker that has just started can answer a new
 * topic's metadata with UNKNOWN_TOPIC_OR_PARTITION for a moment, and kafkajs gives up
 * on it: retriable answers are tried again, re-reading what exists.
 */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[], d: TopicDefaults): Promise<string[]> {
  let created: string[] | null = null;
  return retry(async () => {
    try {
      const now = await createMissing(kafka, specs, d);
      // What this call created: what was missing at its first attempt.
      created ??= now;
      return created;
    } catch (err) {
      created ??= (err as { missing?: string[] }).missing ?? null;
      throw err;
    }
  }, {
    backoff: { initialMs: 200, maxMs: 12_800 },
    again: (err, attempt) => attempt < ATTEMPTS && (err as { retriable?: boolean }).retriable === true,
  });
}

async function createMissing(kafka: Kafka, specs: readonly TopicSpec[], d: TopicDefaults): Promise<string[]> {
  let missingNames: string[] = [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(physicalName(d.prefix, s)));
    if (missing.length === 0) return [];
    missingNames = missing.map((s) => physicalName(d.prefix, s));
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
    return missingNames;
  } catch (err) {
    // Another service created them between our list and create: that is the goal.
    if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return [];
    throw Object.assign(err as object, { missing: missingNames });
  } finally {
    await admin.disconnect();
  }
}

import type { Admin } from 'kafkajs';

/**
 * Messages parked on each consumer group's DLQ (`<prefix><group>.dlq`), from the
 * topics' offsets: what operators alert on, whichever service parked them.
 */
export async function dlqDepths(admin: Admin, prefix: string): Promise<Map<string, number>> {
  const dlqs = (await admin.listTopics()).filter((t) => t.startsWith(prefix) && t.endsWith('.dlq'));
  const depths = new Map<string, number>();
  for (const topic of dlqs) {
    const offsets = await admin.fetchTopicOffsets(topic);
    depths.set(topic.slice(prefix.length, -'.dlq'.length), offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0));
  }
  return depths;
}

/**
 * Poison for the poison scenario: on every topic the hub consumes, three messages no
 * consumer can take (bytes without the schema registry's framing, a frame naming a
 * schema that does not exist, and a well-framed record of another topic's type), each
 * marked with a `poison-id` header. Each must land on the DLQ of every group consuming
 * its topic, with its reason, while the load goes on. hub.workflows and sync.connections
 * are followed (read in full by every replica, without a group): there the poison is
 * skipped and logged.
 */
import { randomBytes } from 'node:crypto';
import type { E2EHub } from '../support/e2e-hub.ts';
import { testLogger, eventually } from '../support/env.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { dlqTopic, topics } from '../../libs/kafka/topics.ts';
import { consumerGroups } from '../../libs/kafka/groups.ts';

/**
 * Which groups consume each topic (a DLQ copy is expected per group); the compacted
 * topics are followed without a group.
 */
const groupsOf: Record<string, string[]> = { [topics.workflows.name]: [], [topics.syncConnections.name]: [] };
for (const [group, keys] of Object.entries(consumerGroups)) {
  for (const key of keys) groupsOf[topics[key].name] = [...groupsOf[topics[key].name] ?? [], group];
}

export interface PoisonReport {
  injected: number;
  expectedParked: number;
  parked: number;
  /** dlq.error.code → how many. */
  codes: Record<string, number>;
  /** Expected copies not found on a DLQ, as `<group>:<poison-id>`. */
  missing: string[];
  /** Waits for the DLQs to hold every expected copy (or gives up after a minute) and reads them. */
  check(): Promise<PoisonReport>;
}

/** The first message of a topic, as bytes. */
async function firstMessage(runtime: KafkaRuntime, topic: string): Promise<Buffer> {
  const consumer = runtime.kafka.consumer({ groupId: `poison-sample-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message on ${topic}`)), 30_000);
      void consumer.run({ eachMessage: async ({ message }) => { if (message.value) { clearTimeout(timer); resolve(message.value); } } });
    });
  } finally {
    await consumer.disconnect();
  }
}

async function readDlq(runtime: KafkaRuntime, group: string): Promise<{ poisonId: string; code: string }[]> {
  const topic = runtime.topic(dlqTopic(group));
  const admin = runtime.kafka.admin();
  await admin.connect();
  const high = (await admin.fetchTopicOffsets(topic).catch(() => [])).reduce((s, p) => s + Number(p.high), 0);
  await admin.disconnect();
  if (high === 0) return [];
  const out: { poisonId: string; code: string }[] = [];
  const consumer = runtime.kafka.consumer({ groupId: `poison-check-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 20_000);
    let seen = 0;
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen += 1;
        const h = message.headers ?? {};
        out.push({ poisonId: String(h['poison-id'] ?? ''), code: String(h['dlq.error.code'] ?? '') });
        if (seen >= high) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

export async function injectPoison(hub: E2EHub): Promise<PoisonReport> {
  const runtime = await startKafkaRuntime(hub.config, testLogger('poison'));
  const names = Object.keys(groupsOf);
  // A record of another topic's type: a webhook delivery on crm.records, a record change elsewhere.
  const recordChange = await firstMessage(runtime, runtime.topic(topics.records.name));
  const delivery = await firstMessage(runtime, runtime.topic(topics.webhooks.name));
  const expected: string[] = [];
  let injected = 0;
  for (const name of names) {
    const unknownSchema = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), randomBytes(32)]);
    const otherType = name === topics.records.name ? delivery : recordChange;
    const poison = [
      { id: `${name}:unframed`, value: randomBytes(48).fill(0x7b, 0, 1) },
      { id: `${name}:unknown-schema`, value: unknownSchema },
      { id: `${name}:other-type`, value: otherType },
    ];
    await runtime.bus.publishRaw(runtime.topic(name), poison.map((p) => ({ key: `poison-${p.id}`, value: p.value, headers: { 'poison-id': p.id } })));
    injected += poison.length;
    for (const group of groupsOf[name]!) for (const p of poison) expected.push(`${group}:${p.id}`);
  }
  await runtime.close();

  const report: PoisonReport = {
    injected, expectedParked: expected.length, parked: 0, codes: {}, missing: expected,
    async check() {
      const reader = await startKafkaRuntime(hub.config, testLogger('poison-check'));
      try {
        const found = new Set<string>();
        await eventually('every poison message on its DLQs', async () => {
          found.clear();
          report.codes = {};
          for (const group of new Set(Object.values(groupsOf).flat())) {
            for (const m of await readDlq(reader, group)) {
              if (!m.poisonId) continue;
              found.add(`${group}:${m.poisonId}`);
              report.codes[m.code] = (report.codes[m.code] ?? 0) + 1;
            }
          }
          return expected.every((e) => found.has(e));
        }, 60_000, 2000).catch(() => undefined);
        report.parked = expected.filter((e) => found.has(e)).length;
        report.missing = expected.filter((e) => !found.has(e));
        return report;
      } finally {
        await reader.close();
      }
    },
  };
  return report;
}

/**
 * Proves kafkajs works fully with the Kafka line the stack runs: admin topic
 * creation, a compacted topic, keys and headers, consumer groups with rebalancing,
 * committed offsets.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs, { type Kafka, type Consumer } from 'kafkajs';
import { createKafka } from '../../libs/kafka/client.ts';
import { ensureTopics } from '../../libs/kafka/admin.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';

const { ConfigResourceTypes } = kafkajs; // CommonJS: not a named ESM export
const config = isolatedConfig('broker');
const log = testLogger('broker-test');
let kafka: Kafka;
const consumers: Consumer[] = [];

before(() => {
  kafka = createKafka({ brokers: config.kafkaBrokers, clientId: 'broker-test', log });
});
after(async () => {
  await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
});

const t = (name: string) => `${config.topicPrefix}${name}`;

test('admin creates topics idempotently, with partitions and a compacted cleanup policy', async () => {
  const specs = [
    { name: 'plain', schema: null, compacted: false, retentionMs: 60_000 },
    { name: 'compacted', schema: null, compacted: true, retentionMs: -1 },
  ];
  const created = await ensureTopics(kafka, specs, { prefix: config.topicPrefix, partitions: 3, replicationFactor: 1 });
  assert.deepEqual(created.sort(), [t('compacted'), t('plain')]);
  assert.deepEqual(await ensureTopics(kafka, specs, { prefix: config.topicPrefix, partitions: 3, replicationFactor: 1 }), []);

  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [t('plain')] });
    assert.equal(meta.topics[0]?.partitions.length, 3);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: t('compacted'), configNames: ['cleanup.policy'] },
        { type: ConfigResourceTypes.TOPIC, name: t('plain'), configNames: ['cleanup.policy', 'retention.ms'] },
      ],
    });
    const byTopic = Object.fromEntries(configs.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]));
    assert.equal(byTopic[t('compacted')]?.['cleanup.policy'], 'compact');
    assert.equal(byTopic[t('plain')]?.['cleanup.policy'], 'delete');
    assert.equal(byTopic[t('plain')]?.['retention.ms'], '60000');
  } finally {
    await admin.disconnect();
  }
});

test('produce with keys and headers (acks=all, idempotent) and consume them back intact', async () => {
  await ensureTopics(kafka, [{ name: 'headers', schema: null, compacted: false, retentionMs: 60_000 }], { prefix: config.topicPrefix, partitions: 1, replicationFactor: 1 });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: t('headers'), acks: -1,
    messages: [
      { key: 'k1', value: 'v1', headers: { 'hub.event-id': 'e1', binary: Buffer.from([0, 1, 2]) } },
      { key: 'k2', value: 'v2', headers: { 'hub.event-id': 'e2' } },
    ],
  });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${config.topicPrefix}headers` });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: t('headers'), fromBeginning: true });
  const seen: { key: string; value: string; id: string; binary?: Buffer }[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push({
        key: String(message.key), value: String(message.value), id: String(message.headers?.['hub.event-id']),
        ...(message.headers?.binary ? { binary: message.headers.binary as Buffer } : {}),
      });
    },
  });
  await eventually('two messages', async () => seen.length >= 2);
  assert.deepEqual(seen.map((s) => [s.key, s.value, s.id]), [['k1', 'v1', 'e1'], ['k2', 'v2', 'e2']]);
  assert.deepEqual([...(seen[0]?.binary ?? [])], [0, 1, 2]);
});

test('a compacted topic keeps the latest value per key for readers from the beginning', async () => {
  await ensureTopics(kafka, [{ name: 'latest', schema: null, compacted: true, retentionMs: -1 }], { prefix: config.topicPrefix, partitions: 1, replicationFactor: 1 });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: t('latest'), acks: -1, messages: [{ key: 'wf1', value: 'v1' }, { key: 'wf1', value: 'v2' }, { key: 'wf2', value: 'x' }, { key: 'wf2', value: null }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `${config.topicPrefix}latest` });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: t('latest'), fromBeginning: true });
  const latest = new Map<string, string | null>();
  let count = 0;
  await consumer.run({ eachMessage: async ({ message }) => { count++; latest.set(String(message.key), message.value ? String(message.value) : null); } });
  await eventually('four messages', async () => count >= 4);
  // Compaction runs in the background; what a reader rebuilds must be the latest state either way.
  assert.equal(latest.get('wf1'), 'v2');
  assert.equal(latest.get('wf2'), null, 'a tombstone (null value) deletes the key');
});

test('a consumer group rebalances: a second member takes partitions, all messages are consumed once, and offsets are committed', async () => {
  await ensureTopics(kafka, [{ name: 'group', schema: null, compacted: false, retentionMs: 60_000 }], { prefix: config.topicPrefix, partitions: 3, replicationFactor: 1 });
  const groupId = `${config.topicPrefix}group`;
  const seen = new Map<string, string[]>();
  const assignments = new Map<string, number[]>();
  const member = async (name: string) => {
    const c = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
    consumers.push(c);
    c.on(c.events.GROUP_JOIN, (e) => { assignments.set(name, e.payload.memberAssignment[t('group')] ?? []); });
    await c.connect();
    await c.subscribe({ topic: t('group'), fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        const v = String(message.value);
        seen.set(v, [...(seen.get(v) ?? []), name]);
      },
    });
    return c;
  };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const send = (from: number, to: number) => producer.send({
    topic: t('group'), acks: -1,
    messages: Array.from({ length: to - from }, (_, i) => ({ key: `k${from + i}`, value: `m${from + i}` })),
  });

  await member('a');
  await eventually('a assigned', async () => (assignments.get('a')?.length ?? 0) === 3);
  await send(0, 100);
  await eventually('first 100', async () => seen.size >= 100);

  const b = await member('b');
  await eventually('rebalanced across two members', async () => (assignments.get('b')?.length ?? 0) > 0 && (assignments.get('a')?.length ?? 0) > 0 && (assignments.get('a')!.length + assignments.get('b')!.length === 3));
  await send(100, 200);
  await eventually('next 100', async () => seen.size >= 200);

  await b.disconnect();
  await eventually('a takes every partition back', async () => (assignments.get('a')?.length ?? 0) === 3, 30_000);
  await send(200, 300);
  await eventually('last 100', async () => seen.size >= 300);

  await producer.disconnect();
  const consumedBy = new Set([...seen.values()].flat());
  assert.ok(consumedBy.has('a') && consumedBy.has('b'), 'both members consumed');
  const doubled = [...seen.entries()].filter(([, who]) => who.length > 1);
  assert.deepEqual(doubled, [], 'no message consumed twice during the rebalances');

  const admin = kafka.admin();
  await admin.connect();
  try {
    await eventually('offsets committed up to the end', async () => {
      const offsets = await admin.fetchOffsets({ groupId, topics: [t('group')] });
      const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
      return committed === 300;
    });
    const groups = await admin.listGroups();
    assert.ok(groups.groups.some((g) => g.groupId === groupId));
  } finally {
    await admin.disconnect();
  }
});

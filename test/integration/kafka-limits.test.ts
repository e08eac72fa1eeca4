/**
 * Produce requests bounded by the topic's max.message.bytes (read from the cluster),
 * refusals classified as not retriable, and one refused source isolated from the rest
 * of its batch; on the real broker.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Admin, KafkaMessage } from 'kafkajs';
import kafkajs from 'kafkajs';
import { createKafka } from '../../libs/kafka/client.ts';
import { createEventBus, type KafkaEventBus } from '../../libs/kafka/producer.ts';
import { createBatchingBus } from '../../libs/kafka/batching-bus.ts';
import { publishIsolating } from '../../libs/kafka/publish-isolating.ts';
import { kafkaSendError } from '../../libs/kafka/errors.ts';
import { splitIntoRequests } from '../../libs/kafka/produce-limits.ts';
import { parkOnDlq } from '../../libs/kafka/dlq.ts';
import { AvroSerde } from '../../libs/kafka/serde.ts';
import { HubError } from '../../libs/errors/index.ts';
import { isolatedConfig, testLogger } from '../support/env.ts';

const config = isolatedConfig('kafka_limits');
const log = testLogger('kafka-limits');
const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: 'kafka-limits-test', log });
let admin: Admin;
let bus: KafkaEventBus;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  bus = createEventBus(kafka, AvroSerde.connect(config.schemaRegistryUrl));
  await bus.connect();
});
after(async () => {
  await bus.disconnect();
  await admin.disconnect();
});

async function topicWithLimit(maxMessageBytes: number, partitions = 1): Promise<string> {
  const topic = `${config.topicPrefix}limits.${randomBytes(4).toString('hex')}`;
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }] }] });
  return topic;
}

async function setLimit(topic: string, maxMessageBytes: number): Promise<void> {
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }] }] });
}

const size = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
const message = (i: number, bytes: number) => ({ key: 'same-key', value: Buffer.alloc(bytes, i % 251) });

test('a call far larger than the topic takes is sent in requests it takes, all of it, in order', async () => {
  const topic = await topicWithLimit(64 * 1024);
  // 500 KiB in one call: eight times the limit, which the broker would refuse as one batch.
  await bus.publishRaw(topic, Array.from({ length: 500 }, (_, i) => message(i, 1024)));
  assert.equal(await size(topic), 500);
  const consumer = kafka.consumer({ groupId: `limits-reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const firstBytes: number[] = [];
  await new Promise<void>((resolve) => {
    void consumer.run({ eachMessage: async ({ message: m }) => { firstBytes.push(m.value![0]!); if (firstBytes.length === 500) resolve(); } });
  });
  await consumer.disconnect();
  assert.deepEqual(firstBytes, Array.from({ length: 500 }, (_, i) => i % 251), 'in the order given');
});

test('requests are bounded by count as well as by bytes', () => {
  const many = Array.from({ length: 12_000 }, (_, i) => message(i, 10));
  assert.deepEqual(splitIntoRequests('t', many, 1024 * 1024, 5000).map((r) => r.length), [5000, 5000, 2000]);
  const big = Array.from({ length: 10 }, (_, i) => message(i, 3000));
  // 3000 bytes of value plus key and overhead: two fit in 8 KiB, a third does not.
  assert.deepEqual(splitIntoRequests('t', big, 8 * 1024, 5000).map((r) => r.length), [2, 2, 2, 2, 2]);
});

test('a message larger than the topic takes even alone: KAFKA_MESSAGE_TOO_LARGE, not retriable, nothing of the call sent', async () => {
  const topic = await topicWithLimit(32 * 1024);
  await assert.rejects(bus.publishRaw(topic, [message(1, 100), message(2, 40 * 1024), message(3, 100)]), (err: unknown) => {
    assert.ok(err instanceof HubError);
    assert.equal(err.code, 'KAFKA_MESSAGE_TOO_LARGE');
    assert.equal(err.retriable, false);
    assert.equal(err.status, 413);
    assert.match(err.message, /message 2 of 3/);
    return true;
  });
  assert.equal(await size(topic), 0);
});

test('the topic made smaller after the limit was read: the broker refuses, the limit is read again, the call passes', async () => {
  const topic = await topicWithLimit(64 * 1024);
  await bus.publishRaw(topic, [message(0, 1000)]);
  await setLimit(topic, 16 * 1024);
  await bus.publishRaw(topic, Array.from({ length: 40 }, (_, i) => message(i, 1000)));
  assert.equal(await size(topic), 41);
});

test('broker refusals keep their meaning: too large, invalid and unauthorized are not retriable; the rest is KAFKA_UNAVAILABLE', () => {
  // As kafkajs builds them from a broker's error code (protocol/error.js): {type, message, retriable}.
  const protocol = (type: string, retriable: boolean) => new kafkajs.KafkaJSProtocolError({ type, message: `broker says ${type}`, retriable, code: 0 } as unknown as string);
  // As kafkajs's retrier gives up on them (retry/index.js).
  const wrapped = (e: Error) => new (kafkajs.KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(e, { cause: e });
  const cases: [Error, string, boolean][] = [
    [wrapped(protocol('MESSAGE_TOO_LARGE', false)), 'KAFKA_MESSAGE_TOO_LARGE', false],
    [protocol('RECORD_LIST_TOO_LARGE', false), 'KAFKA_MESSAGE_TOO_LARGE', false],
    [wrapped(protocol('INVALID_RECORD', false)), 'KAFKA_RECORD_INVALID', false],
    [protocol('CORRUPT_MESSAGE', true), 'KAFKA_RECORD_INVALID', false],
    [wrapped(protocol('TOPIC_AUTHORIZATION_FAILED', false)), 'KAFKA_NOT_AUTHORIZED', false],
    [new kafkajs.KafkaJSNumberOfRetriesExceeded(protocol('NOT_LEADER_FOR_PARTITION', true), { retryCount: 5, retryTime: 1000 }), 'KAFKA_UNAVAILABLE', true],
    [new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), 'KAFKA_UNAVAILABLE', true],
    [new kafkajs.KafkaJSRequestTimeoutError('Request Produce timed out'), 'KAFKA_UNAVAILABLE', true],
  ];
  for (const [err, code, retriable] of cases) {
    const classified = kafkaSendError(err, '1 message(s) on t');
    assert.equal(classified.code, code, err.message);
    assert.equal(classified.retriable, retriable, err.message);
  }
});

test('publishIsolating: one source whose events cannot be published alone is returned; the others are published, in order', async () => {
  const topic = await topicWithLimit(32 * 1024);
  const refused = await publishIsolating(bus, topic, [
    { source: 'a', events: [] },
    { source: 'b', events: [] },
  ]);
  assert.deepEqual(refused, []);
  const raw = createRawBus(bus);
  const result = await publishIsolating(raw, topic, [
    { source: 'first', events: [{ key: 'k', value: 1000 }] },
    { source: 'huge', events: [{ key: 'k', value: 40 * 1024 }] },
    { source: 'last', events: [{ key: 'k', value: 1000 }, { key: 'k', value: 1000 }] },
  ]);
  assert.deepEqual(result.map((r) => [r.source, r.error.code]), [['huge', 'KAFKA_MESSAGE_TOO_LARGE']]);
  assert.equal(await size(topic), 3);
});

test('the batching bus fails only the caller whose own events are refused', async () => {
  const topic = await topicWithLimit(32 * 1024);
  const batching = createBatchingBus(createRawBus(bus));
  const calls = [1000, 40 * 1024, 1000, 1000].map((bytes) => batching.publish(topic, [{ key: 'k', value: bytes }]));
  const outcomes = await Promise.allSettled(calls);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal(((outcomes[1] as PromiseRejectedResult).reason as HubError).code, 'KAFKA_MESSAGE_TOO_LARGE');
  assert.equal(await size(topic), 3);
});

/** An EventBus whose events are sizes: each becomes a raw message of that many bytes (no schema needed). */
function createRawBus(inner: KafkaEventBus) {
  return {
    publish: (topic: string, events: readonly { key: string; value: unknown }[]) => inner.publishRaw(topic, events.map((e) => ({ key: e.key, value: Buffer.alloc(e.value as number) }))),
    publishRaw: inner.publishRaw,
  };
}

test('a message the DLQ refuses as too large is parked without its value, saying so', async () => {
  const dlq = await topicWithLimit(16 * 1024);
  const original: KafkaMessage = { key: Buffer.from('k'), value: Buffer.alloc(20 * 1024, 1), headers: { 'hub.event-id': 'e1' }, offset: '42', timestamp: '0', attributes: 0 };
  await parkOnDlq({ bus, dlqTopic: dlq, group: 'g', log }, 'source.topic', 2, original, new HubError('X_FAILED', { status: 500, retriable: false }, 'it failed'));
  const consumer = kafka.consumer({ groupId: `dlq-reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topic: dlq, fromBeginning: true });
  const parked = await new Promise<{ value: Buffer | null; headers: Record<string, string> }>((resolve) => {
    void consumer.run({ eachMessage: async ({ message: m }) => resolve({ value: m.value, headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])) }) });
  });
  await consumer.disconnect();
  assert.equal(parked.value, null);
  assert.match(parked.headers['dlq.value-omitted']!, /20480 bytes/);
  assert.equal(parked.headers['dlq.error.code'], 'X_FAILED');
  assert.equal(parked.headers['dlq.source.offset'], '42');
  assert.equal(parked.headers['hub.event-id'], 'e1');
});

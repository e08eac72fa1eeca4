import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRecordProjector } from '../../services/record-projector/app.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections, type Store } from '../../libs/store/mongo.ts';
import { createRecordStore, recordsCollection, type RecordDocument } from '../../libs/store/records.ts';
import { topics, dlqTopic } from '../../libs/kafka/topics.ts';
import { recordEventKey, type RecordChanged } from '../../libs/kafka/events.ts';
import type { ConsumerRunner } from '../../libs/kafka/consumer.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';
import { recordStream, expectedProjection, recordEvent } from '../support/records.ts';

const config = isolatedConfig('projector');
const log = testLogger('projector-test');
const group = 'record-projector';
let runtime: KafkaRuntime;
let store: Store;
let projector: ConsumerRunner;

before(async () => {
  store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  await ensureCollections(store.db, [recordsCollection]);
  runtime = await startKafkaRuntime(config, log, { groups: [group] });
  projector = createRecordProjector({ runtime, records: createRecordStore(store.db), log, group, retry: { initialDelayMs: 20, maxDelayMs: 200, poisonAttempts: 2 } });
  await projector.start();
});

after(async () => {
  await projector?.stop();
  await runtime?.close();
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
});

const publish = (events: RecordChanged[]) =>
  runtime.bus.publish(runtime.topic(topics.records), events.map((e) => ({ key: recordEventKey(e), value: e })));

async function docsOf(workspaceId: string): Promise<Map<string, RecordDocument>> {
  const docs = await store.db.collection<RecordDocument>('records').find({ workspaceId }).toArray();
  return new Map(docs.map((d) => [d._id, d]));
}

test('1,000 events with redeliveries and stale versions give exactly the expected documents', async () => {
  const ws = 'ws-thousand';
  const events = recordStream(ws, 1000, 150);
  const redeliveries = events.filter((e, i) => events.findIndex((x) => x.eventId === e.eventId) !== i).length;
  assert.ok(redeliveries > 50, `the stream holds redeliveries (${redeliveries})`);
  // Published in several batches, the last ones again: a producer retrying after a timeout.
  for (let i = 0; i < events.length; i += 100) await publish(events.slice(i, i + 100));
  await publish(events.slice(900));
  const expected = expectedProjection(events);

  await eventually('every record projected at its final version', async () => {
    const docs = await docsOf(ws);
    return docs.size === expected.size && [...expected].every(([k, e]) => docs.get(k)?.eventId === e.eventId);
  }, 60_000, 250);
  const docs = await docsOf(ws);
  assert.equal(docs.size, expected.size);
  for (const [key, e] of expected) {
    const d = docs.get(key)!;
    assert.equal(d.version, e.version, key);
    assert.equal(d.deleted, e.deleted, key);
    assert.deepEqual(d.fields, e.fields, key);
  }
});

test('an older version never overwrites a newer one, and a repeated event changes nothing', async () => {
  const ws = 'ws-order';
  const v5 = recordEvent(ws, 'people', 'p1', 'record.updated', 5, { name: 'five' });
  const v3 = recordEvent(ws, 'people', 'p1', 'record.updated', 3, { name: 'three' });
  const v6del = recordEvent(ws, 'people', 'p1', 'record.deleted', 6, null);
  const v4 = recordEvent(ws, 'people', 'p1', 'record.created', 4, { name: 'four' });
  await publish([v5, v3, v5]);
  const first = await eventually('v5 projected', async () => (await docsOf(ws)).get(`${ws}:people:p1`));
  assert.equal(first.fields.name, 'five');
  await publish([v6del, v4, v5]);
  const last = await eventually('the delete projected', async () => {
    const d = (await docsOf(ws)).get(`${ws}:people:p1`);
    return d?.deleted ? d : null;
  });
  assert.equal(last.version, 6);
  assert.equal(last.fields.name, 'five', 'a delete keeps the last known fields for resync');
  // A marker on the same partition (same key) proves the stale ones were consumed, not just slow.
  await runtime.bus.publish(runtime.topic(topics.records), [{ key: `${ws}:people:p1`, value: recordEvent(ws, 'people', 'marker', 'record.created', 1, { done: true }) }]);
  await eventually('marker', async () => (await docsOf(ws)).get(`${ws}:people:marker`));
  const final = (await docsOf(ws)).get(`${ws}:people:p1`)!;
  assert.equal(final.version, 6);
  assert.equal(final.eventId, v6del.eventId);
});

test('a message that does not decode lands on the DLQ with its reason, and the consumer goes on', async () => {
  const ws = 'ws-poison';
  const topic = runtime.topic(topics.records);
  await runtime.bus.publishRaw(topic, [{ key: `${ws}:people:bad`, value: Buffer.from('{"not":"avro"}'), headers: { 'hub.event-id': 'poison-1' } }]);
  // All on the poison's key, so on its partition: the good one is consumed after both.
  const sameKey = (value: RecordChanged) => runtime.bus.publish(topic, [{ key: `${ws}:people:bad`, value }]);
  await sameKey(recordEvent(ws, 'people', 'bad2', 'record.created', 1, null)); // decodes, but a create without a record is invalid
  await sameKey(recordEvent(ws, 'people', 'good', 'record.created', 1, { name: 'after poison' }));
  await eventually('the good record after the poison', async () => (await docsOf(ws)).get(`${ws}:people:good`));

  const consumer = runtime.kafka.consumer({ groupId: `${config.topicPrefix}dlq-reader` });
  const parked: { key: string; headers: Record<string, string>; value: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: runtime.topic(dlqTopic(group)), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      parked.push({ key: String(message.key), headers, value: message.value ? message.value.toString('utf8') : '' });
    },
  });
  try {
    await eventually('two parked messages', async () => parked.length >= 2);
  } finally {
    await consumer.disconnect();
  }
  const [undecodable, invalid] = parked;
  assert.equal(undecodable?.key, `${ws}:people:bad`);
  assert.equal(undecodable?.value, '{"not":"avro"}', 'original bytes kept');
  assert.equal(undecodable?.headers['hub.event-id'], 'poison-1', 'original headers kept');
  assert.equal(undecodable?.headers['dlq.error.code'], 'MESSAGE_UNDECODABLE');
  assert.equal(undecodable?.headers['dlq.source.topic'], topic);
  assert.match(undecodable?.headers['dlq.error.message'] ?? '', /Confluent Avro wire format/);
  assert.equal(invalid?.key, `${ws}:people:bad`, 'original key kept');
  assert.equal(invalid?.headers['dlq.error.code'], 'RECORD_EVENT_INVALID');
  assert.equal((await docsOf(ws)).has(`${ws}:people:bad2`), false);
});

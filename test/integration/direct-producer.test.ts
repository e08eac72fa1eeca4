/**
 * The direct producer on the real broker and registry: what it publishes is read back
 * from `crm.records` and decoded with the registered schema.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Consumer } from 'kafkajs';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import { HubError } from '../../libs/errors/index.ts';
import { createDirectProducer, type DirectProducer } from '../../libs/sdk/index.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';

const config = isolatedConfig('direct');
const log = testLogger('direct-producer-test');
let runtime: KafkaRuntime;
let producer: DirectProducer;
let consumer: Consumer;

interface Received {
  key: string;
  headers: Record<string, string>;
  value: RecordChanged;
}
const received: Received[] = [];
const byId = (eventId: string) => received.filter((r) => r.value.eventId === eventId);
const byRecord = (workspaceId: string, recordId: string) => received.filter((r) => r.value.workspaceId === workspaceId && r.value.recordId === recordId);

before(async () => {
  runtime = await startKafkaRuntime(config, log);
  producer = createDirectProducer({ runtime });
  const topic = runtime.topic(topics.records);
  consumer = runtime.kafka.consumer({ groupId: `${config.topicPrefix}direct-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const value = await runtime.serde.decode<RecordChanged>(topic, message.value);
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      received.push({ key: String(message.key), headers, value });
    },
  });
});

after(async () => {
  await consumer?.disconnect();
  await runtime?.close();
});

test('a batch is published as RecordChanged values keyed by record, with the envelope and the fields as JSON text', async () => {
  const ws = 'ws-direct';
  const id = '6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a6b';
  const record = { name: 'Ada', tags: ['vip', { since: 2020 }], score: 9.5, manager: null };
  const startedAt = Date.now();
  const { accepted } = await producer.emit(ws, [
    { type: 'record.created', object: 'people', recordId: 'p1', record },
    { id, type: 'record.updated', object: 'people', recordId: 'p1', occurredAt: '2024-05-01T14:00:00+02:00', record: { name: 'Ada L.' }, before: { name: 'Ada' }, updatedFields: ['name'], version: 7 },
    { type: 'record.deleted', object: 'companies', recordId: 'c1' },
  ]);
  const endedAt = Date.now();
  assert.equal(accepted.length, 3);
  assert.equal(accepted[1], id);

  await eventually('the three events read back', async () => accepted.every((e) => byId(e).length > 0));
  const [created, updated, deleted] = accepted.map((e) => byId(e)[0]);

  assert.equal(created?.key, `${ws}:people:p1`);
  assert.deepEqual(created?.headers, { 'hub.event-id': accepted[0], 'hub.event-type': 'record.created', 'hub.workspace-id': ws, 'hub.correlation-id': accepted[0] });
  const c = created!.value;
  assert.ok(c.occurredAt >= startedAt && c.occurredAt <= endedAt, 'occurredAt defaults to now');
  assert.deepEqual({ ...c }, { // spread: avsc decodes into its own RecordChanged class
    eventId: accepted[0], type: 'record.created', workspaceId: ws, occurredAt: c.occurredAt,
    correlationId: accepted[0], causationId: null, causationDepth: 0,
    source: 'producer', object: 'people', recordId: 'p1', version: c.occurredAt,
    record: JSON.stringify(record), before: null, updatedFields: [],
  });
  assert.deepEqual(JSON.parse(c.record!), record);

  assert.equal(updated?.key, `${ws}:people:p1`);
  assert.equal(updated?.value.eventId, id);
  assert.equal(updated?.value.correlationId, id);
  assert.equal(updated?.value.occurredAt, Date.UTC(2024, 4, 1, 12));
  assert.equal(updated?.value.version, 7);
  assert.equal(updated?.value.record, '{"name":"Ada L."}');
  assert.equal(updated?.value.before, '{"name":"Ada"}');
  assert.deepEqual(updated?.value.updatedFields, ['name']);

  assert.equal(deleted?.key, `${ws}:companies:c1`);
  assert.equal(deleted?.value.type, 'record.deleted');
  assert.equal(deleted?.value.record, null);
  assert.equal(deleted?.value.version, deleted?.value.occurredAt);
});

test('a single event is published too, and the same id twice is published twice (no dedupe here)', async () => {
  const ws = 'ws-single';
  const id = '1e2d3c4b-5a69-4788-9a0b-c1d2e3f40516';
  const event = { id, type: 'record.created', object: 'notes', recordId: 'n1', record: { body: 'hi' } } as const;
  assert.deepEqual(await producer.emit(ws, event), { accepted: [id] });
  assert.deepEqual(await producer.emit(ws, event), { accepted: [id] });
  // Both copies are on Kafka: consumers, not this producer, are idempotent by eventId.
  const copies = await eventually('both copies read back', async () => (byId(id).length === 2 ? byId(id) : null));
  assert.deepEqual(copies.map((c) => c.key), [`${ws}:notes:n1`, `${ws}:notes:n1`]);
  assert.equal(copies[0]?.value.record, '{"body":"hi"}');
});

test('an invalid event refuses the whole batch, naming it, and publishes nothing', async () => {
  const ws = 'ws-invalid';
  await assert.rejects(
    producer.emit(ws, [
      { type: 'record.created', object: 'people', recordId: 'never', record: { a: 1 } },
      { type: 'record.upserted' as 'record.created', object: 'people', recordId: 'never', record: {} },
    ]),
    (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.code, 'EVENT_INVALID');
      assert.equal(err.path, '/events/1/type');
      assert.equal(err.message, 'type must be one of record.created, record.updated, record.deleted');
      return true;
    },
  );
  await assert.rejects(producer.emit(ws, { type: 'record.updated', object: 'people', recordId: 'never' }), { code: 'EVENT_INVALID', path: '/record' });
  await assert.rejects(producer.emit('', { type: 'record.deleted', object: 'people', recordId: 'never' }), { code: 'EVENT_INVALID', message: /workspaceId/ });

  // A marker with the same key lands on the same partition after anything published before it.
  const { accepted: [marker] } = await producer.emit(ws, { type: 'record.deleted', object: 'people', recordId: 'never' });
  await eventually('the marker read back', async () => byId(marker!).length > 0);
  assert.deepEqual(byRecord(ws, 'never').map((r) => r.value.eventId), [marker]);
});

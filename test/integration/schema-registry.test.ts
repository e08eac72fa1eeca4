/**
 * The registry is real (Apicurio, Confluent API) and the Confluent client works
 * against it: register, fetch by id, encode/decode, and BACKWARD compatibility
 * enforced per subject.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import avro from 'avsc';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { AvroSerde, readSchemaFile, schemasDir, valueSubject } from '../../libs/kafka/serde.ts';
import { HubError } from '../../libs/errors/index.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { isolatedConfig } from '../support/env.ts';

const config = isolatedConfig('registry');
const serde = AvroSerde.connect(config.schemaRegistryUrl);
const subject = valueSubject(`${config.topicPrefix}people`);

const v1 = { type: 'record', name: 'Person', namespace: 'test', fields: [{ name: 'id', type: 'string' }, { name: 'email', type: 'string' }] };
const v2 = { ...v1, fields: [...v1.fields, { name: 'score', type: 'int', default: 0 }] };
const breaking = { ...v1, fields: [...v1.fields, { name: 'phone', type: 'string' }] };
const retyped = { ...v1, fields: [{ name: 'id', type: 'long' }, { name: 'email', type: 'string' }] };

test('register is idempotent and the schema can be fetched by id', async () => {
  const id = await serde.registerSchema(subject, JSON.stringify(v1));
  assert.equal(await serde.registerSchema(subject, JSON.stringify(v1)), id, 'same schema, same id');
  const fetched = await serde.registry.getSchema(id);
  assert.ok((fetched as unknown as avro.Type).fingerprint().equals(avro.Type.forSchema(v1 as avro.Schema).fingerprint()), 'same schema back');
  const encoded = await serde.registry.encode(id, { id: 'p1', email: 'a@b.c' });
  assert.deepEqual({ ...(await serde.registry.decode(encoded)) }, { id: 'p1', email: 'a@b.c' });
});

test('the subject is set to BACKWARD compatibility', async () => {
  await serde.registerSchema(subject, JSON.stringify(v1));
  const res = await fetch(`${config.schemaRegistryUrl}/config/${encodeURIComponent(subject)}`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { compatibilityLevel: string }).compatibilityLevel, 'BACKWARD');
});

test('a backward-compatible evolution is accepted; incompatible ones are refused', async () => {
  await serde.registerSchema(subject, JSON.stringify(v1));
  const idV2 = await serde.registerSchema(subject, JSON.stringify(v2));
  assert.ok(idV2 > 0);
  for (const bad of [breaking, retyped]) {
    await assert.rejects(serde.registerSchema(subject, JSON.stringify(bad)), (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.code, 'SCHEMA_INCOMPATIBLE');
      assert.equal(err.retriable, false);
      return true;
    });
  }
  // The raw client sees the same refusal as a 409 from the registry.
  await assert.rejects(
    serde.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject }),
    (err: unknown) => (err as { status?: number }).status === 409,
  );
});

test('messages written with an old schema decode into the current reader schema', async () => {
  const topic = `${config.topicPrefix}evolving`;
  const oldId = await serde.registerSchema(valueSubject(topic), JSON.stringify(v1));
  const oldMessage = await serde.registry.encode(oldId, { id: 'p1', email: 'a@b.c' });
  // This reader's schema is v2: a field with a default was added since.
  const reader = new AvroSerde(serde.registry, serde.url);
  await reader.registerTopicSchema(topic, JSON.stringify(v2));
  assert.deepEqual({ ...(await reader.decode<object>(topic, oldMessage)) }, { id: 'p1', email: 'a@b.c', score: 0 });
});

test('undecodable bytes are a non-retriable MESSAGE_UNDECODABLE', async () => {
  await serde.registerTopics([topics.records], config.topicPrefix);
  const topic = `${config.topicPrefix}${topics.records.name}`;
  for (const bytes of [Buffer.from('{"json":true}'), Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2])]) {
    await assert.rejects(serde.decode(topic, bytes), (err: unknown) => err instanceof HubError && err.code === 'MESSAGE_UNDECODABLE' && !err.retriable);
  }
});

test('every schema file parses, and every event schema starts with the shared envelope', async () => {
  const files = (await readdir(schemasDir)).filter((f) => f.endsWith('.avsc'));
  assert.ok(files.length > 0);
  for (const file of files) {
    const schema = JSON.parse(await readSchemaFile(file));
    avro.Type.forSchema(schema);
    const names = (schema.fields as { name: string }[]).slice(0, 7).map((f) => f.name);
    assert.deepEqual(names, ['eventId', 'type', 'workspaceId', 'occurredAt', 'correlationId', 'causationId', 'causationDepth'], file);
  }
});

test('every schema file is the value schema of a catalogue topic, so it is registered at start', async () => {
  const files = (await readdir(schemasDir)).filter((f) => f.endsWith('.avsc')).sort();
  const used = Object.values(topics).map((t): string | null => t.schema).filter((s): s is string => s !== null).sort();
  assert.deepEqual([...new Set(used)], files);
});

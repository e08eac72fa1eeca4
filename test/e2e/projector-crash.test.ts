/**
 * The record-projector as a process, killed with SIGKILL in the middle of a stream and
 * restarted: nothing is lost, nothing is doubled, nothing is parked on the DLQ.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, type Store } from '../../libs/store/mongo.ts';
import type { RecordDocument } from '../../libs/store/records.ts';
import { topics, dlqTopic } from '../../libs/kafka/topics.ts';
import { recordEventKey } from '../../libs/kafka/events.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';
import { recordStream, expectedProjection } from '../support/records.ts';
import { envFor, startService, type ServiceProcess } from '../support/process.ts';
import { sleep } from '../../libs/time/sleep.ts';

const config = isolatedConfig('crash');
const log = testLogger('crash-test');
let runtime: KafkaRuntime;
let store: Store;
const processes: ServiceProcess[] = [];

before(async () => {
  runtime = await startKafkaRuntime(config, log, { groups: ['record-projector'] });
  store = await connectStore(config.mongodbUri, config.mongodbDatabase);
});
after(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  await runtime?.close();
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
});

test('killed mid-stream and restarted, the projector loses nothing and doubles nothing', async () => {
  const ws = 'ws-crash';
  const events = recordStream(ws, 3000, 400, 7);
  for (let i = 0; i < events.length; i += 500) {
    await runtime.bus.publish(runtime.topic(topics.records), events.slice(i, i + 500).map((e) => ({ key: recordEventKey(e), value: e })));
  }
  const expected = expectedProjection(events);
  const records = store.db.collection<RecordDocument>('records');

  const first = startService('record-projector', envFor(config));
  processes.push(first);
  await first.started;
  await eventually('the projector under way', async () => (await records.countDocuments({ workspaceId: ws })) >= 100, 60_000, 50);
  await first.kill('SIGKILL');
  const atCrash = await records.countDocuments({ workspaceId: ws });
  assert.ok(atCrash < expected.size, `killed mid-stream (${atCrash} of ${expected.size} records)`);

  await sleep(500);
  const second = startService('record-projector', envFor(config));
  processes.push(second);
  await second.started;
  await eventually('every record at its final version', async () => {
    const docs = await records.find({ workspaceId: ws }).toArray();
    return docs.length === expected.size && docs.every((d) => expected.get(d._id)?.eventId === d.eventId);
  }, 180_000, 500);

  const docs = await records.find({ workspaceId: ws }).toArray();
  assert.equal(docs.length, expected.size, 'one document per record, none doubled');
  for (const d of docs) {
    const e = expected.get(d._id);
    assert.ok(e, `unexpected document ${d._id}`);
    assert.equal(d.version, e.version);
    assert.equal(d.deleted, e.deleted);
    assert.deepEqual(d.fields, e.fields);
  }
  await second.kill('SIGTERM');
  assert.match(second.output(), /"msg":"stopped"/, 'SIGTERM stops the service cleanly');

  // Nothing was parked: the crash caused redeliveries, not failures.
  const admin = runtime.kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(runtime.topic(dlqTopic('record-projector')));
  await admin.disconnect();
  assert.equal(offsets.reduce((n, p) => n + Number(p.high), 0), 0, 'DLQ is empty');
});

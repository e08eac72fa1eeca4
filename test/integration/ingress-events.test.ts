/** POST /v1/events and the records API, on the real stack. */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { readTopic, topicSize } from '../support/topic.ts';
import { eventually } from '../support/env.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import { createRecordProjector } from '../../services/record-projector/app.ts';
import { createRecordStore } from '../../libs/store/records.ts';
import { createEventBus, type KafkaEventBus } from '../../libs/kafka/producer.ts';
import { createKafka } from '../../libs/kafka/client.ts';
import type { ConsumerRunner } from '../../libs/kafka/consumer.ts';
import { testLogger } from '../support/env.ts';

let t: TestIngress;
let auth: Record<string, string>;
let projector: ConsumerRunner;
const recordsTopic = () => t.runtime.topic(topics.records);

before(async () => {
  t = await startTestIngress('events');
  const ws = await t.createWorkspace();
  auth = { authorization: `Bearer ${ws.apiKey}` };
  projector = createRecordProjector({ runtime: t.runtime, records: createRecordStore(t.store.db), log: testLogger('projector') });
  await projector.start();
});
after(async () => {
  await projector?.stop();
  await t?.close();
});

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, ...headers }, payload: payload as object });
const person = (recordId: string, extra: Record<string, unknown> = {}) => ({ type: 'record.created', object: 'people', recordId, record: { name: recordId, email: `${recordId}@example.com` }, ...extra });

test('one event is accepted with 202 only once it is in Kafka, with the envelope and the record as sent', async () => {
  const id = randomUUID();
  const before = await topicSize(t.runtime, recordsTopic());
  const res = await post(person('solo', { id, occurredAt: '2026-01-02T03:04:05.000Z', version: 7, updatedFields: ['name'] }));
  assert.equal(res.statusCode, 202, res.body);
  assert.deepEqual(res.json(), { accepted: [id], duplicates: [] });
  // 202 means acknowledged: the message is on the topic already, no waiting.
  assert.equal(await topicSize(t.runtime, recordsTopic()), before + 1);
  const messages = await readTopic<RecordChanged>(t.runtime, recordsTopic());
  const m = messages.find((x) => x.value.eventId === id)!;
  const ws = (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: auth })).json().workspaceId;
  assert.equal(m.key, `${ws}:people:solo`);
  assert.equal(m.value.workspaceId, ws);
  assert.equal(m.value.type, 'record.created');
  assert.equal(m.value.correlationId, id);
  assert.equal(m.value.causationId, null);
  assert.equal(m.value.causationDepth, 0);
  assert.equal(m.value.version, 7);
  assert.equal(m.value.occurredAt, Date.parse('2026-01-02T03:04:05.000Z'));
  assert.deepEqual(JSON.parse(m.value.record!), { name: 'solo', email: 'solo@example.com' });
  assert.deepEqual(m.value.updatedFields, ['name']);
});

test('a batch is accepted whole; ids are assigned when absent', async () => {
  const res = await post({ events: [person('b1'), person('b2', { id: randomUUID() }), { type: 'record.deleted', object: 'people', recordId: 'b3' }] });
  assert.equal(res.statusCode, 202, res.body);
  const body = res.json() as { accepted: string[]; duplicates: string[] };
  assert.equal(body.accepted.length, 3);
  assert.equal(new Set(body.accepted).size, 3);
  for (const id of body.accepted) assert.match(id, /^[0-9a-f-]{36}$/);
});

test('one invalid event rejects the whole batch, naming it, and nothing of it is published', async () => {
  const before = await topicSize(t.runtime, recordsTopic());
  const events = [person('x1'), person('x2'), person('x3'), { type: 'record.renamed', object: 'people', recordId: 'x4' }, person('x5')];
  const res = await post({ events });
  assert.equal(res.statusCode, 400);
  assert.deepEqual(res.json().error.path, '/events/3/type');
  assert.equal(res.json().error.code, 'EVENT_INVALID');
  for (const [payload, path] of [
    [{ events: [person('y1'), { object: 'people', recordId: 'y' }] }, '/events/1/type'],
    [{ events: [person('y1', { record: [1, 2] })] }, '/events/0/record'],
    [{ events: [person('y1', { id: 'not-a-uuid' })] }, '/events/0/id'],
    [{ events: [person('y1', { occurredAt: 'yesterday' })] }, '/events/0/occurredAt'],
    [{ events: [person('y1', { color: 'red' })] }, '/events/0/color'],
    [{ events: [] }, '/events'],
    [{ events: {} }, '/events'],
    [{ events: Array.from({ length: 501 }, (_, i) => person(`z${i}`)) }, '/events'],
    [[person('arr')], ''],
    [{ type: 'record.created', object: 'people' }, '/recordId'],
    [{ events: [person('nul\u0000id')] }, '/events/0/recordId'],
    [{ events: [person('y1', { record: { name: 'a\u0000b' } })] }, '/events/0/record/name'],
  ] as const) {
    const r = await post(payload);
    assert.equal(r.statusCode, 400, `${path}: ${r.body}`);
    assert.equal(r.json().error.path, path, r.body);
    assert.ok(r.json().error.message.length > 10);
  }
  assert.equal(await topicSize(t.runtime, recordsTopic()), before, 'nothing published');
});

test('an id accepted before is reported as a duplicate and not published again, also within one batch', async () => {
  const a = randomUUID();
  const b = randomUUID();
  const first = await post({ events: [person('d1', { id: a }), person('d2', { id: a })] });
  assert.deepEqual(first.json(), { accepted: [a], duplicates: [a] });
  const size = await topicSize(t.runtime, recordsTopic());
  const second = await post({ events: [person('d1', { id: a }), person('d3', { id: b })] });
  assert.equal(second.statusCode, 202);
  assert.deepEqual(second.json(), { accepted: [b], duplicates: [a] });
  assert.equal(await topicSize(t.runtime, recordsTopic()), size + 1, 'only the new one was published');
  const third = await post(person('d1', { id: a }));
  assert.deepEqual(third.json(), { accepted: [], duplicates: [a] });
});

test('size, media type and JSON errors are specific', async () => {
  const big = { events: [person('big', { record: { blob: 'x'.repeat(1024 * 1024) } })] };
  const tooLarge = await post(big);
  assert.equal(tooLarge.statusCode, 413);
  assert.equal(tooLarge.json().error.code, 'BODY_TOO_LARGE');
  const text = await t.app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hi' });
  assert.equal(text.statusCode, 415);
  assert.equal(text.json().error.path, '/headers/content-type');
  const bad = await t.app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"type": ' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'JSON_INVALID');
  const wrongMethod = await t.app.inject({ method: 'PUT', url: '/v1/events', headers: auth, payload: {} });
  assert.equal(wrongMethod.statusCode, 405);
  assert.equal(wrongMethod.headers.allow, 'POST');
});

test('when Kafka cannot acknowledge: 503 with Retry-After, nothing published, and the retries publish it once', async () => {
  // A second app on the same store whose producer cannot reach any broker.
  const deadKafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'dead', log: testLogger('dead') });
  const broken = await startTestIngress('events-down', { deps: (runtime) => ({ bus: createEventBus(deadKafka, runtime.serde) }) });
  try {
    const ws = await broken.createWorkspace();
    const headers = { authorization: `Bearer ${ws.apiKey}` };
    const id = randomUUID();
    const res = await broken.app.inject({ method: 'POST', url: '/v1/events', headers, payload: person('down', { id }) });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().error.code, 'KAFKA_UNAVAILABLE');
    assert.ok(Number(res.headers['retry-after']) >= 1);
    assert.equal(await topicSize(broken.runtime, broken.runtime.topic(topics.records)), 0);
    // Same store, working producer: the ledger knows the first attempt failed.
    const healthy = await startTestIngress('events-up', { env: { MONGODB_DATABASE: broken.config.mongodbDatabase, HUB_TOPIC_PREFIX: broken.config.topicPrefix } });
    try {
      // While the first attempt may still be in flight (its publish outlives its 503), a
      // retry is told to come back later; the client retries, as told, until accepted.
      const retry = await eventually('the retry accepted', async () => {
        const r = await healthy.app.inject({ method: 'POST', url: '/v1/events', headers, payload: person('down', { id }) });
        if (r.statusCode === 503) { assert.ok(Number(r.headers['retry-after']) >= 1); return null; }
        return r;
      }, 90_000, 1000);
      assert.equal(retry.statusCode, 202, retry.body);
      // Accepted by this call, or by one of the retries answered 503 whose publish went
      // through after its answer (then reported as the duplicate it is): published once either way.
      const answer = retry.json() as { accepted: string[]; duplicates: string[] };
      assert.deepEqual([...answer.accepted, ...answer.duplicates], [id]);
      assert.equal(await topicSize(healthy.runtime, healthy.runtime.topic(topics.records)), 1);
    } finally {
      await healthy.close({ keepDatabase: true });
    }
  } finally {
    await broken.close();
  }
});

test('a broker that does not answer: 503 with Retry-After once the ack timeout passes, not a hanging request', async () => {
  // A TCP port that accepts connections and never answers, as a broker stuck or cut off does.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => { sockets.add(socket); socket.on('error', () => undefined); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as AddressInfo).port;
  const stuckKafka = createKafka({ brokers: [`127.0.0.1:${port}`], clientId: 'silent', log: testLogger('silent') });
  let stuckBus: KafkaEventBus | undefined;
  const stuck = await startTestIngress('events-silent', { env: { HUB_INGRESS_ACK_TIMEOUT_MS: '300' }, deps: (runtime) => ({ bus: stuckBus = createEventBus(stuckKafka, runtime.serde) }) });
  try {
    const ws = await stuck.createWorkspace();
    const res = await stuck.app.inject({ method: 'POST', url: '/v1/events', headers: { authorization: `Bearer ${ws.apiKey}` }, payload: person('silent', { id: randomUUID() }) });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().error.code, 'KAFKA_UNAVAILABLE');
    assert.match(res.json().error.message, /within 300 ms/);
    assert.ok(Number(res.headers['retry-after']) >= 1);
  } finally {
    await stuck.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
    await stuckBus?.disconnect().catch(() => undefined);
  }
});

test('records API: projected records by id, deleted ones 404, and cursor pagination in stable order', async () => {
  const ids = Array.from({ length: 23 }, (_, i) => `c${String(i).padStart(2, '0')}`);
  await post({ events: ids.map((id) => ({ type: 'record.created', object: 'companies', recordId: id, record: { name: `Company ${id}` } })) });
  await post({ type: 'record.deleted', object: 'companies', recordId: 'c05', version: Date.now() + 60_000 });
  // Different records sit on different partitions: wait for all of them, and for the delete.
  await eventually('projection', async () => {
    const all = await t.app.inject({ method: 'GET', url: '/v1/records/companies?limit=100', headers: auth });
    const tomb = await t.app.inject({ method: 'GET', url: '/v1/records/companies/c05?includeDeleted=true', headers: auth });
    return (all.json() as { records: unknown[] }).records.length === ids.length - 1 && tomb.statusCode === 200 && tomb.json().deleted === true;
  });
  const one = (await t.app.inject({ method: 'GET', url: '/v1/records/companies/c07', headers: auth })).json();
  assert.equal(one.recordId, 'c07');
  assert.deepEqual(one.record, { name: 'Company c07' });
  assert.equal(one.deleted, false);
  const tomb = await t.app.inject({ method: 'GET', url: '/v1/records/companies/c05?includeDeleted=true', headers: auth });
  assert.equal(tomb.json().deleted, true);

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/v1/records/companies?limit=10${cursor ? `&cursor=${cursor}` : ''}`;
    const page = (await t.app.inject({ method: 'GET', url, headers: auth })).json() as { records: { recordId: string }[]; nextCursor: string | null };
    assert.ok(page.records.length <= 10);
    seen.push(...page.records.map((r) => r.recordId));
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, ids.filter((id) => id !== 'c05'));
  for (const [url, path] of [['/v1/records/companies?limit=0', '/query/limit'], ['/v1/records/companies?limit=abc', '/query/limit'], ['/v1/records/companies?cursor=zzz', '/query/cursor'], ['/v1/records/companies?sort=x', '/query/sort']] as const) {
    const r = await t.app.inject({ method: 'GET', url, headers: auth });
    assert.equal(r.statusCode, 400, url);
    assert.equal(r.json().error.path, path);
  }
  for (const url of ['/v1/records/companies/nope', '/v1/records/companies/%00', '/v1/records/%00/x']) {
    const missing = await t.app.inject({ method: 'GET', url, headers: auth });
    assert.equal(missing.statusCode, 404, `${url}: ${missing.body}`);
    assert.equal(missing.json().error.code, 'NOT_FOUND');
  }
});

test('concurrent requests are committed in groups: the same id sent 20 times at once is published once', async () => {
  const id = randomUUID();
  const size = await topicSize(t.runtime, recordsTopic());
  const distinct = Array.from({ length: 30 }, (_, i) => post(person(`g${i}`)));
  const same = Array.from({ length: 20 }, () => post(person('same', { id })));
  const answers = await Promise.all([...distinct, ...same]);
  for (const a of answers) assert.equal(a.statusCode, 202, a.body);
  const sameAnswers = answers.slice(30).map((a) => a.json() as { accepted: string[]; duplicates: string[] });
  assert.equal(sameAnswers.filter((a) => a.accepted.includes(id)).length, 1, 'accepted by exactly one request');
  assert.equal(sameAnswers.filter((a) => a.duplicates.includes(id)).length, 19);
  assert.equal(await topicSize(t.runtime, recordsTopic()), size + 31);
});

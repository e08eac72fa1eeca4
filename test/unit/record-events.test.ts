import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import { recordEventMessage, toRecordChanged, validateRecordEventInput } from '../../libs/kafka/record-events.ts';
import { pointer } from '../../libs/json/index.ts';
import { assertRefused } from '../support/errors.ts';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);
const ID = '0b9d3c52-4a8e-4f6c-9d1e-7f3a2b1c0d9e';
const valid = { type: 'record.updated', object: 'people', recordId: 'p1', record: { name: 'Ada' } } as const;

function refused(input: unknown, path: string, message: RegExp, at = ''): void {
  assertRefused(() => validateRecordEventInput(input, at), 'EVENT_INVALID', path, message);
}

class Money { constructor(readonly cents: number) {} }
const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
let deep: unknown = 'leaf';
for (let i = 0; i < 70; i++) deep = { d: deep };

for (const [name, input, path, message] of [
  ['a non-object event', 'hello', '', /^event must be a JSON object, got string$/],
  ['an array event', [valid], '', /^event must be a JSON object, got array$/],
  ['an unknown field, named', { ...valid, recordID: 'x' }, '/recordID', /^unknown field "recordID"; an event has only id, type, object, recordId, occurredAt, record, before, updatedFields, version$/],
  ['an unknown field with / escaped in the pointer', { ...valid, 'a/b~c': 1 }, '/a~1b~0c', /unknown field "a\/b~c"/],
  ['an id that is not a UUID', { ...valid, id: 'abc' }, '/id', /^id must be a UUID/],
  ['a numeric id', { ...valid, id: 42 }, '/id', /^id must be a UUID/],
  ['a missing type', { object: 'people', recordId: 'p1', record: {} }, '/type', /^type must be one of record\.created, record\.updated, record\.deleted$/],
  ['a bad type', { ...valid, type: 'record.upserted' }, '/type', /^type must be one of record\.created, record\.updated, record\.deleted$/],
  ['a missing object', { type: 'record.created', recordId: 'p1', record: {} }, '/object', /^object is required$/],
  ['a non-string object', { ...valid, object: 7 }, '/object', /^object must be a string, got number$/],
  ['an empty object', { ...valid, object: '' }, '/object', /^object must not be empty$/],
  ['an object over 200 characters', { ...valid, object: 'o'.repeat(201) }, '/object', /^object must be at most 200 characters, got 201$/],
  ['an object with a space', { ...valid, object: 'my people' }, '/object', /^object must contain only letters, digits and _ \. : -$/],
  ['a missing recordId', { type: 'record.created', object: 'people', record: {} }, '/recordId', /^recordId is required$/],
  ['a numeric recordId', { ...valid, recordId: 12 }, '/recordId', /^recordId must be a string, got number$/],
  ['an empty recordId', { ...valid, recordId: '' }, '/recordId', /^recordId must not be empty$/],
  ['a recordId over 200 characters', { ...valid, recordId: 'r'.repeat(201) }, '/recordId', /^recordId must be at most 200 characters, got 201$/],
  ['an occurredAt without timezone', { ...valid, occurredAt: '2024-05-01T12:00:00' }, '/occurredAt', /^occurredAt must be an ISO-8601 date and time with a timezone/],
  ['an occurredAt date only', { ...valid, occurredAt: '2024-05-01' }, '/occurredAt', /^occurredAt must be an ISO-8601/],
  ['an occurredAt on February 30th', { ...valid, occurredAt: '2024-02-30T00:00:00Z' }, '/occurredAt', /^occurredAt must be an ISO-8601/],
  ['an occurredAt in words', { ...valid, occurredAt: 'May 1, 2024 12:00 GMT' }, '/occurredAt', /^occurredAt must be an ISO-8601/],
  ['an occurredAt in ms', { ...valid, occurredAt: NOW }, '/occurredAt', /^occurredAt must be an ISO-8601/],
  ['an occurredAt before 1970', { ...valid, occurredAt: '1969-12-31T23:59:59Z' }, '/occurredAt', /^occurredAt must not be before 1970-01-01T00:00:00Z$/],
  ['a negative version', { ...valid, version: -1 }, '/version', /^version must be a non-negative safe integer/],
  ['a fractional version', { ...valid, version: 1.5 }, '/version', /^version must be a non-negative safe integer/],
  ['an unsafe version', { ...valid, version: 2 ** 53 }, '/version', /^version must be a non-negative safe integer/],
  ['a string version', { ...valid, version: '3' }, '/version', /^version must be a non-negative safe integer/],
  ['a create without record', { type: 'record.created', object: 'people', recordId: 'p1' }, '/record', /^record is required for record\.created$/],
  ['an update without record', { type: 'record.updated', object: 'people', recordId: 'p1' }, '/record', /^record is required for record\.updated$/],
  ['a null record', { ...valid, record: null }, '/record', /^record must be a JSON object, got null \(omit the field when there is none\)$/],
  ['an array record', { ...valid, record: [1] }, '/record', /^record must be a JSON object, got array$/],
  ['a string record', { ...valid, record: '{"name":"Ada"}' }, '/record', /^record must be a JSON object, got string$/],
  ['a Date inside record', { ...valid, record: { born: new Date(0) } }, '/record/born', /^\/record\/born must be a JSON value .*got Date$/],
  ['a class instance inside record', { ...valid, record: { price: new Money(5) } }, '/record/price', /got Money$/],
  ['NaN inside a record array', { ...valid, record: { scores: [1, NaN] } }, '/record/scores/1', /^\/record\/scores\/1 must be a finite number, got NaN$/],
  ['undefined inside a record array', { ...valid, record: { tags: ['a', undefined] } }, '/record/tags/1', /got undefined$/],
  ['a cyclic record', { ...valid, record: cyclic }, '/record' + '/self'.repeat(64), /nests deeper than 64 levels \(or is cyclic\)$/],
  ['a record nested 70 levels', { ...valid, record: deep }, '/record' + '/d'.repeat(64), /nests deeper than 64 levels/],
  ['a non-object before', { ...valid, before: 3 }, '/before', /^before must be a JSON object, got number$/],
  ['a bigint inside before', { ...valid, before: { n: 1n } }, '/before/n', /got bigint$/],
  ['updatedFields not an array', { ...valid, updatedFields: 'name' }, '/updatedFields', /^updatedFields must be an array of field names, got string$/],
  ['updatedFields with a number', { ...valid, updatedFields: ['name', 3] }, '/updatedFields/1', /^updatedFields items must be strings, got number$/],
  ['more than 1000 updatedFields', { ...valid, updatedFields: Array.from({ length: 1001 }, (_, i) => `f${i}`) }, '/updatedFields', /^updatedFields must list at most 1000 names, got 1001$/],
] as const) {
  test(`refuses ${name}, naming ${path || 'the event'}`, () => refused(input, path, message));
}

test('paths are under the pointer of the event in its batch', () => {
  refused({ ...valid, type: 'nope' }, '/events/3/type', /^type must be one of/, '/events/3');
  refused({ ...valid, record: { a: [{ b: Infinity }] } }, '/events/0/record/a/0/b', /must be a finite number, got Infinity/, '/events/0');
  refused(null, '/events/7', /^event must be a JSON object, got null$/, '/events/7');
  assert.equal(pointer('/events/1', 'x/y'), '/events/1/x~1y');
});

test('accepts the edges of every limit', () => {
  const input = {
    id: ID.toUpperCase(), type: 'record.created', object: 'custom_Obj.v2:x-y'.padEnd(200, 'z'), recordId: 'r'.repeat(200),
    occurredAt: '2024-02-29T23:59:59.123456+14:00', version: Number.MAX_SAFE_INTEGER,
    record: { nested: { list: [1, 'two', null, true, { deeper: [] }] } }, before: {}, updatedFields: Array.from({ length: 1000 }, () => ''),
  };
  assert.equal(validateRecordEventInput(input, '/events/0'), input);
  assert.ok(validateRecordEventInput({ type: 'record.deleted', object: 'people', recordId: 'p1', version: 0, occurredAt: '1970-01-01T00:00Z' }));
});

test('fields set to undefined count as absent, as they would over JSON', () => {
  const e = toRecordChanged('ws', { ...valid, id: undefined, before: undefined, stray: undefined, record: { name: 'Ada', nickname: undefined } }, NOW);
  assert.equal(e.before, null);
  assert.equal(e.record, '{"name":"Ada"}');
});

test('defaults: a new eventId, occurredAt now, version = occurredAt, no before, no updatedFields, source producer', () => {
  const e = toRecordChanged('ws-1', { type: 'record.created', object: 'people', recordId: 'p1', record: { name: 'Ada' } }, NOW);
  assert.match(e.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(e, {
    eventId: e.eventId, type: 'record.created', workspaceId: 'ws-1', occurredAt: NOW,
    correlationId: e.eventId, causationId: null, causationDepth: 0,
    source: 'producer', object: 'people', recordId: 'p1', version: NOW,
    record: '{"name":"Ada"}', before: null, updatedFields: [],
  });
  const other = toRecordChanged('ws-1', { type: 'record.created', object: 'people', recordId: 'p1', record: {} }, NOW);
  assert.notEqual(other.eventId, e.eventId);
});

test('given fields: id is the eventId and correlationId, occurredAt with an offset in UTC ms, version kept, JSON as text', () => {
  const record = { name: 'Ada', address: { city: 'London', lines: ['1 Main St', null] }, score: 1.5, vip: false, note: 'é"\n' };
  const e = toRecordChanged('ws-2', {
    id: ID, type: 'record.updated', object: 'people', recordId: 'p1', occurredAt: '2024-05-01T14:00:00.250+02:00',
    record, before: { name: 'Ad' }, updatedFields: ['name'], version: 42,
  }, NOW, '/events/0');
  assert.equal(e.eventId, ID);
  assert.equal(e.correlationId, ID);
  assert.equal(e.occurredAt, Date.UTC(2024, 4, 1, 12, 0, 0, 250));
  assert.equal(e.version, 42);
  assert.equal(typeof e.record, 'string');
  assert.deepEqual(JSON.parse(e.record!), record, 'every JSON value survives');
  assert.equal(e.before, '{"name":"Ad"}');
  assert.deepEqual(e.updatedFields, ['name']);
});

test('version defaults to the given occurredAt; a delete may omit record and carry before', () => {
  const e = toRecordChanged('ws', { type: 'record.deleted', object: 'companies', recordId: 'c1', occurredAt: '2024-01-01T00:00:00Z', before: { name: 'Acme' } }, NOW);
  assert.equal(e.version, Date.UTC(2024, 0, 1));
  assert.equal(e.occurredAt, Date.UTC(2024, 0, 1));
  assert.equal(e.record, null);
  assert.equal(e.before, '{"name":"Acme"}');
  const withRecord = toRecordChanged('ws', { type: 'record.deleted', object: 'companies', recordId: 'c1', record: { name: 'Acme' } }, NOW);
  assert.equal(withRecord.record, '{"name":"Acme"}');
});

test('toRecordChanged validates, with the path it is given', () => {
  assert.throws(() => toRecordChanged('ws', { ...valid, type: 'x' }, NOW, '/events/2'), (err: unknown) => err instanceof HubError && err.path === '/events/2/type');
});

test('the updatedFields array is copied, not shared with the input', () => {
  const updatedFields = ['a'];
  const e = toRecordChanged('ws', { ...valid, updatedFields }, NOW);
  updatedFields.push('b');
  assert.deepEqual(e.updatedFields, ['a']);
});

test('the Kafka message is keyed by workspace:object:recordId with the envelope in headers', () => {
  const e = toRecordChanged('ws-9', { ...valid, id: ID }, NOW);
  const m = recordEventMessage(e);
  assert.equal(m.key, 'ws-9:people:p1');
  assert.equal(m.value, e);
  assert.deepEqual(m.headers, { 'hub.event-id': ID, 'hub.event-type': 'record.updated', 'hub.workspace-id': 'ws-9', 'hub.correlation-id': ID });
});

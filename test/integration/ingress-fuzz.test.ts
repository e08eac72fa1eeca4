/**
 * Fuzzing the ingress on the real stack: many random and malformed requests against
 * every public route. None may answer 5xx or crash the process, every refusal has our
 * error shape, and since every request is invalid by construction (a safety check
 * below breaks any that the ingress could accept), nothing is published or created.
 * FUZZ_SEED=<n> replays a run's request stream; FUZZ_REQUESTS=<n> changes its length.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS } from 'node:http';
import { parse as parseQuerystring } from 'node:querystring';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { topicSize } from '../support/topic.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { validateRecordEventInput } from '../../libs/kafka/record-events.ts';
import { generateSecret, sign } from '../../libs/webhooks/standard.ts';
import { checkHookBody, parseHookDefinition } from '../../libs/contracts/hook-body.ts';
import type { ExpectedBody } from '../../libs/contracts/hook-body.ts';
import { seededRandom } from '../support/random.ts';
import { isPlainObject } from '../../libs/json/index.ts';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const TOTAL = Math.max(1, Number(process.env.FUZZ_REQUESTS ?? 10_500));
const CONCURRENCY = 20;
const MIB = 1024 * 1024;

/** Seeded (test/support/random.ts): the same seed gives the same request stream. */
class Rng {
  readonly next: () => number;
  constructor(seed: number) { this.next = seededRandom(seed); }
  int(n: number): number { return Math.floor(this.next() * n); }
  range(min: number, max: number): number { return min + this.int(max - min + 1); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }
  /** One of the entries, with probability proportional to its weight. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    let r = this.next() * entries.reduce((n, [w]) => n + w, 0);
    for (const [w, v] of entries) { r -= w; if (r < 0) return v; }
    return entries[entries.length - 1]![1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  hex(n: number): string { return this.bytes(Math.ceil(n / 2)).toString('hex').slice(0, n); }
  uuid(): string { const h = this.hex(32); return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`; }
}

interface FuzzRequest {
  /** Which generator made it (for the report and the per-route counts). */
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** Built field by field to be refused: the safety check must never have to repair it. */
  structured?: boolean;
}

// ---------------------------------------------------------------- the setup

let t: TestIngress;
let ws: { workspaceId: string; apiKey: string; keyId: string };
let formHook: string;
let signedHook: string;
let signedSecret: string;
const formExpected: ExpectedBody = {
  email: { type: 'string', required: true, format: 'email' },
  amount: { type: 'number', required: true },
  active: { type: 'boolean', required: true },
};

before(async () => {
  // The rate limit would turn most requests into 429s before they reach validation.
  t = await startTestIngress('fuzz', { env: { HUB_RATE_LIMIT_RPS: '1000000', HUB_RATE_LIMIT_BURST: '1000000' } });
  ws = await t.createWorkspace('fuzz');
  const auth = { authorization: `Bearer ${ws.apiKey}` };
  const form = await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: auth, payload: { name: 'fuzz form', methods: ['POST', 'GET'], expectedBody: formExpected } });
  assert.equal(form.statusCode, 201, form.body);
  formHook = form.json().hookId;
  signedSecret = generateSecret();
  const signed = await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: auth, payload: { name: 'fuzz signed', methods: ['POST', 'GET'], secret: signedSecret } });
  assert.equal(signed.statusCode, 201, signed.body);
  signedHook = signed.json().hookId;
});
after(async () => {
  await t?.close();
});

// ---------------------------------------------------------------- random values

const STRINGS = [
  '', ' ', '\t', 'null', 'true', 'false', '0', '-0', '-1', '007', '1e309', '1e-400', 'NaN', 'Infinity', '0x1F', '١٢٣', '12,5',
  '\u0000', '\ud800', '\udfff', '\ufeff', '\u202e', '\u2028', '🦄', 'e\u0301', 'Ω≈ç√∫', '𝕏', 'ﷺ', '\r\n', '\\', '"', "'",
  "'; DROP TABLE x; --", '<script>alert(1)</script>', '../../etc/passwd', '%00', '%zz', '%', '{"a":1}', '[1,2]', '{', '$where', '$gt',
  'a.b', 'record.created', 'record.deleted', 'people', 'POST', 'GET', '2024-02-30T00:00:00Z', '2024-05-01T12:30:00Z', 'not-an-email',
  'a@b', 'whsec_', 'whsec_!!!!', 'hk_nope', '__proto__', 'constructor',
];
const KEYS = [
  'id', 'type', 'object', 'recordId', 'occurredAt', 'record', 'before', 'updatedFields', 'version', 'events', 'name', 'methods',
  'expectedBody', 'secret', 'graceSeconds', 'email', 'amount', 'active', '__proto__', 'constructor', 'prototype', 'toString',
  'hasOwnProperty', 'valueOf', '', ' ', 'a/b', '~0', '$set', '$where', 'a.b', '🔑', '\u0000', 'x'.repeat(300),
];
const NUMBERS = [0, -0, 1, -1, 1.5, -2.5e-7, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, 4294967296];

function randomString(rng: Rng): string {
  switch (rng.int(6)) {
    case 0: case 1: return rng.pick(STRINGS);
    case 2: return Array.from({ length: rng.int(40) }, () => String.fromCharCode(rng.range(0x20, 0x7e))).join('');
    case 3: return Array.from({ length: rng.int(30) }, () => String.fromCodePoint(rng.pick([rng.int(0x80), rng.int(0x800), rng.range(0xd800, 0xdfff), rng.int(0x110000)]))).join('');
    case 4: return String(rng.pick(NUMBERS));
    default: return rng.chance(0.1) ? rng.pick(['x', 'é', '🦄', 'ab']).repeat(rng.range(1000, 70_000)) : rng.pick(['x', '7']).repeat(rng.range(190, 210));
  }
}

/** encodeURIComponent refuses lone surrogates; they become U+FFFD first. */
function encode(s: string): string {
  return encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

function randomKey(rng: Rng): string {
  return rng.chance(0.75) ? rng.pick(KEYS) : randomString(rng).slice(0, 200);
}

/** Objects are prototype-less so that a `__proto__` key is an own property and JSON.stringify writes it. */
function randomObject(rng: Rng, depth: number): Record<string, unknown> {
  const o = Object.create(null) as Record<string, unknown>;
  for (let n = rng.int(depth === 0 ? 8 : 5); n > 0; n--) o[randomKey(rng)] = randomJson(rng, depth + 1);
  return o;
}

function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 5 : 8)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.chance(0.5) ? rng.pick(NUMBERS) : (rng.next() - 0.5) * 10 ** rng.int(20);
    case 3: case 4: return randomString(rng);
    case 5: return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1));
    default: return randomObject(rng, depth);
  }
}

/** An array or object nested `levels` deep, as JSON text. */
function deepJson(rng: Rng, levels: number): string {
  return rng.chance(0.5) ? `${'['.repeat(levels)}${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

const DEPTHS = [63, 64, 65, 99, 100, 101, 1000, 10_000, 100_000];

/** Valid JSON-looking texts the JSON grammar refuses, or that parsers disagree about. */
const BAD_JSON = [
  '{', '}', '[', '{"a":1,}', '[1,]', '{"a" 1}', "{'a':1}", '{a:1}', '{"a":01}', '{"a":.5}', '{"a":1.}', '{"a":+1}', '{"a":NaN}',
  '{"a":Infinity}', '{"a":undefined}', '"unterminated', '{"a":"\\x41"}', '{"a":"\\ud800"}', '{"a":"\u0001"}', '{"a":1}}', '{"a":1}{"b":2}',
  '{"a":1} trailing', '// comment\n{}', '/* c */ {}', 'nul', 'tru', '\ufeff{}', '\ufeff\ufeff{}', ' ', '\n', '\u00a0{}', '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}', '{"a":{"__proto__":[]}}', '[{"constructor":{"prototype":null}}]', '{"a":1e999}', '{"a":-}',
  '0', '-0', '1e5', '"string"', 'true', 'null', '[]', '{}', '[[]]', '{"":""}',
];

function truncated(rng: Rng, text: string): string {
  return text.length < 2 ? '{' : text.slice(0, rng.int(text.length - 1) + 1);
}

/** JSON object text with repeated keys (the last one wins in JSON.parse). */
function duplicateKeys(rng: Rng, pairs: [string, unknown][]): string {
  const out = [...pairs];
  for (let n = rng.range(1, 3); n > 0; n--) {
    const [k] = rng.pick(pairs.length > 0 ? pairs : [['a', 1] as [string, unknown]]);
    out.splice(rng.int(out.length + 1), 0, [k, randomJson(rng, 2)]);
  }
  return `{${out.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
}

/** Any body at all: JSON or not. */
function randomBody(rng: Rng): string | Buffer | undefined {
  return rng.weighted<() => string | Buffer | undefined>([
    [6, () => JSON.stringify(randomJson(rng)) ?? 'null'],
    [3, () => JSON.stringify(randomObject(rng, 0))],
    [2, () => truncated(rng, JSON.stringify(randomObject(rng, 0)))],
    [3, () => rng.pick(BAD_JSON)],
    [2, () => duplicateKeys(rng, Object.entries(randomObject(rng, 1)))],
    [2, () => rng.bytes(rng.int(rng.chance(0.9) ? 300 : 5000))],
    [2, () => rng.pick(['', undefined])],
    [1, () => deepJson(rng, rng.pick(DEPTHS))],
    [1, () => randomForm(rng)],
    [0.3, () => `{"a":"${'x'.repeat(MIB + rng.int(1000))}"}`],
  ])();
}

function randomForm(rng: Rng): string {
  return Array.from({ length: rng.int(6) }, () => {
    const k = rng.chance(0.6) ? rng.pick(['email', 'amount', 'active', 'a', '', '__proto__', 'constructor[prototype]', 'a[b]']) : encode(randomString(rng).slice(0, 50));
    const v = rng.chance(0.5) ? encode(randomString(rng).slice(0, 100)) : rng.pick(['%', '%zz', '%C0%AF', '+', '%2B', '%00', '', '%E2%82', '%40']);
    return rng.chance(0.1) ? k : `${k}=${v}`;
  }).join(rng.chance(0.9) ? '&' : rng.pick([';', '&&', '&=&']));
}

// ---------------------------------------------------------------- headers

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8', 'application/json ; charset=utf-8'];
const OTHER_TYPES = [
  'text/plain', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x', 'multipart/form-data',
  'application/octet-stream', 'application/xml', 'application/vnd.api+json', 'application/problem+json', '', ' ', ';', 'application/',
  '/json', 'json', 'application/json; charset', 'application/json; charset=utf-16le', 'application/json; charset=latin1',
  'application/json, text/plain', 'application/jsonx', 'applicationjson', '*/*', 'application/*', 'application/json; boundary="x',
  'application/x-www-form-urlencoded; charset=utf-8',
];

function contentType(rng: Rng, jsonProbability: number): string | undefined {
  if (rng.chance(jsonProbability)) return rng.pick(JSON_TYPES);
  if (rng.chance(0.15)) return undefined;
  return rng.chance(0.85) ? rng.pick(OTHER_TYPES) : randomString(rng).slice(0, 100);
}

/** A workspace `Authorization` value; mostly the real key so that requests get past authentication. */
function apiAuth(rng: Rng, validProbability = 0.8): string | undefined {
  if (rng.chance(validProbability)) return rng.chance(0.95) ? `Bearer ${ws.apiKey}` : ` Bearer ${ws.apiKey}\t`;
  return rng.pick<() => string | undefined>([
    () => undefined, () => '', () => 'Bearer', () => 'Bearer ', () => `bearer ${ws.apiKey}`, () => `Bearer  ${ws.apiKey}`,
    () => `Bearer ${ws.apiKey}x`, () => `Bearer ${ws.apiKey.slice(0, -1)}`, () => `Bearer ${t.adminToken}`, () => 'Basic dXNlcjpwYXNz',
    () => `Bearer hub_${rng.hex(8)}_${rng.hex(32)}`, () => `Bearer ${'A'.repeat(201)}`, () => `Bearer ${'a'.repeat(rng.range(1000, 60_000))}`,
    () => 'Bearer é', () => `Bearer ${ws.apiKey}, Bearer ${ws.apiKey}`, () => `Token ${ws.apiKey}`, () => randomString(rng),
  ])();
}

/** An admin `Authorization` value: sometimes the real admin token (only ever with a request that must fail otherwise). */
function adminAuth(rng: Rng): string | undefined {
  if (rng.chance(0.5)) return `Bearer ${t.adminToken}`;
  return rng.pick<() => string | undefined>([
    () => undefined, () => '', () => 'Bearer ', () => `Bearer ${t.adminToken} `, () => `Bearer ${t.adminToken}x`, () => `bearer ${t.adminToken}`,
    () => `Bearer ${t.adminToken.toUpperCase()}`, () => `Bearer ${t.adminToken.slice(0, -1)}`, () => `Bearer ${ws.apiKey}`,
    () => `Bearer ${'a'.repeat(rng.range(1000, 60_000))}`, () => `Basic ${Buffer.from(`admin:${t.adminToken}`).toString('base64')}`, () => randomString(rng),
  ])();
}

/** Extra headers now and then: a claimed workspace, a wrong length, an encoding nobody decodes, noise. */
function extraHeaders(rng: Rng, payload: string | Buffer | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (rng.chance(0.05)) h['hub-workspace-id'] = rng.pick([ws.workspaceId, `${ws.workspaceId}x`, '', randomString(rng)]);
  if (rng.chance(0.02) && payload !== undefined) h['content-length'] = String(Math.max(0, Buffer.byteLength(payload) + rng.pick([-5, -1, 1, 100])));
  if (rng.chance(0.02)) h['content-encoding'] = rng.pick(['gzip', 'br', 'identity', 'x']);
  if (rng.chance(0.03)) h[`x-${rng.hex(6)}`] = randomString(rng);
  if (rng.chance(0.02)) h.accept = rng.pick(['text/html', '*/*', '', 'application/xml;q=0']);
  return h;
}

/** Real HTTP cannot carry CR, LF, NUL or characters above U+00FF in a header value: keep only what it can. */
function headerSafe(value: string): string {
  return value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

function headersOf(entries: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = headerSafe(v);
  return out;
}

// ---------------------------------------------------------------- paths

const SEGMENTS = ['', '.', '..', '%2e%2e', '%2F', '%00', '%zz', '%', '%C0%AF', '%E2%82', 'é', '%C3%A9', '🦄', 'a b', '*', ';', '?', 'null', 'undefined', '__proto__', 'constructor', '$where', 'hk_', '-'];

function randomSegment(rng: Rng): string {
  return rng.weighted<() => string>([
    [4, () => rng.pick(SEGMENTS)],
    [3, () => encode(randomString(rng).slice(0, 60))],
    [2, () => `hk_${rng.hex(rng.pick([16, 24, 2]))}`],
    [1, () => 'x'.repeat(rng.pick([99, 100, 101, 500, 5000]))],
    [1, () => rng.hex(24)],
  ])();
}

function randomQuery(rng: Rng): string {
  if (rng.chance(0.4)) return '';
  if (rng.chance(0.02)) return rng.pick([`?${'a=1&'.repeat(20_000)}limit=1`, `?cursor=${'A'.repeat(100_000)}`, `?limit=${'9'.repeat(5000)}`]);
  const parts = Array.from({ length: rng.range(1, 4) }, () => rng.pick<() => string>([
    () => `limit=${rng.pick(['0', '-1', '501', '500', '1', 'abc', '1.5', '', '1e2', '00001', '9999999999', '%20', '+1', '0x10', '１', '50%00'])}`,
    () => `cursor=${rng.pick([rng.bytes(rng.int(40)).toString('base64url'), 'zzz', '', '====', '-_', '%zz', Buffer.from(`r:${randomString(rng)}`).toString('base64url'), Buffer.from('x:y').toString('base64')])}`,
    () => `includeDeleted=${rng.pick(['true', 'false', '1', ''])}`,
    () => rng.pick(['__proto__=1', 'constructor[prototype][x]=1', 'a[b]=c', '&&&', '=', 'limit', 'limit=1&limit=2', 'cursor=a&cursor=b', '%', '%zz=1', 'sort=x']),
    () => `${encode(randomKey(rng))}=${encode(randomString(rng).slice(0, 100))}`,
  ])());
  return `?${parts.join('&')}`;
}

// ---------------------------------------------------------------- valid shapes, broken one field at a time

const DELETE = Symbol('delete');
type Breaks = Record<string, readonly unknown[]>;

/** Sets one field of `base` to one of its invalid values (DELETE removes it); returns what was broken. */
function breakOne(rng: Rng, base: Record<string, unknown>, breaks: Breaks): string {
  const field = rng.pick(Object.keys(breaks));
  const value = rng.pick(breaks[field]!);
  if (value === DELETE) delete base[field];
  else base[field] = typeof value === 'function' ? (value as () => unknown)() : value;
  return field;
}

function validEvent(rng: Rng, i = rng.int(1e6)): Record<string, unknown> {
  const type = rng.pick(['record.created', 'record.updated', 'record.deleted']);
  const e: Record<string, unknown> = { type, object: rng.pick(['people', 'companies', 'deals.v2', 'a:b-c_d']), recordId: `r-${i}` };
  if (type !== 'record.deleted' || rng.chance(0.3)) e.record = { name: `n${i}`, email: `n${i}@example.com`, tags: ['a'], nested: { n: 1 } };
  if (rng.chance(0.4)) e.id = rng.uuid();
  if (rng.chance(0.3)) e.occurredAt = '2026-01-02T03:04:05.000Z';
  if (rng.chance(0.3)) e.version = rng.int(1e9);
  if (rng.chance(0.2)) e.updatedFields = ['name'];
  if (rng.chance(0.1)) e.before = { name: 'old' };
  return e;
}

const nested = (levels: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
};

const EVENT_BREAKS: Breaks = {
  id: ['not-a-uuid', '', 123, null, '00000000-0000-0000-0000-00000000000g', '{00000000-0000-0000-0000-000000000000}', ['00000000-0000-0000-0000-000000000000'], '00000000000000000000000000000000'],
  type: ['record.renamed', 'RECORD.CREATED', '', null, 1, ['record.created'], 'record.created ', {}, DELETE],
  object: ['', 'a b', 'x'.repeat(201), 'people/x', 'pëople', '🦄', null, 1, {}, [], DELETE],
  recordId: ['', 'x'.repeat(201), null, 5, [], {}, true, DELETE],
  occurredAt: ['yesterday', '2024-02-30T00:00:00Z', '2024-05-01T12:30:00', '1969-12-31T23:59:59Z', 1714566600000, '', null, '2024-13-01T00:00:00Z', '2024-05-01T24:00:00Z', '+275760-09-13T00:00:00Z', '2024-05-01'],
  version: [-1, 1.5, 2 ** 53, '7', null, true, 1e308, [], {}],
  record: [[1, 2], 'x', 1, null, true, () => nested(65), () => nested(200)],
  before: [[], 'x', null, 5, () => nested(70)],
  updatedFields: ['name', [1], [null], {}, [['a']], () => Array.from({ length: 1001 }, () => 'a')],
  color: ['red', 0, null, {}],
  updated_fields: [['name']],
};

/** One event or a batch, with exactly one thing wrong. */
function brokenEvents(rng: Rng): { body: unknown; what: string } {
  const mode = rng.weighted([[5, 'one'], [4, 'batch'], [1, 'many'], [1, 'events-shape']] as const);
  if (mode === 'many') return { body: { events: Array.from({ length: rng.range(501, 700) }, (_, i) => validEvent(rng, i)) }, what: '>500 events' };
  if (mode === 'events-shape') {
    const events = Array.from({ length: rng.range(1, 5) }, (_, i) => validEvent(rng, i));
    return rng.pick<() => { body: unknown; what: string }>([
      () => ({ body: { events: [] }, what: 'events empty' }),
      () => ({ body: { events: rng.pick([{}, 'x', null, 1, true]) }, what: 'events not an array' }),
      () => ({ body: { events, [rng.pick(['type', 'extra', 'id', '', 'Events'])]: 1 }, what: 'field beside events' }),
      () => ({ body: events, what: 'top-level array' }),
      () => ({ body: { events: [events] }, what: 'nested array' }),
    ])();
  }
  const broken = validEvent(rng);
  // Without a record, only a deletion is valid: breaking `record` by removal needs another type.
  if (rng.chance(0.05)) { broken.type = 'record.updated'; delete broken.record; return { body: wrapBatch(rng, broken, mode), what: 'record missing' }; }
  const field = breakOne(rng, broken, EVENT_BREAKS);
  return { body: wrapBatch(rng, broken, mode), what: `event ${field}` };
}

function wrapBatch(rng: Rng, broken: Record<string, unknown>, mode: 'one' | 'batch'): unknown {
  if (mode === 'one') return broken;
  const events = Array.from({ length: rng.range(1, 30) }, (_, i) => validEvent(rng, i));
  events.splice(rng.int(events.length + 1), 0, broken);
  return { events };
}

function validHookDefinition(rng: Rng): Record<string, unknown> {
  const def: Record<string, unknown> = { name: `hook ${rng.int(1000)}` };
  if (rng.chance(0.5)) def.methods = rng.pick([['POST'], ['GET'], ['post', 'GET']]);
  if (rng.chance(0.5)) def.expectedBody = { email: { type: 'string', format: 'email', required: true }, n: { type: 'number' } };
  if (rng.chance(0.3)) def.secret = generateSecret();
  return def;
}

const manyFields = () => Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`f${i}`, { type: 'string' }]));
const HOOK_BREAKS: Breaks = {
  name: ['', '   ', 'x'.repeat(201), 5, null, [], {}, DELETE],
  methods: [[], ['PUT'], ['POST', 'POST'], 'POST', [1], ['POST', 'GET', 'POST'], null, {}, ['post', 'Post']],
  expectedBody: [[], 'x', null, 1, { f: 'string' }, { f: { type: 'date' } }, { f: { type: 'number', format: 'email' } }, { f: { type: 'string', format: 'phone' } },
    { f: { type: 'string', required: 'yes' } }, { f: { type: 'string', extra: 1 } }, { '': { type: 'string' } }, { ['x'.repeat(101)]: { type: 'string' } }, { f: null }, { f: [] }, manyFields],
  secret: ['short', 5, 'x'.repeat(201), {}, [], true, ''],
  workflowId: ['wf_1'], status: ['disabled'], color: [1],
};

const SECRETS_BREAKS: Breaks = {
  secret: ['short', 5, null, 'x'.repeat(201), '', [], DELETE],
  graceSeconds: [-1, 1.5, '10', 2592001, true, [], 1e308],
  expiresAt: ['2030-01-01T00:00:00Z'],
};

const ADMIN_BREAKS: Breaks = { name: ['', '   ', 'x'.repeat(201), 5, null, [], {}, DELETE], apiKey: ['k'], color: [1] };

/** A body for the form hook (email, amount, boolean all required) with exactly one thing wrong. */
function brokenDelivery(rng: Rng, text: boolean): { fields: Record<string, unknown>; what: string } {
  const fields: Record<string, unknown> = { email: 'someone@example.com', amount: 12.5, active: true };
  const breaks: Breaks = text
    ? {
      email: ['not-an-email', '', 'a@b', ' a@b.co', 'a b@c.de', `${'x'.repeat(65)}@b.co`, DELETE],
      amount: ['abc', '', '0x10', '1e999', '12,5', 'NaN', 'Infinity', '1 2', '--1', DELETE],
      active: ['maybe', '2', '', 'truee', 'null', DELETE],
    }
    : {
      email: ['not-an-email', '', 'a@b', 5, null, true, ['a@b.co'], {}, `${'x'.repeat(65)}@b.co`, DELETE],
      amount: ['12', null, true, [], {}, DELETE],
      active: ['true', 1, 0, null, 'yes', [], DELETE],
      deep: [() => nested(65), () => nested(1000)],
    };
  const what = breakOne(rng, fields, breaks);
  if (!text && what !== 'deep' && rng.chance(0.2)) fields.extra = randomJson(rng);
  return { fields, what: `delivery ${what}` };
}

/** Form or query text of `fields`: values as strings, sometimes a field repeated (it then arrives as a list). */
function formText(rng: Rng, fields: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) params.append(k, typeof v === 'string' ? v : JSON.stringify(v));
  if (rng.chance(0.1)) { const k = rng.pick(['email', 'amount', 'active']); params.append(k, String(fields[k] ?? '')); }
  return params.toString();
}

/** JSON text of a body, sometimes pretty, with a BOM, with trailing garbage or cut short. */
function serialise(rng: Rng, body: unknown): string {
  const text = JSON.stringify(body, null, rng.chance(0.1) ? 2 : undefined) ?? 'null';
  return rng.weighted<() => string>([
    [20, () => text],
    [1, () => `\ufeff${text}`],
    [1, () => truncated(rng, text)],
    [1, () => `${text}${rng.pick([',', '}', ' x', '\u0000', ']'])}`],
  ])();
}

// ---------------------------------------------------------------- the generators, one per group of routes

type Generator = (rng: Rng) => FuzzRequest;
const WRONG_METHODS = ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'QUERY', 'LOCK', 'MKCOL', 'PURGE'];

const events: Generator = (rng) => {
  const structured = rng.chance(0.55);
  let payload: string | Buffer | undefined;
  let kind: string;
  if (structured) {
    const { body, what } = brokenEvents(rng);
    payload = serialise(rng, body);
    kind = `events: ${what}`;
  } else {
    payload = randomBody(rng);
    kind = 'events: random body';
  }
  const method = rng.chance(0.95) ? 'POST' : rng.pick([...WRONG_METHODS, 'GET', 'HEAD']);
  const headers = headersOf({ authorization: apiAuth(rng), 'content-type': contentType(rng, 0.85), ...extraHeaders(rng, payload) });
  return { kind, method, url: rng.chance(0.97) ? '/v1/events' : rng.pick(['/v1/events/', '/v1/events?x=1', '/v1//events', '/V1/events', '/v1/events/x']), headers, payload, structured };
};

const records: Generator = (rng) => {
  const one = rng.chance(0.5);
  const object = rng.chance(0.5) ? rng.pick(['people', 'companies']) : randomSegment(rng);
  const url = `/v1/records/${object}${one ? `/${randomSegment(rng)}` : ''}${randomQuery(rng)}`;
  const method = rng.chance(0.9) ? 'GET' : rng.pick([...WRONG_METHODS, 'POST', 'HEAD']);
  const payload = rng.chance(0.1) ? randomBody(rng) : undefined;
  return { kind: one ? 'records: one' : 'records: list', method, url, headers: headersOf({ authorization: apiAuth(rng), ...(payload !== undefined ? { 'content-type': contentType(rng, 0.5) } : {}), ...extraHeaders(rng, payload) }), payload };
};

/** A hook id: mostly unknown ones; the setup hooks too (the safety check keeps those requests harmless). */
function hookId(rng: Rng): string {
  return rng.weighted<() => string>([
    [4, () => `hk_${rng.bytes(12).toString('base64url')}`],
    [2, () => rng.pick([formHook, signedHook])],
    [1, () => randomSegment(rng)],
    [1, () => rng.pick([`${formHook}x`, formHook.toUpperCase(), formHook.slice(0, -1), encodeURIComponent(`${signedHook}/`), `${signedHook}%20`])],
  ])();
}

const hooks: Generator = (rng) => {
  const route = rng.weighted([[5, 'create'], [1, 'list'], [2, 'read'], [2, 'delete'], [1, 'disable'], [1, 'enable'], [4, 'secrets']] as const);
  let payload: string | Buffer | undefined;
  let structured = false;
  let what = 'random body';
  if (route === 'create' || route === 'secrets') {
    if (rng.chance(0.6)) {
      structured = true;
      const body = route === 'create' ? validHookDefinition(rng) : { secret: `whsec_${rng.bytes(24).toString('base64')}`, ...(rng.chance(0.5) ? { graceSeconds: rng.int(1000) } : {}) };
      what = breakOne(rng, body, route === 'create' ? HOOK_BREAKS : SECRETS_BREAKS);
      // Repeated keys may undo the break (the last one wins): the safety check decides about those.
      if (rng.chance(0.1)) { payload = duplicateKeys(rng, Object.entries(body)); structured = false; } else payload = serialise(rng, body);
    } else {
      payload = randomBody(rng);
    }
  } else if (rng.chance(0.2)) {
    payload = randomBody(rng);
  }
  const id = hookId(rng);
  const [method, url] = ({
    create: ['POST', '/v1/hooks'], list: ['GET', `/v1/hooks${randomQuery(rng)}`], read: ['GET', `/v1/hooks/${id}`], delete: ['DELETE', `/v1/hooks/${id}`],
    disable: ['POST', `/v1/hooks/${id}/disable`], enable: ['POST', `/v1/hooks/${id}/enable`], secrets: ['POST', `/v1/hooks/${id}/secrets`],
  } satisfies Record<typeof route, [string, string]>)[route];
  const wrong = rng.chance(0.05);
  const headers = headersOf({ authorization: apiAuth(rng), ...(payload !== undefined ? { 'content-type': contentType(rng, 0.85) } : {}), ...extraHeaders(rng, payload) });
  return { kind: `hooks ${route}: ${what}`, method: wrong ? rng.pick([...WRONG_METHODS, 'GET', 'POST']) : method, url, headers, payload, structured: structured && !wrong };
};

const deliveries: Generator = (rng) => {
  const target = rng.weighted([[5, 'form'], [4, 'signed'], [1, 'unknown']] as const);
  const method = rng.chance(0.93) ? rng.pick(['POST', 'POST', 'GET']) : rng.pick([...WRONG_METHODS, 'HEAD']);
  const id = target === 'form' ? formHook : target === 'signed' ? signedHook : hookId(rng);
  let payload: string | Buffer | undefined;
  let query = '';
  let type: string | undefined;
  let structured = false;
  let kind = `deliveries ${target}: random`;
  if (target === 'form' && rng.chance(0.6)) {
    structured = true;
    const asText = method === 'GET' || rng.chance(0.4);
    const { fields, what } = brokenDelivery(rng, asText);
    kind = `deliveries form: ${what}`;
    if (method === 'GET') query = `?${formText(rng, fields)}`;
    else if (asText) { payload = formText(rng, fields); type = rng.chance(0.9) ? 'application/x-www-form-urlencoded' : contentType(rng, 0.2); }
    else { payload = serialise(rng, fields); type = rng.chance(0.9) ? rng.pick([...JSON_TYPES, 'application/vnd.x+json']) : contentType(rng, 0.2); }
  } else {
    payload = rng.chance(method === 'GET' ? 0.2 : 0.9) ? randomBody(rng) : undefined;
    if (rng.chance(method === 'GET' ? 0.8 : 0.2)) query = rng.chance(0.5) ? `?${randomForm(rng)}` : randomQuery(rng);
    type = contentType(rng, 0.4);
    if (type === undefined && rng.chance(0.5)) type = 'application/x-www-form-urlencoded';
  }
  const headers: Record<string, string | undefined> = { 'content-type': type, ...extraHeaders(rng, payload) };
  if (target === 'signed' || rng.chance(0.2)) Object.assign(headers, webhookHeaders(rng, method === 'GET' ? Buffer.from(query.slice(1)) : payload));
  if (rng.chance(0.1)) headers.authorization = apiAuth(rng, 0.5);
  return { kind, method, url: `/hooks/${id}${query}`, headers: headersOf(headers), payload, structured };
};

/**
 * Standard Webhooks headers that never verify: random ones, or a real signature of
 * another body, another id, a stale or future timestamp, or by another secret.
 */
function webhookHeaders(rng: Rng, payload: string | Buffer | undefined): Record<string, string | undefined> {
  const now = Math.floor(Date.now() / 1000);
  const body = payload === undefined ? Buffer.alloc(0) : Buffer.from(payload);
  const id = rng.pick([`msg_${rng.hex(20)}`, `msg_${rng.hex(20)}`, '', 'x'.repeat(5000), randomString(rng).slice(0, 300)]);
  const randomTimestamp = () => rng.pick([String(now), String(now - 10_000), String(now + 10_000), 'abc', `${now}.5`, '', '-1', '99999999999999999999', ` ${now}`, `${now}\t`, '0', '1e9', '0x10', '9'.repeat(5000), String(now - 301)]);
  const randomSignature = () => rng.pick([
    `v1,${rng.bytes(32).toString('base64')}`, 'v1,', `v2,${rng.bytes(32).toString('base64')}`, 'v1,!!!!', `v1a,${rng.bytes(32).toString('base64')}`, '',
    Array.from({ length: rng.range(2, 50) }, () => `v1,${rng.bytes(32).toString('base64')}`).join(' '), `v1,${'A'.repeat(5000)}`, randomString(rng), ',', ' ',
  ]);
  const signed = (secret: string, signedId: string, ts: number, signedBody: Buffer) => sign(secret, signedId || 'x', ts, signedBody);
  const mode = rng.weighted([[5, 'random'], [1, 'other-body'], [1, 'other-id'], [1, 'stale'], [1, 'future'], [1, 'other-secret'], [1, 'missing']] as const);
  const h: Record<string, string | undefined> = { 'webhook-id': id, 'webhook-timestamp': randomTimestamp(), 'webhook-signature': randomSignature() };
  switch (mode) {
    case 'random': break;
    case 'other-body': h['webhook-timestamp'] = String(now); h['webhook-signature'] = signed(signedSecret, id, now, Buffer.concat([body, Buffer.from(rng.pick(['x', ' ', '\n']))])); break;
    case 'other-id': h['webhook-timestamp'] = String(now); h['webhook-signature'] = signed(signedSecret, `${id}x`, now, body); break;
    case 'stale': h['webhook-timestamp'] = String(now - 3600); h['webhook-signature'] = signed(signedSecret, id, now - 3600, body); break;
    case 'future': h['webhook-timestamp'] = String(now + 3600); h['webhook-signature'] = signed(signedSecret, id, now + 3600, body); break;
    case 'other-secret': h['webhook-timestamp'] = String(now); h['webhook-signature'] = `${signed(generateSecret(), id, now, body)} v1,${rng.bytes(32).toString('base64')}`; break;
    case 'missing': h[rng.pick(['webhook-id', 'webhook-timestamp', 'webhook-signature'])] = undefined; break;
  }
  return h;
}

const admin: Generator = (rng) => {
  const route = rng.weighted([[4, 'create-workspace'], [1, 'list-workspaces'], [2, 'list-keys'], [2, 'create-key'], [2, 'revoke-key']] as const);
  const wsId = rng.weighted<() => string>([[3, () => ws.workspaceId], [3, () => rng.hex(24)], [2, () => randomSegment(rng)], [1, () => `${ws.workspaceId}x`]])();
  const keyId = rng.weighted<() => string>([[3, () => ws.keyId], [3, () => rng.hex(8)], [2, () => randomSegment(rng)]])();
  let payload: string | Buffer | undefined;
  let structured = false;
  let what = 'random body';
  if (route === 'create-workspace' && rng.chance(0.6)) {
    const body: Record<string, unknown> = { name: 'Acme' };
    what = breakOne(rng, body, ADMIN_BREAKS);
    payload = serialise(rng, body);
    structured = true;
  } else if (route !== 'list-workspaces' && route !== 'list-keys' ? rng.chance(0.7) : rng.chance(0.1)) {
    payload = randomBody(rng);
  }
  const [method, url] = ({
    'create-workspace': ['POST', '/v1/admin/workspaces'], 'list-workspaces': ['GET', `/v1/admin/workspaces${randomQuery(rng)}`],
    'list-keys': ['GET', `/v1/admin/workspaces/${wsId}/keys`], 'create-key': ['POST', `/v1/admin/workspaces/${wsId}/keys`],
    'revoke-key': ['DELETE', `/v1/admin/workspaces/${wsId}/keys/${keyId}`],
  } satisfies Record<typeof route, [string, string]>)[route];
  const wrong = rng.chance(0.05);
  const headers = headersOf({ authorization: adminAuth(rng), ...(payload !== undefined ? { 'content-type': contentType(rng, 0.85) } : {}), ...extraHeaders(rng, payload) });
  return { kind: `admin ${route}: ${what}`, method: wrong ? rng.pick([...WRONG_METHODS, 'GET', 'POST']) : method, url, headers, payload, structured: structured && !wrong };
};

const KNOWN_PATHS = ['/v1/events', '/v1/records', '/v1/hooks', '/hooks', '/v1/admin/workspaces', '/v1/workspace', '/v1/workspaces', '/healthz', '/readyz', '/docs', '/metrics', '/v1/admin', '/v1', '/', '/v2/events'];

const unknown: Generator = (rng) => {
  const base = rng.pick(KNOWN_PATHS);
  const url = rng.weighted<() => string>([
    [4, () => `${base}${Array.from({ length: rng.int(4) }, () => `/${randomSegment(rng)}`).join('')}${randomQuery(rng)}`],
    [2, () => `/${Array.from({ length: rng.range(1, 6) }, () => randomSegment(rng)).join('/')}`],
    [1, () => rng.pick(['*', '//', '///v1/events', '/v1/events/', '/v1/hooks/', '/hooks/', '/v1/records/', '/v1/admin/workspaces//keys', '/./v1/events', '/v1/../v1/events', 'http://evil.example/v1/events', '/v1/events#frag', '/%2e%2e/%2e%2e/etc/passwd', `/${'x'.repeat(70_000)}`, `/v1/workspaces/${ws.workspaceId}x`, `/v1/workspaces/${randomSegment(rng)}`])],
  ])();
  // Known paths are only ever read here (GET routes have no side effects): other methods get a 404 or 405.
  const method = rng.chance(0.3) ? 'GET' : rng.pick(METHODS);
  const payload = method === 'GET' || method === 'HEAD' ? (rng.chance(0.1) ? randomBody(rng) : undefined) : rng.chance(0.6) ? randomBody(rng) : undefined;
  return { kind: 'unknown path or method', method, url, headers: headersOf({ authorization: rng.chance(0.5) ? apiAuth(rng, 0.5) : adminAuth(rng), 'content-type': contentType(rng, 0.4), ...extraHeaders(rng, payload) }), payload };
};

const GENERATORS: readonly (readonly [number, string, Generator])[] = [
  [24, 'events', events], [9, 'records', records], [17, 'hooks', hooks], [26, 'deliveries', deliveries], [13, 'admin', admin], [11, 'unknown', unknown],
];

// ---------------------------------------------------------------- the safety check: every request must be refused

const textOf = (payload: string | Buffer | undefined) => (payload === undefined ? '' : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload);

/** The body as the ingress's JSON parser would read it (it drops one BOM), or undefined when it is not JSON. */
function asJson(payload: string | Buffer | undefined): { value: unknown } | undefined {
  const text = textOf(payload);
  try { return { value: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) }; } catch { return undefined; }
}

function passes(f: () => unknown): boolean {
  try { f(); return true; } catch { return false; }
}

function eventsWouldPass(body: unknown): boolean {
  if (isPlainObject(body) && 'events' in body) {
    const list = body.events;
    return Object.keys(body).length === 1 && Array.isArray(list) && list.length > 0 && list.length <= 500 && list.every((e, i) => passes(() => validateRecordEventInput(e, `/events/${i}`)));
  }
  return passes(() => validateRecordEventInput(body));
}

function secretsWouldPass(body: unknown): boolean {
  if (!isPlainObject(body) || Object.keys(body).some((k) => k !== 'secret' && k !== 'graceSeconds')) return false;
  const grace = body.graceSeconds ?? 0;
  return typeof body.secret === 'string' && body.secret.length >= 16 && body.secret.length <= 200 && typeof grace === 'number' && Number.isInteger(grace) && grace >= 0 && grace <= 30 * 86400;
}

function workspaceWouldPass(body: unknown): boolean {
  return isPlainObject(body) && Object.keys(body).every((k) => k === 'name') && typeof body.name === 'string' && body.name.trim() !== '' && body.name.length <= 200;
}

/** Every reading of a delivery the form hook could make: JSON, form or query, any content type. */
function deliveryWouldPass(req: FuzzRequest): boolean {
  const candidates: [Record<string, unknown>, boolean][] = [];
  const query = req.url.split('?').slice(1).join('?');
  candidates.push([Object.fromEntries(new URLSearchParams(query)), true], [{ ...parseQuerystring(query) }, true]);
  const text = textOf(req.payload);
  const json = passes(() => JSON.parse(text)) ? JSON.parse(text) as unknown : undefined;
  if (isPlainObject(json)) candidates.push([json, false]);
  const form: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) { const prev = form[k]; form[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]; }
  candidates.push([form, true], [{ ...parseQuerystring(text) }, true]);
  return candidates.some(([body, textValues]) => passes(() => checkHookBody(formExpected, body, textValues)));
}

const AT = /@|%40|\\u0040/gi;
function withoutAt(payload: string | Buffer | undefined): string | Buffer | undefined {
  if (payload === undefined) return undefined;
  if (typeof payload === 'string') return payload.replace(AT, '_');
  return Buffer.from(payload.toString('latin1').replace(AT, '_'), 'latin1');
}

function decodedPath(url: string): string {
  const path = url.split('?')[0]!;
  try { return decodeURIComponent(path); } catch { return path; }
}

/**
 * Makes sure `req` cannot succeed: whatever the generator meant, a request the
 * ingress could accept would create, change or publish something. Returns the
 * request, repaired when needed, and whether it had to be (a bug in a generator
 * that claims to build invalid requests field by field).
 */
function mustBeRefused(req: FuzzRequest): { req: FuzzRequest; repaired: string | null } {
  const path = decodedPath(req.url);
  const auth = req.headers.authorization ?? '';
  const asApiKey = auth.includes(ws.apiKey);
  const asAdmin = auth.includes(t.adminToken);
  const names = (...ids: string[]) => ids.some((id) => path.includes(id) || req.url.includes(id));
  const breakJson = (why: string) => {
    const parsed = asJson(req.payload)!.value as Record<string, unknown>;
    return { req: { ...req, payload: JSON.stringify({ ...parsed, _fuzz: true }) }, repaired: why };
  };
  const noAuth = (why: string) => ({ req: { ...req, headers: { ...req.headers, authorization: 'Bearer not-a-valid-credential' } }, repaired: why });
  const json = asJson(req.payload);
  const method = req.method;

  if (path.startsWith('/hooks/') && names(formHook) && deliveryWouldPass(req)) {
    const fixed = { ...req, url: req.url.replace(/(\?.*)$/, (q) => q.replace(AT, '_')), payload: withoutAt(req.payload) };
    if (deliveryWouldPass(fixed)) throw new Error(`cannot make this delivery invalid: ${JSON.stringify(req).slice(0, 500)}`);
    return { req: fixed, repaired: 'a delivery the form hook would accept' };
  }
  if (asApiKey && method === 'POST' && path.startsWith('/v1/events') && json && eventsWouldPass(json.value)) return breakJson('valid events');
  if (asApiKey && method === 'POST' && path.startsWith('/v1/hooks') && !path.slice('/v1/hooks/'.length).includes('/') && json && passes(() => parseHookDefinition(json.value))) return breakJson('a valid hook definition');
  if (asApiKey && method === 'POST' && /\/secrets\/?$/.test(path) && names(formHook, signedHook) && json && secretsWouldPass(json.value)) return breakJson('a valid secret rotation');
  if (asApiKey && path.startsWith('/v1/hooks/') && (method === 'DELETE' || /\/(disable|enable)\/?$/.test(path)) && names(formHook, signedHook)) return noAuth('a change to a setup hook');
  if (asAdmin && method === 'POST' && /^\/v1\/admin\/workspaces\/?$/.test(path) && json && workspaceWouldPass(json.value)) return breakJson('a valid workspace');
  if (asAdmin && method !== 'GET' && method !== 'HEAD' && path.startsWith('/v1/admin/') && names(ws.workspaceId)) return noAuth('a new or revoked key');
  return { req, repaired: null };
}

// ---------------------------------------------------------------- the invariants

const trunc = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

function problemWith(req: FuzzRequest, status: number, body: string): string | null {
  if (status >= 500) return `status ${status}`;
  // The form hook's deliveries and every non-read are built invalid: a 2xx created or published something.
  if (status < 400 && (req.url.startsWith('/hooks/') || !['GET', 'HEAD'].includes(req.method))) return `accepted (${status}) although built to be refused`;
  if (status < 400 || req.method === 'HEAD') return null;
  let parsed: unknown;
  try { parsed = JSON.parse(body); } catch { return 'error body is not JSON'; }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== 'string' || !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(error.code)) return 'error.code is not an UPPER_SNAKE string';
  if (typeof error.message !== 'string') return 'error.message is not a string';
  return null;
}

function describe(i: number, req: FuzzRequest, status: number, body: string, problem: string): string {
  const payload = req.payload === undefined ? '(none)' : Buffer.isBuffer(req.payload) ? `<${req.payload.length} bytes> ${req.payload.toString('hex', 0, 60)}` : JSON.stringify(trunc(req.payload, 200));
  const headers = JSON.stringify(Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, trunc(v, 80)])));
  return `#${i} [${req.kind}] ${req.method} ${trunc(req.url, 160)} headers=${headers} body=${payload} -> ${status} ${trunc(body, 300)}: ${problem}`;
}

test(`${TOTAL} random and malformed requests: no 5xx, no crash, our error shape, nothing published (seed ${SEED})`, { timeout: 180_000 }, async (ctx) => {
  const rng = new Rng(SEED);
  const failures: string[] = [];
  const perGroup = new Map<string, number>();
  const statuses = new Map<number, number>();
  const codes = new Map<string, number>();
  let repaired = 0;
  let sent = 0;
  let answered = 0;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => { crashes.push(err); };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const started = Date.now();
  try {
    const worker = async () => {
      while (sent < TOTAL) {
        const i = sent++;
        const [, group, generate] = rng.weighted(GENERATORS.map((g) => [g[0], g] as const));
        perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
        let generated: FuzzRequest;
        let checked: ReturnType<typeof mustBeRefused>;
        try {
          generated = generate(rng);
          checked = mustBeRefused(generated);
        } catch (err) {
          failures.push(`#${i} [${group}] the generator threw: ${(err as Error).stack ?? String(err)}`);
          continue;
        }
        const { req, repaired: why } = checked;
        if (why) {
          repaired++;
          if (generated.structured) failures.push(describe(i, generated, 0, '', `generator bug: built as invalid but the ingress would accept it (${why})`));
        }
        let problem: string | null;
        let status = 0;
        let body = '';
        try {
          const res = await t.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
          answered++;
          status = res.statusCode;
          body = res.body;
          problem = problemWith(req, status, body);
        } catch (err) {
          problem = `inject threw: ${(err as Error).stack ?? String(err)}`;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const code = /"code":"([A-Z_]+)"/.exec(body)?.[1];
        if (code) codes.set(code, (codes.get(code) ?? 0) + 1);
        if (problem) failures.push(describe(i, req, status, body, problem));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  }
  const ms = Date.now() - started;
  ctx.diagnostic(`seed ${SEED}: ${answered} requests answered in ${ms} ms (${Math.round(answered / (ms / 1000))}/s); ${repaired} repaired by the safety check`);
  ctx.diagnostic(`per group: ${[...perGroup].map(([g, n]) => `${g} ${n}`).join(', ')}`);
  ctx.diagnostic(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  ctx.diagnostic(`error codes: ${[...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}×${n}`).join(' ')}`);
  assert.deepEqual(crashes, [], `FUZZ_SEED=${SEED}: uncaught errors during the run`);
  assert.equal(failures.length, 0, `FUZZ_SEED=${SEED}: ${failures.length} of ${sent} requests failed; the first ones:\n${failures.slice(0, 10).join('\n')}`);
  assert.equal(answered, TOTAL);
  for (const [, group] of GENERATORS) assert.ok((perGroup.get(group) ?? 0) >= Math.min(100, TOTAL / 20), `few requests for ${group}`);

  // Still serving, and nothing was published, created or changed.
  const auth = { authorization: `Bearer ${ws.apiKey}` };
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: auth })).statusCode, 200, 'the API key still works');
  assert.equal(await topicSize(t.runtime, t.runtime.topic(topics.records)), 0, `FUZZ_SEED=${SEED}: something was published on ${topics.records.name}`);
  assert.equal(await topicSize(t.runtime, t.runtime.topic(topics.webhooks)), 0, `FUZZ_SEED=${SEED}: something was published on ${topics.webhooks.name}`);
  assert.equal(await t.store.db.collection('hooks').countDocuments(), 2, `FUZZ_SEED=${SEED}: hooks were created or deleted`);
  assert.equal(await t.store.db.collection('workspaces').countDocuments(), 1, `FUZZ_SEED=${SEED}: a workspace was created`);
  assert.equal(await t.store.db.collection('api_keys').countDocuments(), 1, `FUZZ_SEED=${SEED}: an API key was created`);
  const list = (await t.app.inject({ method: 'GET', url: '/v1/hooks', headers: auth })).json() as { hooks: { hookId: string; status: string; secrets: unknown[] }[] };
  assert.deepEqual(list.hooks.map((h) => [h.hookId, h.status, h.secrets.length]), [[formHook, 'active', 0], [signedHook, 'active', 1]], `FUZZ_SEED=${SEED}: a setup hook changed`);
});

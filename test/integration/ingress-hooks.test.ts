/** Webhook ingress: hook management, deliveries (JSON, forms, GET), signatures, rotation, dedupe. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { readTopic, topicSize } from '../support/topic.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { WebhookReceived } from '../../libs/kafka/events.ts';
import { sign, generateSecret } from '../../libs/webhooks/standard.ts';

let t: TestIngress;
let auth: Record<string, string>;
const webhooksTopic = () => t.runtime.topic(topics.webhooks);

before(async () => {
  t = await startTestIngress('hooks');
  auth = { authorization: `Bearer ${(await t.createWorkspace()).apiKey}` };
});
after(async () => { await t?.close(); });

const form = {
  name: 'Website form', methods: ['POST', 'GET'],
  expectedBody: { name: { type: 'string', required: true }, email: { type: 'string', required: true, format: 'email' }, company: { type: 'string' }, employees: { type: 'number' }, consent: { type: 'boolean' } },
};
async function createHook(def: object = form) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: auth, payload: def });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { hookId: string; url: string; status: string; signed: boolean };
}
const deliver = (hookId: string, init: { method?: 'POST' | 'GET'; payload?: string | object; headers?: Record<string, string>; query?: string } = {}) =>
  t.app.inject({ method: init.method ?? 'POST', url: `/hooks/${hookId}${init.query ? `?${init.query}` : ''}`, headers: init.headers ?? {}, ...(init.payload === undefined ? {} : { payload: init.payload }) });

test('create, list and read hooks; the URL is public and secrets are never shown', async () => {
  const hook = await createHook({ ...form, secret: generateSecret() });
  assert.match(hook.url, new RegExp(`/hooks/${hook.hookId}$`));
  assert.equal(hook.signed, true);
  const list = (await t.app.inject({ method: 'GET', url: '/v1/hooks', headers: auth })).json() as { hooks: { hookId: string }[] };
  assert.ok(list.hooks.some((h) => h.hookId === hook.hookId));
  const one = await t.app.inject({ method: 'GET', url: `/v1/hooks/${hook.hookId}`, headers: auth });
  assert.equal(one.statusCode, 200);
  assert.doesNotMatch(one.body, /whsec_|sealed/);
});

test('hook definitions are validated, naming the field', async () => {
  for (const [def, path] of [
    [{}, '/name'],
    [{ name: 'x', methods: ['PUT'] }, '/methods/0'],
    [{ name: 'x', methods: [] }, '/methods'],
    [{ name: 'x', expectedBody: { email: { type: 'text' } } }, '/expectedBody/email/type'],
    [{ name: 'x', expectedBody: { n: { type: 'number', format: 'email' } } }, '/expectedBody/n/format'],
    [{ name: 'x', secret: 'short' }, '/secret'],
    [{ name: 'x', colour: 'red' }, '/colour'],
  ] as const) {
    const res = await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: auth, payload: def });
    assert.equal(res.statusCode, 400, JSON.stringify(def));
    assert.equal(res.json().error.path, path);
  }
});

test('a JSON delivery is checked against expectedBody and published to hub.webhooks', async () => {
  const hook = await createHook();
  const res = await deliver(hook.hookId, { payload: { name: 'Ada', email: 'ada@example.com', employees: 120, extra: { kept: true } } });
  assert.equal(res.statusCode, 202, res.body);
  const { deliveryId } = res.json() as { deliveryId: string };
  const messages = await readTopic<WebhookReceived>(t.runtime, webhooksTopic());
  const m = messages.find((x) => x.value.eventId === deliveryId);
  assert.ok(m, 'published');
  assert.equal(m.key, hook.hookId);
  assert.equal(m.value.type, 'webhook.received');
  assert.equal(m.value.hookId, hook.hookId);
  assert.equal(m.value.method, 'POST');
  assert.deepEqual(JSON.parse(m.value.body), { name: 'Ada', email: 'ada@example.com', employees: 120, extra: { kept: true } });
});

test('web forms (urlencoded) and GET query strings are read as the declared types', async () => {
  const hook = await createHook();
  const posted = await deliver(hook.hookId, { payload: 'name=Bob&email=bob%40example.com&employees=42&consent=on', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(posted.statusCode, 202, posted.body);
  const got = await deliver(hook.hookId, { method: 'GET', query: 'name=Cy&email=cy%40example.com&consent=false' });
  assert.equal(got.statusCode, 202, got.body);
  const bodies = (await readTopic<WebhookReceived>(t.runtime, webhooksTopic())).filter((m) => m.value.hookId === hook.hookId).map((m) => JSON.parse(m.value.body));
  assert.deepEqual(bodies, [{ name: 'Bob', email: 'bob@example.com', employees: 42, consent: true }, { name: 'Cy', email: 'cy@example.com', consent: false }]);
});

test('a delivery that misses a required field, has a wrong type or format, or an unsupported content type is refused naming it', async () => {
  const hook = await createHook();
  const before = await topicSize(t.runtime, webhooksTopic());
  for (const [init, status, path] of [
    [{ payload: { email: 'a@b.co' } }, 400, '/body/name'],
    [{ payload: { name: 'A', email: 'not-an-email' } }, 400, '/body/email'],
    [{ payload: { name: 'A', email: 'a@b.co', employees: 'many' } }, 400, '/body/employees'],
    [{ payload: 'name=A&email=a%40b.co&employees=lots', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 400, '/body/employees'],
    [{ payload: '42', headers: { 'content-type': 'application/json' } }, 400, '/body'],
    // An array arrives as {"items": [...]}, which lacks this hook's required fields.
    [{ payload: '[1,2]', headers: { 'content-type': 'application/json' } }, 400, '/body/name'],
    [{ payload: '{"name":', headers: { 'content-type': 'application/json' } }, 400, '/body'],
    [{ payload: '<xml/>', headers: { 'content-type': 'application/xml' } }, 415, '/headers/content-type'],
    [{ payload: { name: 'A', email: 'a@b.co', notes: { text: 'a\u0000b' } } }, 400, '/body/notes/text'],
  ] as const) {
    const res = await deliver(hook.hookId, init as Parameters<typeof deliver>[1]);
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().error.path, path, res.body);
  }
  const big = await deliver(hook.hookId, { payload: { name: 'x'.repeat(1024 * 1024 + 10), email: 'a@b.co' } });
  assert.equal(big.statusCode, 413);
  assert.equal(await topicSize(t.runtime, webhooksTopic()), before, 'nothing published');
});

test('signed hooks: a valid Standard Webhooks signature passes; missing, wrong, stale or replayed ones do not', async () => {
  const secret = generateSecret();
  const hook = await createHook({ name: 'billing', expectedBody: { invoice: { type: 'string', required: true } }, secret });
  const body = JSON.stringify({ invoice: 'INV-1' });
  const now = Math.floor(Date.now() / 1000);
  const headers = (id: string, ts: number, sig: string) => ({ 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sig });

  const ok = await deliver(hook.hookId, { payload: body, headers: headers('msg_1', now, sign(secret, 'msg_1', now, body)) });
  assert.equal(ok.statusCode, 202, ok.body);
  const before = await topicSize(t.runtime, webhooksTopic());
  for (const [h, code] of [
    [{ 'content-type': 'application/json' }, 'WEBHOOK_SIGNATURE_MISSING'],
    [headers('msg_2', now, sign(generateSecret(), 'msg_2', now, body)), 'WEBHOOK_SIGNATURE_INVALID'],
    [headers('msg_3', now - 400, sign(secret, 'msg_3', now - 400, body)), 'WEBHOOK_TIMESTAMP_INVALID'],
    [headers('msg_4', now + 400, sign(secret, 'msg_4', now + 400, body)), 'WEBHOOK_TIMESTAMP_INVALID'],
    [headers('msg_5', now, sign(secret, 'msg_5', now, '{"invoice":"INV-2"}')), 'WEBHOOK_SIGNATURE_INVALID'],
  ] as const) {
    const res = await deliver(hook.hookId, { payload: body, headers: h });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().error.code, code);
  }
  assert.equal(await topicSize(t.runtime, webhooksTopic()), before, 'refused deliveries publish nothing');

  // The sender retries msg_1: accepted once, same delivery id, published once.
  const again = await deliver(hook.hookId, { payload: body, headers: headers('msg_1', now, sign(secret, 'msg_1', now, body)) });
  assert.equal(again.statusCode, 202);
  assert.deepEqual(again.json(), { deliveryId: ok.json().deliveryId, duplicate: true });
  assert.equal(await topicSize(t.runtime, webhooksTopic()), before);
});

test('secret rotation: old and new secrets both verify during the grace period; an expired one does not', async () => {
  const oldSecret = generateSecret();
  const hook = await createHook({ name: 'rotating', expectedBody: {}, secret: oldSecret });
  const newSecret = generateSecret();
  const rotated = await t.app.inject({ method: 'POST', url: `/v1/hooks/${hook.hookId}/secrets`, headers: auth, payload: { secret: newSecret, graceSeconds: 3600 } });
  assert.equal(rotated.statusCode, 201, rotated.body);
  const now = Math.floor(Date.now() / 1000);
  const body = '{"n":1}';
  const send = (secret: string, id: string) => deliver(hook.hookId, { payload: body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, id, now, body) } });
  assert.equal((await send(oldSecret, 'r1')).statusCode, 202);
  assert.equal((await send(newSecret, 'r2')).statusCode, 202);
  // Both signatures in one header (a sender mid-rotation) pass too.
  const both = await deliver(hook.hookId, { payload: body, headers: { 'content-type': 'application/json', 'webhook-id': 'r3', 'webhook-timestamp': String(now), 'webhook-signature': `${sign(oldSecret, 'r3', now, body)} ${sign(newSecret, 'r3', now, body)}` } });
  assert.equal(both.statusCode, 202);
  const expire = await t.app.inject({ method: 'POST', url: `/v1/hooks/${hook.hookId}/secrets`, headers: auth, payload: { secret: generateSecret(), graceSeconds: 0 } });
  assert.equal(expire.statusCode, 201);
  assert.equal((await send(oldSecret, 'r4')).statusCode, 401, 'with no grace left the old secrets are gone');
});

test('disabled hooks answer 410, deleted ones 404, and a method the hook does not take 405', async () => {
  const hook = await createHook({ name: 'post only', methods: ['POST'], expectedBody: {} });
  const get = await deliver(hook.hookId, { method: 'GET' });
  assert.equal(get.statusCode, 405);
  assert.equal(get.headers.allow, 'POST');
  assert.equal((await t.app.inject({ method: 'POST', url: `/v1/hooks/${hook.hookId}/disable`, headers: auth })).json().status, 'disabled');
  const disabled = await deliver(hook.hookId, { payload: {} });
  assert.equal(disabled.statusCode, 410);
  assert.equal(disabled.json().error.code, 'HOOK_DISABLED');
  assert.equal((await t.app.inject({ method: 'POST', url: `/v1/hooks/${hook.hookId}/enable`, headers: auth })).json().status, 'active');
  assert.equal((await deliver(hook.hookId, { payload: {} })).statusCode, 202);
  assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/hooks/${hook.hookId}`, headers: auth })).statusCode, 200);
  const gone = await deliver(hook.hookId, { payload: {} });
  assert.equal(gone.statusCode, 404);
  for (const id of ['%00', 'hk_%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00', 'x'.repeat(300)]) {
    const odd = await deliver(id, { payload: {} });
    assert.equal(odd.statusCode, 404, `${id}: ${odd.body}`);
    assert.equal(odd.json().error.code, 'NOT_FOUND', 'no store detail reaches a sender');
  }
  assert.equal((await t.app.inject({ method: 'GET', url: `/v1/hooks/${hook.hookId}`, headers: auth })).statusCode, 404);
});

test('a JSON array (senders that batch events) arrives as {"items": [...]}; expectedBody can require it', async () => {
  const hook = await createHook({ name: 'batched', methods: ['POST'], expectedBody: { items: { type: 'array', required: true } } });
  const events = [{ objectId: 101, propertyName: 'phone', propertyValue: '+1' }, { objectId: 102, propertyName: 'email', propertyValue: 'a@b.test' }];
  const res = await deliver(hook.hookId, { payload: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
  assert.equal(res.statusCode, 202, res.body);
  const { deliveryId } = res.json() as { deliveryId: string };
  const m = (await readTopic<WebhookReceived>(t.runtime, webhooksTopic())).find((x) => x.value.eventId === deliveryId);
  assert.deepEqual(JSON.parse(m!.value.body), { items: events });
  const scalar = await deliver(hook.hookId, { payload: '42', headers: { 'content-type': 'application/json' } });
  assert.equal(scalar.statusCode, 400);
  assert.equal((scalar.json() as { error: { path: string } }).error.path, '/body');
});

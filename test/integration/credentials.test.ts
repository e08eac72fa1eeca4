/** Stored credentials: the routes on the real stack, sealed storage, isolation, and workflows that embed secrets. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { createCredentialStore, type CredentialDocument } from '../../libs/store/credentials.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { sleep } from '../../libs/time/sleep.ts';

const TOKEN = 'tok_live_9c8b7a6f5e4d3c2b1a';
const PASSWORD = 'correct-horse-battery-9';
const API_KEY = 'ak_5f4e3d2c1b0a9f8e';
const SMTP_PASSWORD = 'smtp-pw-7d6c5b4a';
const SECRETS = [TOKEN, PASSWORD, API_KEY, SMTP_PASSWORD, 'rotated-token-0123456789'];

let t: TestIngress;
let auth: Record<string, string>;
let other: Record<string, string>;
let workspaceId: string;
const logLines: string[] = [];

before(async () => {
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(chunk.toString('utf8')); done(); } });
  t = await startTestIngress('credentials', { logDestination: sink });
  const ws = await t.createWorkspace('credentials');
  workspaceId = ws.workspaceId;
  auth = { authorization: `Bearer ${ws.apiKey}` };
  other = { authorization: `Bearer ${(await t.createWorkspace('other')).apiKey}` };
});
after(async () => { await t?.close(); });

const inject = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers = auth) =>
  t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

function assertNoSecret(text: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}…) appears in ${text.slice(0, 300)}`);
}

const bodies = {
  bearer: { name: 'crm-api', type: 'bearer', token: TOKEN },
  basic: { name: 'legacy.erp', type: 'basic', username: 'svc-hub', password: PASSWORD },
  header: { name: 'enrich:key', type: 'header', header: 'X-Api-Key', value: API_KEY },
  smtp: { name: 'mail', type: 'smtp', host: 'smtp.example.com', port: 587, username: 'hub@example.com', password: SMTP_PASSWORD, from: 'Hub <hub@example.com>' },
};

test('create each type: 201 with metadata only; list and get show no secret; resolve returns Secret values', async () => {
  const expected = {
    bearer: { name: 'crm-api', type: 'bearer' },
    basic: { name: 'legacy.erp', type: 'basic', username: 'svc-hub' },
    header: { name: 'enrich:key', type: 'header', header: 'X-Api-Key' },
    smtp: { name: 'mail', type: 'smtp', host: 'smtp.example.com', port: 587, secure: false, username: 'hub@example.com', from: 'Hub <hub@example.com>' },
  };
  for (const [type, body] of Object.entries(bodies)) {
    const res = await inject('POST', '/v1/credentials', body);
    assert.equal(res.statusCode, 201, res.body);
    assertNoSecret(res.body);
    const view = res.json() as Record<string, unknown>;
    const { keyId, createdAt, updatedAt, ...rest } = view;
    assert.deepEqual(rest, expected[type as keyof typeof expected]);
    assert.equal(keyId, 'test');
    assert.equal(createdAt, updatedAt);
    assert.doesNotMatch(res.body, /sealed|password|token"|"value"/);
  }
  const list = await inject('GET', '/v1/credentials');
  assert.equal(list.statusCode, 200);
  assertNoSecret(list.body);
  assert.deepEqual((list.json() as { credentials: { name: string }[] }).credentials.map((c) => c.name), ['crm-api', 'enrich:key', 'legacy.erp', 'mail']);
  for (const name of ['crm-api', 'enrich:key', 'legacy.erp', 'mail']) {
    const one = await inject('GET', `/v1/credentials/${encodeURIComponent(name)}`);
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().name, name);
    assertNoSecret(one.body);
  }

  const store = createCredentialStore(t.store.db, new SecretBox(t.config.secretsKey));
  const bearer = await store.resolve(workspaceId, 'crm-api');
  assert.ok(bearer?.type === 'bearer');
  assert.equal(bearer.token.reveal(), TOKEN);
  assert.match(JSON.stringify(bearer), /"token":"\[secret\]"/);
  assert.doesNotMatch(JSON.stringify(bearer), new RegExp(TOKEN));
  const basic = await store.resolve(workspaceId, 'legacy.erp');
  assert.ok(basic?.type === 'basic');
  assert.deepEqual([basic.username, basic.password.reveal()], ['svc-hub', PASSWORD]);
  const header = await store.resolve(workspaceId, 'enrich:key');
  assert.ok(header?.type === 'header');
  assert.deepEqual([header.header, header.value.reveal()], ['X-Api-Key', API_KEY]);
  const smtp = await store.resolve(workspaceId, 'mail');
  assert.ok(smtp?.type === 'smtp');
  assert.deepEqual([smtp.host, smtp.port, smtp.secure, smtp.username, smtp.password?.reveal(), smtp.from], ['smtp.example.com', 587, false, 'hub@example.com', SMTP_PASSWORD, 'Hub <hub@example.com>']);
  assert.equal(await store.resolve(workspaceId, 'nope'), null);
});

test('the secret is stored sealed: no plaintext in the raw document, and it opens only for its owner', async () => {
  const docs = await t.store.db.collection<CredentialDocument>('credentials').find({ workspaceId }).toArray();
  assert.ok(docs.length >= 4);
  for (const doc of docs) {
    assertNoSecret(JSON.stringify(doc));
    assert.equal(doc.keyId, 'test');
    assert.match(doc.sealed, /^test\.[\w-]+\.[\w-]+\.[\w-]+$/);
  }
  // A sealed value copied onto another credential does not open.
  const crm = docs.find((d) => d.name === 'crm-api')!;
  await t.store.db.collection<CredentialDocument>('credentials').insertOne({ ...crm, _id: `${workspaceId}:copied`, name: 'copied' });
  const store = createCredentialStore(t.store.db, new SecretBox(t.config.secretsKey));
  await assert.rejects(store.resolve(workspaceId, 'copied'), { code: 'SECRET_UNREADABLE' });
  await t.store.db.collection<CredentialDocument>('credentials').deleteOne({ _id: `${workspaceId}:copied` });
});

test('a duplicate name is 409 CREDENTIAL_EXISTS; PUT rotates the secret under the same name', async () => {
  const dup = await inject('POST', '/v1/credentials', { ...bodies.bearer, token: 'another-token-123456' });
  assert.equal(dup.statusCode, 409);
  assert.deepEqual(dup.json().error.code, 'CREDENTIAL_EXISTS');
  assert.equal(dup.json().error.path, '/name');
  assert.match(dup.json().error.message, /PUT \/v1\/credentials\/crm-api/);

  const before = (await inject('GET', '/v1/credentials/crm-api')).json() as { createdAt: string; updatedAt: string };
  const sealedBefore = (await t.store.db.collection<CredentialDocument>('credentials').findOne({ workspaceId, name: 'crm-api' }))!.sealed;
  await sleep(5);
  const put = await inject('PUT', '/v1/credentials/crm-api', { type: 'bearer', token: 'rotated-token-0123456789' });
  assert.equal(put.statusCode, 200, put.body);
  assertNoSecret(put.body);
  const after_ = put.json() as { name: string; createdAt: string; updatedAt: string };
  assert.equal(after_.name, 'crm-api');
  assert.equal(after_.createdAt, before.createdAt);
  assert.ok(after_.updatedAt > before.updatedAt);
  const doc = (await t.store.db.collection<CredentialDocument>('credentials').findOne({ workspaceId, name: 'crm-api' }))!;
  assert.notEqual(doc.sealed, sealedBefore);
  const store = createCredentialStore(t.store.db, new SecretBox(t.config.secretsKey));
  const resolved = await store.resolve(workspaceId, 'crm-api');
  assert.ok(resolved?.type === 'bearer');
  assert.equal(resolved.token.reveal(), 'rotated-token-0123456789');

  // A PUT may change the type, names the same credential or none, and needs an existing one.
  const retyped = await inject('PUT', '/v1/credentials/crm-api', { name: 'crm-api', type: 'header', header: 'Authorization', value: `Token ${TOKEN}` });
  assert.equal(retyped.statusCode, 200, retyped.body);
  assert.equal(retyped.json().header, 'Authorization');
  const renamed = await inject('PUT', '/v1/credentials/crm-api', { name: 'other', type: 'bearer', token: TOKEN });
  assert.equal(renamed.statusCode, 400);
  assert.equal(renamed.json().error.path, '/name');
  const missing = await inject('PUT', '/v1/credentials/never-made', { type: 'bearer', token: TOKEN });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error.path, '/params/name');
});

test('DELETE answers 204, then the credential is gone', async () => {
  const created = await inject('POST', '/v1/credentials', { name: 'short-lived', type: 'bearer', token: TOKEN });
  assert.equal(created.statusCode, 201);
  const del = await inject('DELETE', '/v1/credentials/short-lived');
  assert.equal(del.statusCode, 204);
  assert.equal(del.body, '');
  assert.equal((await inject('GET', '/v1/credentials/short-lived')).statusCode, 404);
  const again = await inject('DELETE', '/v1/credentials/short-lived');
  assert.equal(again.statusCode, 404);
  assert.equal(again.json().error.code, 'NOT_FOUND');
  // The name is free again.
  assert.equal((await inject('POST', '/v1/credentials', { name: 'short-lived', type: 'bearer', token: TOKEN })).statusCode, 201);
});

test('every bad input is a 400 naming the field, and never repeats a secret', async () => {
  const cases: [unknown, string][] = [
    [[1, 2], ''],
    [{ type: 'bearer', token: TOKEN }, '/name'],
    [{ name: '', type: 'bearer', token: TOKEN }, '/name'],
    [{ name: '-leading', type: 'bearer', token: TOKEN }, '/name'],
    [{ name: 'has space', type: 'bearer', token: TOKEN }, '/name'],
    [{ name: 'x'.repeat(101), type: 'bearer', token: TOKEN }, '/name'],
    [{ name: 'a', token: TOKEN }, '/type'],
    [{ name: 'a', type: 'oauth2', token: TOKEN }, '/type'],
    [{ name: 'a', type: 'bearer' }, '/token'],
    [{ name: 'a', type: 'bearer', token: '' }, '/token'],
    [{ name: 'a', type: 'bearer', token: 42 }, '/token'],
    [{ name: 'a', type: 'bearer', token: `${TOKEN}\r\nX-Injected: 1` }, '/token'],
    [{ name: 'a', type: 'bearer', token: 'x'.repeat(4097) }, '/token'],
    [{ name: 'a', type: 'bearer', token: TOKEN, username: 'u' }, '/username'],
    [{ name: 'a', type: 'bearer', token: TOKEN, __proto__x: 1 }, '/__proto__x'],
    [{ name: 'a', type: 'basic', password: PASSWORD }, '/username'],
    [{ name: 'a', type: 'basic', username: 'u' }, '/password'],
    [{ name: 'a', type: 'basic', username: 'u:x', password: PASSWORD }, '/username'],
    [{ name: 'a', type: 'basic', username: 'u', password: `${PASSWORD}\u0000` }, '/password'],
    [{ name: 'a', type: 'header', value: API_KEY }, '/header'],
    [{ name: 'a', type: 'header', header: 'X-Api-Key' }, '/value'],
    [{ name: 'a', type: 'header', header: 'Bad Header', value: API_KEY }, '/header'],
    [{ name: 'a', type: 'header', header: 'Host', value: API_KEY }, '/header'],
    [{ name: 'a', type: 'header', header: 'X-Api-Key', value: `${API_KEY}\n` }, '/value'],
    [{ name: 'a', type: 'header', header: 'X-Api-Key', value: API_KEY, token: TOKEN }, '/token'],
    [{ name: 'a', type: 'smtp' }, '/host'],
    [{ name: 'a', type: 'smtp', host: 'smtp example.com' }, '/host'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', port: 0 }, '/port'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', port: '587' }, '/port'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', secure: 'yes' }, '/secure'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', username: 'u' }, '/password'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', password: SMTP_PASSWORD }, '/username'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', from: 'not an address' }, '/from'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', from: 'Hub <nope>' }, '/from'],
    [{ name: 'a', type: 'smtp', host: 'smtp.example.com', token: TOKEN }, '/token'],
  ];
  for (const [body, path] of cases) {
    const res = await inject('POST', '/v1/credentials', body);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)} → ${res.body}`);
    const error = res.json().error as { code: string; message: string; path: string };
    assert.equal(error.code, 'BODY_INVALID', res.body);
    assert.equal(error.path, path, `${JSON.stringify(body)} → ${res.body}`);
    assertNoSecret(res.body);
  }
  // Malformed JSON holding a secret: the refusal does not quote it.
  const broken = await t.app.inject({ method: 'POST', url: '/v1/credentials', headers: { ...auth, 'content-type': 'application/json' }, payload: `{"name": "a", "type": "bearer", "token": "${TOKEN}" x}` });
  assert.equal(broken.statusCode, 400);
  assert.equal(broken.json().error.code, 'JSON_INVALID');
  assertNoSecret(broken.body);
  const proto = await t.app.inject({ method: 'POST', url: '/v1/credentials', headers: { ...auth, 'content-type': 'application/json' }, payload: `{"name": "a", "type": "bearer", "token": "${TOKEN}", "__proto__": {"x": 1}}` });
  assert.equal(proto.statusCode, 400);
  assert.equal(proto.json().error.path, '/__proto__');
  const big = await inject('POST', '/v1/credentials', { name: 'a', type: 'bearer', token: 'x'.repeat(70_000) });
  assert.equal(big.statusCode, 413);
  const form = await t.app.inject({ method: 'POST', url: '/v1/credentials', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=a' });
  assert.equal(form.statusCode, 415);
  // Unauthenticated, and unknown names in the URL.
  assert.equal((await inject('GET', '/v1/credentials', undefined, {})).statusCode, 401);
  assert.equal((await inject('POST', '/v1/credentials', bodies.bearer, {})).statusCode, 401);
  for (const name of ['nope', '..', '%00']) {
    const res = await inject('GET', `/v1/credentials/${name}`);
    assert.equal(res.statusCode, 404, name);
  }
  assert.equal((await inject('PUT', '/v1/credentials/crm-api', { type: 'bearer' })).json().error.path, '/token');
  assert.equal((await t.app.inject({ method: 'PATCH', url: '/v1/credentials/crm-api', headers: auth })).statusCode, 405);
});

test('another workspace sees none of them and cannot change them', async () => {
  const list = await inject('GET', '/v1/credentials', undefined, other);
  assert.deepEqual(list.json(), { credentials: [] });
  for (const [method, payload] of [['GET', undefined], ['PUT', { type: 'bearer', token: 'stolen-token-123' }], ['DELETE', undefined]] as const) {
    const res = await inject(method, '/v1/credentials/legacy.erp', payload, other);
    assert.equal(res.statusCode, 404, `${method} ${res.body}`);
  }
  // The same name is free in the other workspace, and stays separate.
  assert.equal((await inject('POST', '/v1/credentials', { name: 'legacy.erp', type: 'bearer', token: 'theirs-0123456789' }, other)).statusCode, 201);
  assert.equal((await inject('GET', '/v1/credentials/legacy.erp')).json().type, 'basic');
  const store = createCredentialStore(t.store.db, new SecretBox(t.config.secretsKey));
  const mine = await store.resolve(workspaceId, 'legacy.erp');
  assert.ok(mine?.type === 'basic');
  assert.equal(mine.password.reveal(), PASSWORD);
});

test('a workflow that embeds a secret is refused at its path, pointing to the credentials route', async () => {
  const workflow = (input: object) => ({ name: 'push', trigger: { type: 'manual', availability: 'global' }, steps: [{ id: 'push', type: 'http', input }] });
  const jwt = ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', 'dozjgNryP4J3jVmNHl0w5N'].join('.');
  for (const [input, path] of [
    [{ method: 'POST', url: 'https://api.example.com/x', body: { auth: `Bearer ${jwt}` } }, '/steps/0/input/body/auth'],
    [{ method: 'GET', url: 'https://api.example.com/x', query: { api_key: 'abcd1234' } }, '/steps/0/input/query/api_key'],
    [{ method: 'GET', url: 'https://svc:s3cret@api.example.com/x' }, '/steps/0/input/url'],
  ] as const) {
    const res = await inject('POST', '/v1/workflows', workflow(input));
    assert.equal(res.statusCode, 400, res.body);
    const error = res.json().error as { code: string; message: string; path: string };
    assert.equal(error.code, 'WORKFLOW_INVALID');
    assert.equal(error.path, path);
    assert.match(error.message, /POST \/v1\/credentials.*auth\.credential/);
    assert.doesNotMatch(error.message, /s3cret|abcd1234|eyJ/);
  }
  const ok = await inject('POST', '/v1/workflows', workflow({ method: 'POST', url: 'https://api.example.com/x', body: { email: '{{trigger.email}}' }, auth: { credential: 'crm-api' } }));
  assert.equal(ok.statusCode, 201, ok.body);
});

test('no log line carries a secret', () => {
  const all = logLines.join('');
  assert.match(all, /credential created/);
  assertNoSecret(all);
});

test('a basic credential may have an empty password (APIs that take "key:")', async () => {
  const res = await inject('POST', '/v1/credentials', { name: 'stripe-basic', type: 'basic', username: 'sk_test_1234', password: '' });
  assert.equal(res.statusCode, 201, res.body);
  const store = createCredentialStore(t.store.db, new SecretBox(t.config.secretsKey));
  const resolved = await store.resolve(workspaceId, 'stripe-basic');
  assert.equal(resolved?.type, 'basic');
  assert.equal(resolved?.type === 'basic' ? resolved.password.reveal() : null, '');
});

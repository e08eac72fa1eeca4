/** Workspaces, API keys and the wall between workspaces: every route tried with another workspace's key. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { eventually, testLogger } from '../support/env.ts';
import { createRecordProjector } from '../../services/record-projector/app.ts';
import { createRecordStore } from '../../libs/store/records.ts';
import type { ConsumerRunner } from '../../libs/kafka/consumer.ts';

let t: TestIngress;
let projector: ConsumerRunner;
before(async () => {
  t = await startTestIngress('access');
  projector = createRecordProjector({ runtime: t.runtime, records: createRecordStore(t.store.db), log: testLogger('projector') });
  await projector.start();
});
after(async () => {
  await projector?.stop();
  await t?.close();
});

const admin = () => ({ authorization: `Bearer ${t.adminToken}` });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

test('admin routes need the admin token; a workspace key is not one', async () => {
  const ws = await t.createWorkspace('acme');
  for (const headers of [{}, bearer('wrong-token-wrong-token-wrong'), bearer(ws.apiKey)]) {
    const res = await t.app.inject({ method: 'POST', url: '/v1/admin/workspaces', headers, payload: { name: 'x' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'UNAUTHORIZED');
  }
  const bad = await t.app.inject({ method: 'POST', url: '/v1/admin/workspaces', headers: admin(), payload: { name: '' } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.path, '/name');
});

test('a key is shown once, stored only as a hash, listed by prefix, and revocation answers 403 at once', async () => {
  const ws = await t.createWorkspace('keys');
  assert.match(ws.apiKey, /^hub_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
  const stored = await t.store.db.collection('api_keys').find({ workspaceId: ws.workspaceId }).toArray();
  assert.equal(stored.length, 1);
  assert.ok(!JSON.stringify(stored).includes(ws.apiKey.slice('hub_'.length + 13)), 'the secret part is not stored');
  const second = (await t.app.inject({ method: 'POST', url: `/v1/admin/workspaces/${ws.workspaceId}/keys`, headers: admin() })).json() as { keyId: string; apiKey: string };
  const keys = (await t.app.inject({ method: 'GET', url: `/v1/admin/workspaces/${ws.workspaceId}/keys`, headers: admin() })).json() as { keys: { keyId: string; prefix: string; revokedAt: string | null }[] };
  assert.deepEqual(keys.keys.map((k) => k.keyId), [ws.keyId, second.keyId]);
  assert.ok(!JSON.stringify(keys).includes(second.apiKey), 'listing shows prefixes only');
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(second.apiKey) })).statusCode, 200);
  const revoked = await t.app.inject({ method: 'DELETE', url: `/v1/admin/workspaces/${ws.workspaceId}/keys/${second.keyId}`, headers: admin() });
  assert.equal(revoked.statusCode, 200);
  const refused = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(second.apiKey) });
  assert.equal(refused.statusCode, 403);
  assert.equal(refused.json().error.code, 'KEY_REVOKED');
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(ws.apiKey) })).statusCode, 200, 'the other key still works');
  assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/admin/workspaces/${ws.workspaceId}/keys/nope`, headers: admin() })).statusCode, 404);
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/admin/workspaces/ws_nope/keys', headers: admin() })).statusCode, 404);
  const unknown = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer('hub_000000000000_abcdefabcdefabcdefabcdefabcdefab') });
  assert.equal(unknown.statusCode, 401);
});

test('a workspace can never read, write or trigger another workspace\'s data', async () => {
  const a = await t.createWorkspace('a');
  const b = await t.createWorkspace('b');
  // Workspace A's data: a record and a hook.
  const ev = await t.app.inject({ method: 'POST', url: '/v1/events', headers: bearer(a.apiKey), payload: { id: randomUUID(), type: 'record.created', object: 'people', recordId: 'secret-person', record: { name: 'A only' } } });
  assert.equal(ev.statusCode, 202);
  const hook = (await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: bearer(a.apiKey), payload: { name: 'a hook', expectedBody: {} } })).json() as { hookId: string };
  await eventually('A sees its record', async () => (await t.app.inject({ method: 'GET', url: '/v1/records/people/secret-person', headers: bearer(a.apiKey) })).statusCode === 200);

  const asB = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = {}) =>
    t.app.inject({ method, url, headers: { ...bearer(b.apiKey), ...headers }, ...(payload ? { payload } : {}) });
  const notFound = [
    await asB('GET', '/v1/records/people/secret-person'),
    await asB('GET', `/v1/hooks/${hook.hookId}`),
    await asB('DELETE', `/v1/hooks/${hook.hookId}`),
    await asB('POST', `/v1/hooks/${hook.hookId}/disable`),
    await asB('POST', `/v1/hooks/${hook.hookId}/enable`),
    await asB('POST', `/v1/hooks/${hook.hookId}/secrets`, { secret: 'whsec_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }),
  ];
  for (const res of notFound) assert.equal(res.statusCode, 404, res.body);
  assert.deepEqual((await asB('GET', '/v1/records/people')).json().records, []);
  assert.ok(!(await asB('GET', '/v1/hooks')).body.includes(hook.hookId));
  const forbidden = [
    await asB('GET', `/v1/workspaces/${a.workspaceId}`),
    await asB('GET', '/v1/records/people', undefined, { 'hub-workspace-id': a.workspaceId }),
    await asB('POST', '/v1/events', { type: 'record.created', object: 'people', recordId: 'x', record: {} }, { 'hub-workspace-id': a.workspaceId }),
    await asB('POST', '/v1/hooks', { name: 'x' }, { 'hub-workspace-id': a.workspaceId }),
  ];
  for (const res of forbidden) {
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().error.code, 'WORKSPACE_FORBIDDEN');
  }
  assert.equal((await asB('GET', `/v1/workspaces/${b.workspaceId}`)).statusCode, 200);
  // B writing the same record id lands in B, never in A.
  await asB('POST', '/v1/events', { type: 'record.created', object: 'people', recordId: 'secret-person', record: { name: 'B version' } });
  await eventually('B sees its own', async () => (await asB('GET', '/v1/records/people/secret-person')).statusCode === 200);
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/records/people/secret-person', headers: bearer(a.apiKey) })).json().record.name, 'A only');
  // A's hook, disabled by nobody, still works for its senders.
  assert.equal((await t.app.inject({ method: 'POST', url: `/hooks/${hook.hookId}`, payload: {} })).statusCode, 202);
});

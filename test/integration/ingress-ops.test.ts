/** Health, readiness, metrics, OpenAPI, rate limits, and logs that never carry secrets. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { sign, generateSecret } from '../../libs/webhooks/standard.ts';

let t: TestIngress;
const logLines: string[] = [];
before(async () => {
  const destination = new Writable({ write(chunk, _e, cb) { logLines.push(String(chunk)); cb(); } });
  t = await startTestIngress('ops', { env: { HUB_RATE_LIMIT_RPS: '5', HUB_RATE_LIMIT_BURST: '5' }, logDestination: destination });
});
after(async () => { await t?.close(); });

test('healthz and readyz', async () => {
  const health = await t.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
  const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200, ready.body);
  assert.deepEqual(ready.json().parts, { kafka: true, registry: true, store: true });
});

test('/docs/json is an OpenAPI 3 document of every route', async () => {
  const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\./);
  for (const [path, method] of [['/v1/events', 'post'], ['/v1/records/{object}', 'get'], ['/v1/records/{object}/{recordId}', 'get'], ['/v1/hooks', 'post'], ['/hooks/{hookId}', 'post'], ['/hooks/{hookId}', 'get'], ['/v1/admin/workspaces', 'post'], ['/v1/admin/workspaces/{workspaceId}/keys/{keyId}', 'delete'], ['/metrics', 'get'], ['/readyz', 'get']] as const) {
    assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} documented`);
  }
});

test('rate limits are per workspace: 429 with Retry-After, and another workspace is not affected', async () => {
  const a = await t.createWorkspace('busy');
  const b = await t.createWorkspace('quiet');
  const statuses: number[] = [];
  let retryAfter: string | undefined;
  for (let i = 0; i < 12; i++) {
    const res = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: { authorization: `Bearer ${a.apiKey}` } });
    statuses.push(res.statusCode);
    if (res.statusCode === 429) {
      retryAfter = res.headers['retry-after'] as string;
      assert.equal(res.json().error.code, 'RATE_LIMITED');
    }
  }
  assert.ok(statuses.includes(429), statuses.join(','));
  assert.ok(Number(retryAfter) >= 1);
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: { authorization: `Bearer ${b.apiKey}` } })).statusCode, 200);
});

test('metrics count requests by route and status, events published, duplicates and refusals by code', async () => {
  const ws = await t.createWorkspace('metrics');
  const headers = { authorization: `Bearer ${ws.apiKey}` };
  const id = '0b7c6a1e-5a43-4b0a-9f57-4a3c3f6f3b7e';
  await t.app.inject({ method: 'POST', url: '/v1/events', headers, payload: { id, type: 'record.created', object: 'people', recordId: 'm1', record: {} } });
  await t.app.inject({ method: 'POST', url: '/v1/events', headers, payload: { id, type: 'record.created', object: 'people', recordId: 'm1', record: {} } });
  await t.app.inject({ method: 'POST', url: '/v1/events', headers, payload: { type: 'nope' } });
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /hub_http_requests_total\{route="\/v1\/events",method="POST",status="202"\} 2/);
  assert.match(text, /hub_http_requests_total\{route="\/v1\/events",method="POST",status="400"\} 1/);
  assert.match(text, /hub_http_request_duration_seconds_bucket\{le="0.1",route="\/v1\/events",method="POST"\} \d+/);
  assert.match(text, /hub_events_published_total\{topic="crm.records"\} 1/);
  assert.match(text, /hub_events_duplicates_total\{kind="event"\} 1/);
  assert.match(text, /hub_requests_rejected_total\{code="EVENT_INVALID"\} 1/);
});

test('logs carry workspace, route and event ids, and never a key, secret or signature', async () => {
  const ws = await t.createWorkspace('logs');
  const headers = { authorization: `Bearer ${ws.apiKey}` };
  const id = '7d2c1e84-3f0a-4c52-9b1e-2a6f5d8c9e01';
  await t.app.inject({ method: 'POST', url: '/v1/events', headers, payload: { id, type: 'record.created', object: 'people', recordId: 'l1', record: {} } });
  const secret = generateSecret();
  const hook = (await t.app.inject({ method: 'POST', url: '/v1/hooks', headers, payload: { name: 'h', secret } })).json() as { hookId: string };
  const now = Math.floor(Date.now() / 1000);
  const signature = sign(secret, 'msg_log', now, '{}');
  await t.app.inject({ method: 'POST', url: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_log', 'webhook-timestamp': String(now), 'webhook-signature': signature }, payload: '{}' });
  await t.app.inject({ method: 'POST', url: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_bad', 'webhook-timestamp': String(now), 'webhook-signature': 'v1,AAAA' }, payload: '{}' });
  await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: { authorization: `Bearer ${ws.apiKey}x` } });
  const text = logLines.join('');
  const accepted = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'events accepted' && l.workspaceId === ws.workspaceId);
  assert.ok(accepted, 'one line per accepted request');
  assert.equal(accepted.route, '/v1/events');
  assert.deepEqual(accepted.eventIds, [id]);
  assert.ok(logLines.some((l) => l.includes('"webhook accepted"') && l.includes(hook.hookId)));
  for (const secretText of [ws.apiKey, ws.apiKey.slice('hub_'.length + 13), secret, secret.slice(6), signature.slice(3), t.adminToken]) {
    assert.ok(secretText.length >= 16, 'each secret checked is a real one');
    assert.ok(!text.includes(secretText), `a secret leaked into the logs: ${secretText.slice(0, 6)}…`);
  }
});

/**
 * The split of the HTTP side (issue 11) on the real stack: the ingress serves the hot
 * path and forwards the rest; the api serves the control plane and not the hot path;
 * bodiless POSTs with content-type JSON pass; /docs and /metrics cover both processes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';

let t: TestIngress;
let ws: { workspaceId: string; apiKey: string; keyId: string };
before(async () => {
  t = await startTestIngress('split');
  ws = await t.createWorkspace('split');
});
after(async () => { await t?.close(); });

const key = () => ({ authorization: `Bearer ${ws.apiKey}` });
/** What clients that always send the header do: content-type JSON and no body. */
const bodiless = () => ({ ...key(), 'content-type': 'application/json' });

test('each service refuses the other\'s routes when called directly; the hub address answers both', async () => {
  const event = { id: randomUUID(), type: 'record.created', object: 'people', recordId: 'p1', record: { name: 'Ada' } };
  const onApi = await t.api.inject({ method: 'POST', url: '/v1/events', headers: key(), payload: event });
  assert.equal(onApi.statusCode, 404, onApi.body);
  assert.equal(onApi.json().error.code, 'NOT_FOUND');
  assert.equal((await t.api.inject({ method: 'POST', url: '/hooks/hk_AAAAAAAAAAAAAAAA', payload: {} })).statusCode, 404);
  assert.equal((await t.app.inject({ method: 'POST', url: '/v1/events', headers: key(), payload: event })).statusCode, 202);

  for (const [method, url] of [['GET', '/v1/workspace'], ['GET', '/v1/workflows'], ['POST', '/v1/hooks'], ['GET', '/v1/admin/workspaces'], ['GET', '/v1/credentials'], ['GET', '/v1/records/:object']] as const) {
    assert.ok(!t.app.hasRoute({ method, url }), `the ingress has no route ${method} ${url}`);
    assert.ok(t.api.hasRoute({ method, url }), `the api has ${method} ${url}`);
  }
  for (const [method, url] of [['POST', '/v1/events'], ['POST', '/hooks/:hookId'], ['GET', '/hooks/:hookId']] as const) {
    assert.ok(t.app.hasRoute({ method, url }), `the ingress has ${method} ${url}`);
    assert.ok(!t.api.hasRoute({ method, url }), `the api has no route ${method} ${url}`);
  }
  // Through the ingress, the api's answers arrive as the api gave them.
  const direct = await t.api.inject({ method: 'GET', url: '/v1/workspace', headers: key() });
  const forwarded = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: key() });
  assert.equal(forwarded.statusCode, 200);
  assert.deepEqual(forwarded.json(), direct.json());
  assert.equal(forwarded.headers['content-type'], direct.headers['content-type']);
  const missing = await t.app.inject({ method: 'GET', url: '/v1/hooks/hk_AAAAAAAAAAAAAAAA', headers: key() });
  assert.deepEqual({ status: missing.statusCode, body: missing.json() }, { status: 404, body: (await t.api.inject({ method: 'GET', url: '/v1/hooks/hk_AAAAAAAAAAAAAAAA', headers: key() })).json() });
  const wrongMethod = await t.app.inject({ method: 'PATCH', url: '/v1/workflows', headers: key() });
  assert.equal(wrongMethod.statusCode, 405, 'the api\'s 405 comes through');
  assert.equal(wrongMethod.headers.allow, 'GET, HEAD, POST');
});

test('bodiless POSTs and DELETEs sent with content-type application/json are accepted', async () => {
  const created = await t.app.inject({
    method: 'POST', url: '/v1/workflows', headers: key(),
    payload: { name: 'by hand', trigger: { type: 'manual', availability: 'global' }, steps: [{ id: 'c', type: 'code', input: { source: 'return 1' } }] },
  });
  assert.equal(created.statusCode, 201, created.body);
  const { workflowId } = created.json() as { workflowId: string };
  const activated = await t.app.inject({ method: 'POST', url: `/v1/workflows/${workflowId}/activate`, headers: bodiless() });
  assert.equal(activated.statusCode, 200, activated.body);
  const started = await t.app.inject({ method: 'POST', url: `/v1/workflows/${workflowId}/runs`, headers: bodiless() });
  assert.equal(started.statusCode, 202, started.body);
  const [runId] = (started.json() as { runIds: string[] }).runIds;
  const cancelled = await t.app.inject({ method: 'POST', url: `/v1/runs/${runId}/cancel`, headers: bodiless() });
  assert.equal(cancelled.statusCode, 202, cancelled.body);
  assert.equal((await t.app.inject({ method: 'POST', url: `/v1/workflows/${workflowId}/deactivate`, headers: bodiless() })).statusCode, 200);

  const hook = (await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: key(), payload: { name: 'h' } })).json() as { hookId: string };
  assert.equal((await t.app.inject({ method: 'POST', url: `/v1/hooks/${hook.hookId}/disable`, headers: bodiless() })).statusCode, 200);
  assert.equal((await t.app.inject({ method: 'POST', url: `/v1/hooks/${hook.hookId}/enable`, headers: bodiless() })).statusCode, 200);

  const admin = { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' };
  const newKey = await t.app.inject({ method: 'POST', url: `/v1/admin/workspaces/${ws.workspaceId}/keys`, headers: admin });
  assert.equal(newKey.statusCode, 201, newKey.body);
  const revoked = await t.app.inject({ method: 'DELETE', url: `/v1/admin/workspaces/${ws.workspaceId}/keys/${(newKey.json() as { keyId: string }).keyId}`, headers: admin });
  assert.equal(revoked.statusCode, 200, revoked.body);
  // A body that is required is still required.
  const empty = await t.app.inject({ method: 'POST', url: '/v1/hooks', headers: bodiless() });
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.json().error.code, 'BODY_INVALID');
});

test('/docs serves Swagger UI and /docs/json the OpenAPI document of the api and the ingress, at the hub address', async () => {
  for (const app of [t.app, t.api]) {
    const ui = await app.inject({ method: 'GET', url: '/docs' });
    const page = ui.statusCode === 302 ? await app.inject({ method: 'GET', url: `/docs/${String(ui.headers.location).replace(/^\.?\/?(docs\/)?/, '')}` }) : ui;
    assert.equal(page.statusCode, 200, page.body.slice(0, 200));
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /swagger-ui/i);
  }
  const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; requestBody?: unknown }>> };
  assert.match(doc.openapi, /^3\./);
  for (const [path, method] of [
    ['/v1/workflows', 'post'], ['/v1/workflows/{workflowId}/activate', 'post'], ['/v1/workflows/{workflowId}/test', 'post'], ['/v1/runs/{runId}/retry', 'post'],
    ['/v1/credentials/{name}', 'put'], ['/v1/hooks/{hookId}/secrets', 'post'], ['/v1/admin/workspaces', 'get'], ['/v1/workspace', 'get'],
    ['/v1/events', 'post'], ['/hooks/{hookId}', 'post'], ['/metrics', 'get'],
  ] as const) {
    assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} documented`);
  }
  // Each operation says what it needs, from the route's declared auth; bodies are described.
  assert.deepEqual(doc.paths['/v1/admin/workspaces']!.post!.security, [{ adminToken: [] }]);
  assert.deepEqual(doc.paths['/v1/workflows']!.post!.security, [{ apiKey: [] }]);
  assert.deepEqual(doc.paths['/hooks/{hookId}']!.post!.security, []);
  assert.ok(doc.paths['/v1/credentials']!.post!.requestBody, 'the credential body is described');
  assert.ok(!doc.paths['/docs'], 'the UI\'s own routes are not operations');
});

test('/metrics at the hub address carries the api\'s series too', async () => {
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: key() })).statusCode, 200);
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /^hub_api_up 1$/m);
  assert.match(text, /^hub_http_requests_total\{route="\/v1\/workspace",method="GET",status="200"\} \d+$/m);
  assert.match(text, /^hub_http_requests_total\{route="\/v1\/events",method="POST",status="202"\} \d+$/m);
  assert.match(text, /^hub_api_forwarded_total\{status="200"\} \d+$/m);
  assert.match(text, /^hub_api_process_cpu_seconds_total /m);
  assert.match(text, /^hub_ingress_process_cpu_seconds_total /m);
  assert.equal(text.match(/^# TYPE hub_http_requests_total /gm)?.length, 1, 'one family, both processes\' series');
});

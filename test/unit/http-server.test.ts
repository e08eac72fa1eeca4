/**
 * The one fastify setup of the hub's HTTP services (libs/http-server), with no stack:
 * auth declared per route and enforced by a hook, routes without a declaration refused,
 * schema failures in our error shape naming the field, 404/405 with Allow, and bodiless
 * POSTs sent with content-type JSON accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../libs/http-server/server.ts';
import { createHttpMetrics } from '../../libs/http-server/metrics.ts';
import { createRateLimiter } from '../../libs/http-server/rate-limit.ts';
import { principalOf, type Authenticator } from '../../libs/http-server/auth.ts';
import { raise } from '../../libs/http-server/errors.ts';
import { createLogger } from '../../libs/log/index.ts';
import { Writable } from 'node:stream';

const ADMIN = 'admin-token-admin-token-admin-token';
const KEY = 'hub_000000000001_workspacekeyworkspacekeyworkspace';
const quiet = createLogger({ service: 'http-server-test', level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

const authenticator: Authenticator = {
  async authenticate(authorization) {
    if (authorization === `Bearer ${KEY}`) return { workspaceId: 'ws_1', keyId: '000000000001' };
    throw raise('UNAUTHORIZED', 'unknown API key', { path: '/headers/authorization' });
  },
  forget() {},
};

function server(): FastifyInstance {
  const { app } = createHttpServer({
    log: quiet, metrics: createHttpMetrics({ processPrefix: 'hub_test_' }), bodyLimit: 1024 * 1024,
    auth: { authenticator, limiter: createRateLimiter(1000, 1000), adminToken: ADMIN },
  });
  app.get('/admin-only', { config: { auth: 'admin' } }, async () => ({ ok: 'admin' }));
  app.get('/workspace-only', { config: { auth: 'workspace' } }, async (request) => ({ workspaceId: principalOf(request).workspaceId }));
  app.get('/open', { config: { auth: 'public' } }, async () => ({ ok: 'public' }));
  app.post('/things/:thingId', {
    config: { auth: 'workspace' },
    schema: {
      params: { type: 'object', properties: { thingId: { type: 'string', pattern: '^t_[0-9]+$' } } },
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 10 } } },
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1 }, size: { type: 'integer' } } },
    },
  }, async (request, reply) => reply.code(201).send({ body: request.body ?? null, query: request.query }));
  app.post('/things/:thingId/activate', { config: { auth: 'workspace' } }, async (request) => ({ activated: (request.params as { thingId: string }).thingId, body: request.body ?? null }));
  return app;
}

const as = (token: string) => ({ authorization: `Bearer ${token}` });

test('a route declared admin refuses a workspace key, a workspace route refuses the admin token, a public route needs nothing', async () => {
  const app = server();
  assert.equal((await app.inject({ url: '/admin-only', headers: as(ADMIN) })).statusCode, 200);
  for (const headers of [{}, as(KEY), as(`${ADMIN}x`)]) {
    const res = await app.inject({ url: '/admin-only', headers });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { error: { code: 'UNAUTHORIZED', message: 'admin routes need "Authorization: Bearer <admin token>"', path: '/headers/authorization' } });
  }
  assert.deepEqual((await app.inject({ url: '/workspace-only', headers: as(KEY) })).json(), { workspaceId: 'ws_1' });
  for (const headers of [{}, as(ADMIN)]) {
    const res = await app.inject({ url: '/workspace-only', headers });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'UNAUTHORIZED');
  }
  const forbidden = await app.inject({ url: '/workspace-only', headers: { ...as(KEY), 'hub-workspace-id': 'ws_2' } });
  assert.equal(forbidden.statusCode, 403);
  assert.equal(forbidden.json().error.code, 'WORKSPACE_FORBIDDEN');
  assert.deepEqual((await app.inject({ url: '/open' })).json(), { ok: 'public' });
  // Authentication comes first: an anonymous caller learns nothing from the schema.
  const anonymous = await app.inject({ method: 'POST', url: '/things/nope', payload: { colour: 'red' } });
  assert.equal(anonymous.statusCode, 401);
});

test('a route that declares no auth is refused at registration (fail closed)', () => {
  const app = server();
  assert.throws(() => app.get('/forgotten', async () => ({})), /declares no config\.auth/);
  const { app: noAdmin } = createHttpServer({
    log: quiet, metrics: createHttpMetrics({ processPrefix: 'hub_test2_' }), bodyLimit: 1024,
    auth: { authenticator, limiter: createRateLimiter(1, 1), adminToken: null },
  });
  assert.throws(() => noAdmin.get('/admin', { config: { auth: 'admin' } }, async () => ({})), /no admin token/);
});

test('schema failures are 400s in our shape, naming the field by JSON pointer, and never quote the value', async () => {
  const app = server();
  const headers = as(KEY);
  for (const [url, payload, code, path, message] of [
    ['/things/t_1', {}, 'BODY_INVALID', '/name', /^name is required$/],
    ['/things/t_1', { name: 'a', colour: 'secret-value-123' }, 'BODY_INVALID', '/colour', /^unknown field "colour"; allowed: name, size$/],
    ['/things/t_1', { name: 'a', size: '12' }, 'BODY_INVALID', '/size', /^size must be an integer$/],
    ['/things/t_1', { name: '' }, 'BODY_INVALID', '/name', /^name must NOT have fewer than 1 characters$/],
    ['/things/t_1', [1], 'BODY_INVALID', '', /^body must be a JSON object$/],
    ['/things/t_1?limit=0', { name: 'a' }, 'QUERY_INVALID', '/query/limit', /^limit must be >= 1$/],
    ['/things/t_1?limit=x', { name: 'a' }, 'QUERY_INVALID', '/query/limit', /^limit must be an integer$/],
    ['/things/t_1?colour=red', { name: 'a' }, 'QUERY_INVALID', '/query/colour', /^unknown query parameter "colour"/],
    ['/things/x_1', { name: 'a' }, 'PARAMS_INVALID', '/params/thingId', /^thingId must match pattern/],
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers, payload: payload as object });
    assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}: ${res.body}`);
    const { error } = res.json() as { error: { code: string; path: string; message: string } };
    assert.equal(error.code, code, res.body);
    assert.equal(error.path, path, res.body);
    assert.match(error.message, message);
    assert.doesNotMatch(res.body, /secret-value-123/);
  }
  // Query strings are text: coerced to the declared types. Bodies are taken as sent.
  const ok = await app.inject({ method: 'POST', url: '/things/t_1?limit=3', headers, payload: { name: 'a', size: 2 } });
  assert.equal(ok.statusCode, 201, ok.body);
  assert.deepEqual(ok.json(), { body: { name: 'a', size: 2 }, query: { limit: 3 } });
});

test('a bodiless POST sent with content-type application/json is accepted (no FST_ERR_CTP_EMPTY_JSON_BODY)', async () => {
  const app = server();
  const res = await app.inject({ method: 'POST', url: '/things/t_1/activate', headers: { ...as(KEY), 'content-type': 'application/json' } });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { activated: 't_1', body: null });
  const withLength = await app.inject({ method: 'POST', url: '/things/t_1/activate', headers: { ...as(KEY), 'content-type': 'application/json', 'content-length': '0' }, payload: '' });
  assert.equal(withLength.statusCode, 200, withLength.body);
  // A body that is there is still parsed, and bad JSON is still refused.
  assert.equal((await app.inject({ method: 'POST', url: '/things/t_1/activate', headers: { ...as(KEY), 'content-type': 'application/json' }, payload: '{"a":' })).json().error.code, 'JSON_INVALID');
});

test('404 and 405 with Allow, in our shape', async () => {
  const app = server();
  const nope = await app.inject({ url: '/nowhere' });
  assert.equal(nope.statusCode, 404);
  assert.equal(nope.json().error.code, 'NOT_FOUND');
  const wrong = await app.inject({ method: 'DELETE', url: '/open' });
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.headers.allow, 'GET, HEAD');
  assert.equal(wrong.json().error.code, 'METHOD_NOT_ALLOWED');
});

/**
 * The ingress's forwarding to the api, against a scripted upstream on a loopback socket
 * (no stack): status, headers and bodies come back as the upstream sent them, a
 * streamed answer is streamed, the ingress's own paths are never forwarded, and an
 * unreachable api is a 503 API_UNAVAILABLE with Retry-After.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildIngressApp } from '../../services/ingress/app.ts';
import { createIngressMetrics } from '../../services/ingress/metrics.ts';
import type { IngressDeps } from '../../services/ingress/deps.ts';
import { createRateLimiter } from '../../libs/http-server/rate-limit.ts';
import { raise } from '../../libs/http-server/errors.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { createLogger } from '../../libs/log/index.ts';
import { freePort } from '../support/net.ts';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }
const seen: Seen[] = [];
let releaseStream: () => void = () => undefined;

/** The api's stand-in: a few fixed answers by path, and one that streams until released. */
function upstream(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
  const path = req.url!.split('?')[0];
  const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(value));
  };
  switch (path) {
    case '/v1/things':
      return json(201, { thingId: 't_1', echo: body }, { location: '/v1/things/t_1', 'x-request-id': 'abc', 'set-cookie': 'a=1' });
    case '/v1/things/missing':
      return json(404, { error: { code: 'NOT_FOUND', message: 'no thing missing', path: '/params/thingId' } });
    case '/v1/things/bad':
      return json(400, { error: { code: 'BODY_INVALID', message: 'unknown field "colour"', path: '/colour' } });
    case '/v1/stream':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n');
      releaseStream = () => res.end('last chunk\n');
      return;
    default:
      return json(404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}`, path: '/url' } });
  }
}

let api: Server;
let ingress: FastifyInstance;
let ingressUrl: string;

function ingressDeps(apiUrl: string): IngressDeps {
  const never = async () => { throw new Error('not used by these tests'); };
  return {
    log: createLogger({ service: 'forward-test', level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) }),
    maxEventsBodyBytes: 1024 * 1024, maxHookBodyBytes: 1024 * 1024, ackTimeoutMs: 1000,
    bus: { publish: never } as unknown as IngressDeps['bus'], recordsTopic: 'records', webhooksTopic: 'webhooks',
    hooks: { get: async () => null }, ledger: {} as IngressDeps['ledger'],
    secrets: new SecretBox({ id: 'test', key: randomBytes(32) } as ConstructorParameters<typeof SecretBox>[0]),
    auth: { authenticate: async () => { throw raise('UNAUTHORIZED', 'no keys here', { path: '/headers/authorization' }); }, forget() {} },
    limiter: createRateLimiter(1000, 1000), metrics: createIngressMetrics(),
    api: { url: apiUrl, timeoutMs: 5000 },
    sync: { connections: { get: async () => null }, credentials: { resolve: async () => null }, inboundTopic: 'sync.inbound' }, publicUrl: 'http://127.0.0.1',
    readiness: async () => ({ kafka: true }), now: Date.now,
  };
}

before(async () => {
  api = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => upstream(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  ingress = await buildIngressApp(ingressDeps(`http://127.0.0.1:${(api.address() as AddressInfo).port}`));
  ingressUrl = await ingress.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  releaseStream();
  await ingress?.close();
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
});

test('a 201 comes back with its status, headers and body; the request reaches the api as sent', async () => {
  const payload = '{"name":  "spaced",\n"n": 1}';
  const res = await ingress.inject({ method: 'POST', url: '/v1/things?x=1&y=%C3%A9', headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-trace': 't1', connection: 'keep-alive, x-drop-me', 'x-drop-me': '1' }, payload });
  assert.equal(res.statusCode, 201);
  assert.equal(res.headers.location, '/v1/things/t_1');
  assert.equal(res.headers['x-request-id'], 'abc');
  assert.equal(res.headers['set-cookie'], 'a=1');
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(res.json(), { thingId: 't_1', echo: payload });
  const got = seen.at(-1)!;
  assert.equal(got.method, 'POST');
  assert.equal(got.url, '/v1/things?x=1&y=%C3%A9');
  assert.equal(got.body, payload, 'the body is forwarded byte for byte, not re-serialized');
  assert.equal(got.headers.authorization, 'Bearer k');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.headers['x-trace'], 't1');
  assert.equal(got.headers['x-drop-me'], undefined, 'headers named by Connection are hop-by-hop');
});

test('a 404 and a 400 naming its path come back unchanged', async () => {
  const missing = await ingress.inject({ method: 'GET', url: '/v1/things/missing' });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json(), { error: { code: 'NOT_FOUND', message: 'no thing missing', path: '/params/thingId' } });
  const bad = await ingress.inject({ method: 'POST', url: '/v1/things/bad', headers: { 'content-type': 'application/json' }, payload: '{"colour": "red"}' });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(bad.json(), { error: { code: 'BODY_INVALID', message: 'unknown field "colour"', path: '/colour' } });
  // Whatever the body: the api parses it (and refuses it in its own words), not the ingress.
  const notJson = await ingress.inject({ method: 'POST', url: '/v1/things/bad', headers: { 'content-type': 'application/json' }, payload: '{"token": "s3cret" x' });
  assert.equal(notJson.statusCode, 400);
  assert.equal(seen.at(-1)!.body, '{"token": "s3cret" x');
});

test('a streamed answer is streamed: the first chunk arrives before the api has finished', async () => {
  const res = await fetch(`${ingressUrl}/v1/stream`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain');
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(Buffer.from(first.value!).toString('utf8'), 'first chunk\n');
  releaseStream();
  let rest = '';
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString('utf8');
  assert.equal(rest, 'last chunk\n');
});

test('the ingress never forwards its own paths: a wrong method on them is its own 405', async () => {
  const before = seen.length;
  for (const [method, url, allow] of [['GET', '/v1/events', 'POST'], ['PUT', '/hooks/hk_abc', 'GET, HEAD, POST'], ['POST', '/metrics', 'GET, HEAD'], ['DELETE', '/healthz', 'GET, HEAD']] as const) {
    const res = await ingress.inject({ method, url });
    assert.equal(res.statusCode, 405, `${method} ${url}`);
    assert.equal(res.headers.allow, allow);
  }
  // Its own routes answer here (no hook behind this id), and nothing reached the api.
  assert.equal((await ingress.inject({ method: 'POST', url: '/hooks/hk_AAAAAAAAAAAAAAAA', payload: {} })).statusCode, 404);
  assert.equal((await ingress.inject({ method: 'POST', url: '/v1/events', payload: {} })).statusCode, 401);
  assert.equal((await ingress.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  assert.equal(seen.length, before);
  assert.ok(!ingress.hasRoute({ method: 'GET', url: '/v1/workflows' }), 'no control-plane route in the ingress');
});

test('a request head too large for the api is refused in our shape', async () => {
  const res = await ingress.inject({ method: 'GET', url: `/v1/things/missing?cursor=${'A'.repeat(20_000)}` });
  assert.equal(res.statusCode, 431);
  assert.equal(res.json().error.code, 'REQUEST_HEADERS_TOO_LARGE');
});

test('the api down: 503 API_UNAVAILABLE with Retry-After, for reads and writes', async () => {
  const down = await buildIngressApp(ingressDeps(`http://127.0.0.1:${await freePort()}`));
  try {
    for (const [method, url] of [['GET', '/v1/workflows'], ['POST', '/v1/admin/workspaces'], ['GET', '/docs']] as const) {
      const res = await down.inject({ method, url, ...(method === 'POST' ? { payload: { name: 'x' } } : {}) });
      assert.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'API_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) >= 1);
    }
    // The hot path does not need the api.
    assert.equal((await down.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const metrics = await down.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /^hub_api_up 0$/m);
    assert.match(metrics.body, /^hub_requests_rejected_total\{code="API_UNAVAILABLE"\} 3$/m);
  } finally {
    await down.close();
  }
});

test('odd requests are forwarded or refused in our shape, never a 5xx', async () => {
  for (const [method, headers, payload] of [
    ['GET', { 'content-type': '' }, undefined], ['GET', { 'content-type': 'application/json' }, undefined], ['HEAD', { 'content-type': 'text/x' }, undefined],
    ['POST', {}, 'no content type'], ['POST', { 'content-type': 'application/json; boundary="x' }, undefined], ['DELETE', { 'content-type': 'application/json' }, '{}'],
    ['CONNECT', {}, undefined], ['PROPFIND', {}, undefined], ['OPTIONS', { 'content-type': '' }, undefined],
  ] as const) {
    const res = await ingress.inject({ method: method as 'GET', url: '/v1/things/missing?x=%20é', headers, ...(payload !== undefined ? { payload } : {}) });
    assert.ok(res.statusCode < 500, `${method} ${JSON.stringify(headers)}: ${res.statusCode} ${res.body}`);
    if (method !== 'HEAD') assert.match(res.json().error.code, /^[A-Z_]+$/);
  }
});

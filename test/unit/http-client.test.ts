import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import dc from 'node:diagnostics_channel';
import { HubError } from '../../libs/errors/index.ts';
import { createHttpClient, type HttpClient } from '../../libs/http/client.ts';
import { HttpStatusError } from '../../libs/http/errors.ts';
import { parseAllowlist, type ResolvedAddress } from '../../libs/http/address-guard.ts';
import { classifyAddress } from '../../libs/http/address-ranges.ts';
import { bareHost } from '../../libs/http/ip.ts';
import { REDACTED, redactHeaders, redactSecrets } from '../../libs/http/redact.ts';

// Every server here listens on loopback only; nothing in this file may touch DNS or a
// public address (fake resolvers answer the names that are not answered locally).

// Safety net for the whole file: a client socket may only go to this machine. Should the
// guard ever regress, a hostile case fails here instead of reaching a private network or a
// cloud metadata service. (TLS sockets do not pass through net.connect, so the one https
// case in the lists points at a loopback counting server.)
const onThisMachine = new net.BlockList();
onThisMachine.addSubnet('127.0.0.0', 8, 'ipv4');
onThisMachine.addAddress('0.0.0.0', 'ipv4');
onThisMachine.addAddress('::1', 'ipv6');
onThisMachine.addAddress('::', 'ipv6');
const strayConnections: string[] = [];

function onMachine(address: string): boolean {
  const family = net.isIP(address);
  return family !== 0 && onThisMachine.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

type Lookup = (host: string, options: object, cb: (err: Error | null, address: string | Array<{ address: string }>, family?: number) => void) => void;

function safetyNet(message: unknown): void {
  const socket = (message as { socket: net.Socket }).socket;
  const connect = socket.connect.bind(socket) as (...args: unknown[]) => net.Socket;
  const refuse = (where: string): Error => {
    strayConnections.push(where);
    return new Error(`test safety net: refused a connection to ${where}`);
  };
  socket.connect = ((...args: unknown[]) => {
    // net.connect hands its normalized arguments over as one array: [options, callback].
    const normalized = args[0] as [{ host?: string; lookup?: Lookup }];
    const options = normalized[0];
    const host = options.host ?? 'localhost';
    const lookup = options.lookup;
    if (net.isIP(host) ? !onMachine(host) : lookup === undefined) {
      process.nextTick(() => socket.destroy(refuse(host)));
      return socket;
    }
    if (lookup) {
      normalized[0] = {
        ...options,
        lookup: (name, opts, cb) => lookup(name, opts, (err, address, family) => {
          const all = Array.isArray(address) ? address.map((a) => a.address) : [address];
          const stray = err ? undefined : all.find((a) => !onMachine(a));
          if (stray === undefined) cb(err, address, family);
          else cb(refuse(`${name} (${stray})`), '');
        }),
      };
    }
    return connect(...args);
  }) as typeof socket.connect;
}

function listen(server: net.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function close(server: net.Server): Promise<void> {
  if (server instanceof http.Server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A raw TCP server that only counts the connections it accepts. */
interface Counter { host: string; server: net.Server; accepted: number }

function counter(host: string): Counter {
  const c: Counter = { host, accepted: 0, server: net.createServer((socket) => { c.accepted++; socket.destroy(); }) };
  return c;
}

// ---- the application server on 127.0.0.1, for behaviour ----

const hits = new Map<string, number>();
function hit(path: string): number {
  const n = (hits.get(path) ?? 0) + 1;
  hits.set(path, n);
  return n;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(value));
}

const app = http.createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req);
    const n = hit(url.pathname);
    const echo = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body };
    switch (url.pathname) {
      case '/echo': return json(res, 200, echo);
      case '/text': res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }); return void res.end('héllo wörld');
      case '/latin1': res.writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' }); return void res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
      case '/created': return json(res, 201, { id: 'c1' });
      case '/r1': res.writeHead(302, { location: '/r2' }); return void res.end();
      case '/r2': res.writeHead(307, { location: `http://127.0.0.1:${appPort}/echo?via=r2` }); return void res.end();
      case '/see-other': res.writeHead(303, { location: '/echo' }); return void res.end();
      case '/moved': res.writeHead(301, { location: '/echo' }); return void res.end();
      case '/temporary': res.writeHead(307, { location: '/echo' }); return void res.end();
      case '/permanent': res.writeHead(308, { location: '/echo' }); return void res.end();
      case '/loop': res.writeHead(302, { location: '/loop' }); return void res.end();
      case '/no-location': res.writeHead(302); return void res.end('stay');
      case '/cross-origin': res.writeHead(302, { location: `http://localhost:${appPort}/echo` }); return void res.end();
      case '/to-file': res.writeHead(302, { location: 'file:///etc/passwd' }); return void res.end();
      case '/429': return n === 1 ? json(res, 429, { error: 'slow down' }, { 'retry-after': '1' }) : json(res, 200, { ok: true, n });
      case '/429-date': return n === 1 ? json(res, 429, {}, { 'retry-after': new Date(Date.parse(RETRY_NOW) + 7000).toUTCString() }) : json(res, 200, { n });
      case '/429-long': return n === 1 ? json(res, 429, {}, { 'retry-after': '3600' }) : json(res, 200, { n });
      case '/503': return n <= 2 ? json(res, 503, { error: 'unavailable' }) : json(res, 200, { ok: true, n });
      case '/503-backoff': return json(res, 503, { error: 'unavailable' });
      case '/500': return json(res, 500, { error: 'boom' }, { 'x-request-id': 'req-1' });
      case '/404': return json(res, 404, { error: 'nope' });
      case '/slow': return; // never answers; closeAllConnections ends it
      case '/slow-then-ok': if (n === 1) return; return json(res, 200, { n });
      case '/big': res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(2 * 1024 * 1024) }); return void res.end(Buffer.alloc(2 * 1024 * 1024, 97));
      case '/big-chunked': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 64; i++) res.write(Buffer.alloc(32 * 1024, 98));
        return void res.end();
      }
      case '/bad-json': res.writeHead(200, { 'content-type': 'application/json' }); return void res.end('{not json');
      default: return json(res, 404, { error: 'no route' });
    }
  })();
});

const RETRY_NOW = 'Wed, 21 Oct 2015 07:28:00 GMT';
let appPort = 0;
let local: HttpClient;

// ---- servers for the hostile tests: one port P on several loopback addresses ----

let P = 0;
const counters: Counter[] = [];
/** On 127.0.0.2:P, the only address the redirect client allows: it redirects wherever asked. */
const redirector = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const to = url.searchParams.get('u');
  if (to) { res.writeHead(302, { location: to }); res.end(); return; }
  json(res, 200, { ok: true });
});
let redirectorAccepted = 0;
redirector.on('connection', () => { redirectorAccepted++; });
let hasIpv6Loopback = false;

async function bindHostileServers(): Promise<void> {
  for (let tries = 0; tries < 10; tries++) {
    const first = counter('127.0.0.1');
    const port = await listen(first.server, '127.0.0.1');
    const others = ['127.0.0.3', '127.0.0.4'].map(counter);
    const bound: net.Server[] = [first.server];
    try {
      for (const c of others) { await listen(c.server, c.host, port); bound.push(c.server); }
      await listen(redirector, '127.0.0.2', port);
      bound.push(redirector);
    } catch {
      await Promise.all(bound.map(close));
      continue;
    }
    P = port;
    counters.push(first, ...others);
    const v6 = counter('::1');
    try {
      await listen(v6.server, '::1', port);
      counters.push(v6);
      hasIpv6Loopback = true;
    } catch {
      // no IPv6 loopback here: the [::1] cases still prove no socket is even created
    }
    return;
  }
  throw new Error('could not bind the same port on the loopback addresses');
}

before(async () => {
  dc.subscribe('net.client.socket', safetyNet);
  appPort = await listen(app, '127.0.0.1');
  local = createHttpClient({ allowlist: ['127.0.0.1'] });
  await bindHostileServers();
});

after(async () => {
  dc.unsubscribe('net.client.socket', safetyNet);
  assert.deepEqual(strayConnections, [], 'connections refused by the test safety net');
  await Promise.all([app, redirector, ...counters.map((c) => c.server)].map(close));
});

function expectError(code: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

// ---- behaviour, with 127.0.0.1 allowlisted ----

test('GET: JSON answer, query appended, headers sent, final URL', async () => {
  const res = await local.request({
    method: 'get', url: `http://127.0.0.1:${appPort}/echo?a=1`, query: { b: 'two words', n: 3, ok: true }, headers: { 'X-Trace': 't-1' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.attempts, 1);
  assert.equal(res.url, `http://127.0.0.1:${appPort}/echo?a=1&b=two+words&n=3&ok=true`);
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
  const body = res.body as { method: string; query: Record<string, string>; headers: Record<string, string> };
  assert.equal(body.method, 'GET');
  assert.deepEqual(body.query, { a: '1', b: 'two words', n: '3', ok: 'true' });
  assert.equal(body.headers['x-trace'], 't-1');
  assert.equal(body.headers['user-agent'], 'crm-integration-hub/0.1');
  assert.equal(body.headers['accept-encoding'], 'identity');
});

test('POST: an object goes as JSON, a string as is', async () => {
  const res = await local.request({ method: 'POST', url: `http://127.0.0.1:${appPort}/echo`, body: { name: 'Ada', tags: ['x'] } });
  const body = res.body as { method: string; body: string; headers: Record<string, string> };
  assert.equal(body.method, 'POST');
  assert.deepEqual(JSON.parse(body.body), { name: 'Ada', tags: ['x'] });
  assert.equal(body.headers['content-type'], 'application/json');
  assert.equal(body.headers['content-length'], String(Buffer.byteLength(body.body)));

  const text = await local.request({ method: 'PUT', url: `http://127.0.0.1:${appPort}/echo`, body: 'a=1&b=é', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const echoed = text.body as { body: string; headers: Record<string, string> };
  assert.equal(echoed.body, 'a=1&b=é');
  assert.equal(echoed.headers['content-type'], 'application/x-www-form-urlencoded');

  const created = await local.request({ method: 'POST', url: `http://127.0.0.1:${appPort}/created`, body: {} });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body, { id: 'c1' });
});

test('bodies: text in its charset, unparsable JSON as text', async () => {
  assert.equal((await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/text` })).body, 'héllo wörld');
  assert.equal((await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/latin1` })).body, 'café');
  assert.equal((await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/bad-json` })).body, '{not json');
});

test('localhost is allowed when its address is allowlisted', async () => {
  const res = await local.request({ method: 'GET', url: `http://localhost:${appPort}/echo` });
  assert.equal(res.status, 200);
});

test('redirects: followed, 303 and POST-on-302 become GET without body, 307/308 keep them', async () => {
  const chain = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/r1` });
  assert.equal(chain.status, 200);
  assert.equal(chain.url, `http://127.0.0.1:${appPort}/echo?via=r2`);
  assert.deepEqual((chain.body as { query: unknown }).query, { via: 'r2' });

  for (const [path, method, body] of [['/see-other', 'GET', ''], ['/moved', 'GET', ''], ['/temporary', 'POST', '{"x":1}'], ['/permanent', 'POST', '{"x":1}']] as const) {
    const res = await local.request({ method: 'POST', url: `http://127.0.0.1:${appPort}${path}`, body: { x: 1 } });
    const echo = res.body as { method: string; body: string; headers: Record<string, string> };
    assert.equal(echo.method, method, path);
    assert.equal(echo.body, body, path);
    assert.equal(echo.headers['content-type'], body ? 'application/json' : undefined, path);
  }
});

test('redirects: limits, no Location, maxRedirects 0, cross-origin drops credentials, non-http targets refused', async () => {
  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/loop` }), expectError('HTTP_TOO_MANY_REDIRECTS', /more than 5/));
  assert.equal(hits.get('/loop'), 6, 'the first request and 5 redirects');
  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/loop`, maxRedirects: 2 }), expectError('HTTP_TOO_MANY_REDIRECTS', /more than 2/));

  const stay = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/no-location` });
  assert.deepEqual([stay.status, stay.body], [302, 'stay']);
  const unfollowed = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/r1`, maxRedirects: 0 });
  assert.deepEqual([unfollowed.status, unfollowed.headers.location], [302, '/r2']);

  const cross = await local.request({
    method: 'GET', url: `http://127.0.0.1:${appPort}/cross-origin`, headers: { authorization: 'Bearer s3cret', cookie: 'sid=1', 'x-keep': 'yes' },
  });
  assert.equal(cross.url, `http://localhost:${appPort}/echo`);
  const headers = (cross.body as { headers: Record<string, string> }).headers;
  assert.equal(headers.authorization, undefined);
  assert.equal(headers.cookie, undefined);
  assert.equal(headers['x-keep'], 'yes');

  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/to-file` }), expectError('HTTP_URL_INVALID', /"file:".*only http: and https:/));
});

test('429 with Retry-After: waits as told, then succeeds; attempts counted', async () => {
  const started = Date.now();
  const res = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/429`, retry: { maxAttempts: 3, backoffMs: 10 } });
  const waited = Date.now() - started;
  assert.equal(res.status, 200);
  assert.equal(res.attempts, 2);
  assert.ok(waited >= 950 && waited < 3000, `waited ${waited} ms for Retry-After: 1`);
});

test('Retry-After as an HTTP date, the 60 s cap, and exponential backoff', async () => {
  const waits: number[] = [];
  const client = createHttpClient({ allowlist: ['127.0.0.1'], now: () => Date.parse(RETRY_NOW), sleep: async (ms) => { waits.push(ms); } });
  assert.equal((await client.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/429-date`, retry: { maxAttempts: 2, backoffMs: 10 } })).attempts, 2);
  assert.equal((await client.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/429-long`, retry: { maxAttempts: 2, backoffMs: 10 } })).attempts, 2);
  await assert.rejects(client.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/503-backoff`, retry: { maxAttempts: 4, backoffMs: 100 } }), expectError('HTTP_STATUS'));
  assert.deepEqual(waits, [7000, 60_000, 100, 200, 400]);
});

test('503 is retried until it succeeds', async () => {
  const res = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/503`, retry: { maxAttempts: 3, backoffMs: 20 } });
  assert.deepEqual([res.status, res.attempts, res.body], [200, 3, { ok: true, n: 3 }]);
});

test('a final 500 throws HTTP_STATUS carrying the answer; a 404 is not retried', async () => {
  const err = await local.request({ method: 'POST', url: `http://127.0.0.1:${appPort}/500`, body: {}, retry: { maxAttempts: 2, backoffMs: 10 } }).then(
    () => assert.fail('should have thrown'), (e: unknown) => e,
  );
  assert.ok(err instanceof HttpStatusError);
  assert.equal(err.code, 'HTTP_STATUS');
  assert.equal(err.retriable, true);
  assert.equal(err.response.status, 500);
  assert.equal(err.response.attempts, 2);
  assert.deepEqual(err.response.body, { error: 'boom' });
  assert.equal(err.response.headers['x-request-id'], 'req-1');
  assert.match(err.message, /POST 127\.0\.0\.1 answered 500 after 2 attempts/);
  assert.equal(hits.get('/500'), 2);

  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/404`, retry: { maxAttempts: 3, backoffMs: 10 } }), (e: unknown) => {
    assert.ok(e instanceof HttpStatusError);
    assert.deepEqual([e.response.status, e.response.attempts, e.retriable], [404, 1, false]);
    return true;
  });
  assert.equal(hits.get('/404'), 1);
});

test('timeout per attempt: HTTP_TIMEOUT, retriable, retried', async () => {
  const started = Date.now();
  await assert.rejects(
    local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/slow`, timeoutMs: 150, retry: { maxAttempts: 2, backoffMs: 10 } }),
    (e: unknown) => {
      expectError('HTTP_TIMEOUT', /did not answer within 150 ms \(attempt 2 of 2\)/)(e);
      assert.equal((e as HubError).retriable, true);
      return true;
    },
  );
  assert.ok(Date.now() - started < 2000);
  assert.equal(hits.get('/slow'), 2);
  const res = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/slow-then-ok`, timeoutMs: 150, retry: { maxAttempts: 2, backoffMs: 10 } });
  assert.deepEqual([res.status, res.attempts], [200, 2]);
});

test('responses over maxResponseBytes are cut off', async () => {
  const within = await local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/big` });
  assert.equal((within.body as string).length, 2 * 1024 * 1024);
  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/big`, maxResponseBytes: 1000 }), expectError('HTTP_RESPONSE_TOO_LARGE', /exceeds 1000 bytes/));
  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/big-chunked`, maxResponseBytes: 100_000 }), expectError('HTTP_RESPONSE_TOO_LARGE'));
  await assert.rejects(local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/big`, maxResponseBytes: 1024 * 1024, retry: { maxAttempts: 3, backoffMs: 1 } }), expectError('HTTP_RESPONSE_TOO_LARGE'));
  assert.equal(hits.get('/big'), 3, 'the default 5 MiB let 2 MiB through once; a too-large answer is not retried');
});

test('cancelling with the signal stops a retry wait', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  await assert.rejects(
    local.request({ method: 'GET', url: `http://127.0.0.1:${appPort}/503-backoff`, retry: { maxAttempts: 5, backoffMs: 5000 }, signal: controller.signal }),
    expectError('HTTP_ABORTED'),
  );
  assert.ok(Date.now() - started < 2000);
});

test('invalid requests are refused before any connection', async () => {
  const url = `http://127.0.0.1:${appPort}/echo`;
  await assert.rejects(local.request({ method: 'TRACE', url }), expectError('HTTP_REQUEST_INVALID', /method must be one of/));
  await assert.rejects(local.request({ method: 'GET', url, body: 'x' }), expectError('HTTP_REQUEST_INVALID', /GET requests have no body/));
  await assert.rejects(local.request({ method: 'GET', url, headers: { host: 'evil' } }), expectError('HTTP_REQUEST_INVALID', /set by the HTTP client/));
  await assert.rejects(local.request({ method: 'GET', url, headers: { 'x-a': 'a\r\nx-b: b' } }), expectError('HTTP_REQUEST_INVALID', /line breaks/));
  await assert.rejects(local.request({ method: 'GET', url: '/relative' }), expectError('HTTP_URL_INVALID', /not an absolute URL/));
  await assert.rejects(local.request({ method: 'GET', url: `http://u:p@127.0.0.1:${appPort}/` }), expectError('HTTP_URL_INVALID', /user name or password/));
  await assert.rejects(local.request({ method: 'POST', url, body: { n: 1n } }), expectError('HTTP_REQUEST_INVALID', /cannot be sent as JSON/));
});

// ---- hostile URLs: refused, and nothing connects ----

interface Hostile {
  url: string;
  /** Words the refusal must carry. */
  expect: RegExp;
  code?: string;
}

function hostileUrls(): Hostile[] {
  const list: Hostile[] = [
    { url: `http://127.0.0.1:${P}/`, expect: /127\.0\.0\.1 is a loopback address/ },
    { url: `http://127.0.0.3:${P}/`, expect: /loopback/ },
    { url: `http://127.255.255.254:${P}/`, expect: /loopback/ },
    { url: `http://localhost:${P}/`, expect: /localhost resolves to 127\.0\.0\.1, a loopback address/ },
    { url: `http://LOCALHOST:${P}/`, expect: /localhost resolves to 127\.0\.0\.1, a loopback/ },
    { url: `http://localhost.:${P}/`, expect: /loopback/ },
    { url: `http://foo.localhost:${P}/`, expect: /foo\.localhost resolves to 127\.0\.0\.1, a loopback/ },
    { url: `http://localhost.localdomain:${P}/`, expect: /loopback/ },
    { url: `http://ip6-localhost:${P}/`, expect: /resolves to ::1, a loopback/ },
    { url: `http://2130706433:${P}/`, expect: /127\.0\.0\.1 is a loopback/ },
    { url: `http://0x7f000001:${P}/`, expect: /loopback/ },
    { url: `http://0177.0.0.1:${P}/`, expect: /loopback/ },
    { url: `http://0x7f.0.0.1:${P}/`, expect: /loopback/ },
    { url: `http://0x7f.1:${P}/`, expect: /loopback/ },
    { url: `http://017700000001:${P}/`, expect: /loopback/ },
    { url: `http://127.1:${P}/`, expect: /loopback/ },
    { url: `http://0:${P}/`, expect: /0\.0\.0\.0 is an unspecified/ },
    { url: `http://0.0.0.0:${P}/`, expect: /unspecified/ },
    { url: `http://[::]:${P}/`, expect: /unspecified/ },
    { url: `http://[::1]:${P}/`, expect: /::1 is a loopback address/ },
    { url: `http://[::ffff:127.0.0.1]:${P}/`, expect: /IPv4-mapped address of 127\.0\.0\.1, a loopback/ },
    { url: `http://[::ffff:7f00:1]:${P}/`, expect: /IPv4-mapped address of 127\.0\.0\.1/ },
    { url: `http://[0:0:0:0:0:ffff:127.0.0.1]:${P}/`, expect: /IPv4-mapped address of 127\.0\.0\.1/ },
    { url: `http://[::127.0.0.1]:${P}/`, expect: /IPv4-compatible address of 127\.0\.0\.1/ },
    { url: `https://127.0.0.1:${P}/`, expect: /loopback/ },
    { url: 'http://169.254.169.254/latest/meta-data/', expect: /169\.254\.169\.254 is a cloud metadata address/ },
    { url: 'http://0xa9fea9fe/latest/meta-data/', expect: /cloud metadata/ },
    { url: 'http://[::ffff:169.254.169.254]/', expect: /IPv4-mapped address of 169\.254\.169\.254, a cloud metadata/ },
    { url: 'http://metadata.google.internal/computeMetadata/v1/', expect: /metadata\.google\.internal resolves to 169\.254\.169\.254, a cloud metadata/ },
    { url: 'http://[fd00:ec2::254]/', expect: /cloud metadata/ },
    { url: 'http://169.254.1.1/', expect: /link-local/ },
    { url: 'http://[fe80::1]/', expect: /link-local/ },
    { url: 'http://10.0.0.1/', expect: /private/ },
    { url: 'http://172.16.0.1/', expect: /private/ },
    { url: 'http://172.31.255.255/', expect: /private/ },
    { url: 'http://192.168.1.1/', expect: /private/ },
    { url: 'http://100.64.0.1/', expect: /carrier-grade NAT/ },
    { url: 'http://224.0.0.1/', expect: /multicast/ },
    { url: 'http://[ff02::1]/', expect: /multicast/ },
    { url: 'http://255.255.255.255/', expect: /broadcast/ },
    { url: 'http://240.0.0.1/', expect: /reserved/ },
    { url: 'http://198.18.0.1/', expect: /benchmarking/ },
    { url: 'http://192.0.2.1/', expect: /documentation/ },
    { url: 'http://[fd00::1]/', expect: /private \(unique local\)/ },
    { url: 'http://[64:ff9b::7f00:1]/', expect: /NAT64 address of 127\.0\.0\.1, a loopback/ },
    { url: 'http://[64:ff9b::a9fe:a9fe]/', expect: /NAT64 address of 169\.254\.169\.254/ },
    { url: 'http://[2002:7f00:1::]/', expect: /6to4 address of 127\.0\.0\.1, a loopback/ },
    { url: 'http://[2002:a00:1::1]/', expect: /6to4 address of 10\.0\.0\.1, a private/ },
    { url: 'http://[2001:db8::1]/', expect: /documentation/ },
  ];
  for (const u of ['file:///etc/passwd', `ftp://127.0.0.1:${P}/`, `gopher://127.0.0.1:${P}/_SSRF`, 'data:text/plain,hello', `ws://127.0.0.1:${P}/`, 'javascript:alert(1)']) {
    list.push({ url: u, code: 'HTTP_URL_INVALID', expect: /scheme ".*", which is refused: only http: and https: are allowed/ });
  }
  return list;
}

/** Client sockets created (and connected) while `fn` runs, seen through node:net's diagnostics channel. */
async function watchSockets<T>(fn: () => Promise<T>): Promise<{ created: number; connected: string[]; result: T }> {
  let created = 0;
  const connected: string[] = [];
  const onSocket = (message: unknown): void => {
    created++;
    const socket = (message as { socket: net.Socket }).socket;
    socket.once('connect', () => connected.push(`${socket.remoteAddress}:${socket.remotePort}`));
  };
  dc.subscribe('net.client.socket', onSocket);
  try {
    const result = await fn();
    await new Promise((r) => setImmediate(r));
    return { created, connected, result };
  } finally {
    dc.unsubscribe('net.client.socket', onSocket);
  }
}

function accepted(): number {
  return counters.reduce((n, c) => n + c.accepted, 0) + redirectorAccepted;
}

/**
 * `h.url` is refused with the expected error, no socket connects except to `allowedPeers`
 * (a redirecting origin), no listening server accepts anything else, and when the refused
 * `target` is an IP literal or not http(s), no socket is even created for it.
 */
async function refusedWithoutConnecting(client: HttpClient, h: Hostile, allowedPeers: string[] = [], target = h.url): Promise<void> {
  const before = accepted();
  const strayBefore = strayConnections.length;
  const host = bareHost(new URL(target).hostname);
  const watched = await watchSockets(() => client.request({ method: 'GET', url: h.url }).then(
    () => assert.fail(`${h.url} was fetched`),
    (err: unknown) => err,
  ));
  expectError(h.code ?? 'HTTP_ADDRESS_BLOCKED', h.expect)(watched.result);
  const err = watched.result as HubError;
  if (err.code === 'HTTP_ADDRESS_BLOCKED') {
    assert.match(err.message, /HUB_HTTP_ALLOWLIST/);
    assert.equal(err.retriable, false);
    assert.equal(err.status, 422);
  }
  assert.deepEqual(strayConnections.slice(strayBefore), [], `${h.url}: tried to connect off this machine`);
  assert.deepEqual(watched.connected.filter((peer) => !allowedPeers.includes(peer)), [], `${h.url}: connected`);
  if (net.isIP(host) || !['http:', 'https:'].includes(new URL(target).protocol)) {
    assert.equal(watched.created, allowedPeers.length, `${h.url}: a socket was created`);
  }
  assert.equal(accepted() - before, allowedPeers.length, `${h.url}: a listening server accepted a connection`);
}

test('hostile URLs without an allowlist: all refused, no connection made', async (t) => {
  const client = createHttpClient({});
  const list = hostileUrls();
  assert.ok(list.length >= 50, `${list.length} hostile URLs`);
  for (const h of list) await t.test(h.url, () => refusedWithoutConnecting(client, h));
  assert.equal(accepted(), 0);
  t.diagnostic(`${list.length} hostile URLs refused; servers listening on ${counters.map((c) => c.host).join(', ')} and 127.0.0.2 port ${P}${hasIpv6Loopback ? '' : ' (no IPv6 loopback)'} accepted 0 connections`);
});

test('host names resolving to private addresses (fake resolver): refused after resolution', async (t) => {
  const answers: Record<string, string[]> = {
    'internal.example.test': ['10.0.0.5'],
    'rebind.example.test': ['127.0.0.1'],
    'mapped.example.test': ['::ffff:127.0.0.1'],
    'v6.example.test': ['::1'],
    'meta.example.test': ['169.254.169.254'],
    'cgnat.example.test': ['100.100.100.200'],
    // One private record among public ones is enough to refuse, before connecting anywhere.
    'mixed.example.test': ['8.8.8.8', '127.0.0.1'],
  };
  const resolve = async (name: string): Promise<ResolvedAddress[]> =>
    (answers[name] ?? []).map((address) => ({ address, family: net.isIP(address) as 4 | 6 }));
  const client = createHttpClient({ resolve });
  const cases: Hostile[] = [
    { url: 'http://internal.example.test/', expect: /internal\.example\.test resolves to 10\.0\.0\.5, a private address/ },
    { url: `http://rebind.example.test:${P}/`, expect: /resolves to 127\.0\.0\.1, a loopback/ },
    { url: `http://mapped.example.test:${P}/`, expect: /resolves to ::ffff:127\.0\.0\.1, an IPv4-mapped address of 127\.0\.0\.1/ },
    { url: `http://v6.example.test:${P}/`, expect: /resolves to ::1, a loopback/ },
    { url: 'http://meta.example.test/', expect: /cloud metadata/ },
    { url: 'http://cgnat.example.test/', expect: /cloud metadata/ },
    { url: `http://mixed.example.test:${P}/`, expect: /mixed\.example\.test resolves to 127\.0\.0\.1/ },
  ];
  for (const h of cases) await t.test(h.url, () => refusedWithoutConnecting(client, h));
  await assert.rejects(client.request({ method: 'GET', url: 'http://unknown.example.test/' }), expectError('HTTP_HOST_NOT_FOUND'));
});

test('redirects from an allowed origin to loopback: refused at the hop, nothing else connects', async (t) => {
  const client = createHttpClient({ allowlist: ['127.0.0.2'] });
  const origin = `http://127.0.0.2:${P}`;
  const ok = await client.request({ method: 'GET', url: `${origin}/` });
  assert.deepEqual(ok.body, { ok: true }, 'the allowed origin answers');
  const targets: Hostile[] = [
    { url: `http://127.0.0.1:${P}/`, expect: /127\.0\.0\.1 is a loopback/ },
    { url: `http://localhost:${P}/`, expect: /localhost resolves to 127\.0\.0\.1/ },
    { url: `http://[::1]:${P}/`, expect: /::1 is a loopback/ },
    { url: `http://2130706433:${P}/`, expect: /loopback/ },
    { url: `http://[::ffff:127.0.0.1]:${P}/`, expect: /IPv4-mapped/ },
    { url: 'http://169.254.169.254/latest/meta-data/', expect: /cloud metadata/ },
    { url: 'http://10.0.0.1/', expect: /private/ },
    { url: 'file:///etc/passwd', code: 'HTTP_URL_INVALID', expect: /redirect from 127\.0\.0\.2 has scheme "file:"/ },
    { url: `gopher://127.0.0.1:${P}/_x`, code: 'HTTP_URL_INVALID', expect: /gopher:/ },
  ];
  for (const target of targets) {
    const h = { ...target, url: `${origin}/?u=${encodeURIComponent(target.url)}` };
    await t.test(`→ ${target.url}`, () => refusedWithoutConnecting(client, h, [`127.0.0.2:${P}`], target.url));
  }
  assert.equal(counters.reduce((n, c) => n + c.accepted, 0), 0);
});

test('DNS rebinding: the address checked is the address connected, on every connection and every hop', async () => {
  // 127.0.0.2 (allowlisted) stands in for a public address, so nothing leaves the machine.
  let calls = 0;
  const resolve = async (): Promise<ResolvedAddress[]> => {
    calls++;
    return [{ address: calls === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
  };
  const client = createHttpClient({ allowlist: ['127.0.0.2'], resolve });
  const before = counters.reduce((n, c) => n + c.accepted, 0);
  const first = await watchSockets(() => client.request({ method: 'GET', url: `http://rebind.test:${P}/` }));
  assert.equal(first.result.status, 200);
  assert.equal(calls, 1, 'one resolution per connection: no separate check-then-connect lookups');
  assert.deepEqual(first.connected, [`127.0.0.2:${P}`]);

  const second = await watchSockets(() => client.request({ method: 'GET', url: `http://rebind.test:${P}/` }).catch((e: unknown) => e));
  expectError('HTTP_ADDRESS_BLOCKED', /rebind\.test resolves to 127\.0\.0\.1, a loopback address/)(second.result);
  assert.deepEqual(second.connected, []);

  // Same name on the redirect hop: the first hop is allowed, the second resolves again and is refused.
  calls = 0;
  const hop = await watchSockets(() => client.request({ method: 'GET', url: `http://rebind.test:${P}/?u=${encodeURIComponent(`http://rebind.test:${P}/`)}` }).catch((e: unknown) => e));
  expectError('HTTP_ADDRESS_BLOCKED', /resolves to 127\.0\.0\.1/)(hop.result);
  assert.equal(calls, 2);
  assert.deepEqual(hop.connected, [`127.0.0.2:${P}`]);
  assert.equal(counters.reduce((n, c) => n + c.accepted, 0) - before, 0);
});

// ---- the address table, the allowlist and redaction ----

test('classifyAddress: public addresses pass, embedded IPv4 is judged', () => {
  for (const a of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '172.32.0.1', '100.128.0.1', '198.20.0.1']) {
    assert.equal(classifyAddress(a), undefined, a);
  }
  const refused: Record<string, RegExp> = {
    '127.0.0.1': /loopback/, '::1': /loopback/, '0.0.0.0': /unspecified/, '::': /unspecified/, '10.255.255.255': /private/,
    '172.16.0.0': /private/, '192.168.0.1': /private/, 'fc00::1': /private/, '100.127.255.255': /carrier-grade NAT/,
    '169.254.0.1': /link-local/, 'fe80::abcd%eth0': /link-local/, 'febf::1': /link-local/, '169.254.169.254': /cloud metadata/,
    '224.0.0.251': /multicast/, '239.255.255.250': /multicast/, 'ff05::2': /multicast/, '255.255.255.255': /broadcast/,
    '250.1.2.3': /reserved/, '198.19.255.255': /benchmarking/, '203.0.113.9': /documentation/, '::ffff:10.0.0.1': /IPv4-mapped address of 10\.0\.0\.1, a private/,
    '::ffff:0:127.0.0.1': /IPv4-translated/, '::8.8.8.8': /deprecated IPv4-compatible/, '2001::1': /Teredo/, 'fec0::1': /site-local/,
    '1::1': /outside global unicast/, 'not-an-ip': /not an IP address/,
  };
  for (const [a, why] of Object.entries(refused)) assert.match(classifyAddress(a) ?? 'PUBLIC', why, a);
});

test('parseAllowlist: normalizes, and names the bad entry', () => {
  assert.deepEqual(parseAllowlist(' 127.0.0.1, 127.0.0.0/8 ,::1,[fd00::]/8, LocalHost., *.Corp.Example,,'), ['127.0.0.1', '127.0.0.0/8', '::1', 'fd00::/8', 'localhost', '*.corp.example']);
  assert.deepEqual(parseAllowlist(''), []);
  for (const [text, bad] of [['127.0.0.1, 10.0.0.1/8', '10.0.0.1/8'], ['10.0.0.0/33', '10.0.0.0/33'], ['127.1', '127.1'], ['::1/129', '::1/129'], ['a b', 'a b'], ['http://x', 'http://x'], ['*', '*']]) {
    assert.throws(() => parseAllowlist(text as string), (err: unknown) => {
      expectError('HTTP_ALLOWLIST_INVALID', new RegExp(`"${(bad as string).replace(/[.*/[\]]/g, '\\$&')}"`))(err);
      return true;
    }, text);
  }
});

test('allowlist entries: CIDRs, host names, wildcards', async () => {
  const echo = `/echo`;
  assert.equal((await createHttpClient({ allowlist: ['127.0.0.0/8'] }).request({ method: 'GET', url: `http://127.0.0.1:${appPort}${echo}` })).status, 200);
  assert.equal((await createHttpClient({ allowlist: ['localhost'] }).request({ method: 'GET', url: `http://localhost:${appPort}${echo}` })).status, 200);
  assert.equal((await createHttpClient({ allowlist: ['*.localhost'] }).request({ method: 'GET', url: `http://api.localhost:${appPort}${echo}` })).status, 200);
  // A host name entry allows that name only, not its address under another name.
  await assert.rejects(createHttpClient({ allowlist: ['localhost'] }).request({ method: 'GET', url: `http://127.0.0.1:${appPort}${echo}` }), expectError('HTTP_ADDRESS_BLOCKED'));
  assert.throws(() => createHttpClient({ allowlist: ['10.0.0.0/99'] }), expectError('HTTP_ALLOWLIST_INVALID'));
});

test('redactHeaders: secret-bearing headers by name', () => {
  const out = redactHeaders({
    Authorization: 'Bearer x', 'proxy-authorization': 'Basic y', cookie: 'a=b', 'set-cookie': 'sid=1', 'x-api-key': 'k', 'api-key': 'k',
    'x-auth-token': 't', 'x-client-secret': 's', 'x-password': 'p', 'x-amz-security-token': 't', 'content-type': 'application/json', 'x-request-id': 'r1',
  });
  assert.deepEqual(out, {
    Authorization: REDACTED, 'proxy-authorization': REDACTED, cookie: REDACTED, 'set-cookie': REDACTED, 'x-api-key': REDACTED, 'api-key': REDACTED,
    'x-auth-token': REDACTED, 'x-client-secret': REDACTED, 'x-password': REDACTED, 'x-amz-security-token': REDACTED, 'content-type': 'application/json', 'x-request-id': 'r1',
  });
});

test('redactSecrets: every occurrence of a secret value, deep, without changing the input', () => {
  const input = { url: 'https://api.example.com/x?key=sk_live%2F42&q=1', nested: [{ note: 'token sk_live/42 and again sk_live/42' }], sk_live_label: 1, n: 5, ok: true, none: null };
  const out = redactSecrets(input, ['sk_live/42', '']);
  assert.deepEqual(out, { url: `https://api.example.com/x?key=${REDACTED}&q=1`, nested: [{ note: `token ${REDACTED} and again ${REDACTED}` }], sk_live_label: 1, n: 5, ok: true, none: null });
  assert.equal(input.nested[0]?.note, 'token sk_live/42 and again sk_live/42');
  assert.deepEqual(redactSecrets({ [`k-abcd`]: 'abcd' }, ['abcd']), { [`k-${REDACTED}`]: REDACTED });
});

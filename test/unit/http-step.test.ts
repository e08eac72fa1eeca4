/** The http step against a local server (127.0.0.1, allowlisted): credentials, idempotency, redaction, dry run, retries. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubError } from '../../libs/errors/index.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { Secret } from '../../libs/secrets/crypto.ts';
import { createLogger } from '../../libs/log/index.ts';
import type { ResolvedCredential } from '../../libs/store/credentials.ts';
import { createHttpStepHandler } from '../../libs/workflow/steps/http.ts';
import { executeRun, type StepRunContext } from '../../libs/workflow/interpreter.ts';
import type { HttpInput, Step } from '../../libs/contracts/workflow.ts';
import type { StepRecord } from '../../libs/contracts/run.ts';

const TOKEN = 'tok_3f9a8b7c6d5e4f3a2b1c';
const PASSWORD = 'pa55-w0rd-!x';
const API_KEY = 'key_0a1b2c3d4e5f';
const WORKSPACE = 'ws_test';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
const seen: Seen[] = [];
let base = '';
let server: http.Server;
/** Scripted answers per path: each call takes the next one (the last one repeats). */
const scripts = new Map<string, { status: number; headers?: Record<string, string>; body?: unknown }[]>();

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '').split('?')[0]!;
      const script = scripts.get(path);
      const answer = script ? (script.length > 1 ? script.shift()! : script[0]!) : undefined;
      const status = answer?.status ?? 200;
      // By default: an echo of what was received, as a careless API would answer.
      const payload = answer?.body ?? { method: req.method, url: req.url, headers: req.headers, body };
      res.writeHead(status, { 'content-type': 'application/json', 'set-cookie': 'session=abc', 'x-echo': String(req.headers.authorization ?? ''), ...answer?.headers });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const credentials = new Map<string, ResolvedCredential>([
  ['api-bearer', { name: 'api-bearer', type: 'bearer', token: new Secret(TOKEN) }],
  ['api-basic', { name: 'api-basic', type: 'basic', username: 'alice', password: new Secret(PASSWORD) }],
  ['api-header', { name: 'api-header', type: 'header', header: 'X-Api-Key', value: new Secret(API_KEY) }],
  ['mail', { name: 'mail', type: 'smtp', host: 'smtp.example.com', port: 587, secure: false }],
]);
const resolver = {
  lookups: [] as string[],
  async resolve(workspaceId: string, name: string) {
    this.lookups.push(`${workspaceId}/${name}`);
    return workspaceId === WORKSPACE ? credentials.get(name) ?? null : null;
  },
};

const waits: number[] = [];
const client = createHttpClient({ allowlist: ['127.0.0.1'], sleep: async (ms) => { waits.push(ms); } });
const handler = createHttpStepHandler({ client, credentials: resolver });
const log = createLogger({ service: 'http-step-test', level: 'silent' });

function input(over: Partial<HttpInput> & { url: string }): HttpInput {
  return { method: 'GET', headers: {}, query: {}, timeoutMs: 5000, retry: { maxAttempts: 1, backoffMs: 10 }, ...over };
}

function context(over: Partial<StepRunContext> = {}): StepRunContext {
  return {
    runId: 'run_1', workspaceId: WORKSPACE, workflowId: 'wf_1', version: 1, stepKey: 'call', effectId: 'c0ffee00-0000-5000-a000-000000000001',
    correlationId: 'corr', causationId: 'cause', depth: 0, memory: new Map(), dryRun: false, attempt: 1,
    signal: new AbortController().signal, scope: { trigger: {}, steps: {} }, now: Date.now, log,
    awaitResult: () => Promise.reject(new Error('no results here')),
    ...over,
  };
}

const step = (i: HttpInput): Step => ({ id: 'call', type: 'http', input: i });
const run = (i: HttpInput, over: Partial<StepRunContext> = {}) => handler.execute(i, step(i), context(over)) as Promise<{ status: number; headers: Record<string, string>; body: { headers: Record<string, string>; body: string } }>;
const last = () => seen[seen.length - 1]!;

function assertNoSecret(value: unknown): void {
  const text = JSON.stringify(value);
  for (const s of [TOKEN, PASSWORD, API_KEY, Buffer.from(`alice:${PASSWORD}`).toString('base64')]) assert.ok(!text.includes(s), `secret ${s.slice(0, 4)}… in ${text.slice(0, 300)}`);
}

test('bearer credential: Authorization header sent; the echo, headers and Set-Cookie are redacted in the output', async () => {
  const out = await run(input({ url: `${base}/echo`, query: { page: 2, tags: ['a', 'b'] as unknown as string }, auth: { credential: 'api-bearer' } }));
  assert.equal(last().headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(last().url, '/echo?page=2&tags=a&tags=b');
  assert.equal(out.status, 200);
  // Secret values are replaced wherever they come back; secret-named headers entirely.
  assert.equal(out.body.headers.authorization, 'Bearer [redacted]');
  assert.equal(out.headers['set-cookie'], '[redacted]');
  assert.equal(out.headers['x-echo'], 'Bearer [redacted]');
  assert.equal(out.headers['content-type'], 'application/json');
  assertNoSecret(out);
});

test('basic credential: Authorization: Basic base64(user:password); both forms are redacted from the output', async () => {
  const out = await run(input({ method: 'POST', url: `${base}/echo`, body: { note: `echo ${PASSWORD}` }, auth: { credential: 'api-basic' } }));
  assert.equal(last().headers.authorization, `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
  assert.equal(out.body.headers.authorization, 'Basic [redacted]');
  assert.match(out.body.body, /echo \[redacted\]/);
  assertNoSecret(out);
});

test('header credential: that header is sent and redacted; redirects are not followed (the client would carry it elsewhere)', async () => {
  const out = await run(input({ url: `${base}/echo`, auth: { credential: 'api-header' } }));
  assert.equal(last().headers['x-api-key'], API_KEY);
  assert.equal(out.body.headers['x-api-key'], '[redacted]');
  assertNoSecret(out);
  scripts.set('/moved', [{ status: 302, headers: { location: 'http://localhost:1/elsewhere' }, body: {} }]);
  const before = seen.length;
  const moved = await run(input({ url: `${base}/moved`, auth: { credential: 'api-header' } }));
  assert.equal(moved.status, 302);
  assert.equal(seen.length, before + 1, 'one request, no redirect followed');
});

test('Idempotency-Key is the effect id on writes, none on GET/HEAD, and the step\'s own wins', async () => {
  await run(input({ method: 'POST', url: `${base}/echo`, body: { a: 1 } }));
  assert.equal(last().headers['idempotency-key'], 'c0ffee00-0000-5000-a000-000000000001');
  assert.equal(last().headers['content-type'], 'application/json');
  assert.equal(last().body, '{"a":1}');
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    await run(input({ method, url: `${base}/echo` }));
    assert.equal(last().headers['idempotency-key'], 'c0ffee00-0000-5000-a000-000000000001', method);
  }
  await run(input({ url: `${base}/echo` }));
  assert.equal(last().headers['idempotency-key'], undefined);
  const head = await run(input({ method: 'HEAD', url: `${base}/echo` }));
  assert.equal(last().headers['idempotency-key'], undefined);
  assert.equal(head.body, '');
  await run(input({ method: 'POST', url: `${base}/echo`, headers: { 'Idempotency-Key': 'mine-1' } }));
  assert.equal(last().headers['idempotency-key'], 'mine-1');
});

test('unknown or smtp credential: non-retriable errors at /auth/credential, before any request', async () => {
  const before = seen.length;
  for (const [name, code] of [['nope', 'CREDENTIAL_NOT_FOUND'], ['mail', 'CREDENTIAL_TYPE_UNSUPPORTED']] as const) {
    await assert.rejects(run(input({ url: `${base}/echo`, auth: { credential: name } })), (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.code, code);
      assert.equal(err.retriable, false);
      assert.equal(err.path, '/auth/credential');
      return true;
    });
  }
  // Another workspace's credential of the same name is not found.
  await assert.rejects(run(input({ url: `${base}/echo`, auth: { credential: 'api-bearer' } }), { workspaceId: 'ws_other' }), { code: 'CREDENTIAL_NOT_FOUND' });
  assert.equal(seen.length, before);
});

test('templates that rendered to what a request cannot carry are refused at their path', async () => {
  await assert.rejects(run(input({ url: 42 as unknown as string })), { code: 'HTTP_STEP_INPUT_INVALID', path: '/url' });
  await assert.rejects(run(input({ url: 'ftp://127.0.0.1/x' })), { code: 'HTTP_STEP_INPUT_INVALID', path: '/url' });
  await assert.rejects(run(input({ url: `${base}/echo`, query: { filter: { a: 1 } as unknown as string } })), { code: 'HTTP_STEP_INPUT_INVALID', path: '/query/filter' });
  await assert.rejects(run(input({ url: `${base}/echo`, headers: { 'x-data': { a: 1 } as unknown as string } })), { code: 'HTTP_STEP_INPUT_INVALID', path: '/headers/x-data' });
  // The SSRF guard's refusal points at the url, and is final.
  await assert.rejects(handler.execute(input({ url: 'http://169.254.169.254/latest' }), step(input({ url: 'x' })), context()), (err: unknown) => {
    assert.ok(err instanceof HubError);
    assert.equal(err.code, 'HTTP_ADDRESS_BLOCKED');
    assert.equal(err.path, '/url');
    assert.equal(err.retriable, false);
    return true;
  });
});

test('dry run: the request is shown (credential by name, query in the URL) and not sent', async () => {
  const before = seen.length;
  const out = await handler.execute(
    input({ method: 'POST', url: `${base}/orders?x=1`, query: { page: 3 }, headers: { 'Content-Type': 'application/json', 'X-Session-Token': 'abc' }, body: { sku: 'A1' }, auth: { credential: 'api-bearer' } }),
    step(input({ url: 'x' })), context({ dryRun: true }),
  );
  assert.equal(seen.length, before, 'nothing sent');
  assert.deepEqual(out, {
    dryRun: {
      wouldRequest: {
        method: 'POST', url: `${base}/orders?x=1&page=3`,
        headers: { 'content-type': 'application/json', 'x-session-token': '[redacted]', 'idempotency-key': 'c0ffee00-0000-5000-a000-000000000001', authorization: '[credential api-bearer]' },
        body: { sku: 'A1' },
      },
    },
  });
  const header = await handler.execute(input({ url: `${base}/x`, auth: { credential: 'api-header' } }), step(input({ url: 'x' })), context({ dryRun: true }));
  assert.deepEqual((header as { dryRun: { wouldRequest: { headers: object } } }).dryRun.wouldRequest.headers, { 'x-api-key': '[credential api-header]' });
  assertNoSecret(header);
  await assert.rejects(handler.execute(input({ url: `${base}/x`, auth: { credential: 'nope' } }), step(input({ url: 'x' })), context({ dryRun: true })), { code: 'CREDENTIAL_NOT_FOUND' });
});

test('429 with Retry-After, then success: the wait follows the server, the same Idempotency-Key both times', async () => {
  scripts.set('/busy', [{ status: 429, headers: { 'retry-after': '2' }, body: { error: 'slow down' } }, { status: 201, body: { id: 'ord_1' } }]);
  waits.length = 0;
  const before = seen.length;
  const out = await run(input({ method: 'POST', url: `${base}/busy`, body: {}, retry: { maxAttempts: 3, backoffMs: 10 } }));
  assert.equal(out.status, 201);
  assert.deepEqual(out.body, { id: 'ord_1' });
  assert.deepEqual(waits, [2000]);
  const calls = seen.slice(before);
  assert.equal(calls.length, 2);
  assert.equal(calls[0]!.headers['idempotency-key'], calls[1]!.headers['idempotency-key']);
});

test('a final 500 after the step\'s attempts: HTTP_STATUS with the status and a redacted excerpt, not retriable by the engine', async () => {
  scripts.set('/broken', [{ status: 500, body: { error: 'database exploded', token: TOKEN } }]);
  const before = seen.length;
  await assert.rejects(run(input({ url: `${base}/broken`, retry: { maxAttempts: 3, backoffMs: 1 }, auth: { credential: 'api-bearer' } })), (err: unknown) => {
    assert.ok(err instanceof HubError);
    assert.equal(err.code, 'HTTP_STATUS');
    assert.equal(err.retriable, false);
    assert.match(err.message, /answered 500 after 3 attempts: .*database exploded/);
    assert.doesNotMatch(err.message, new RegExp(TOKEN));
    assert.match(err.message, /\[redacted\]/);
    return true;
  });
  assert.equal(seen.length - before, 3, 'the client made the step\'s 3 attempts');
  scripts.set('/missing', [{ status: 404, body: 'no such thing' }]);
  await assert.rejects(run(input({ url: `${base}/missing`, retry: { maxAttempts: 3, backoffMs: 1 } })), (err: unknown) => err instanceof HubError && /answered 404: no such thing/.test(err.message) && !err.retriable);
});

test('connection failures are final after the step\'s attempts too', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(run(input({ url: `http://127.0.0.1:${port}/`, retry: { maxAttempts: 2, backoffMs: 1 } })), (err: unknown) => err instanceof HubError && err.code === 'HTTP_CONNECTION_FAILED' && !err.retriable);
});

test('timeoutMs covers every attempt and the longest waits between them', () => {
  assert.equal(handler.timeoutMs!(input({ url: 'x', timeoutMs: 10_000 })), 10_000 + 5000);
  assert.equal(handler.timeoutMs!(input({ url: 'x', timeoutMs: 2000, retry: { maxAttempts: 4, backoffMs: 500 } })), 4 * 2000 + 3 * 60_000 + 5000);
});

test('through the engine: the recorded step holds the credential\'s name, never its secret', async () => {
  const records: StepRecord[] = [];
  const definitionStep = step(input({ method: 'POST', url: `${base}/echo`, body: { email: '{{trigger.email}}' }, auth: { credential: 'api-bearer' } }));
  const outcome = await executeRun({
    runId: 'run_engine', workspaceId: WORKSPACE, workflowId: 'wf', version: 1, definition: { name: 'w', trigger: { type: 'manual', availability: 'global' }, steps: [definitionStep] },
    trigger: { email: 'ada@example.com' }, triggerEventId: 'ev', correlationId: 'corr', depth: 0, dryRun: false, recorded: {},
    onStep: async (r) => { records.push(r); }, signal: new AbortController().signal,
  }, { handlers: new Map([['http', handler]]), stepTimeoutMs: 10_000, stepMaxAttempts: 3, retryBackoffMs: 1, retryBackoffMaxMs: 1, now: Date.now, log });
  assert.deepEqual(outcome, { status: 'completed' });
  assert.equal(records.length, 1);
  assert.deepEqual((records[0]!.input as HttpInput).auth, { credential: 'api-bearer' });
  assert.equal(JSON.parse(last().body).email, 'ada@example.com');
  assertNoSecret(records);
});

test('accept: a listed error status completes the step with its answer; others still fail it', async () => {
  scripts.set('/unknown-person', [{ status: 404, body: { error: { type: 'unknown_record' } } }]);
  const out = await run(input({ url: `${base}/unknown-person`, accept: [404] })) as { status: number; body: unknown };
  assert.equal(out.status, 404);
  assert.deepEqual(out.body, { error: { type: 'unknown_record' } });
  scripts.set('/gone', [{ status: 410, body: 'gone' }]);
  await assert.rejects(run(input({ url: `${base}/gone`, accept: [404] })), (err: unknown) => err instanceof HubError && err.code === 'HTTP_STATUS');
});

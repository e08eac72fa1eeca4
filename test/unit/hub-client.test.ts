/**
 * The HTTP SDK against a scripted ingress on a real local socket: each request is
 * answered by the next step of a script (an answer, a dropped connection, a hang), and
 * the fake keeps the ingress's dedupe rule (an id it accepted before is a duplicate).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubClient, HubClientError, parseRetryAfter, type HubEvent, type HubClientOptions } from '../../libs/sdk/index.ts';
import { isRetriable } from '../../libs/errors/index.ts';

interface Seen {
  at: number;
  authorization: string | undefined;
  contentType: string | undefined;
  bytes: number;
  ids: string[];
  events: Record<string, unknown>[];
}

/** What the fake does with one request: `accept` answers 202 with its dedupe; `drop` accepts, then destroys the socket. */
type Step = 'accept' | 'drop' | 'hang' | { status: number; headers?: Record<string, string>; body?: unknown };

function scriptedHub(steps: Step[], then: Step = 'accept') {
  const seen: Seen[] = [];
  const known = new Set<string>();
  const accept = (ids: string[]) => {
    const accepted = ids.filter((id) => !known.has(id));
    const duplicates = ids.filter((id) => known.has(id));
    for (const id of ids) known.add(id);
    return { accepted, duplicates };
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8')) as { events: Record<string, unknown>[] };
      const ids = body.events.map((e) => String(e.id));
      seen.push({ at: Date.now(), authorization: req.headers.authorization, contentType: req.headers['content-type'], bytes: raw.length, ids, events: body.events });
      const step = steps.shift() ?? then;
      if (step === 'hang') return; // never answers; the client's timeout ends it
      if (step === 'drop') {
        accept(ids); // published, but the answer is lost
        req.socket.destroy();
        return;
      }
      const answer = step === 'accept' ? { status: 202, body: accept(ids) } : step;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
      res.end(answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  const ready = new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  servers.push(server);
  return { seen, known, ready };
}

const servers: ReturnType<typeof createServer>[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function client(steps: Step[], options: Partial<HubClientOptions> = {}, then?: Step) {
  const hub = scriptedHub(steps, then);
  const url = await hub.ready;
  return { hub, sdk: new HubClient({ url, apiKey: 'key-1', initialBackoffMs: 10, maxBackoffMs: 200, ...options }) };
}

const event = (n: number, extra: Partial<HubEvent> = {}): HubEvent => ({ type: 'record.updated', object: 'people', recordId: `p${n}`, record: { n }, ...extra });
const events = (count: number) => Array.from({ length: count }, (_, i) => event(i));
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const serverError = (status: number, code: string, path?: string) => ({ status, body: { error: { code, message: `${code} says no`, ...(path ? { path } : {}) } } });

async function rejection(p: Promise<unknown>): Promise<HubClientError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HubClientError, String(err));
    return err;
  }
  assert.fail('expected a HubClientError');
}

test('one event: an id is assigned on a copy, sent with the key as JSON {"events": [...]}, accepted', async () => {
  const { hub, sdk } = await client([]);
  const input = event(1);
  const result = await sdk.emit(input);
  assert.equal(hub.seen.length, 1);
  const [req] = hub.seen;
  assert.equal(req?.authorization, 'Bearer key-1');
  assert.equal(req?.contentType, 'application/json');
  assert.match(req?.ids[0] ?? '', uuid);
  assert.deepEqual(req?.events[0], { ...input, id: req?.ids[0] });
  assert.deepEqual(result, { accepted: req?.ids, duplicates: [] });
  assert.equal(input.id, undefined, "the caller's object is not changed");
});

test('an event with its own id keeps it; an id accepted before comes back under duplicates', async () => {
  const { hub, sdk } = await client([]);
  const id = '0b9d3c52-4a8e-4f6c-9d1e-7f3a2b1c0d9e';
  assert.deepEqual(await sdk.emit(event(1, { id })), { accepted: [id], duplicates: [] });
  const again = await sdk.emit([event(1, { id }), event(2)]);
  assert.deepEqual(again.duplicates, [id]);
  assert.equal(again.accepted.length, 1);
  assert.equal(hub.seen[1]?.ids[0], id);
});

test('429 with Retry-After in seconds: waits that long, then resends the same ids', async () => {
  const { hub, sdk } = await client([{ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } } }], { maxBackoffMs: 5_000 });
  const result = await sdk.emit(events(3));
  assert.equal(hub.seen.length, 2);
  const waited = hub.seen[1]!.at - hub.seen[0]!.at;
  assert.ok(waited >= 950 && waited < 3_000, `waited ${waited} ms for Retry-After: 1`);
  assert.deepEqual(hub.seen[1]?.ids, hub.seen[0]?.ids);
  assert.deepEqual(result, { accepted: hub.seen[0]?.ids, duplicates: [] });
});

test('Retry-After as an HTTP-date is honoured, and capped by maxBackoffMs', async () => {
  const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
  const { hub, sdk } = await client([{ status: 429, headers: { 'retry-after': inAnHour } }], { maxBackoffMs: 300 });
  await sdk.emit(event(1));
  const waited = hub.seen[1]!.at - hub.seen[0]!.at;
  assert.ok(waited >= 250 && waited < 1_500, `waited ${waited} ms, capped at 300`);
  const now = Date.parse('Wed, 01 May 2024 12:00:00 GMT');
  assert.equal(parseRetryAfter('Wed, 01 May 2024 12:00:02 GMT', now), 2_000);
  assert.equal(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter(' 7 ', now), 7_000);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

test('503 twice then 202: three attempts with the same ids, waits growing', async () => {
  const unavailable = serverError(503, 'KAFKA_UNAVAILABLE');
  const { hub, sdk } = await client([unavailable, unavailable], { initialBackoffMs: 100, maxBackoffMs: 1_000 });
  const result = await sdk.emit(events(5));
  assert.equal(hub.seen.length, 3);
  for (const s of hub.seen) assert.deepEqual(s.ids, hub.seen[0]?.ids);
  const [w1, w2] = [hub.seen[1]!.at - hub.seen[0]!.at, hub.seen[2]!.at - hub.seen[1]!.at];
  assert.ok(w1 >= 45 && w1 < 400, `first wait ${w1} ms in [50, 100] plus slack`);
  assert.ok(w2 >= 95 && w2 < 500, `second wait ${w2} ms in [100, 200] plus slack`);
  assert.deepEqual(result.accepted, hub.seen[0]?.ids);
});

test('502 and 504 are retried too', async () => {
  const { hub, sdk } = await client([{ status: 502, body: 'bad gateway' }, { status: 504 }]);
  await sdk.emit(event(1));
  assert.equal(hub.seen.length, 3);
});

test('a connection dropped after the hub accepted: the retry resends the same ids and they come back as duplicates', async () => {
  const { hub, sdk } = await client(['drop']);
  const result = await sdk.emit(events(4));
  assert.equal(hub.seen.length, 2);
  assert.deepEqual(hub.seen[1]?.ids, hub.seen[0]?.ids);
  // The documented answer: the final attempt's, so delivered-by-this-call shows as duplicates.
  assert.deepEqual(result, { accepted: [], duplicates: hub.seen[0]?.ids });
  assert.equal(hub.known.size, 4, 'each event held once');
});

test('an attempt without an answer within timeoutMs is retried', async () => {
  const { hub, sdk } = await client(['hang'], { timeoutMs: 200 });
  const result = await sdk.emit(event(1));
  assert.equal(hub.seen.length, 2);
  assert.deepEqual(result.accepted, hub.seen[0]?.ids);
});

for (const status of [400, 401, 403, 404, 413, 415, 500]) {
  test(`${status} is not retried and throws the server's error`, async () => {
    const { hub, sdk } = await client([serverError(status, `CODE_${status}`, '/events/0/type')]);
    const err = await rejection(sdk.emit(event(1)));
    assert.equal(hub.seen.length, 1);
    assert.equal(err.status, status);
    assert.equal(err.code, `CODE_${status}`);
    assert.equal(err.path, '/events/0/type');
    assert.equal(err.retriable, false);
    assert.equal(isRetriable(err), false);
    assert.equal(err.attempts, 1);
    assert.deepEqual(err.body, { error: { code: `CODE_${status}`, message: `CODE_${status} says no`, path: '/events/0/type' } });
    assert.match(err.message, new RegExp(`hub answered ${status} CODE_${status}: CODE_${status} says no`));
  });
}

test('an error without the JSON error body gets an HTTP_<status> code and the text', async () => {
  const { sdk } = await client([{ status: 415, body: 'unsupported' }]);
  const err = await rejection(sdk.emit(event(1)));
  assert.equal(err.code, 'HTTP_415');
  assert.equal(err.body, 'unsupported');
  assert.match(err.message, /hub answered 415: unsupported/);
});

test('503 on every attempt: gives up after maxAttempts with a retriable error', async () => {
  const { hub, sdk } = await client([], { maxAttempts: 3 }, serverError(503, 'KAFKA_UNAVAILABLE'));
  const err = await rejection(sdk.emit(events(2)));
  assert.equal(hub.seen.length, 3);
  assert.equal(err.code, 'KAFKA_UNAVAILABLE');
  assert.equal(err.status, 503);
  assert.equal(err.retriable, true);
  assert.equal(isRetriable(err), true);
  assert.equal(err.attempts, 3);
  assert.match(err.message, /gave up after 3 attempts/);
  assert.deepEqual(err.remaining.map((e) => e.id), hub.seen[0]?.ids, 'the events to resend, with their ids');
});

test('nobody listening: HUB_UNREACHABLE after maxAttempts, retriable', async () => {
  // A port that was just free: nothing listens on it any more.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  const sdk = new HubClient({ url: `http://127.0.0.1:${port}`, apiKey: 'k', maxAttempts: 2, initialBackoffMs: 10 });
  const err = await rejection(sdk.emit(event(1)));
  assert.equal(err.code, 'HUB_UNREACHABLE');
  assert.equal(err.status, 0);
  assert.equal(err.attempts, 2);
  assert.equal(err.retriable, true);
  assert.match(err.message, /ECONNREFUSED/);
});

test('1,200 events go as 500, 500 and 200, in order, one chunk after the other', async () => {
  const { hub, sdk } = await client([]);
  const input = events(1200);
  const result = await sdk.emit(input);
  assert.deepEqual(hub.seen.map((s) => s.ids.length), [500, 500, 200]);
  const sent = hub.seen.flatMap((s) => s.events);
  assert.deepEqual(sent.map((e) => e.recordId), input.map((e) => e.recordId));
  assert.deepEqual(result.accepted, hub.seen.flatMap((s) => s.ids));
  assert.equal(new Set(result.accepted).size, 1200);
});

test('chunks also respect the byte limit, measured on the JSON sent', async () => {
  const { hub, sdk } = await client([]);
  // About 100 KB each: ten fit in 1 MiB, eleven do not.
  const input = Array.from({ length: 25 }, (_, i) => event(i, { record: { blob: 'x'.repeat(100_000) } }));
  await sdk.emit(input);
  assert.deepEqual(hub.seen.map((s) => s.ids.length), [10, 10, 5]);
  for (const s of hub.seen) assert.ok(s.bytes <= 1024 * 1024, `${s.bytes} bytes`);
  assert.ok(hub.seen[0]!.bytes + 100_000 > 1024 * 1024, 'a chunk is cut only when the next event would not fit');

  const small = await client([], { maxBatchBytes: 1_000 });
  const few = events(20);
  await small.sdk.emit(few);
  assert.ok(small.hub.seen.length > 1);
  for (const s of small.hub.seen) assert.ok(s.bytes <= 1_000, `${s.bytes} bytes`);
  assert.deepEqual(small.hub.seen.flatMap((s) => s.events).map((e) => e.recordId), few.map((e) => e.recordId));
});

test('an event bigger than the byte limit alone is refused before anything is sent', async () => {
  const { hub, sdk } = await client([]);
  const input = [event(0), event(1), event(2, { record: { blob: 'x'.repeat(1024 * 1024) } })];
  const err = await rejection(sdk.emit(input));
  assert.equal(err.code, 'EVENT_TOO_LARGE');
  assert.equal(err.path, '/events/2');
  assert.equal(err.retriable, false);
  assert.equal(err.attempts, 0);
  assert.match(err.message, /event 2 is \d+ bytes of JSON; a request carries at most 1048576 bytes.*nothing was sent/);
  assert.equal(hub.seen.length, 0);
});

test('a refused second chunk: the error tells what the first delivered, renumbers the path and keeps the rest to resend', async () => {
  const { hub, sdk } = await client(['accept', serverError(400, 'EVENT_INVALID', '/events/2/type')], { maxBatchEvents: 3 });
  const err = await rejection(sdk.emit(events(7)));
  assert.equal(hub.seen.length, 2, 'the third chunk is never sent');
  assert.equal(err.path, '/events/5/type', 'index in the caller input');
  assert.match(err.message, /chunk 2 of 3: events 3\.\.5/);
  assert.deepEqual(err.delivered, { accepted: hub.seen[0]?.ids, duplicates: [] });
  assert.deepEqual(err.remaining.map((e) => e.recordId), ['p3', 'p4', 'p5', 'p6']);
  assert.deepEqual(err.remaining.slice(0, 3).map((e) => e.id), hub.seen[1]?.ids);
});

test('a 2xx without the expected answer is an error, not a success', async () => {
  const { sdk } = await client([{ status: 200, body: { ok: true } }]);
  const err = await rejection(sdk.emit(event(1)));
  assert.equal(err.code, 'HUB_BAD_RESPONSE');
  assert.equal(err.retriable, false);
});

test('an empty list sends nothing; emit after close is refused; bad options are refused', async () => {
  const { hub, sdk } = await client([]);
  assert.deepEqual(await sdk.emit([]), { accepted: [], duplicates: [] });
  assert.equal(hub.seen.length, 0);
  await sdk.close();
  assert.equal((await rejection(sdk.emit(event(1)))).code, 'CLIENT_CLOSED');
  assert.throws(() => new HubClient({ url: 'http://x', apiKey: 'k', maxAttempts: 0 }), /maxAttempts must be a positive integer/);
  assert.throws(() => new HubClient({ url: '', apiKey: 'k' }), /url and apiKey are required/);
});

test("an injected fetch is used, and the url's trailing slash is not doubled", async () => {
  const calls: string[] = [];
  const sdk = new HubClient({
    url: 'https://hub.example.com/base/', apiKey: 'k',
    fetch: async (input) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ accepted: ['a'], duplicates: [] }), { status: 202 });
    },
  });
  assert.deepEqual(await sdk.emit(event(1)), { accepted: ['a'], duplicates: [] });
  assert.deepEqual(calls, ['https://hub.example.com/base/v1/events']);
});

/**
 * One contract for every connector (libs/sync/connector.ts), run against each app's
 * emulator by the `*.test.ts` files beside this one (as Inngest runs one suite against
 * every adapter). What differs between apps lives in the harness: how a record is put
 * in the app behind the connector's back, which paths to break, the app's refusal code.
 * Records are written through the reconcile mapping layer, as the sync service will.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { syncObjects, type AppRecord, type AssociationKind, type Connector, type WebhookRequest, type WriteInput } from '../../libs/sync/connector.ts';
import { appPropertiesOf, asHubFields, effectiveMappings, projectApp, projectHub } from '../../libs/sync/reconcile/index.ts';
import type { Clock } from '../../libs/sync/rate-limit.ts';
import type { Secret } from '../../libs/secrets/crypto.ts';
import type { Emulator } from '../emulators/base.ts';
import { createHttpClient, type HttpClient } from '../../libs/http/index.ts';

/** What each app's test file builds: the connector, and how to act on the app behind its back. */
export interface Harness {
  connector: Connector;
  /** Puts a person in the app directly (as if it existed before); returns its app id. */
  seedPerson(email: string, firstName: string, lastName: string): Promise<string>;
  /** A user of the app edits the person's last name (sends the app's webhook). */
  editPerson(id: string, lastName: string): Promise<void>;
  /** A user of the app deletes (archives) the person. */
  deletePerson(id: string): Promise<void>;
  /** Live people in the app with this email. */
  countByEmail(email: string): number;
  /** An app id that does not exist. */
  missingId: string;
  /** The app's emulator: failures to inject, the requests it received; the contract closes it. */
  app: Emulator;
  /** Where the connector creates and reads people, for failNext. */
  paths: { create: { path: string; method: string }; read: { path: string; method: string } };
  /** The app's own code for an invalid email. */
  invalidEmailCode: string;
  /** Two records the association kind joins, not yet associated (Stripe: an invoice made for that customer). */
  association: { kind: AssociationKind; make(): Promise<{ fromId: string; toId: string }> };
  /** The signing secret the app's webhooks use. */
  webhookSecret: Secret;
  /** The same connector with credentials the app refuses. */
  badCredentials(): Connector;
}

/** What the contract gives each harness: where the app sends its webhooks, the clock and HTTP client for its connector. */
export interface HarnessEnv {
  receiverUrl: string;
  clock: Clock;
  http: HttpClient;
}

/** A harness as the contract's tests see it: plus the webhooks received (URL as the app called it) and every wait the connector asked its clock for (ms). */
type Fixture = Harness & { webhooks: WebhookRequest[]; waits: number[] };

/** A clock whose sleeps return at once and move its time on: the waits are recorded, not spent. */
function recordingClock(): Clock & { waits: number[] } {
  let skew = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => Date.now() + skew,
    async sleep(ms) {
      waits.push(ms);
      skew += ms;
    },
  };
}

/** A webhook receiver: keeps every request as the app sent it. */
export async function startReceiver(): Promise<{ url: string; requests: WebhookRequest[]; close(): Promise<void> }> {
  const requests: WebhookRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      requests.push({ method: req.method ?? 'POST', url: `${url}${req.url ?? '/'}`, headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let serial = 0;
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${serial++}@contract.example`;

/** A person's write input through the connector's own default mappings and codec. */
function personInput(c: Connector, ref: string, fields: { email: string; firstName?: string; lastName?: string }, id?: string): WriteInput {
  const mappings = effectiveMappings(c.objects.people!.mappings);
  const values = Object.fromEntries(Object.entries(projectHub(fields, mappings)).filter(([, v]) => v !== null));
  return { ref, ...(id ? { id } : {}), properties: appPropertiesOf(values, mappings, c.codec, fields), version: 1, keys: { email: fields.email.toLowerCase() } };
}

async function drain<T extends { more: boolean; cursor: string }>(first: string | null, next: (cursor: string | null) => Promise<T>): Promise<{ pages: T[]; cursor: string }> {
  const pages: T[] = [];
  let cursor = first;
  for (let i = 0; i < 50; i++) {
    const page = await next(cursor);
    pages.push(page);
    cursor = page.cursor;
    if (!page.more) return { pages, cursor };
  }
  throw new Error('no end after 50 pages');
}

export function connectorContract(name: string, start: (env: HarnessEnv) => Promise<Harness>): void {
  const run = (title: string, f: (h: Fixture) => Promise<void>) => test(`${name}: ${title}`, async () => {
    const receiver = await startReceiver();
    const clock = recordingClock();
    try {
      const h = await start({ receiverUrl: receiver.url, clock, http: createHttpClient({ allowlist: ['127.0.0.1'] }) });
      try {
        await f({ ...h, webhooks: receiver.requests, waits: clock.waits });
      } finally {
        await h.app.close();
      }
    } finally {
      await receiver.close();
    }
  });

  run('lists every record page by page, then only what changed since the cursor', async (h) => {
    const ids: string[] = [];
    for (let i = 0; i < 23; i++) ids.push(await h.seedPerson(unique(`page${i}`), `P${i}`, 'Paged'));
    const first = await drain(null, (c) => h.connector.listChanged('people', c, { limit: 10 }));
    const seen = new Set(first.pages.flatMap((p) => p.records.map((r) => r.id)));
    assert.ok(first.pages.length >= 3, `${first.pages.length} pages of at most 10`);
    for (const id of ids) assert.ok(seen.has(id), `record ${id} listed`);
    await h.editPerson(ids[7]!, 'Edited');
    const after = await drain(first.cursor, (c) => h.connector.listChanged('people', c, { limit: 10 }));
    const changed = after.pages.flatMap((p) => p.records);
    const edited = changed.filter((r) => r.id === ids[7]);
    assert.ok(edited.length > 0, 'the edited record comes after the cursor');
    assert.ok(changed.length < ids.length, `only what changed (and a small overlap): ${changed.length}`);
    const mappings = effectiveMappings(h.connector.objects.people!.mappings);
    assert.equal(asHubFields(projectApp(edited.at(-1)!.properties, mappings, h.connector.codec), mappings).lastName, 'Edited');
  });

  run('lists archived or deleted records since a cursor, apart from changes', async (h) => {
    const a = await h.seedPerson(unique('gone-a'), 'Gone', 'A');
    const b = await h.seedPerson(unique('gone-b'), 'Gone', 'B');
    await h.deletePerson(a);
    const first = await drain(null, (c) => h.connector.listDeleted('people', c));
    const deleted = first.pages.flatMap((p) => p.deleted);
    assert.ok(deleted.some((d) => d.id === a && d.deletedAt > 0 && d.object === 'people'));
    assert.ok(!deleted.some((d) => d.id === b));
    await h.deletePerson(b);
    const next = await drain(first.cursor, (c) => h.connector.listDeleted('people', c));
    assert.ok(next.pages.flatMap((p) => p.deleted).some((d) => d.id === b), 'the later deletion after the cursor');
    const { records, missing } = await h.connector.read('people', [a, b]);
    assert.deepEqual([records.length, missing.sort()], [0, [a, b].sort()], 'deleted records read as missing');
  });

  run('batch create: one refused record is reported with the app\'s own error body, the rest are created', async (h) => {
    const [e1, e2] = [unique('ok1'), unique('ok2')];
    const results = await h.connector.create('people', [
      personInput(h.connector, 'h1', { email: e1, firstName: 'Ada', lastName: 'One' }),
      { ...personInput(h.connector, 'h2', { email: 'x@x.example' }), keys: {}, properties: { ...personInput(h.connector, 'h2', { email: 'x@x.example' }).properties, email: 'not-an-email' } },
      personInput(h.connector, 'h3', { email: e2, firstName: 'Ada', lastName: 'Three' }),
    ]);
    assert.deepEqual(results.map((r) => [r.ref, r.status]), [['h1', 'created'], ['h2', 'refused'], ['h3', 'created']]);
    const bad = results[1]!;
    assert.ok(bad.status === 'refused');
    assert.equal(bad.error.code, h.invalidEmailCode);
    assert.ok(bad.error.status >= 400 && bad.error.message.length > 0);
    assert.equal(typeof bad.error.body, 'object', 'the app\'s own error body is kept');
    assert.equal(h.countByEmail(e1) + h.countByEmail(e2), 2);
    const created = results[0]!;
    assert.ok(created.status === 'created' && created.record.id === created.id);
  });

  run('batch update: one refused record and one missing are reported, the rest are updated', async (h) => {
    const a = await h.seedPerson(unique('upd-a'), 'Up', 'A');
    const b = await h.seedPerson(unique('upd-b'), 'Up', 'B');
    const results = await h.connector.update('people', [
      personInput(h.connector, 'ha', { email: unique('upd-a2'), firstName: 'Up', lastName: 'Changed' }, a),
      { ...personInput(h.connector, 'hb', { email: 'x@x.example' }, b), properties: { email: 'not-an-email' } },
      personInput(h.connector, 'hm', { email: unique('upd-m'), firstName: 'No', lastName: 'One' }, h.missingId),
    ]);
    assert.deepEqual(results.map((r) => [r.ref, r.status]), [['ha', 'updated'], ['hb', 'refused'], ['hm', 'missing']]);
    const refused = results[1]!;
    assert.ok(refused.status === 'refused' && refused.error.code === h.invalidEmailCode);
    const { records } = await h.connector.read('people', [a]);
    assert.equal(records[0]!.id, a);
  });

  run('a create of a record the app already has resolves to it by matching instead of duplicating', async (h) => {
    const email = unique('exists');
    const id = await h.seedPerson(email, 'Already', 'There');
    const [result] = await h.connector.create('people', [personInput(h.connector, 'h1', { email, firstName: 'Already', lastName: 'There' })]);
    assert.deepEqual(result, { ref: 'h1', status: 'existing', id });
    assert.equal(h.countByEmail(email), 1);
  });

  run('reads by id and finds by match keys', async (h) => {
    const email = unique('find');
    const id = await h.seedPerson(email, 'Grace', 'Hopper');
    const { records, missing } = await h.connector.read('people', [id, h.missingId]);
    assert.deepEqual([records.map((r) => r.id), missing], [[id], [h.missingId]]);
    const found = await h.connector.find('people', { email });
    assert.deepEqual(found.map((r: AppRecord) => r.id), [id]);
    assert.deepEqual(await h.connector.find('people', { email: unique('nobody') }), []);
  });

  run('associations are written and read back, the primary marked', async (h) => {
    const { fromId, toId } = await h.association.make();
    const kind = h.association.kind;
    assert.deepEqual(await h.connector.writeAssociations([{ kind, fromId, toId, primary: true }]), []);
    const read = await h.connector.readAssociations(kind, [fromId]);
    assert.deepEqual(read.filter((a) => a.toId === toId), [{ kind, fromId, toId, primary: true }]);
    await assert.rejects(h.connector.readAssociations('invoice-company' as AssociationKind, [fromId]), { code: 'SYNC_OBJECT_UNSUPPORTED' });
  });

  run('webhooks: the app\'s signature verifies and the body parses into change notices; bad, stale and missing signatures are refused', async (h) => {
    const id = await h.seedPerson(unique('hook'), 'Hook', 'Before');
    await h.editPerson(id, 'After');
    const request = h.webhooks.at(-1);
    assert.ok(request, 'the app sent a webhook');
    const now = Date.now();
    h.connector.verifyWebhook(request, [h.webhookSecret], now);
    const notices = h.connector.parseWebhook(request.body);
    const mine = notices.filter((n) => n.id === id);
    assert.ok(mine.length > 0 && mine.every((n) => n.object === 'people' && n.kind === 'updated' && n.occurredAt > 0 && n.eventId !== '' && !n.byIntegration), JSON.stringify(notices));
    const tampered = { ...request, body: Buffer.concat([request.body, Buffer.from(' ')]) };
    assert.throws(() => h.connector.verifyWebhook(tampered, [h.webhookSecret], now), { code: 'WEBHOOK_SIGNATURE_INVALID' });
    const wrongSecret = { reveal: () => 'not-the-secret' } as Secret;
    assert.throws(() => h.connector.verifyWebhook(request, [wrongSecret], now), { code: 'WEBHOOK_SIGNATURE_INVALID' });
    h.connector.verifyWebhook(request, [wrongSecret, h.webhookSecret], now); // during a rotation, either secret
    assert.throws(() => h.connector.verifyWebhook(request, [h.webhookSecret], now + 6 * 60_000), { code: 'WEBHOOK_TIMESTAMP_INVALID' });
    const bare = { ...request, headers: Object.fromEntries(Object.entries(request.headers).filter(([k]) => !/signature/.test(k))) };
    assert.throws(() => h.connector.verifyWebhook(bare, [h.webhookSecret], now), { code: 'WEBHOOK_SIGNATURE_MISSING' });
    assert.throws(() => h.connector.parseWebhook(Buffer.from('{"nope":')), { code: 'SYNC_WEBHOOK_PAYLOAD_INVALID' });
  });

  run('a 429 storm is waited out within the rate-limit policy and nothing is lost', async (h) => {
    h.app.failNext(4, { status: 429, retryAfterSeconds: 2 }, h.paths.create.path, h.paths.create.method);
    const emails = [unique('storm1'), unique('storm2'), unique('storm3')];
    const results = await h.connector.create('people', emails.map((email, i) => personInput(h.connector, `h${i}`, { email, firstName: 'Storm', lastName: String(i) })));
    assert.deepEqual(results.map((r) => r.status), ['created', 'created', 'created']);
    for (const e of emails) assert.equal(h.countByEmail(e), 1, `${e} once`);
    assert.equal(h.app.received.filter((r) => r.status === 429).length, 4);
    assert.ok(h.waits.filter((w) => w >= 1950).length >= 4, `waited Retry-After (2 s, less the time already passed) each time: ${JSON.stringify(h.waits)}`);
    await assert.rejects(async () => {
      h.app.failNext(100, { status: 429, retryAfterSeconds: 30 }, h.paths.read.path, h.paths.read.method);
      await h.connector.read('people', [h.missingId]);
    }, { code: 'SYNC_APP_RATE_LIMITED' }, 'a storm longer than the policy\'s wait budget ends the call, retriable');
  });

  run('an answer lost after the app processed a create does not create a duplicate', async (h) => {
    const email = unique('lost');
    h.app.failNext(1, { status: 502, afterProcessing: true }, h.paths.create.path, h.paths.create.method);
    const [result] = await h.connector.create('people', [personInput(h.connector, 'h1', { email, firstName: 'Lost', lastName: 'Answer' })]);
    assert.ok(result && (result.status === 'created' || result.status === 'existing'), JSON.stringify(result));
    assert.equal(h.countByEmail(email), 1, 'one record in the app');
    assert.equal(h.app.received.filter((r) => r.injected).length, 1);
    const { records } = await h.connector.read('people', [result.id]);
    assert.equal(records.length, 1);
  });

  run('5xx answers are retried', async (h) => {
    const id = await h.seedPerson(unique('flaky'), 'Flaky', 'Read');
    h.app.failNext(2, { status: 503 }, h.paths.read.path, h.paths.read.method);
    const { records } = await h.connector.read('people', [id]);
    assert.deepEqual(records.map((r) => r.id), [id]);
    assert.equal(h.app.received.filter((r) => r.status === 503).length, 2);
  });

  run('credentials the app refuses end the call at once, not retriable', async (h) => {
    await assert.rejects(h.badCredentials().read('people', [h.missingId]), (err: { code?: string; retriable?: boolean }) => err.code === 'SYNC_APP_AUTH_FAILED' && err.retriable === false);
    assert.equal(h.app.received.filter((r) => r.status === 401).length, 1, 'one request, no retry');
  });

  run('a cursor it did not issue, and an object it does not sync, are refused', async (h) => {
    await assert.rejects(h.connector.listChanged('people', 'bm90LWEtY3Vyc29y'), { code: 'SYNC_CURSOR_INVALID' });
    const unsupported = syncObjects.find((o) => !h.connector.objects[o]);
    assert.ok(unsupported);
    await assert.rejects(h.connector.listChanged(unsupported, null), { code: 'SYNC_OBJECT_UNSUPPORTED' });
  });
}

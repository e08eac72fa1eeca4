/**
 * Data sync under faults, on the real stack with every service a process: a 429 storm and
 * 5xx answers, an answer lost after HubSpot (or Stripe) did the work, one record the app
 * refuses in a batch, replayed, out-of-order, forged and stale webhooks, and the reconciler
 * killed with SIGKILL in the middle of an initial sync: no record missing or doubled on
 * either side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import type { ExternalCrmEmulator, ExternalCrmOptions } from '../emulators/external-crm.ts';
import { connect, records, sendEvents, waitForStatus, syncSuite } from '../support/sync.ts';
import { eventually } from '../support/env.ts';
import { sleep } from '../../libs/time/sleep.ts';

const suite = syncSuite('sync-faults', 1000);
const { hubspot, stripe, workspace } = suite;

const person = (recordId: string, record: Record<string, unknown>, type = 'record.created') => ({ type, object: 'people', recordId, record });
const liveContacts = (crm: ExternalCrmEmulator) => [...crm.objects.contacts.values()].filter((c) => !c.archived);

function assertNoDuplicates(emails: readonly unknown[], what: string): void {
  const seen = new Map<string, number>();
  for (const e of emails) seen.set(String(e), (seen.get(String(e)) ?? 0) + 1);
  const doubled = [...seen].filter(([, n]) => n > 1).map(([e]) => e);
  assert.deepEqual(doubled, [], `${what}: no email twice`);
}

test('a 429 storm, 5xx answers and a create answer lost after HubSpot wrote it: every record once; one record HubSpot refuses is failing with its answer while the rest of its batch syncs, and it syncs once fixed', async () => {
  const ws = await workspace('sync-storm');
  // HubSpot's own limit, tightened: the sync has to live within it (429 with Retry-After past it).
  const crm = await hubspot({ rateLimit: { max: 20, windowMs: 2000 } });
  const n = 250;
  await sendEvents(ws.api, Array.from({ length: n }, (_, i) => person(`s-${i}`, { email: `storm${i}@example.com`, firstName: `S${i}`, ...(i === 7 ? { workEmail: 'not an email' } : {}) })));
  await eventually('projected', async () => (await ws.records('people')).length === n, 60_000, 250);
  crm.failNext(6, { status: 429, retryAfterSeconds: 1 });
  crm.failNext(3, { status: 503 }, '/crm/v3/objects/contacts/batch/create', 'POST');
  crm.failNext(1, { status: 502, afterProcessing: true }, '/crm/v3/objects/contacts/batch/create', 'POST');
  const { connectionId } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot storm', baseUrl: crm.url, token: crm.token });
  await waitForStatus(ws.api, connectionId, 'running', 60_000);

  const contacts = liveContacts(crm);
  assertNoDuplicates(contacts.map((c) => c.properties.email), 'HubSpot');
  assert.equal(contacts.length, n - 1, 'every record but the refused one, once');
  assert.equal(crm.received.filter((r) => r.status === 429 && r.injected).length, 6, 'the storm of 429s was answered and waited out');
  assert.ok(crm.received.some((r) => r.status === 502 && r.injected), 'an answer was lost');
  const failing = await records(ws.api, connectionId, 'state=failing');
  assert.equal(failing.length, 1);
  assert.equal(failing[0]!.hubId, 's-7');
  assert.equal(failing[0]!.reason!.code, 'VALIDATION_ERROR');
  assert.ok(JSON.stringify(failing[0]!.reason!.app).includes('INVALID_EMAIL'), `the app's own answer: ${JSON.stringify(failing[0]!.reason)}`);
  // Retried on later cycles (not nightly), then fixed in the hub: synced.
  const tries = () => crm.received.filter((r) => r.method === 'POST' && r.path.includes('/contacts') && JSON.stringify(r.body ?? '').includes('storm7@')).length;
  const before = tries();
  await eventually('the failing record retried by a later cycle', async () => tries() > before, 30_000, 250);
  await sendEvents(ws.api, [person('s-7', { email: 'storm7@example.com', firstName: 'S7', workEmail: 's7@work.example' }, 'record.updated')]);
  await eventually('s-7 in HubSpot', async () => liveContacts(crm).some((c) => c.properties.email === 'storm7@example.com'), 30_000, 250);
  await eventually('nothing failing', async () => (await records(ws.api, connectionId, 'state=failing')).length === 0, 30_000, 250);
  assert.equal(liveContacts(crm).length, n);
});

function signedHubSpot(url: string, secret: string, events: unknown[], at = Date.now()): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(events);
  const ts = String(at);
  return { body, headers: { 'content-type': 'application/json', 'x-hubspot-request-timestamp': ts, 'x-hubspot-signature-v3': createHmac('sha256', secret).update(`POST${url}${body}${ts}`).digest('base64') } };
}

test('webhooks: a replayed delivery changes the hub once, out-of-order events end on the app\'s latest value, forged and stale signatures are refused', async () => {
  const ws = await workspace('sync-hooks');
  const secret = 'hook-client-secret';
  const crm = await hubspot();
  await sendEvents(ws.api, [person('w-1', { email: 'wanda@example.com', firstName: 'Wanda', jobTitle: 'One' })]);
  await eventually('projected', async () => (await ws.records('people')).length === 1);
  const { connectionId, webhookUrl } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot hooks', baseUrl: crm.url, token: crm.token, webhookSecret: secret, pollIntervalMs: 60_000 });
  await waitForStatus(ws.api, connectionId, 'running');
  const contact = liveContacts(crm).find((c) => c.properties.email === 'wanda@example.com')!;
  const event = (eventId: number, value: string, occurredAt: number) => ({
    eventId, subscriptionId: 100_001, portalId: 62_515, appId: 1_160_452, occurredAt, subscriptionType: 'contact.propertyChange', attemptNumber: 0,
    objectId: Number(contact.id), changeSource: 'CRM_UI', propertyName: 'jobtitle', propertyValue: value,
  });
  const post = (d: { headers: Record<string, string>; body: string }) => fetch(webhookUrl, { method: 'POST', headers: d.headers, body: d.body });

  // Edited twice in HubSpot; the newer event arrives first, the older one after it, each delivered three times.
  contact.properties.jobtitle = 'Two';
  const t0 = Date.now();
  contact.properties.jobtitle = 'Three';
  contact.properties.lastmodifieddate = new Date(t0 + 1).toISOString();
  contact.updatedAt = new Date(t0 + 1).toISOString();
  const newer = signedHubSpot(webhookUrl, secret, [event(9002, 'Three', t0 + 1)]);
  const older = signedHubSpot(webhookUrl, secret, [event(9001, 'Two', t0)]);
  for (const d of [newer, newer, older, older, newer, older]) assert.equal((await post(d)).status, 200);
  const synced = await eventually('the latest value in the hub', async () => { const r = await ws.record('people', 'w-1'); return r?.fields.jobTitle === 'Three' ? r : null; });
  await sleep(2000);
  const after2s = (await ws.record('people', 'w-1'))!;
  assert.equal(after2s.fields.jobTitle, 'Three', 'an older event never brings an older value back');
  assert.equal(after2s.version, synced.version, 'six deliveries, one hub write');

  const forged = signedHubSpot(webhookUrl, 'not-the-secret', [event(9003, 'Four', Date.now())]);
  const forgedRes = await post(forged);
  assert.equal(forgedRes.status, 401);
  assert.match(JSON.stringify(await forgedRes.json()), /WEBHOOK_SIGNATURE_INVALID/);
  const stale = signedHubSpot(webhookUrl, secret, [event(9004, 'Five', Date.now())], Date.now() - 10 * 60_000);
  const staleRes = await post(stale);
  assert.equal(staleRes.status, 401);
  assert.match(JSON.stringify(await staleRes.json()), /WEBHOOK_TIMESTAMP_INVALID/);
  const unsigned = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
  assert.equal(unsigned.status, 401);
  const unknown = await fetch(webhookUrl.replace(connectionId, 'sc_nosuchconnection0'), { method: 'POST', headers: newer.headers, body: newer.body });
  assert.equal(unknown.status, 404);
});

test('Stripe: customers ↔ people, a create answer lost after Stripe wrote it is retried with the same Idempotency-Key: one customer', async () => {
  const ws = await workspace('sync-stripe');
  const billing = await stripe();
  await sendEvents(ws.api, [person('st-1', { email: 'pay@example.com', firstName: 'Pat', lastName: 'Payne' }), person('st-2', { email: 'second@example.com', firstName: 'Sam' })]);
  await eventually('projected', async () => (await ws.records('people')).length === 2);
  await billing.userEdit('customer', undefined, { email: 'existing@example.com', name: 'Ex Isting' });
  billing.failNext(1, { status: 500, afterProcessing: true }, '/v1/customers', 'POST');
  const { connectionId } = await connect(ws.api, { app: 'stripe', name: 'Stripe', baseUrl: billing.url, token: billing.apiKey });
  await waitForStatus(ws.api, connectionId, 'running');
  const customers = [...billing.customers.values()];
  assertNoDuplicates(customers.map((c) => c.email), 'Stripe');
  assert.equal(customers.length, 3);
  await eventually('the Stripe customer in the hub', async () => (await ws.records('people')).some((r) => r.fields.email === 'existing@example.com'));
  const keys = billing.received.filter((r) => r.method === 'POST' && r.path === '/v1/customers').map((r) => r.headers['idempotency-key']);
  assert.ok(keys.every(Boolean), 'every create carries an Idempotency-Key');
});

test('the reconciler killed with SIGKILL in the middle of an initial sync and restarted: no record missing or doubled on either side', async () => {
  const ws = await workspace('sync-kill');
  const crm = await hubspot({ latencyMs: 30 });
  const appOnly = 1500;
  const hubOnly = 300;
  const both = 100;
  // The first `both` hub people have the email of an app contact (linked, not doubled).
  for (let i = 0; i < appOnly + both; i++) crm.seed('contacts', { email: `a${i}@kill.example`, firstname: `A${i}` });
  await sendEvents(ws.api, Array.from({ length: hubOnly + both }, (_, i) => person(`k-${i}`, { email: i < both ? `a${i}@kill.example` : `h${i}@kill.example`, firstName: `H${i}` })));
  await eventually('projected', async () => (await ws.records('people')).length === hubOnly + both, 60_000, 250);
  const { connectionId } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot kill', baseUrl: crm.url, token: crm.token });

  const links = suite.hub.store.db.collection('sync_links');
  await eventually('the initial sync applying its plan', async () => (await links.countDocuments({ connectionId })) >= 150, 120_000, 20);
  await suite.hub.crash('sync-reconciler');
  const phase = (await suite.hub.store.db.collection('sync_objects').findOne({ connectionId, object: 'people' }))?.phase;
  assert.equal(phase, 'initial-sync', 'killed mid initial sync');
  await suite.hub.restart('sync-reconciler');
  await waitForStatus(ws.api, connectionId, 'running', 240_000);

  const total = appOnly + hubOnly + both;
  const contacts = liveContacts(crm);
  assertNoDuplicates(contacts.map((c) => c.properties.email), 'HubSpot');
  assert.equal(contacts.length, total, 'HubSpot: every record once');
  const people = await eventually('every app record in the hub', async () => { const l = await ws.records('people'); return l.length >= total ? l : null; }, 60_000, 250);
  assertNoDuplicates(people.map((r) => r.fields.email), 'hub');
  assert.equal(people.length, total, 'hub: every record once');
  assert.equal((await records(ws.api, connectionId, 'state=in-sync')).length, total);
});

/** `npm run sync:rebuild` as an operator runs it, against this hub's stack. */
async function syncRebuild(...connectionIds: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/sync-rebuild.ts', ...connectionIds], { env: { ...suite.hub.env, LOG_LEVEL: 'warn' }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('the store loses the reconciler\'s state: npm run sync:rebuild (refused while the reconciler runs) brings every link and state back from the sync.state changelog, and sync goes on with nothing doubled', async () => {
  const ws = await workspace('sync-rebuild');
  const secret = 'rebuild-client-secret';
  const options: ExternalCrmOptions = { webhook: { url: 'http://127.0.0.1:1/unset', clientSecret: secret } };
  const crm = await hubspot(options);
  for (let i = 0; i < 30; i++) crm.seed('contacts', { email: `app${i}@rebuild.example`, firstname: `App${i}` });
  await sendEvents(ws.api, [
    ...Array.from({ length: 10 }, (_, i) => person(`r-${i}`, { email: i < 5 ? `app${i}@rebuild.example` : `hub${i}@rebuild.example`, firstName: `Hub${i}` })),
    person('r-noemail', { firstName: 'No', lastName: 'Email' }),
  ]);
  await eventually('projected', async () => (await ws.records('people')).length === 11, 30_000, 100);
  const { connectionId, webhookUrl, webhookEvents } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot rebuild', baseUrl: crm.url, token: crm.token, webhookSecret: secret });
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  await waitForStatus(ws.api, connectionId, 'running', 60_000);
  const total = 30 + 5; // 30 app contacts (5 of them matched by hub people) and 5 hub-only people
  await eventually('every record in sync', async () => (await records(ws.api, connectionId, 'state=in-sync')).length === total, 30_000, 250);
  await crm.webhooksSettled();

  const refused = await syncRebuild(connectionId);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /SYNC_RECONCILER_RUNNING/);

  await suite.hub.stop('sync-reconciler');
  const db = suite.hub.store.db;
  const collections = ['sync_links', 'sync_unlinked', 'sync_objects'] as const;
  const snapshot = async () => {
    const out: Record<string, unknown[]> = {};
    for (const name of collections) out[name] = (await db.collection(name).find({ connectionId }).toArray()).sort((a, b) => String(a._id).localeCompare(String(b._id)));
    out.sync_app_ids = (await db.collection<{ _id: string }>('sync_app_ids').find({ _id: { $regex: `^${connectionId}\\|` } } as never).toArray()).sort((a, b) => String(a._id).localeCompare(String(b._id)));
    // When the store saved an object state is its own clock, not part of the state.
    out.sync_objects = (out.sync_objects as { updatedAt?: unknown }[]).map(({ updatedAt: _, ...rest }) => rest);
    return out;
  };
  const before = await snapshot();
  assert.equal(before.sync_links!.length, total);
  assert.equal(before.sync_unlinked!.length, 1, 'the excluded person');
  // The store loses the connection's state.
  for (const name of collections) await db.collection(name).deleteMany({ connectionId });
  await db.collection<{ _id: string }>('sync_app_ids').deleteMany({ _id: { $regex: `^${connectionId}\\|` } } as never);

  const rebuilt = await syncRebuild(connectionId);
  assert.equal(rebuilt.code, 0, `${rebuilt.stderr}\n${rebuilt.stdout}`);
  const summary = JSON.parse(rebuilt.stdout) as { rebuilt: { connectionId: string; links: number; unlinked: number; objects: number }[] };
  assert.deepEqual(summary.rebuilt.map((r) => [r.connectionId, r.links, r.unlinked]), [[connectionId, total, 1]]);
  assert.deepEqual(await snapshot(), before, 'links, app-id claims, record states and object states as they were');

  // Sync goes on from the rebuilt state: a change each way updates the linked records, a new person is created once.
  await suite.hub.restart('sync-reconciler');
  const ada = [...crm.objects.contacts.values()].find((c) => c.properties.email === 'app7@rebuild.example')!;
  await crm.userEdit('contacts', ada.id, { jobtitle: 'Rebuilt' });
  await sendEvents(ws.api, [person('r-1', { email: 'app1@rebuild.example', firstName: 'Hub1', jobTitle: 'After' }, 'record.updated'), person('r-new', { email: 'new@rebuild.example', firstName: 'New' })]);
  await eventually('the app edit in the hub', async () => (await ws.records('people')).some((r) => r.fields.email === 'app7@rebuild.example' && r.fields.jobTitle === 'Rebuilt'), 30_000, 250);
  await eventually('the hub edit in HubSpot', async () => liveContacts(crm).some((c) => c.properties.email === 'app1@rebuild.example' && c.properties.jobtitle === 'After'), 30_000, 250);
  await eventually('the new person in HubSpot', async () => liveContacts(crm).some((c) => c.properties.email === 'new@rebuild.example'), 30_000, 250);
  await sleep(3000); // a few polls
  assertNoDuplicates(liveContacts(crm).map((c) => c.properties.email), 'HubSpot');
  assert.equal(liveContacts(crm).length, total + 1, 'HubSpot: every record once');
  const people = await ws.records('people');
  assertNoDuplicates(people.filter((r) => r.fields.email).map((r) => r.fields.email), 'hub');
  assert.equal(people.length, total + 2, 'hub: every record once (and the person without an email)');
});

/**
 * Use case 9, two-way sync with a HubSpot-like CRM (examples/09-two-way-sync-outbound.json
 * and examples/09-two-way-sync-inbound.json), with every service a process.
 *
 * Outbound: a person updated in the hub → PATCH of the HubSpot contact (by the stored
 * hubspotId, else found by email through HubSpot's search, else created) → the person
 * gets its sync status, time and agreed values (syncBase). Inbound: HubSpot's signed
 * webhook for a contact property change → the linked person → the value applied, or a
 * conflict-resolution task when both sides changed the field differently.
 *
 * The emulator sends webhooks for the hub's own writes too (events: 'all', as HubSpot
 * does for an app's API writes): every test checks that those echoes end as no-ops and
 * that no update starts the other workflow again (no sync loop). Its webhooks go through
 * a relay in this file, which can hold deliveries back: HubSpot delivers asynchronously,
 * which is how a change made in HubSpot can arrive after the hub pushed its own.
 *
 * The variant: HubSpot's search answers 429 with Retry-After (absorbed by the step's own
 * retries), then its PATCH answers 500 past the step's attempts; the run fails, and a retry
 * completes it without repeating the search.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startExternalCrmEmulator, type ExternalCrmEmulator, type ExternalCrmOptions } from '../../emulators/external-crm.ts';
import type { Run } from '../../../libs/store/runs.ts';
import { sleep } from '../../../libs/time/sleep.ts';

const TOKEN = 'pat-na1-5f2c8e1a-93d4-4b7e-a1c6-0d9e8f7a6b5c';
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const CONTACTS = '/crm/v3/objects/contacts';

interface Forwarded { body: Record<string, unknown>; status: number }

/** Forwards the CRM's webhook deliveries to the hub as sent (signature headers included), or holds them until released. */
interface Relay {
  url: string;
  hold(): void;
  /** Forwards the oldest held delivery; returns the hub's status. */
  releaseOne(): Promise<number>;
  held: { body: string; headers: Record<string, string> }[];
  forwarded: Forwarded[];
  close(): Promise<void>;
}

async function startRelay(target: string): Promise<Relay> {
  const held: Relay['held'] = [];
  const forwarded: Forwarded[] = [];
  let holding = false;
  const forward = async (body: string, headers: Record<string, string>): Promise<number> => {
    const res = await fetch(target, { method: 'POST', headers, body });
    await res.text();
    forwarded.push({ body: JSON.parse(body) as Record<string, unknown>, status: res.status });
    return res.status;
  };
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      if (holding) {
        held.push({ body, headers });
        res.writeHead(200).end();
        return;
      }
      const status = await forward(body, headers).catch(() => 502);
      res.writeHead(status).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hubspot-webhooks`,
    held, forwarded,
    hold() { holding = true; },
    async releaseOne() {
      const next = held.shift();
      if (!next) throw new Error('no held delivery');
      if (held.length === 0) holding = false;
      return forward(next.body, next.headers);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let hub: E2EHub;
let crm: ExternalCrmEmulator;
let relay: Relay;
let outboundId: string;
let inboundId: string;
let hookUrl: string;
const crmOptions: ExternalCrmOptions = { token: TOKEN };
let ada: Record<string, unknown>;

type Fields = Record<string, unknown>;

/** A person edited by a user in the hub: the record event a CRM producer would emit. */
async function hubEdit(recordId: string, changes: Fields): Promise<void> {
  const current = await hub.record('people', recordId);
  assert.ok(current, `person ${recordId} exists`);
  await hub.sendRecords([{ type: 'record.updated', object: 'people', recordId, record: { ...current.fields, ...changes }, before: current.fields }]);
}

const outboundRuns = async (n: number) => (await hub.endedRuns(outboundId, n)).slice(0, n);
const patchesOf = (id: string) => crm.received.filter((r) => r.method === 'PATCH' && r.path === `${CONTACTS}/${id}`);
const stepOutput = <T>(run: Run, key: string) => run.steps[key]!.output as T;

/**
 * Waits until every webhook the CRM sent has been handled by an inbound run, then a while
 * longer, and checks that the run counts did not move: no update restarted a workflow.
 */
async function quiet(expectedOutbound: number): Promise<Run[]> {
  await crm.webhooksSettled();
  const delivered = relay.forwarded.filter((f) => f.status === 202).length;
  assert.equal(relay.forwarded.length, delivered, `every forwarded delivery accepted: ${JSON.stringify(relay.forwarded.map((f) => f.status))}`);
  const inbound = delivered === 0 ? [] : await hub.endedRuns(inboundId, delivered);
  await sleep(2500);
  assert.equal((await hub.runsOf(outboundId)).length, expectedOutbound, 'no sync loop: the outbound workflow ran only for users\' edits');
  assert.equal((await hub.runsOf(inboundId)).length, delivered, 'one inbound run per delivered webhook, no more');
  return inbound;
}

/** The inbound runs of the given deliveries (by HubSpot eventId): each must be a no-op echo/skip. */
function assertNoOps(runs: Run[], eventIds: number[]): void {
  for (const id of eventIds) {
    const run = runs.find((r) => (r.trigger as { body: { eventId: number } }).body.eventId === id);
    assert.ok(run, `an inbound run for event ${id}`);
    assert.equal(run.status, 'completed', JSON.stringify(run.error));
    const action = stepOutput<{ result: { action: string } }>(run, 'merge').result.action;
    assert.ok(['in-sync', 'skip'].includes(action), `event ${id} ended as ${action}`);
    assert.deepEqual(run.steps.route!.output, { branch: 'else' });
  }
}

before(async () => {
  crm = await startExternalCrmEmulator(crmOptions);
  hub = await startE2EHub('uc09');
  await hub.credential({ name: 'hubspot-crm', type: 'bearer', token: TOKEN });
  ({ workflowId: outboundId } = await hub.importExample('09-two-way-sync-outbound.json', { CRM_API_URL: crm.url }));
  const inbound = await hub.importExample('09-two-way-sync-inbound.json', { HUBSPOT_WEBHOOK_SECRET: WEBHOOK_SECRET, SYNC_OWNER_ID: 'rep-7' });
  inboundId = inbound.workflowId;
  hookUrl = inbound.hookUrl!;
  relay = await startRelay(hookUrl);
  // The HubSpot app's webhook subscription: signed, and API writes notified too.
  crmOptions.webhook = { url: relay.url, secret: WEBHOOK_SECRET, events: 'all' };

  // Ada is linked on both sides, in sync.
  const contact = crm.seed('contacts', { email: 'ada@lovelace.test', firstname: 'Ada', lastname: 'Lovelace', phone: '+44 20 7946 0000', jobtitle: 'Analyst' }, new Date('2024-03-01T09:00:00Z'));
  assert.equal(contact.id, '101');
  const at = contact.updatedAt;
  ada = {
    email: 'ada@lovelace.test', firstName: 'Ada', lastName: 'Lovelace', phone: '+44 20 7946 0000', jobTitle: 'Analyst',
    hubspotId: '101', syncStatus: 'synced', syncedAt: at,
    syncBase: {
      firstname: { value: 'Ada', at, source: 'hubspot' }, lastname: { value: 'Lovelace', at, source: 'hubspot' },
      phone: { value: '+44 20 7946 0000', at, source: 'hubspot' }, jobtitle: { value: 'Analyst', at, source: 'hubspot' },
    },
  };
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-ada', record: ada }]);
  await eventually('ada projected', () => hub.record('people', 'p-ada'));
});
after(async () => {
  await hub?.close();
  await relay?.close();
  await crm?.close();
});

test('outbound: a job title changed in the hub is PATCHed to the linked contact; the person is marked synced; the echo is a no-op', async () => {
  await hubEdit('p-ada', { jobTitle: 'Head of Research' });
  const [run] = await outboundRuns(1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  assert.deepEqual(stepOutput(run!, 'changes'), {
    result: { hubspotId: '101', email: 'ada@lovelace.test', properties: { jobtitle: 'Head of Research' }, all: { email: 'ada@lovelace.test', firstname: 'Ada', lastname: 'Lovelace', phone: '+44 20 7946 0000', jobtitle: 'Head of Research' } },
  });
  assert.deepEqual(run!.steps.locate!.output, { branch: 'else' });
  assert.equal(run!.steps.lookup, undefined, 'no search: the contact id is known');
  assert.deepEqual(stepOutput(run!, 'target'), { result: { id: '101', via: 'hubspotId' } });
  assert.deepEqual(run!.steps.push!.output, { branch: 0 });
  assert.equal(stepOutput<{ status: number }>(run!, 'patch').status, 200);

  const patches = patchesOf('101');
  assert.equal(patches.length, 1);
  assert.deepEqual(patches[0]!.body, { properties: { jobtitle: 'Head of Research' } });
  assert.equal(patches[0]!.headers.authorization, `Bearer ${TOKEN}`);
  assert.match(patches[0]!.headers['idempotency-key'] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(patches[0]!.status, 200);
  const contact = crm.objects.contacts.get('101')!;
  assert.equal(contact.properties.jobtitle, 'Head of Research');
  assert.equal(crm.received.filter((r) => r.path === `${CONTACTS}/search`).length, 0);

  const person = await eventually('ada marked synced', async () => {
    const r = await hub.record('people', 'p-ada');
    return r?.fields.syncedAt === contact.updatedAt ? r : null;
  });
  const base = ada.syncBase as Record<string, unknown>;
  assert.deepEqual({ ...person.fields }, {
    ...ada, jobTitle: 'Head of Research', syncStatus: 'synced', syncedAt: contact.updatedAt,
    syncBase: { ...base, jobtitle: { value: 'Head of Research', at: contact.updatedAt, source: 'hub' } },
  });
  ada = { ...person.fields };

  // HubSpot notified the app of its own write (changeSource INTEGRATION): the inbound workflow saw it was in sync.
  const inbound = await quiet(1);
  assert.equal(inbound.length, 1);
  const echo = inbound[0]!;
  assert.deepEqual((echo.trigger as { body: unknown }).body, {
    eventId: 1, subscriptionId: 100_001, portalId: 62_515, appId: 1_160_452, occurredAt: Date.parse(contact.updatedAt), subscriptionType: 'contact.propertyChange',
    attemptNumber: 0, objectId: 101, changeSource: 'INTEGRATION', sourceId: '1160452', propertyName: 'jobtitle', propertyValue: 'Head of Research',
  });
  assert.equal(echo.status, 'completed', JSON.stringify(echo.error));
  assert.deepEqual(stepOutput(echo, 'merge'), {
    result: { action: 'in-sync', recordId: 'p-ada', name: 'Ada Lovelace', field: 'jobTitle', property: 'jobtitle', hubValue: 'Head of Research', hubspotValue: 'Head of Research', changedAt: contact.updatedAt },
  });
  assert.deepEqual(echo.steps.route!.output, { branch: 'else' });
  assert.equal(patchesOf('101').length, 1, 'nothing pushed back');
});

test('outbound without a stored id: found by email through HubSpot\'s search and linked; unknown email: contact created', async () => {
  const grace = crm.seed('contacts', { email: 'grace@hopper.test', firstname: 'Grace', lastname: 'Hopper', phone: '+1 202 555 0100', jobtitle: 'Computer Scientist' });
  assert.equal(grace.id, '102');
  const deliveriesBefore = relay.forwarded.length;
  await hub.sendRecords([
    { type: 'record.created', object: 'people', recordId: 'p-grace', record: { email: 'grace@hopper.test', firstName: 'Grace', lastName: 'Hopper', phone: '+1 202 555 0100', jobTitle: 'Rear Admiral' } },
    { type: 'record.created', object: 'people', recordId: 'p-linus', record: { email: 'linus@torvalds.test', firstName: 'Linus', lastName: 'Torvalds', jobTitle: 'Fellow' } },
  ]);
  await eventually('both projected', async () => (await hub.record('people', 'p-grace')) && (await hub.record('people', 'p-linus')));
  await hubEdit('p-grace', { phone: '+1 202 555 0143' });
  await hubEdit('p-linus', { jobTitle: 'Linux Foundation Fellow' });
  const runs = await outboundRuns(3);
  const byPerson = (id: string) => runs.find((r) => (r.trigger as { recordId: string }).recordId === id)!;

  const g = byPerson('p-grace');
  assert.equal(g.status, 'completed', JSON.stringify(g.error));
  assert.deepEqual(g.steps.locate!.output, { branch: 0 });
  assert.deepEqual(stepOutput(g, 'target'), { result: { id: '102', via: 'email' } });
  const searches = crm.received.filter((r) => r.path === `${CONTACTS}/search`);
  assert.equal(searches.length, 2, 'one search per unlinked person');
  const graceSearch = searches.find((r) => JSON.stringify(r.body).includes('grace@'))!;
  assert.deepEqual(graceSearch.body, { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'grace@hopper.test' }] }], properties: ['email', 'firstname', 'lastname'], limit: 1 });
  assert.equal(graceSearch.headers.authorization, `Bearer ${TOKEN}`);
  // Never synced before: every synced field is pushed, the hub's values win.
  assert.deepEqual(patchesOf('102').map((r) => r.body), [{ properties: { firstname: 'Grace', lastname: 'Hopper', phone: '+1 202 555 0143', jobtitle: 'Rear Admiral' } }]);
  assert.equal(crm.objects.contacts.get('102')!.properties.jobtitle, 'Rear Admiral');
  const graceAt = crm.objects.contacts.get('102')!.updatedAt;
  const gp = await eventually('grace linked', async () => { const r = await hub.record('people', 'p-grace'); return r?.fields.hubspotId ? r : null; });
  const hubBase = (value: string) => ({ value, at: graceAt, source: 'hub' });
  assert.deepEqual({ ...gp.fields }, {
    email: 'grace@hopper.test', firstName: 'Grace', lastName: 'Hopper', phone: '+1 202 555 0143', jobTitle: 'Rear Admiral',
    hubspotId: '102', syncStatus: 'synced', syncedAt: graceAt,
    syncBase: { firstname: hubBase('Grace'), lastname: hubBase('Hopper'), phone: hubBase('+1 202 555 0143'), jobtitle: hubBase('Rear Admiral') },
  });

  const l = byPerson('p-linus');
  assert.equal(l.status, 'completed', JSON.stringify(l.error));
  assert.deepEqual(stepOutput(l, 'target'), { result: { id: null, via: 'none' } });
  assert.deepEqual(l.steps.push!.output, { branch: 'else' });
  const creates = crm.received.filter((r) => r.method === 'POST' && r.path === CONTACTS);
  assert.equal(creates.length, 1);
  assert.deepEqual(creates[0]!.body, { properties: { email: 'linus@torvalds.test', firstname: 'Linus', lastname: 'Torvalds', jobtitle: 'Linux Foundation Fellow' } });
  assert.equal(creates[0]!.status, 201);
  const linus = [...crm.objects.contacts.values()].find((c) => c.properties.email === 'linus@torvalds.test')!;
  assert.equal(linus.id, '103');
  const lp = await eventually('linus linked', async () => { const r = await hub.record('people', 'p-linus'); return r?.fields.hubspotId ? r : null; });
  assert.equal(lp.fields.hubspotId, '103');
  assert.equal(lp.fields.syncedAt, linus.updatedAt);
  assert.deepEqual(lp.fields.syncBase, {
    firstname: { value: 'Linus', at: linus.updatedAt, source: 'hub' }, lastname: { value: 'Torvalds', at: linus.updatedAt, source: 'hub' },
    jobtitle: { value: 'Linux Foundation Fellow', at: linus.updatedAt, source: 'hub' },
  });

  // Echoes: phone and jobtitle changed on 102; creation + 4 properties on 103. All no-ops.
  const inbound = await quiet(3);
  const echoes = relay.forwarded.slice(deliveriesBefore);
  assert.equal(echoes.length, 7);
  assertNoOps(inbound, echoes.map((e) => e.body.eventId as number));
  assert.equal(patchesOf('102').length, 1);
  assert.equal(patchesOf('103').length, 0);
});

test('inbound: a phone changed in HubSpot reaches the person through a signed webhook, and is not pushed back', async () => {
  const before = relay.forwarded.length;
  const patchesBefore = crm.received.filter((r) => r.method === 'PATCH').length;
  const runsBefore = (await hub.runsOf(inboundId)).length;
  const edited = await crm.userEdit('contacts', '101', { phone: '+44 20 7946 0999' });
  const changedAt = edited.updatedAt;
  const delivery = relay.forwarded[before]!;
  assert.equal(delivery.status, 202);
  assert.equal(delivery.body.changeSource, 'CRM_UI');
  const run = (await hub.endedRuns(inboundId, runsBefore + 1)).find((r) => (r.trigger as { body: { eventId: number } }).body.eventId === delivery.body.eventId)!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  const base = ada.syncBase as Record<string, unknown>;
  const syncBase = { ...base, phone: { value: '+44 20 7946 0999', at: changedAt, source: 'hubspot' } };
  assert.deepEqual(stepOutput(run, 'merge'), {
    result: { action: 'apply', recordId: 'p-ada', name: 'Ada Lovelace', field: 'phone', property: 'phone', hubValue: '+44 20 7946 0000', hubspotValue: '+44 20 7946 0999', changedAt, syncBase },
  });
  assert.deepEqual(run.steps.route!.output, { branch: 3 });
  assert.equal(run.steps.conflictTask, undefined);
  const person = await eventually('phone applied', async () => { const r = await hub.record('people', 'p-ada'); return r?.fields.phone === '+44 20 7946 0999' ? r : null; });
  assert.deepEqual({ ...person.fields }, { ...ada, phone: '+44 20 7946 0999', syncStatus: 'synced', syncedAt: changedAt, syncBase });
  ada = { ...person.fields };

  // An unsigned (forged) delivery is refused and starts nothing.
  const forged = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...delivery.body, eventId: 999, propertyValue: '+1 900 555 0000' }) });
  assert.equal(forged.status, 401);

  await quiet(3);
  assert.equal(crm.received.filter((r) => r.method === 'PATCH').length, patchesBefore, 'the applied value was not pushed back to HubSpot');
  assert.equal(crm.objects.contacts.get('101')!.properties.phone, '+44 20 7946 0999');
  assert.equal((await hub.records('tasks')).length, 0);
});

test('inbound conflict: HubSpot\'s change arrives after the hub pushed its own → nothing overwritten, person flagged, task for the owner', async () => {
  const before = relay.forwarded.length;
  relay.hold();
  // A HubSpot user retitles Ada; HubSpot's webhook is delayed.
  const theirs = await crm.userEdit('contacts', '101', { jobtitle: 'Chief Scientist' });
  const theirsAt = theirs.updatedAt;
  assert.equal(relay.held.length, 1);
  // Meanwhile a hub user retitles her too: the outbound workflow pushes it, overwriting HubSpot's.
  await hubEdit('p-ada', { jobTitle: 'Principal Engineer' });
  const [, , , out] = await outboundRuns(4);
  assert.equal(out!.status, 'completed', JSON.stringify(out!.error));
  assert.deepEqual(patchesOf('101').at(-1)!.body, { properties: { jobtitle: 'Principal Engineer' } });
  const oursAt = crm.objects.contacts.get('101')!.updatedAt;
  assert.ok(Date.parse(oursAt) > Date.parse(theirsAt));
  await eventually('push recorded', async () => { const r = await hub.record('people', 'p-ada'); return r?.fields.syncedAt === oursAt ? r : null; });
  await crm.webhooksSettled();
  assert.equal(relay.held.length, 2, 'HubSpot\'s user event, then the echo of the push');

  // The late delivery: HubSpot's change is older than the push that overwrote it.
  const runsBefore = (await hub.runsOf(inboundId)).length;
  assert.equal(await relay.releaseOne(), 202);
  const runs = await hub.endedRuns(inboundId, runsBefore + 1);
  const run = runs.find((r) => (r.trigger as { body: { propertyValue?: string } }).body.propertyValue === 'Chief Scientist')!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  const reason = `In HubSpot, jobTitle was changed to "Chief Scientist" at ${theirsAt}; the hub's "Principal Engineer" was pushed at ${oursAt} and overwrote it. Decide which value is right and correct the other system.`;
  assert.deepEqual(stepOutput(run, 'merge'), {
    result: { action: 'conflict', recordId: 'p-ada', name: 'Ada Lovelace', field: 'jobTitle', property: 'jobtitle', hubValue: 'Principal Engineer', hubspotValue: 'Chief Scientist', changedAt: theirsAt, reason },
  });
  assert.deepEqual(run.steps.route!.output, { branch: 0 });
  const taskId = stepOutput<{ record: { id: string } }>(run, 'conflictTask').record.id;
  const tasks = await eventually('conflict task', async () => { const t = await hub.records('tasks'); return t.length ? t : null; });
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.recordId, taskId);
  assert.deepEqual({ ...tasks[0]!.fields }, {
    title: 'Resolve sync conflict: jobTitle of Ada Lovelace', personId: 'p-ada', assignee: 'rep-7', status: 'open', source: 'hubspot sync', description: reason,
    conflict: { field: 'jobTitle', hubValue: 'Principal Engineer', hubspotValue: 'Chief Scientist', hubspotContactId: 101, hubspotChangedAt: theirsAt },
  });
  const person = await eventually('ada flagged', async () => { const r = await hub.record('people', 'p-ada'); return r?.fields.syncStatus === 'conflict' ? r : null; });
  assert.equal(person.fields.jobTitle, 'Principal Engineer', 'the hub\'s value is not overwritten');
  assert.equal(person.fields.syncConflictTaskId, taskId);
  assert.equal(crm.objects.contacts.get('101')!.properties.jobtitle, 'Principal Engineer');

  // The echo of the push, delivered last, is in sync.
  assert.equal(await relay.releaseOne(), 202);
  const all = await quiet(4);
  const echo = all.find((r) => (r.trigger as { body: { eventId: number } }).body.eventId === relay.forwarded.at(-1)!.body.eventId)!;
  assertNoOps([echo], [relay.forwarded.at(-1)!.body.eventId as number]);
  assert.equal(relay.forwarded.length - before, 2);
  assert.equal((await hub.records('tasks')).length, 1);
  assert.equal(patchesOf('101').length, 2, 'the flag did not push anything');
});

test('variant: search answers 429 (absorbed by the step\'s retries); PATCH answers 500 past its attempts → run failed; a retry completes it without searching again', async () => {
  const alan = crm.seed('contacts', { email: 'alan@turing.test', firstname: 'Alan', lastname: 'Turing', jobtitle: 'Reader' });
  assert.equal(alan.id, '104');
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-alan', record: { email: 'alan@turing.test', firstName: 'Alan', lastName: 'Turing', jobTitle: 'Reader' } }]);
  await eventually('alan projected', () => hub.record('people', 'p-alan'));
  crm.failNext(1, { status: 429, retryAfterSeconds: 2 }, `${CONTACTS}/search`);
  crm.failNext(3, { status: 500 }, `${CONTACTS}/104`);
  await hubEdit('p-alan', { phone: '+44 161 555 0199' });
  const failed = (await outboundRuns(5))[4]!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'patch');
  assert.equal(failed.error?.code, 'HTTP_STATUS');
  assert.match(failed.error!.message, /500 after 3 attempts/);
  assert.match(failed.error!.message, /internal error/);

  // The 429 was waited out (Retry-After: 2) within the search step's attempts.
  const searches = crm.received.filter((r) => r.path === `${CONTACTS}/search` && JSON.stringify(r.body).includes('alan@'));
  assert.deepEqual(searches.map((r) => [r.status, r.injected]), [[429, true], [200, false]]);
  assert.ok(searches[1]!.at - searches[0]!.at >= 1900, 'Retry-After: 2 honoured (the step\'s own backoff is 1 s)');
  assert.equal(failed.steps.lookup!.status, 'completed');
  assert.deepEqual(patchesOf('104').map((r) => r.status), [500, 500, 500]);
  assert.equal(failed.steps.patch!.status, 'failed');
  assert.equal(failed.steps.mark, undefined);
  const unsynced = await hub.record('people', 'p-alan');
  assert.equal(unsynced!.fields.hubspotId, undefined);
  assert.equal(crm.objects.contacts.get('104')!.properties.phone, undefined);

  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assertStepsKept(failed, done, ['lookup', 'changes']);
  assert.equal(crm.received.filter((r) => r.path === `${CONTACTS}/search` && JSON.stringify(r.body).includes('alan@')).length, 2);
  const patches = patchesOf('104');
  assert.deepEqual(patches.map((r) => r.status), [500, 500, 500, 200]);
  assert.deepEqual(patches[3]!.body, { properties: { firstname: 'Alan', lastname: 'Turing', phone: '+44 161 555 0199', jobtitle: 'Reader' } });
  assert.equal(patches[3]!.headers['idempotency-key'], patches[0]!.headers['idempotency-key'], 'the retried run repeats the request under the same idempotency key');
  const contact = crm.objects.contacts.get('104')!;
  assert.equal(contact.properties.phone, '+44 161 555 0199');
  const person = await eventually('alan linked', async () => { const r = await hub.record('people', 'p-alan'); return r?.fields.hubspotId === '104' ? r : null; });
  assert.equal(person.fields.syncStatus, 'synced');
  assert.equal(person.fields.syncedAt, contact.updatedAt);
  await quiet(5);

  // The run log shows how many requests each http step made (the client's retries within retry.maxAttempts).
  assert.deepEqual([failed.steps.lookup!.attempts, failed.steps.patch!.attempts, done.steps.patch!.attempts], [2, 3, 1], 'attempts recorded per http step: search 429 then 200; PATCH 500 ×3; PATCH 200 on retry');
});

/**
 * Data sync with HubSpot on the real stack, every service a process (seed 003): initial
 * sync that links matches instead of duplicating and creates what is missing on each side,
 * continuous sync both ways (hub changes from crm.records, app changes from signed
 * webhooks), echo suppression (one change, then quiet), deletes listed and resynced.
 */
import { test, after, before } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { startE2EHub, type E2EHub } from '../support/e2e-hub.ts';
import { startExternalCrmEmulator, type ExternalCrmEmulator, type ExternalCrmOptions } from '../emulators/external-crm.ts';
import { connect, connection, hubspotWrites, records, sendEvents, waitForStatus, freshWorkspace } from '../support/sync.ts';
import { eventually } from '../support/env.ts';
import { sleep } from '../../libs/time/sleep.ts';

let hub: E2EHub;
const emulators: ExternalCrmEmulator[] = [];
before(async () => {
  hub = await startE2EHub(`sync-hs-${Date.now().toString(36)}`, { HUB_SYNC_POLL_INTERVAL_MS: '2000' });
});
after(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  await hub?.close();
});

async function hubspot(options: ExternalCrmOptions = {}): Promise<{ crm: ExternalCrmEmulator; options: ExternalCrmOptions }> {
  const crm = await startExternalCrmEmulator(options);
  emulators.push(crm);
  return { crm, options };
}

const person = (recordId: string, record: Record<string, unknown>, type = 'record.created') => ({ type, object: 'people', recordId, record });
const byEmail = (crm: ExternalCrmEmulator, email: string) => [...crm.objects.contacts.values()].filter((c) => c.properties.email === email && !c.archived);

test('initial sync links contacts on email instead of duplicating, creates what is missing on each side, then syncs changes both ways and stays quiet', async () => {
  const clientSecret = 'hubspot-client-secret-1';
  const { crm, options } = await hubspot({ webhook: { url: 'http://127.0.0.1:1/unset', clientSecret, events: 'all' } });
  crm.seed('contacts', { email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace', lifecyclestage: 'lead' });
  crm.seed('contacts', { email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper' });
  await sendEvents(hub.api, [
    person('p-ada', { email: 'ADA@example.com ', firstName: 'Ada', lastName: 'King', jobTitle: 'Analyst' }),
    person('p-alan', { email: 'alan@example.com', firstName: 'Alan', lastName: 'Turing' }),
    person('p-noemail', { firstName: 'No', lastName: 'Email' }),
  ]);
  await eventually('hub records projected', async () => (await hub.records('people')).length === 3, 30_000, 100);

  const { connectionId, webhookUrl, webhookEvents } = await connect(hub.api, { app: 'hubspot', name: 'HubSpot main', baseUrl: crm.url, token: crm.token, webhookSecret: clientSecret });
  assert.match(webhookUrl, new RegExp(`/hooks/sync/${connectionId}$`));
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  const view = await waitForStatus(hub.api, connectionId, 'running');
  assert.equal(view.objects.contacts!.enabled, true);

  // No duplicate on either side: Ada matched on email (case and blanks ignored), Alan created in HubSpot, Grace in the hub.
  assert.equal(byEmail(crm, 'ada@example.com').length, 1);
  assert.equal(byEmail(crm, 'alan@example.com').length, 1);
  assert.equal(crm.objects.contacts.size, 3, 'the contact without an email is not sent');
  const people = await eventually('Grace in the hub', async () => {
    const list = await hub.records('people');
    return list.some((r) => r.fields.email === 'grace@example.com') ? list : null;
  });
  assert.equal(people.filter((r) => !r.deleted).length, 4);
  // The app wins conflicts by default: Ada's last name from HubSpot; the hub's job title fills HubSpot's empty field.
  const ada = await eventually('Ada merged', async () => { const r = await hub.record('people', 'p-ada'); return r?.fields.lastName === 'Lovelace' ? r : null; });
  assert.equal(ada.fields.lifecycleStage, 'lead');
  assert.equal(byEmail(crm, 'ada@example.com')[0]!.properties.jobtitle, 'Analyst');

  const excluded = await records(hub.api, connectionId, 'state=excluded');
  assert.deepEqual(excluded.map((r) => r.hubId), ['p-noemail']);
  assert.equal(excluded[0]!.reason!.rule, 'valid-email', JSON.stringify(excluded[0]!.reason));
  const counts = (await connection(hub.api, connectionId)).objects.contacts!.counts!;
  assert.deepEqual(counts, { inSync: 3, excluded: 1, failing: 0, deleted: 0 });

  // Hub → HubSpot: one change, written once; HubSpot's webhook for our own write is an echo and changes nothing.
  await crm.webhooksSettled();
  const since = Date.now();
  await sendEvents(hub.api, [person('p-alan', { email: 'alan@example.com', firstName: 'Alan', lastName: 'Turing', jobTitle: 'Mathematician' }, 'record.updated')]);
  await eventually('Alan\'s title in HubSpot', async () => byEmail(crm, 'alan@example.com')[0]!.properties.jobtitle === 'Mathematician');
  // HubSpot → hub: a user edit arrives by webhook.
  const grace = byEmail(crm, 'grace@example.com')[0]!;
  await crm.userEdit('contacts', grace.id, { jobtitle: 'Rear Admiral' });
  const graceHub = await eventually('Grace\'s title in the hub', async () => (await hub.records('people')).find((r) => r.fields.jobTitle === 'Rear Admiral'));
  // Quiet: after two polls, nothing more was written on either side.
  await crm.webhooksSettled();
  const versions = (await hub.records('people')).map((r) => `${r.recordId}@${r.version}`).sort();
  await sleep(5000);
  await crm.webhooksSettled();
  const writes = hubspotWrites(crm.received, since);
  assert.equal(writes.length, 1, `one write to HubSpot, not a loop: ${writes.map((w) => `${w.method} ${w.path}`).join(', ')}`);
  assert.deepEqual((await hub.records('people')).map((r) => `${r.recordId}@${r.version}`).sort(), versions, 'no hub record changed again');
  assert.equal(graceHub.fields.email, 'grace@example.com');
  const v = await connection(hub.api, connectionId);
  assert.ok(v.objects.contacts!.lastSyncedAt, 'last synced change shown');
  assert.ok(v.objects.contacts!.latencyMs.p50 !== null && v.objects.contacts!.latencyMs.p99 !== null, 'latency p50/p99 shown');
});

const workspace = (name: string) => freshWorkspace(hub, name);

test('settings: direction to-app, a custom mapping, a mapping turned off and a JSON Logic filter; records left out are excluded with their rule; bad settings are 400 with their path', async () => {
  const ws = await workspace('sync-settings');
  const { crm } = await hubspot({ customProperties: { contacts: ['crm_score'] } });
  crm.seed('contacts', { email: 'only-in-app@example.com', firstname: 'Only' });
  const { connectionId } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot settings', baseUrl: crm.url, token: crm.token, activate: false });

  const path = `/v1/sync/connections/${connectionId}/objects/contacts`;
  const defaults = await ws.api('GET', path);
  assert.equal(defaults.status, 200);
  const shown = defaults.body as { direction: string; conflictWinner: string; mappings: { hub: string; app: string; enabled: boolean }[] };
  assert.equal(shown.direction, 'two-way');
  assert.equal(shown.conflictWinner, 'app');
  assert.ok(shown.mappings.some((m) => m.hub === 'email' && m.app === 'email' && m.enabled));
  assert.ok(shown.mappings.some((m) => m.hub === 'lifecycleStage' && m.app === 'lifecyclestage'));

  for (const [body, at] of [
    [{ enabled: true, direction: 'sideways', conflictWinner: 'app' }, '/direction'],
    [{ enabled: true, direction: 'two-way' }, 'conflictWinner'],
    [{ enabled: true, direction: 'two-way', conflictWinner: 'app', mappings: [{ hub: 'bad field!', app: 'x' }] }, '/mappings/0/hub'],
    [{ enabled: true, direction: 'two-way', conflictWinner: 'app', rules: { toApp: { nosuchop: [1] } } }, '/rules/toApp'],
  ] as const) {
    const res = await ws.api('PUT', path, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(JSON.stringify(res.body).includes(at), `names ${at}: ${JSON.stringify(res.body)}`);
  }
  const badApp = await ws.api('POST', '/v1/sync/connections', { app: 'salesforce', name: 'x', credential: 'nope' });
  assert.equal(badApp.status, 400);
  assert.match(JSON.stringify(badApp.body), /app/);

  const set = await ws.api('PUT', path, {
    enabled: true, direction: 'to-app', conflictWinner: 'hub',
    mappings: [{ hub: 'jobTitle', app: 'jobtitle', enabled: false }, { hub: 'score', app: 'crm_score', enabled: true, type: 'number' }],
    rules: { toApp: { '==': [{ var: 'record.country' }, 'FR'] } },
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  await sendEvents(ws.api, [
    person('fr-1', { email: 'marie@example.fr', firstName: 'Marie', country: 'FR', jobTitle: 'Chemist', score: 42 }),
    person('us-1', { email: 'bob@example.com', firstName: 'Bob', country: 'US' }),
  ]);
  await eventually('hub records projected', async () => (await ws.records('people')).length === 2);
  assert.equal((await ws.api('POST', `/v1/sync/connections/${connectionId}/activate`)).status, 200);
  await waitForStatus(ws.api, connectionId, 'running');

  const marie = byEmail(crm, 'marie@example.fr');
  assert.equal(marie.length, 1);
  assert.equal(marie[0]!.properties.crm_score, '42', 'custom mapping, the value as HubSpot keeps it (a string)');
  assert.equal(marie[0]!.properties.jobtitle ?? null, null, 'the mapping turned off syncs nothing');
  assert.equal(byEmail(crm, 'bob@example.com').length, 0, 'left out by the filter');
  const excluded = await records(ws.api, connectionId, 'state=excluded&object=contacts');
  assert.deepEqual(excluded.map((r) => [r.hubId, r.reason?.rule]), [['us-1', 'filter:toApp']]);
  // to-app: the app's records and changes do not come into the hub.
  assert.equal((await ws.records('people')).length, 2, 'the app-only contact is not created in the hub');
  await crm.userEdit('contacts', marie[0]!.id, { firstname: 'Maria' });
  await sendEvents(ws.api, [person('fr-1', { email: 'marie@example.fr', firstName: 'Marie', country: 'FR', jobTitle: 'Chemist', score: 43 }, 'record.updated')]);
  await eventually('the new score in HubSpot', async () => byEmail(crm, 'marie@example.fr')[0]!.properties.crm_score === '43');
  assert.equal((await ws.record('people', 'fr-1'))!.fields.firstName, 'Marie', 'direction to-app: the app\'s edit never reaches the hub');
});

test('pause, changes on both sides, resume: the conflict winner (the app) takes a field both changed, an empty winner keeps the hub value, and the direction still holds', async () => {
  const ws = await workspace('sync-conflicts');
  const { crm } = await hubspot();
  await sendEvents(ws.api, [person('c-1', { email: 'lin@example.com', firstName: 'Lin', lastName: 'Wu', jobTitle: 'Engineer', city: 'Oslo' })]);
  await eventually('projected', async () => (await ws.records('people')).length === 1);
  const { connectionId } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot conflicts', baseUrl: crm.url, token: crm.token, pollIntervalMs: 1000 });
  await waitForStatus(ws.api, connectionId, 'running');
  const contact = byEmail(crm, 'lin@example.com')[0]!;
  assert.equal(contact.properties.city, 'Oslo');

  assert.equal((await ws.api('POST', `/v1/sync/connections/${connectionId}/pause`)).status, 200);
  assert.equal((await connection(ws.api, connectionId)).status, 'paused');
  const again = await ws.api('POST', `/v1/sync/connections/${connectionId}/pause`);
  assert.equal(again.status, 409, JSON.stringify(again.body));
  await sendEvents(ws.api, [person('c-1', { email: 'lin@example.com', firstName: 'Lina', lastName: 'Wu', jobTitle: 'Staff Engineer', city: 'Bergen' }, 'record.updated')]);
  await crm.userEdit('contacts', contact.id, { firstname: 'Linn', jobtitle: '', lastname: 'Wu-Berg' });
  await sleep(2500); // two poll intervals: paused, nothing moves
  assert.equal(crm.objects.contacts.get(contact.id)!.properties.city, 'Oslo', 'paused: nothing sent');
  assert.equal((await ws.record('people', 'c-1'))!.fields.lastName, 'Wu', 'paused: nothing received');

  assert.equal((await ws.api('POST', `/v1/sync/connections/${connectionId}/resume`)).status, 200);
  await eventually('caught up both ways', async () => {
    const h = (await ws.record('people', 'c-1'))!.fields;
    const a = crm.objects.contacts.get(contact.id)!.properties;
    return h.firstName === 'Linn' && h.lastName === 'Wu-Berg' && a.city === 'Bergen' && a.jobtitle === 'Staff Engineer';
  }, 30_000, 200);
  const h = (await ws.record('people', 'c-1'))!.fields;
  assert.equal(h.jobTitle, 'Staff Engineer', 'the winner (app) emptied the field: the hub value is kept');
  assert.equal(h.city, 'Bergen', 'changed on the hub side only');
  assert.equal(crm.objects.contacts.get(contact.id)!.properties.firstname, 'Linn', 'both changed: the app wins');
});

test('deletes are listed, never propagated, and resync recreates them (one by one or all)', async () => {
  const ws = await workspace('sync-deletes');
  const clientSecret = 'delete-secret';
  const { crm, options } = await hubspot({ webhook: { url: 'http://127.0.0.1:1/unset', clientSecret } });
  await sendEvents(ws.api, ['a', 'b', 'c'].map((x) => person(`d-${x}`, { email: `${x}@deletes.example`, firstName: x.toUpperCase() })));
  await eventually('projected', async () => (await ws.records('people')).length === 3);
  const { connectionId, webhookUrl, webhookEvents } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot deletes', baseUrl: crm.url, token: crm.token, webhookSecret: clientSecret, pollIntervalMs: 1000 });
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  await waitForStatus(ws.api, connectionId, 'running');
  const a = byEmail(crm, 'a@deletes.example')[0]!;
  const b = byEmail(crm, 'b@deletes.example')[0]!;

  await crm.userDelete('contacts', a.id);
  // Archived without a webhook (missed): the poll of archived records finds it.
  crm.objects.contacts.get(b.id)!.archived = true;
  crm.objects.contacts.get(b.id)!.archivedAt = new Date().toISOString();
  await sendEvents(ws.api, [{ type: 'record.deleted', object: 'people', recordId: 'd-c' }]);
  const deleted = await eventually('three deletes listed', async () => {
    const list = await records(ws.api, connectionId, 'state=deleted');
    return list.length === 3 ? list : null;
  }, 30_000, 250);
  assert.deepEqual(deleted.map((r) => r.hubId).sort(), ['d-a', 'd-b', 'd-c']);
  assert.ok(await ws.record('people', 'd-a'), 'deleted in the app: the hub record stays');
  assert.equal(byEmail(crm, 'c@deletes.example').length, 1, 'deleted in the hub: the HubSpot contact stays');
  assert.equal((await connection(ws.api, connectionId)).objects.contacts!.counts!.deleted, 3);

  const one = await ws.api('POST', `/v1/sync/connections/${connectionId}/resync`, { object: 'contacts', recordIds: ['d-a'] });
  assert.equal(one.status, 202, JSON.stringify(one.body));
  await eventually('a recreated in HubSpot', async () => byEmail(crm, 'a@deletes.example').length === 1);
  assert.equal((await records(ws.api, connectionId, 'state=deleted')).length, 2);
  assert.equal((await ws.api('POST', `/v1/sync/connections/${connectionId}/resync`, { object: 'contacts' })).status, 202);
  await eventually('every deleted record recreated', async () => byEmail(crm, 'b@deletes.example').length === 1 && (await ws.records('people')).filter((r) => r.fields.email === 'c@deletes.example').length === 1);
  await eventually('nothing listed as deleted', async () => (await records(ws.api, connectionId, 'state=deleted')).length === 0);
  assert.equal((await records(ws.api, connectionId, 'state=in-sync')).length, 3);
  const badResync = await ws.api('POST', `/v1/sync/connections/${connectionId}/resync`, { object: 'planets' });
  assert.equal(badResync.status, 400);
  assert.match(JSON.stringify(badResync.body), /object/);
});

async function associate(crm: ExternalCrmEmulator, contactId: string, companyId: string, primary: boolean): Promise<void> {
  const res = await fetch(`${crm.url}/crm/v4/objects/contacts/${contactId}/associations/companies/${companyId}`, {
    method: 'PUT', headers: { authorization: `Bearer ${crm.token}`, 'content-type': 'application/json' },
    body: JSON.stringify([{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: primary ? 1 : 279 }]),
  });
  assert.ok(res.ok, await res.text());
}

test('companies match on domain, or on name where there is none; contact ↔ company associations sync both ways, only the primary company', async () => {
  const ws = await workspace('sync-assoc');
  const clientSecret = 'hubspot-assoc-secret';
  const { crm, options } = await hubspot({ webhook: { url: 'http://127.0.0.1:1/unset', clientSecret } });
  const acme = crm.seed('companies', { name: 'Acme Corporation', domain: 'acme.com' });
  const globex = crm.seed('companies', { name: 'Globex' });
  const eve = crm.seed('contacts', { email: 'eve@acme.com', firstname: 'Eve' });
  await associate(crm, eve.id, globex.id, false);
  await associate(crm, eve.id, acme.id, true);
  await sendEvents(ws.api, [
    { type: 'record.created', object: 'companies', recordId: 'co-acme', record: { name: 'ACME', domain: 'acme.com' } },
    { type: 'record.created', object: 'companies', recordId: 'co-globex', record: { name: 'Globex' } },
    { type: 'record.created', object: 'companies', recordId: 'co-initech', record: { name: 'Initech', domain: 'initech.com' } },
    person('p-joe', { email: 'joe@initech.com', firstName: 'Joe', companyId: 'co-initech' }),
  ]);
  await eventually('projected', async () => (await ws.records('companies')).length === 3 && (await ws.records('people')).length === 1);
  const { connectionId, webhookUrl, webhookEvents } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot associations', baseUrl: crm.url, token: crm.token, webhookSecret: clientSecret });
  // HubSpot sends only what the app subscribed to: the subscriptions the connection asks for.
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  await waitForStatus(ws.api, connectionId, 'running');

  const companies = [...crm.objects.companies.values()];
  assert.equal(companies.length, 3, `matched, not duplicated: ${companies.map((c) => c.properties.name).join(', ')}`);
  const initech = companies.find((c) => c.properties.domain === 'initech.com');
  assert.ok(initech, 'Initech created in HubSpot');
  assert.equal((await ws.records('companies')).length, 3, 'no company created in the hub');
  const joe = byEmail(crm, 'joe@initech.com')[0]!;
  await eventually('Joe associated with Initech in HubSpot', async () => (crm.objects.contacts.get(joe.id)!.associations.companies ?? []).includes(initech.id));
  const eveHub = await eventually('Eve in the hub with her primary company', async () => (await ws.records('people')).find((r) => r.fields.email === 'eve@acme.com' && r.fields.companyId === 'co-acme'));
  assert.equal(eveHub.fields.companyId, 'co-acme', 'the primary company (Acme), not Globex');

  // A hub change of the association: Joe moves to Acme.
  await sendEvents(ws.api, [person('p-joe', { email: 'joe@initech.com', firstName: 'Joe', companyId: 'co-acme' }, 'record.updated')]);
  await eventually('Joe associated with Acme in HubSpot', async () => (crm.objects.contacts.get(joe.id)!.associations.companies ?? []).includes(acme.id));

  // A change that leaves the company alone reads no associations, on the way out nor when
  // the next polls bring our own write back (a read per batch held the steady state back).
  const since = Date.now();
  await sendEvents(ws.api, [person('p-joe', { email: 'joe@initech.com', firstName: 'Joseph', companyId: 'co-acme' }, 'record.updated')]);
  await eventually('Joseph in HubSpot', async () => crm.objects.contacts.get(joe.id)!.properties.firstname === 'Joseph');
  await sleep(5000); // two polls
  const reads = crm.received.filter((r) => r.at >= since && r.path.startsWith('/crm/v4/associations/'));
  assert.deepEqual(reads.map((r) => `${r.method} ${r.path}`), [], 'no association read for a change that moved none');
  assert.ok((crm.objects.contacts.get(joe.id)!.associations.companies ?? []).includes(acme.id), 'Joe still with Acme');

  // A HubSpot user's property edit (a propertyChange webhook) moves no association either: none read.
  const eveApp = byEmail(crm, 'eve@acme.com')[0]!;
  const edited = Date.now();
  await crm.userEdit('contacts', eveApp.id, { jobtitle: 'Engineer' });
  await eventually('Eve\'s title in the hub', async () => (await ws.records('people')).find((r) => r.fields.email === 'eve@acme.com' && r.fields.jobTitle === 'Engineer'));
  await crm.webhooksSettled();
  const afterEdit = crm.received.filter((r) => r.at >= edited && r.path.startsWith('/crm/v4/associations/'));
  assert.deepEqual(afterEdit.map((r) => `${r.method} ${r.path}`), [], 'no association read for a property change');
  // A HubSpot user makes Globex Eve's primary company: only its associationChange webhook says so (the contact's modification date stays).
  await crm.userAssociate('contacts', eveApp.id, 'companies', globex.id, true);
  await eventually('Eve\'s company in the hub is Globex', async () => (await ws.records('people')).find((r) => r.fields.email === 'eve@acme.com' && r.fields.companyId === 'co-globex'), 30_000, 100);

  // Removals. A hub record whose company is emptied loses that association in HubSpot.
  await sendEvents(ws.api, [person('p-joe', { email: 'joe@initech.com', firstName: 'Joseph' }, 'record.updated')]);
  await eventually('Joe no longer with Acme in HubSpot', async () => !(crm.objects.contacts.get(joe.id)!.associations.companies ?? []).includes(acme.id), 30_000, 100);
  // A HubSpot user removes Eve's other company (Acme): her primary (Globex) stays, and so does the hub's.
  await crm.userDissociate('contacts', eveApp.id, 'companies', acme.id);
  await crm.webhooksSettled();
  await sleep(2000);
  assert.equal((await ws.record('people', (await ws.records('people')).find((r) => r.fields.email === 'eve@acme.com')!.recordId))!.fields.companyId, 'co-globex');
  // Then Globex too: no company is left in HubSpot, so the hub record has none either.
  await crm.userDissociate('contacts', eveApp.id, 'companies', globex.id);
  await eventually('Eve without a company in the hub', async () => (await ws.records('people')).find((r) => r.fields.email === 'eve@acme.com' && r.fields.companyId === undefined), 30_000, 100);
  await sleep(2000); // polls: nothing comes back
  assert.deepEqual(crm.objects.contacts.get(eveApp.id)!.associations.companies ?? [], [], 'nothing re-associated in HubSpot');
  assert.equal((await ws.records('people')).find((r) => r.fields.email === 'eve@acme.com')!.fields.companyId, undefined);
});

test('two accounts of the same app at once, and two apps through the hub: a change in one reaches the hub and the other, then everything stays quiet', async () => {
  const ws = await workspace('sync-two');
  const secretA = 'account-a-secret';
  const secretB = 'account-b-secret';
  const a = await hubspot({ portalId: 1001, webhook: { url: 'http://127.0.0.1:1/unset', clientSecret: secretA, events: 'all' } });
  const b = await hubspot({ portalId: 2002, webhook: { url: 'http://127.0.0.1:1/unset', clientSecret: secretB, events: 'all' } });
  await sendEvents(ws.api, [person('t-1', { email: 'kim@two.example', firstName: 'Kim', jobTitle: 'Buyer' })]);
  await eventually('projected', async () => (await ws.records('people')).length === 1);
  const ca = await connect(ws.api, { app: 'hubspot', name: 'HubSpot EU', baseUrl: a.crm.url, token: a.crm.token, webhookSecret: secretA });
  const cb = await connect(ws.api, { app: 'hubspot', name: 'HubSpot US', baseUrl: b.crm.url, token: b.crm.token, webhookSecret: secretB });
  a.options.webhook!.url = ca.webhookUrl;
  b.options.webhook!.url = cb.webhookUrl;
  await waitForStatus(ws.api, ca.connectionId, 'running');
  await waitForStatus(ws.api, cb.connectionId, 'running');
  const list = (await ws.api('GET', '/v1/sync/connections')).body as { connections: { connectionId: string; status: string }[] };
  assert.deepEqual(list.connections.map((c) => c.status), ['running', 'running']);
  const kimA = byEmail(a.crm, 'kim@two.example')[0]!;
  const kimB = byEmail(b.crm, 'kim@two.example')[0]!;
  assert.ok(kimA && kimB, 'created in both accounts');

  await Promise.all([a.crm.webhooksSettled(), b.crm.webhooksSettled()]);
  await sleep(1000);
  const since = Date.now();
  await a.crm.userEdit('contacts', kimA.id, { jobtitle: 'Head of Purchasing' });
  await eventually('the edit in account A reached account B through the hub', async () => b.crm.objects.contacts.get(kimB.id)!.properties.jobtitle === 'Head of Purchasing', 30_000, 100);
  assert.equal((await ws.record('people', 't-1'))!.fields.jobTitle, 'Head of Purchasing');
  await Promise.all([a.crm.webhooksSettled(), b.crm.webhooksSettled()]);
  const version = (await ws.record('people', 't-1'))!.version;
  await sleep(5000);
  await Promise.all([a.crm.webhooksSettled(), b.crm.webhooksSettled()]);
  assert.equal(hubspotWrites(a.crm.received, since).length, 0, 'nothing written back to account A (its own change)');
  assert.equal(hubspotWrites(b.crm.received, since).length, 1, 'one write to account B, no loop');
  assert.equal((await ws.record('people', 't-1'))!.version, version, 'the hub record changed once');
});

test('the hub CLI: sync list, status, failures, pause, resume, resync, delete (links forgotten, records stay)', async () => {
  const ws = await workspace('sync-cli');
  const { crm } = await hubspot();
  await sendEvents(ws.api, [person('cli-1', { email: 'cli@example.com', firstName: 'Cli' }), person('cli-2', { firstName: 'NoEmail' })]);
  await eventually('projected', async () => (await ws.records('people')).length === 2);
  assert.equal((await ws.api('POST', '/v1/credentials', { name: 'hs-cli', type: 'bearer', token: crm.token })).status, 201);
  const cli = (...args: string[]) => runCli(ws.apiKey, args);
  const connected = await cli('sync', 'connect', 'hubspot', 'HubSpot CLI', '--credential', 'hs-cli', '--base-url', crm.url, '--objects', 'contacts', '--activate') as { connectionId: string; objects: Record<string, { enabled: boolean }> };
  assert.equal(connected.objects.companies!.enabled, false);
  const id = connected.connectionId;
  await waitForStatus(ws.api, id, 'running');
  const listed = await cli('sync', 'list') as { connections: { connectionId: string }[] };
  assert.deepEqual(listed.connections.map((c) => c.connectionId), [id]);
  assert.equal((await cli('sync', 'status', id) as { status: string }).status, 'running');
  const excluded = await cli('sync', 'failures', id, '--state', 'excluded') as { records: { hubId: string }[] };
  assert.deepEqual(excluded.records.map((r) => r.hubId), ['cli-2']);
  assert.equal((await cli('sync', 'pause', id) as { status: string }).status, 'paused');
  assert.equal((await cli('sync', 'resume', id) as { status: string }).status, 'running');
  await waitForStatus(ws.api, id, 'running');
  assert.equal((await cli('sync', 'resync', id, 'contacts') as { requested: boolean }).requested, true);
  await assert.rejects(cli('sync', 'status', 'sc_doesnotexist00'), /404/);
  await cli('sync', 'delete', id);
  assert.equal((await ws.api('GET', `/v1/sync/connections/${id}`)).status, 404);
  assert.equal(byEmail(crm, 'cli@example.com').length, 1, 'the app record stays');
  assert.ok(await ws.record('people', 'cli-1'), 'the hub record stays');
  const forgotten = await eventually('links forgotten', async () => (await hub.store.db.collection('sync_links').countDocuments({ connectionId: id })) === 0);
  assert.ok(forgotten);
});

async function runCli(apiKey: string, args: string[]): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/hub.ts', ...args], { env: { ...process.env, HUB_URL: hub.url, HUB_API_KEY: apiKey }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += String(d); });
  child.stderr.on('data', (d: Buffer) => { err += String(d); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`hub ${args.join(' ')} exited ${code}: ${err}`);
  return JSON.parse(out) as unknown;
}

/**
 * Data sync with HubSpot on the real stack, every service a process (seed 003): initial
 * sync that links matches instead of duplicating and creates what is missing on each side,
 * continuous sync both ways (hub changes from crm.records, app changes from signed
 * webhooks), echo suppression (one change, then quiet), deletes listed and resynced.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startE2EHub, type E2EHub } from '../support/e2e-hub.ts';
import { startExternalCrmEmulator, type ExternalCrmEmulator, type ExternalCrmOptions } from '../emulators/external-crm.ts';
import { connect, connection, hubspotWrites, records, sendEvents, waitForStatus } from '../support/sync.ts';
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

  const { connectionId, webhookUrl } = await connect(hub.api, { app: 'hubspot', name: 'HubSpot main', baseUrl: crm.url, token: crm.token, webhookSecret: clientSecret });
  assert.match(webhookUrl, new RegExp(`/hooks/sync/${connectionId}$`));
  options.webhook!.url = webhookUrl;
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

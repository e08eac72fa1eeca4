/**
 * Data sync of the objects beyond contacts and companies, on the real stack with every
 * service a process (seed 003): HubSpot deals ↔ opportunities with their deal ↔ company
 * and deal ↔ contact associations (kept both ways when both ends sync, not when the
 * associated object does not), products, and activities (notes, tasks); Stripe products
 * and invoices, invoices associated with customers only and the fields Stripe computes
 * flowing to the hub only. Each: initial sync, then a change each way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExternalCrmEmulator, ExternalCrmOptions, ObjectType } from '../emulators/external-crm.ts';
import type { BillingEmulator, BillingOptions } from '../emulators/billing.ts';
import { connect, records, sendEvents, waitForStatus, syncSuite, type Api, type SyncRecord } from '../support/sync.ts';
import { eventually } from '../support/env.ts';
import { sleep } from '../../libs/time/sleep.ts';

const suite = syncSuite('sync-objects', 2000);
const { hubspot, workspace, stripe } = suite;
const rec = (object: string, recordId: string, record: Record<string, unknown>, type = 'record.created') => ({ type, object, recordId, record });
const live = (crm: ExternalCrmEmulator, type: ObjectType) => [...crm.objects[type].values()].filter((r) => !r.archived);
const epochDay = (day: string) => String(Date.parse(`${day}T00:00:00Z`));

/** The in-sync links of a seed object, hub id → app id and back. */
async function linksOf(api: Api, connectionId: string, object: string) {
  const list: SyncRecord[] = await records(api, connectionId, `state=in-sync&object=${object}`);
  return {
    list,
    appIdOf: (hubId: string) => list.find((r) => r.hubId === hubId)?.appId ?? undefined,
    hubIdOf: (appId: string) => list.find((r) => r.appId === appId)?.hubId ?? undefined,
  };
}

/** A record's associations as HubSpot's v4 API answers them: target ids with their type ids (5: the deal's primary company). */
async function hubspotAssociations(crm: ExternalCrmEmulator, from: ObjectType, id: string, to: ObjectType): Promise<{ toId: string; typeIds: number[] }[]> {
  const res = await fetch(`${crm.url}/crm/v4/objects/${from}/${id}/associations/${to}`, { headers: { authorization: `Bearer ${crm.token}` } });
  assert.equal(res.status, 200);
  const body = await res.json() as { results: { toObjectId: number; associationTypes: { typeId: number }[] }[] };
  return body.results.map((r) => ({ toId: String(r.toObjectId), typeIds: r.associationTypes.map((t) => t.typeId) }));
}

const enabled = { enabled: true, direction: 'two-way', conflictWinner: 'app' } as const;

test('HubSpot deals ↔ opportunities: initial sync creates each side\'s deals with deal ↔ company (primary) and deal ↔ contact kept both ways, then a change each way, fields and associations', async () => {
  const ws = await workspace('sync-deals');
  const secret = 'deals-client-secret';
  // HubSpot batches its events in one request; the poll is slow here, so what reaches the hub came by webhook.
  const options: ExternalCrmOptions = { webhook: { url: 'http://127.0.0.1:1/unset', clientSecret: secret, events: 'all', batch: true } };
  const crm = await hubspot(options);
  const acme = crm.seed('companies', { name: 'Acme', domain: 'acme.example' });
  const initech = crm.seed('companies', { name: 'Initech', domain: 'initech.example' });
  const wile = crm.seed('contacts', { email: 'wile@acme.example', firstname: 'Wile', lastname: 'Coyote' });
  const renewal = crm.seed('deals', { dealname: 'Acme renewal', amount: '5000', dealstage: 'qualifiedtobuy', pipeline: 'default', closedate: epochDay('2027-02-01') });
  crm.seedAssociation('deals', renewal.id, 'companies', initech.id, false);
  crm.seedAssociation('deals', renewal.id, 'companies', acme.id, true);
  crm.seedAssociation('deals', renewal.id, 'contacts', wile.id);
  // Last changed long ago: no poll reads it again, whatever the search's consistency margin.
  const old = crm.seed('deals', { dealname: 'Acme support', amount: '900', dealstage: 'closedwon', pipeline: 'default' }, new Date(Date.now() - 3600_000));
  crm.seedAssociation('deals', old.id, 'companies', acme.id, true);

  await sendEvents(ws.api, [
    rec('companies', 'co-globex', { name: 'Globex', domain: 'globex.example' }),
    rec('people', 'p-hank', { email: 'hank@globex.example', firstName: 'Hank', lastName: 'Scorpio' }),
    rec('opportunities', 'opp-globex', { name: 'Globex expansion', amount: 1200.5, stage: 'Contract Sent', pipeline: 'default', closeDate: '2027-03-31', companyId: 'co-globex', personId: 'p-hank' }),
  ]);
  await eventually('hub records projected', async () => (await ws.records('opportunities')).length === 1 && (await ws.records('people')).length === 1 && (await ws.records('companies')).length === 1);

  const { connectionId, webhookUrl, webhookEvents } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot deals', baseUrl: crm.url, token: crm.token, webhookSecret: secret, pollIntervalMs: 300_000, objects: { deals: enabled } });
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  const view = await waitForStatus(ws.api, connectionId, 'running', 120_000);
  assert.equal(view.objects.deals!.enabled, true);

  // Fields: the hub's opportunity in HubSpot, with HubSpot's values (strings, stage ids, epoch-ms dates).
  const deals = await eventually('three deals in HubSpot', async () => (live(crm, 'deals').length === 3 ? live(crm, 'deals') : null));
  const globexDeal = deals.find((d) => d.properties.dealname === 'Globex expansion')!;
  assert.ok(globexDeal, 'the hub opportunity created in HubSpot');
  assert.equal(globexDeal.properties.amount, '1200.5');
  assert.equal(globexDeal.properties.dealstage, 'contractsent');
  assert.equal(globexDeal.properties.pipeline, 'default');
  assert.equal(globexDeal.properties.closedate, epochDay('2027-03-31'));
  // HubSpot's deal in the hub, with the hub's values.
  const opps = await eventually('three opportunities in the hub', async () => { const l = await ws.records('opportunities'); return l.length === 3 ? l : null; });
  const renewalHub = opps.find((o) => o.fields.name === 'Acme renewal')!;
  assert.ok(renewalHub, 'the HubSpot deal created in the hub');
  assert.equal(renewalHub.fields.amount, 5000);
  assert.equal(renewalHub.fields.stage, 'Qualified To Buy');
  assert.equal(renewalHub.fields.closeDate, '2027-02-01');

  // Associations both ways: the primary company only, and the contact.
  const companies = await linksOf(ws.api, connectionId, 'companies');
  const people = await linksOf(ws.api, connectionId, 'contacts');
  const globexId = companies.appIdOf('co-globex')!;
  const hankId = people.appIdOf('p-hank')!;
  assert.ok(globexId && hankId, 'the hub company and person are in HubSpot');
  await eventually('the created deal associated with its company and contact in HubSpot', async () => {
    const co = await hubspotAssociations(crm, 'deals', globexDeal.id, 'companies');
    const ct = await hubspotAssociations(crm, 'deals', globexDeal.id, 'contacts');
    return co.length === 1 && co[0]!.toId === globexId && co[0]!.typeIds.includes(5) && ct.length === 1 && ct[0]!.toId === hankId;
  }, 30_000, 250);
  const withAssociations = await eventually('the HubSpot deal\'s company and contact on the hub opportunity', async () => {
    const r = await ws.record('opportunities', renewalHub.recordId);
    return r?.fields.companyId && r.fields.personId ? r : null;
  }, 30_000, 250);
  assert.equal(withAssociations.fields.companyId, companies.hubIdOf(acme.id), 'the primary company, not the other one');
  assert.equal(withAssociations.fields.personId, people.hubIdOf(wile.id));

  // Hub → HubSpot: fields and the company of the deal.
  await crm.webhooksSettled();
  const acmeHubId = companies.hubIdOf(acme.id)!;
  await sendEvents(ws.api, [rec('opportunities', 'opp-globex', { name: 'Globex expansion', amount: 1500, stage: 'Closed Won', pipeline: 'default', closeDate: '2027-03-31', companyId: acmeHubId, personId: 'p-hank' }, 'record.updated')]);
  await eventually('the hub change in HubSpot', async () => {
    const d = crm.objects.deals.get(globexDeal.id)!;
    const co = await hubspotAssociations(crm, 'deals', globexDeal.id, 'companies');
    return d.properties.amount === '1500' && d.properties.dealstage === 'closedwon' && co.some((a) => a.toId === acme.id && a.typeIds.includes(5));
  }, 30_000, 250);
  const primaries = (await hubspotAssociations(crm, 'deals', globexDeal.id, 'companies')).filter((a) => a.typeIds.includes(5));
  assert.deepEqual(primaries.map((a) => a.toId), [acme.id], 'one primary company');

  // HubSpot → hub: a user moves the deal on.
  await crm.userEdit('deals', renewal.id, { dealstage: 'closedlost', amount: '4200' });
  const moved = await eventually('the HubSpot change in the hub', async () => {
    const r = await ws.record('opportunities', renewalHub.recordId);
    return r?.fields.stage === 'Closed Lost' && r.fields.amount === 4200 ? r : null;
  }, 30_000, 250);
  assert.equal(moved.fields.companyId, acmeHubId, 'the association stays');
  assert.equal(moved.fields.personId, people.hubIdOf(wile.id));

  // HubSpot → hub: a user makes another company the deal's primary one (an associationChange webhook; the deal's modification date does not move).
  const oldHub = opps.find((o) => o.fields.name === 'Acme support')!;
  await eventually('the old deal\'s company in the hub', async () => (await ws.record('opportunities', oldHub.recordId))?.fields.companyId === acmeHubId, 30_000, 250);
  await crm.userAssociate('deals', old.id, 'companies', initech.id, true);
  await eventually('the new primary company on the hub opportunity', async () => (await ws.record('opportunities', oldHub.recordId))?.fields.companyId === companies.hubIdOf(initech.id), 30_000, 250);

  // New records after the initial sync keep their associations too, each way.
  await sendEvents(ws.api, [rec('opportunities', 'opp-new', { name: 'Globex phase 2', amount: 800, stage: 'Appointment Scheduled', pipeline: 'default', companyId: 'co-globex', personId: 'p-hank' })]);
  const newDeal = await eventually('the new hub opportunity in HubSpot', async () => live(crm, 'deals').find((d) => d.properties.dealname === 'Globex phase 2'), 30_000, 250);
  await eventually('with its company and contact', async () => {
    const co = await hubspotAssociations(crm, 'deals', newDeal.id, 'companies');
    const ct = await hubspotAssociations(crm, 'deals', newDeal.id, 'contacts');
    return co.some((a) => a.toId === globexId && a.typeIds.includes(5)) && ct.some((a) => a.toId === hankId);
  }, 30_000, 250);
  // A deal created from the company's page: its creation and associations come in one batch of events.
  await crm.userEdit('deals', undefined, { dealname: 'Initech upsell', amount: '640', dealstage: 'presentationscheduled', pipeline: 'default' }, [{ to: 'companies', id: initech.id }, { to: 'contacts', id: wile.id }]);
  const userOpp = await eventually('the new HubSpot deal in the hub with its company and contact', async () =>
    (await ws.records('opportunities')).find((o) => o.fields.name === 'Initech upsell' && o.fields.companyId && o.fields.personId), 30_000, 250);
  assert.equal(userOpp.fields.companyId, companies.hubIdOf(initech.id));
  assert.equal(userOpp.fields.personId, people.hubIdOf(wile.id));
  assert.equal(userOpp.fields.stage, 'Presentation Scheduled');
  assert.equal(live(crm, 'deals').length, 5, 'no deal doubled');
  assert.equal((await ws.records('opportunities')).length, 5, 'no opportunity doubled');
  assert.equal((await records(ws.api, connectionId, 'state=failing')).length, 0, 'nothing failing');
});

test('HubSpot deals without companies syncing: deal ↔ contact is kept, deal ↔ company is not, on either side', async () => {
  const ws = await workspace('sync-deals-nocompanies');
  const crm = await hubspot();
  const acme = crm.seed('companies', { name: 'Acme', domain: 'acme.example' });
  const wile = crm.seed('contacts', { email: 'wile@acme.example', firstname: 'Wile' });
  const deal = crm.seed('deals', { dealname: 'Anvils', amount: '300', dealstage: 'appointmentscheduled', pipeline: 'default' });
  crm.seedAssociation('deals', deal.id, 'companies', acme.id);
  crm.seedAssociation('deals', deal.id, 'contacts', wile.id);
  await sendEvents(ws.api, [
    rec('companies', 'co-globex', { name: 'Globex', domain: 'globex.example' }),
    rec('people', 'p-hank', { email: 'hank@globex.example', firstName: 'Hank' }),
    rec('opportunities', 'opp-1', { name: 'Volcano', amount: 99, stage: 'Appointment Scheduled', pipeline: 'default', companyId: 'co-globex', personId: 'p-hank' }),
  ]);
  await eventually('hub records projected', async () => (await ws.records('opportunities')).length === 1 && (await ws.records('people')).length === 1);
  const { connectionId } = await connect(ws.api, {
    app: 'hubspot', name: 'HubSpot deals, no companies', baseUrl: crm.url, token: crm.token,
    objects: { companies: { ...enabled, enabled: false }, deals: enabled },
  });
  await waitForStatus(ws.api, connectionId, 'running', 120_000);
  const people = await linksOf(ws.api, connectionId, 'contacts');
  const volcano = await eventually('the hub deal in HubSpot', async () => live(crm, 'deals').find((d) => d.properties.dealname === 'Volcano'));
  await eventually('its contact in HubSpot', async () => (await hubspotAssociations(crm, 'deals', volcano.id, 'contacts')).some((a) => a.toId === people.appIdOf('p-hank')), 30_000, 250);
  const anvils = await eventually('the HubSpot deal and its contact in the hub', async () => (await ws.records('opportunities')).find((o) => o.fields.name === 'Anvils' && o.fields.personId));
  assert.equal(anvils.fields.personId, people.hubIdOf(wile.id));
  assert.equal(anvils.fields.companyId ?? null, null, 'companies do not sync: no company on the hub opportunity');
  assert.deepEqual(await hubspotAssociations(crm, 'deals', volcano.id, 'companies'), [], 'nor on the HubSpot deal');
  assert.equal(live(crm, 'companies').length, 1, 'no company created in HubSpot');
  assert.equal((await ws.records('companies')).length, 1, 'no company created in the hub');
});

test('HubSpot products and activities (notes, tasks): products link on SKU, activities keep their contact both ways; then a change each way', async () => {
  const ws = await workspace('sync-products-activities');
  const secret = 'products-client-secret';
  const options: ExternalCrmOptions = { webhook: { url: 'http://127.0.0.1:1/unset', clientSecret: secret, events: 'all' } };
  const crm = await hubspot(options);
  const widget = crm.seed('products', { name: 'Widget', hs_sku: 'W-1', price: '10', description: 'A widget' });
  const sprocket = crm.seed('products', { name: 'Sprocket', hs_sku: 'S-1', price: '2.5' });
  const wile = crm.seed('contacts', { email: 'wile@acme.example', firstname: 'Wile' });
  const note = crm.seed('notes', { hs_note_body: 'Called about anvils', hs_timestamp: String(Date.parse('2026-11-02T10:00:00Z')) });
  crm.seedAssociation('notes', note.id, 'contacts', wile.id);
  const task = crm.seed('tasks', { hs_task_subject: 'Send catalogue', hs_task_status: 'NOT_STARTED', hs_task_priority: 'HIGH', hs_timestamp: String(Date.parse('2026-12-20T09:00:00Z')) });
  crm.seedAssociation('tasks', task.id, 'contacts', wile.id);
  await sendEvents(ws.api, [
    rec('products', 'pr-widget', { name: 'Widget (hub)', sku: 'W-1', price: 12 }),
    rec('products', 'pr-gadget', { name: 'Gadget', sku: 'G-1', price: 99.99, description: 'Does things' }),
    rec('people', 'p-hank', { email: 'hank@globex.example', firstName: 'Hank' }),
    rec('notes', 'n-1', { body: 'Met at the fair', timestamp: '2026-11-20T15:30:00.000Z', personId: 'p-hank' }),
    rec('tasks', 't-1', { subject: 'Call back', status: 'open', priority: 'medium', dueAt: '2026-12-24T08:00:00.000Z', personId: 'p-hank' }),
  ]);
  await eventually('hub records projected', async () => (await ws.records('products')).length === 2 && (await ws.records('notes')).length === 1 && (await ws.records('tasks')).length === 1);
  const { connectionId, webhookUrl, webhookEvents } = await connect(ws.api, {
    app: 'hubspot', name: 'HubSpot products', baseUrl: crm.url, token: crm.token, webhookSecret: secret,
    objects: { companies: { ...enabled, enabled: false }, products: enabled, activities: enabled },
  });
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  await waitForStatus(ws.api, connectionId, 'running', 120_000);

  // Products: matched on SKU (the app wins the conflicts), the rest created on each side.
  assert.equal(live(crm, 'products').length, 3, 'W-1 linked, not doubled');
  assert.equal(crm.objects.products.get(widget.id)!.properties.name, 'Widget', 'the app won the conflict');
  const gadget = live(crm, 'products').find((p) => p.properties.hs_sku === 'G-1')!;
  assert.equal(gadget.properties.name, 'Gadget');
  assert.equal(gadget.properties.price, '99.99');
  const products = await eventually('products in the hub', async () => { const l = await ws.records('products'); return l.length === 3 ? l : null; });
  const widgetHub = await eventually('W-1 merged, the app winning', async () => { const r = await ws.record('products', 'pr-widget'); return r?.fields.name === 'Widget' ? r : null; });
  assert.equal(widgetHub.fields.price, 10);
  assert.equal(widgetHub.fields.description, 'A widget');
  const sprocketHub = products.find((p) => p.fields.sku === 'S-1')!;
  assert.equal(sprocketHub.fields.price, 2.5);

  // Activities: each side's notes and tasks on the other, with their contact.
  const people = await linksOf(ws.api, connectionId, 'contacts');
  const hankId = people.appIdOf('p-hank')!;
  const wileHubId = people.hubIdOf(wile.id)!;
  assert.ok(hankId && wileHubId);
  const hubNote = await eventually('the hub note in HubSpot', async () => live(crm, 'notes').find((n) => n.properties.hs_note_body === 'Met at the fair'));
  assert.equal(hubNote.properties.hs_timestamp, String(Date.parse('2026-11-20T15:30:00Z')));
  const hubTask = await eventually('the hub task in HubSpot', async () => live(crm, 'tasks').find((t) => t.properties.hs_task_subject === 'Call back'));
  assert.equal(hubTask.properties.hs_task_status, 'NOT_STARTED');
  assert.equal(hubTask.properties.hs_task_priority, 'MEDIUM');
  await eventually('the hub activities associated with Hank in HubSpot', async () =>
    (await hubspotAssociations(crm, 'notes', hubNote.id, 'contacts')).some((a) => a.toId === hankId)
    && (await hubspotAssociations(crm, 'tasks', hubTask.id, 'contacts')).some((a) => a.toId === hankId), 30_000, 250);
  const noteHub = await eventually('the HubSpot note in the hub with its contact', async () => (await ws.records('notes')).find((n) => n.fields.body === 'Called about anvils' && n.fields.personId));
  assert.equal(noteHub.fields.personId, wileHubId);
  assert.equal(noteHub.fields.timestamp, '2026-11-02T10:00:00.000Z');
  const taskHub = await eventually('the HubSpot task in the hub with its contact', async () => (await ws.records('tasks')).find((t) => t.fields.subject === 'Send catalogue' && t.fields.personId));
  assert.equal(taskHub.fields.personId, wileHubId);
  assert.equal(taskHub.fields.status, 'open');
  assert.equal(taskHub.fields.priority, 'high');

  // Hub → HubSpot.
  await crm.webhooksSettled();
  await sendEvents(ws.api, [
    rec('products', 'pr-gadget', { name: 'Gadget', sku: 'G-1', price: 89.99, description: 'Does more things' }, 'record.updated'),
    rec('tasks', 't-1', { subject: 'Call back', status: 'done', priority: 'medium', dueAt: '2026-12-24T08:00:00.000Z', personId: 'p-hank' }, 'record.updated'),
  ]);
  await eventually('the hub changes in HubSpot', async () => crm.objects.products.get(gadget.id)!.properties.price === '89.99'
    && crm.objects.products.get(gadget.id)!.properties.description === 'Does more things' && crm.objects.tasks.get(hubTask.id)!.properties.hs_task_status === 'COMPLETED', 30_000, 250);
  // HubSpot → hub: a product by webhook, a note and a task by the poll (HubSpot has no webhooks for activities).
  await crm.userEdit('products', sprocket.id, { price: '3' });
  await crm.userEdit('notes', note.id, { hs_note_body: 'Called about anvils; wants 40' });
  await crm.userEdit('tasks', task.id, { hs_task_status: 'IN_PROGRESS' });
  await eventually('the HubSpot changes in the hub', async () => (await ws.record('products', sprocketHub.recordId))?.fields.price === 3
    && (await ws.record('notes', noteHub.recordId))?.fields.body === 'Called about anvils; wants 40'
    && (await ws.record('tasks', taskHub.recordId))?.fields.status === 'in progress', 30_000, 250);
  assert.equal((await ws.record('notes', noteHub.recordId))!.fields.personId, wileHubId, 'the contact stays');
  assert.equal((await records(ws.api, connectionId, 'state=failing')).length, 0, 'nothing failing');
});

/** A Stripe API call as a Dashboard-less integration would make it (JSON bodies, which the emulator accepts). */
async function stripeCall(billing: BillingEmulator, method: string, path: string, body?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${billing.url}${path}`, {
    method, headers: { authorization: `Bearer ${billing.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const answer = await res.json() as Record<string, unknown>;
  assert.ok(res.status < 400, `${method} ${path}: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

test('Stripe products and invoices: invoices associate with customers only, never companies; the fields Stripe computes flow to the hub only; then a change each way', async () => {
  const ws = await workspace('sync-stripe-objects');
  const secret = 'whsec_stripe_objects_secret';
  const options: BillingOptions = { webhook: { url: 'http://127.0.0.1:1/unset', secret } };
  const billing = await stripe(options);
  const ada = await billing.userEdit('customer', undefined, { email: 'ada@example.com', name: 'Ada Lovelace' });
  const widget = await billing.userEdit('product', undefined, { name: 'Widget', description: 'A widget', metadata: { sku: 'W-1' } });
  await stripeCall(billing, 'POST', '/v1/invoiceitems', { customer: ada.id, amount: 2500, currency: 'usd', description: 'Analytical engine' });
  const draft = await stripeCall(billing, 'POST', '/v1/invoices', { customer: ada.id, collection_method: 'send_invoice', days_until_due: 30, description: 'Engine', pending_invoice_items_behavior: 'include' });
  const open = await stripeCall(billing, 'POST', `/v1/invoices/${String(draft.id)}/finalize`);
  assert.equal(open.status, 'open');

  await sendEvents(ws.api, [
    rec('companies', 'co-acme', { name: 'Acme', domain: 'acme.example' }),
    rec('people', 'p-grace', { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper', companyId: 'co-acme' }),
    rec('products', 'pr-gadget', { name: 'Gadget', sku: 'G-1', description: 'Does things', active: true }),
    rec('products', 'pr-widget', { name: 'Widget', sku: 'W-1', description: 'Hub words' }),
    rec('invoices', 'inv-1', { description: 'Consulting', dueDate: '2027-01-15', personId: 'p-grace', companyId: 'co-acme', total: 999, status: 'paid', number: 'HUB-1' }),
    rec('invoices', 'inv-company', { description: 'Billed to a company', companyId: 'co-acme' }),
  ]);
  await eventually('hub records projected', async () => (await ws.records('invoices')).length === 2 && (await ws.records('products')).length === 2 && (await ws.records('people')).length === 1);
  const { connectionId, webhookUrl, webhookEvents } = await connect(ws.api, {
    app: 'stripe', name: 'Stripe objects', baseUrl: billing.url, token: billing.apiKey, webhookSecret: secret,
    objects: { products: enabled, invoices: enabled },
  });
  options.webhook!.url = webhookUrl;
  options.webhook!.subscriptions = webhookEvents;
  const refused = await ws.api('PUT', `/v1/sync/connections/${connectionId}/objects/companies`, enabled);
  assert.equal(refused.status, 400, 'Stripe has no companies to sync');
  await waitForStatus(ws.api, connectionId, 'running', 120_000);

  // Products: linked on the SKU, created on each side.
  assert.equal(billing.products.size, 2, 'W-1 linked, not doubled');
  const gadget = [...billing.products.values()].find((p) => p.metadata.sku === 'G-1')!;
  assert.ok(gadget, 'the hub product in Stripe');
  assert.equal(gadget.name, 'Gadget');
  assert.equal(gadget.description, 'Does things');
  assert.equal((await eventually('W-1 merged, the app winning', async () => { const r = await ws.record('products', 'pr-widget'); return r?.fields.description === 'A widget' ? r : null; })).fields.name, 'Widget');

  // Invoices: the hub's in Stripe for Grace's customer; Stripe's in the hub for Ada.
  const people = await linksOf(ws.api, connectionId, 'contacts');
  const graceCustomer = await eventually('Grace a Stripe customer', async () => (await linksOf(ws.api, connectionId, 'contacts')).appIdOf('p-grace'));
  const hubInvoice = await eventually('the hub invoice in Stripe', async () => [...billing.invoices.values()].find((i) => i.description === 'Consulting'), 60_000, 250);
  assert.equal(hubInvoice.customer, graceCustomer, 'the invoice belongs to the customer linked with its person');
  assert.equal(hubInvoice.due_date, Date.parse('2027-01-15T00:00:00Z') / 1000);
  assert.equal(hubInvoice.total, 0, 'Stripe computes the total; the hub\'s is not sent');
  assert.equal(hubInvoice.status, 'draft', 'nor its status');
  assert.equal(hubInvoice.number, null, 'nor its number');
  assert.deepEqual(hubInvoice.metadata, {}, 'no company anywhere on the Stripe invoice');
  const synced = await eventually('Stripe\'s computed fields back on the hub invoice', async () => { const r = await ws.record('invoices', 'inv-1'); return r?.fields.status === 'draft' && r.fields.total === 0 ? r : null; }, 30_000, 250);
  assert.equal(synced.fields.currency, 'usd');
  assert.equal(synced.fields.companyId, 'co-acme', 'the hub\'s company stays on the hub invoice');
  assert.equal(synced.fields.personId, 'p-grace');
  const adaInvoice = await eventually('Stripe\'s invoice in the hub', async () => (await ws.records('invoices')).find((i) => i.fields.number === open.number && i.fields.personId));
  assert.equal(adaInvoice.fields.status, 'open');
  assert.equal(adaInvoice.fields.total, 25);
  assert.equal(adaInvoice.fields.amountDue, 25);
  assert.equal(adaInvoice.fields.description, 'Engine');
  assert.equal(adaInvoice.fields.personId, people.hubIdOf(ada.id) ?? (await linksOf(ws.api, connectionId, 'contacts')).hubIdOf(ada.id), 'the invoice\'s customer as its person');
  assert.equal(adaInvoice.fields.companyId ?? null, null, 'no company from Stripe');
  // An invoice of a company alone has no customer: Stripe refuses it, and it is failing with Stripe's answer (never sent to a company).
  const failing = await eventually('the company invoice failing', async () => { const l = await records(ws.api, connectionId, 'state=failing'); return l.length > 0 ? l : null; }, 30_000, 250);
  assert.deepEqual(failing.map((r) => [r.hubId, r.reason?.code]), [['inv-company', 'parameter_missing']]);
  assert.match(JSON.stringify(failing[0]!.reason?.app), /customer/, 'Stripe\'s own answer');
  assert.equal([...billing.invoices.values()].filter((i) => i.description === 'Billed to a company').length, 0);

  // Hub → Stripe: a description and a product name go; a computed field changed in the hub does not.
  await billing.webhooksSettled();
  const writes = () => billing.received.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${hubInvoice.id}`).length;
  await sendEvents(ws.api, [
    rec('invoices', 'inv-1', { ...synced.fields, description: 'Consulting, December' }, 'record.updated'),
    rec('products', 'pr-gadget', { name: 'Gadget Pro', sku: 'G-1', description: 'Does things', active: true }, 'record.updated'),
  ]);
  await eventually('the hub changes in Stripe', async () => billing.invoices.get(hubInvoice.id)!.description === 'Consulting, December' && billing.products.get(gadget.id)!.name === 'Gadget Pro', 30_000, 250);
  const before = writes();
  const current = (await ws.record('invoices', 'inv-1'))!;
  await sendEvents(ws.api, [rec('invoices', 'inv-1', { ...current.fields, total: 12345, amountDue: 12345 }, 'record.updated')]);
  await eventually('the hub change handled', async () => (await ws.record('invoices', 'inv-1'))!.version > current.version);
  await sleep(3000);
  assert.equal(writes(), before, 'a computed field changed in the hub is not written to Stripe');
  assert.equal(billing.invoices.get(hubInvoice.id)!.total, 0);

  // Stripe → hub: the invoice finalized in Stripe brings its number and status; a product edited in the Dashboard.
  const finalized = await stripeCall(billing, 'POST', `/v1/invoices/${hubInvoice.id}/finalize`);
  await billing.userEdit('product', widget.id, { description: 'A better widget' });
  await eventually('the Stripe changes in the hub', async () => {
    const inv = await ws.record('invoices', 'inv-1');
    return inv?.fields.number === finalized.number && inv?.fields.status === finalized.status && (await ws.record('products', 'pr-widget'))?.fields.description === 'A better widget';
  }, 30_000, 250);
  assert.equal((await ws.record('invoices', 'inv-1'))!.fields.companyId, 'co-acme');
  // The failing invoice given a person in the hub: tried again, created for that person's customer.
  await sendEvents(ws.api, [rec('invoices', 'inv-company', { description: 'Billed to a company', companyId: 'co-acme', personId: 'p-grace' }, 'record.updated')]);
  const fixed = await eventually('the fixed invoice in Stripe', async () => [...billing.invoices.values()].find((i) => i.description === 'Billed to a company'), 30_000, 250);
  assert.equal(fixed.customer, graceCustomer);
  await eventually('nothing failing', async () => (await records(ws.api, connectionId, 'state=failing')).length === 0, 30_000, 250);
});

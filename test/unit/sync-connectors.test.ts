/**
 * What is particular to each connector, beyond the shared contract (test/contract):
 * HubSpot's ten-second window and its headers, a batch refused whole, strings and epoch
 * milliseconds; Stripe's minor units, one Idempotency-Key across a lost answer, fields
 * Stripe computes. Against the emulators, on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpClient } from '../../libs/http/index.ts';
import { Secret } from '../../libs/secrets/crypto.ts';
import { createHubSpotConnector, type HubSpotOptions } from '../../libs/sync/hubspot/connector.ts';
import { hubspotObjects } from '../../libs/sync/hubspot/mappings.ts';
import type { Connector } from '../../libs/sync/connector.ts';
import { createRateLimiter } from '../../libs/sync/rate-limit.ts';
import { createStripeConnector } from '../../libs/sync/stripe/connector.ts';
import { appWebhooks } from '../../libs/sync/webhooks.ts';
import { stripeObjects } from '../../libs/sync/stripe/mappings.ts';
import { stripeCodec } from '../../libs/sync/stripe/values.ts';
import { appPropertiesOf, asHubFields, decideChange, effectiveMappings, projectApp, projectHub, type SyncSettings } from '../../libs/sync/reconcile/index.ts';
import { startBillingEmulator } from '../emulators/billing.ts';
import { startExternalCrmEmulator, type ExternalCrmEmulator, type ExternalCrmOptions } from '../emulators/external-crm.ts';

const http = createHttpClient({ allowlist: ['127.0.0.1'] });
const policy = { max: 10, windowMs: 1000, maxWaitMs: 20_000, maxAttempts: 8, backoffMs: 50, maxBatch: 100 };

/** Runs `f` against a fresh external-CRM emulator; `connect` makes a HubSpot connector to it. */
async function withCrm(options: ExternalCrmOptions, f: (crm: ExternalCrmEmulator, connect: (extra?: Partial<HubSpotOptions>) => Connector) => Promise<void>): Promise<void> {
  const crm = await startExternalCrmEmulator(options);
  try {
    await f(crm, (extra = {}) => createHubSpotConnector({ connectionId: 'c', token: new Secret(crm.token), http, baseUrl: crm.url, ...extra }));
  } finally {
    await crm.close();
  }
}

test('HubSpot: the budget keeps within the app\'s rolling window (no 429), and a too generous one is corrected by the 429s and quota headers, nothing lost', async () => {
  await withCrm({ rateLimit: { max: 10, windowMs: 1000 } }, async (crm, connect) => {
    const ids = Array.from({ length: 5 }, (_, i) => crm.seed('contacts', { email: `w${i}@acme.example` }).id);
    const paced = connect({ connectionId: 'c1', limiter: createRateLimiter(policy) });
    const reads = await Promise.all(Array.from({ length: 25 }, () => paced.read('people', ids)));
    assert.ok(reads.every((r) => r.records.length === 5));
    assert.equal(crm.received.filter((r) => r.status === 429).length, 0, 'paced below the limit');
    assert.match(crm.received.at(-1)!.headers['user-agent'] ?? '', /crm-integration-hub/);
    crm.reset();
    const ids2 = Array.from({ length: 5 }, (_, i) => crm.seed('contacts', { email: `g${i}@acme.example` }).id);
    const greedy = connect({ connectionId: 'c2', limiter: createRateLimiter({ ...policy, max: 40 }) });
    const results = await Promise.all(Array.from({ length: 25 }, () => greedy.read('people', ids2)));
    assert.ok(results.every((r) => r.records.length === 5), 'every call answered in the end');
    assert.ok(crm.received.filter((r) => r.status === 429).length > 0, 'the app\'s own 429s were met and waited out');
  });
});

test('HubSpot: a batch refused whole is split until each record is alone, so one refusal never fails the rest', async () => {
  await withCrm({}, async (crm, connect) => {
    const hs = connect();
    crm.failNext(1, { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'Invalid input JSON', correlationId: 'x' } }, '/crm/v3/objects/contacts/batch/create');
    const results = await hs.create('people', ['a', 'b', 'c'].map((x) => ({ ref: x, properties: { email: `${x}@split.example` }, version: 1 })));
    assert.deepEqual(results.map((r) => r.status), ['created', 'created', 'created']);
    assert.deepEqual(crm.received.map((r) => [r.path.split('/').pop(), r.status, (r.body as { inputs: unknown[] }).inputs.length]), [['create', 400, 3], ['create', 201, 2], ['create', 201, 1]]);
  });
});

test('HubSpot: values travel as strings, dates as epoch milliseconds, and come back as the hub\'s types', async () => {
  await withCrm({}, async (crm, connect) => {
    const hs = connect();
    const mappings = effectiveMappings(hubspotObjects.opportunities!.mappings);
    const deal = { name: 'Acme - Platform', amount: 120000.5, stage: 'Closed Won', closeDate: '2024-05-01' };
    const properties = appPropertiesOf(projectHub(deal, mappings), mappings, hs.codec, deal);
    const [created] = await hs.create('opportunities', [{ ref: 'o1', properties, version: 1 }]);
    assert.ok(created?.status === 'created');
    const stored = crm.objects.deals.get(created.id)!.properties;
    assert.deepEqual([stored.amount, stored.closedate, stored.dealstage], ['120000.5', '1714521600000', 'closedwon']);
    const { records } = await hs.read('opportunities', [created.id]);
    assert.deepEqual(asHubFields(projectApp(records[0]!.properties, mappings, hs.codec), mappings), { ...deal, pipeline: null });
  });
});

test('Stripe: a create whose answer was lost is retried with the same Idempotency-Key and answered from Stripe\'s saved result', async () => {
  const billing = await startBillingEmulator();
  try {
    const st = createStripeConnector({ connectionId: 'conn_s', apiKey: new Secret(billing.apiKey), http, baseUrl: billing.url, limiter: createRateLimiter(policy) });
    billing.failNext(1, { status: 502, afterProcessing: true }, '/v1/customers', 'POST');
    const [r] = await st.create('people', [{ ref: 'p1', properties: { email: 'lost@acme.example', name: 'Lost Answer' }, version: 7 }]);
    assert.ok(r?.status === 'created');
    const posts = billing.received.filter((x) => x.method === 'POST');
    assert.equal(posts.length, 2);
    assert.equal(posts[0]!.headers['idempotency-key'], posts[1]!.headers['idempotency-key']);
    assert.equal(billing.customers.size, 1);
    assert.equal(posts[1]!.rawBody, 'email=lost%40acme.example&name=Lost+Answer', 'form-encoded');
  } finally {
    await billing.close();
  }
});

test('Stripe: amounts in minor units (none for yen), times in Unix seconds, full names split into first and last', () => {
  assert.equal(stripeCodec.toApp(12.5, 'money', { currency: 'usd' }), 1250);
  assert.equal(stripeCodec.toApp(1200, 'money', { currency: 'JPY' }), 1200);
  assert.equal(stripeCodec.toHub(1250, 'money', { currency: 'eur' }), 12.5);
  assert.equal(stripeCodec.toHub(1200, 'money', { currency: 'jpy' }), 1200);
  assert.equal(stripeCodec.toApp('2024-05-01', 'date', {}), 1714521600);
  assert.equal(stripeCodec.toHub(1714521600, 'date', {}), '2024-05-01');
  const people = effectiveMappings(stripeObjects.people!.mappings);
  assert.deepEqual(asHubFields(projectApp({ name: 'Ada King Lovelace', email: 'ADA@acme.example', 'address.city': 'London' }, people, stripeCodec), people),
    { email: 'ada@acme.example', firstName: 'Ada', lastName: 'King Lovelace', phone: null, city: 'London', country: null });
  assert.deepEqual(appPropertiesOf(projectHub({ firstName: 'Ada', lastName: 'Lovelace' }, people), people, stripeCodec, {}), { email: '', name: 'Ada Lovelace', phone: '', 'address.city': '', 'address.country': '' });
});

test('Stripe: fields Stripe computes (invoice number, status, amounts) flow to the hub only', () => {
  const mappings = effectiveMappings(stripeObjects.invoices!.mappings);
  const settings: SyncSettings = { connectionId: 'c', enabled: true, objects: { invoices: { direction: 'two-way', mappings } } };
  const app = { id: 'in_1', object: 'invoices' as const, properties: { number: 'ABC-0001', status: 'open', currency: 'usd', total: 1250, amount_due: 1250, description: 'x' }, modifiedAt: 1, archived: false };
  const hub = { id: 'i1', fields: { number: 'EDITED', status: 'open', currency: 'usd', total: 12.5, amountDue: 12.5, description: 'x' } };
  const link = { hubId: 'i1', appId: 'in_1', base: projectApp(app.properties, mappings, stripeCodec) };
  const edited = decideChange({ settings, object: 'invoices', codec: stripeCodec, changed: 'hub', link, hub, app, now: 0 });
  assert.deepEqual(edited.map((d) => d.kind === 'skip' && d.reason), ['unchanged'], 'a hub edit of the number is not written to Stripe');
  const finalized = { ...app, properties: { ...app.properties, number: 'ABC-0002', status: 'paid' }, modifiedAt: 2 };
  const ds = decideChange({ settings, object: 'invoices', codec: stripeCodec, changed: 'app', link, hub, app: finalized, now: 0 });
  assert.deepEqual(ds.map((d) => d.kind === 'update' && [d.side, d.fields]), [['hub', { number: 'ABC-0002', status: 'paid' }]]);
});

test('HubSpot: past the search API\'s 10,000-result cap the change listing re-anchors at the last time seen, and misses nothing', async () => {
  await withCrm({}, async (crm, connect) => {
    for (let i = 0; i < 10_050; i++) crm.seed('companies', { name: `Company ${i}` });
    const hs = connect({ overlapMs: 0, searchLimiter: createRateLimiter({ ...policy, max: 1000 }) });
    const seen = new Set<string>();
    let cursor: string | null = null;
    for (let pages = 0; pages < 60; pages++) {
      const page = await hs.listChanged('companies', cursor, { limit: 200 });
      for (const r of page.records) seen.add(r.id);
      cursor = page.cursor;
      if (!page.more) break;
    }
    assert.equal(seen.size, 10_050);
    const searches = crm.received.filter((r) => r.path.endsWith('/search'));
    assert.ok(searches.every((r) => r.status === 200), 'never asked past the cap');
    assert.ok(searches.some((r) => JSON.stringify(r.body).includes('"operator":"GTE"')), 're-anchored with a GTE filter');
  });
});

test('HubSpot: associationChange events name their record by fromObjectId (they carry no objectId) and become association notices', () => {
  const connector = createHubSpotConnector({ connectionId: 'sc_x', token: new Secret('t'), http });
  const event = {
    eventId: 7, subscriptionId: 100_023, portalId: 62_515, appId: 1_160_452, occurredAt: 1_800_000_000_000, subscriptionType: 'deal.associationChange', attemptNumber: 0,
    changeSource: 'CRM_UI', associationType: 'DEAL_TO_COMPANY', fromObjectId: 512, toObjectId: 901, associationRemoved: false, isPrimaryAssociation: true,
  };
  const notices = connector.parseWebhook(Buffer.from(JSON.stringify([event, { ...event, eventId: 8, subscriptionType: 'company.associationChange', associationType: 'COMPANY_TO_DEAL', fromObjectId: 901, toObjectId: 512 }])));
  assert.deepEqual(notices.map((n) => [n.object, n.id, n.kind, n.eventId]), [['opportunities', '512', 'associations', '7'], ['companies', '901', 'associations', '8']]);
  assert.throws(() => connector.parseWebhook(Buffer.from(JSON.stringify([{ ...event, fromObjectId: undefined }]))), { code: 'SYNC_WEBHOOK_PAYLOAD_INVALID' });
  assert.equal(notices[0]!.associationRemoved, undefined, 'an association added');
  const [removed] = connector.parseWebhook(Buffer.from(JSON.stringify([{ ...event, associationRemoved: true, isPrimaryAssociation: false }])));
  assert.equal(removed!.associationRemoved, true, 'an association removed says so');
});

test('the webhook subscriptions a connection asks for: HubSpot\'s include associationChange (an association moves no modification date), Stripe\'s an invoice\'s status events', () => {
  const hubspot = appWebhooks.hubspot.events(['people', 'companies']);
  for (const s of ['contact.creation', 'contact.propertyChange', 'contact.deletion', 'contact.associationChange', 'company.associationChange', 'company.merge']) assert.ok(hubspot.includes(s), s);
  assert.ok(!hubspot.some((s) => s.startsWith('deal.')), 'deals do not sync here');
  const stripe = appWebhooks.stripe.events(['people', 'invoices']);
  for (const s of ['customer.created', 'customer.updated', 'customer.deleted', 'invoice.finalized', 'invoice.paid']) assert.ok(stripe.includes(s), s);
  assert.ok(!stripe.some((s) => s.startsWith('product.')));
});

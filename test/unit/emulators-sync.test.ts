/**
 * The emulator routes the sync connectors use, checked against the real APIs' shapes:
 * HubSpot's multi-status batches, associations v4, rate-limit headers and archived
 * retention; Stripe's events (newest first, ending_before), deletes, products and signed
 * webhooks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startBillingEmulator, startExternalCrmEmulator } from '../emulators/index.ts';
import { startReceiver } from '../contract/connector.contract.ts';
import { sleep } from '../../libs/time/sleep.ts';

interface Answer { status: number; headers: Headers; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(url: string, token: string, init: { method?: string; json?: unknown; form?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: string | undefined;
  if (init.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(init.json); }
  if (init.form !== undefined) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = init.form; }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

test('external CRM: batch create with objectWriteTraceId answers 207 per input; without, one bad input refuses the batch', async () => {
  const e = await startExternalCrmEmulator();
  try {
    const existing = e.seed('contacts', { email: 'taken@acme.example' });
    const url = `${e.url}/crm/v3/objects/contacts/batch/create`;
    const traced = await call(url, e.token, { json: { inputs: [
      { properties: { email: 'ok@acme.example' }, objectWriteTraceId: 't0' },
      { properties: { email: 'nope' }, objectWriteTraceId: 't1' },
      { properties: { email: 'taken@acme.example' }, objectWriteTraceId: 't2' },
    ] } });
    assert.equal(traced.status, 207);
    assert.deepEqual(traced.body.results.map((r: { objectWriteTraceId: string }) => r.objectWriteTraceId), ['t0']);
    assert.deepEqual(traced.body.errors.map((x: { category: string; context: { objectWriteTraceId: string[] } }) => [x.category, x.context.objectWriteTraceId]), [['VALIDATION_ERROR', ['t1']], ['CONFLICT', ['t2']]]);
    assert.equal(traced.body.errors[1].message, `Contact already exists. Existing ID: ${existing.id}`);
    assert.equal(traced.body.numErrors, 2);
    const whole = await call(url, e.token, { json: { inputs: [{ properties: { email: 'fine@acme.example' } }, { properties: { email: 'taken@acme.example' } }] } });
    assert.deepEqual([whole.status, whole.body.category], [409, 'CONFLICT']);
    assert.equal([...e.objects.contacts.values()].filter((c) => c.properties.email === 'fine@acme.example').length, 0, 'nothing of a refused batch is written');
  } finally {
    await e.close();
  }
});

test('external CRM: associations v4 with one primary company per contact; batch read answers 207 for records without any', async () => {
  const e = await startExternalCrmEmulator();
  try {
    const contact = e.seed('contacts', { email: 'ada@acme.example' });
    const lonely = e.seed('contacts', { email: 'lonely@acme.example' });
    const [acme, globex] = [e.seed('companies', { name: 'Acme' }), e.seed('companies', { name: 'Globex' })];
    const v4 = `${e.url}/crm/v4`;
    assert.equal((await call(`${v4}/objects/contacts/${contact.id}/associations/default/companies/${acme.id}`, e.token, { method: 'PUT' })).status, 200);
    const made = await call(`${v4}/associations/contacts/companies/batch/create`, e.token, { json: { inputs: [
      { from: { id: contact.id }, to: { id: globex.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 1 }] },
      { from: { id: contact.id }, to: { id: '424242' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 }] },
    ] } });
    assert.equal(made.status, 207);
    const listed = await call(`${v4}/objects/contacts/${contact.id}/associations/companies`, e.token);
    assert.deepEqual(listed.body.results.map((r: { toObjectId: number; associationTypes: { typeId: number }[] }) => [r.toObjectId, r.associationTypes.map((t) => t.typeId)]),
      [[Number(acme.id), [279]], [Number(globex.id), [1, 279]]]);
    await call(`${v4}/associations/contacts/companies/batch/create`, e.token, { json: { inputs: [{ from: { id: contact.id }, to: { id: acme.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 1 }] }] } });
    const read = await call(`${v4}/associations/contacts/companies/batch/read`, e.token, { json: { inputs: [{ id: contact.id }, { id: lonely.id }] } });
    assert.equal(read.status, 207);
    const primary = read.body.results[0].to.filter((t: { associationTypes: { typeId: number }[] }) => t.associationTypes.some((x) => x.typeId === 1));
    assert.deepEqual(primary.map((t: { toObjectId: number }) => t.toObjectId), [Number(acme.id)], 'a new primary demotes the old one');
    assert.deepEqual(read.body.errors[0].context, { fromObjectId: [lonely.id] });
    const reverse = await call(`${v4}/objects/companies/${acme.id}/associations/contacts`, e.token);
    assert.deepEqual(reverse.body.results[0].associationTypes.map((t: { typeId: number }) => t.typeId), [2, 280]);
    assert.equal((await call(`${v4}/objects/contacts/${contact.id}/associations/companies/${acme.id}`, e.token, { method: 'DELETE' })).status, 204);
    assert.equal((await call(`${v4}/objects/contacts/${contact.id}/associations/companies`, e.token)).body.results.length, 1);
  } finally {
    await e.close();
  }
});

test('external CRM: rate-limit headers on every answer, and archived records listable only for the retention period', async () => {
  const e = await startExternalCrmEmulator({ rateLimit: { max: 100, windowMs: 10_000 }, archivedRetentionMs: 200 });
  try {
    const c = e.seed('contacts', { email: 'old@acme.example' });
    const first = await call(`${e.url}/crm/v3/objects/contacts`, e.token);
    assert.deepEqual(['max', 'remaining', 'interval-milliseconds'].map((h) => first.headers.get(`x-hubspot-ratelimit-${h}`)), ['100', '99', '10000']);
    await e.userDelete('contacts', c.id);
    assert.equal(e.objects.contacts.get(c.id)!.properties.lastmodifieddate, e.objects.contacts.get(c.id)!.createdAt, 'archiving does not bump lastmodifieddate');
    assert.equal((await call(`${e.url}/crm/v3/objects/contacts?archived=true`, e.token)).body.results[0].id, c.id);
    await sleep(250);
    assert.deepEqual((await call(`${e.url}/crm/v3/objects/contacts?archived=true`, e.token)).body.results, []);
  } finally {
    await e.close();
  }
});

test('billing: every change is an event, listed newest first, walked forward with ending_before, and sent signed with Stripe-Signature', async () => {
  const receiver = await startReceiver();
  const secret = 'whsec_emulator_test';
  const e = await startBillingEmulator({ webhook: { url: `${receiver.url}/stripe`, secret } });
  try {
    const made = await call(`${e.url}/v1/customers`, e.apiKey, { form: 'email=a%40acme.example&name=Ada&address[city]=London' });
    assert.equal(made.body.address.city, 'London');
    const id = made.body.id as string;
    await call(`${e.url}/v1/customers/${id}`, e.apiKey, { form: 'name=Ada%20Lovelace' });
    const product = await call(`${e.url}/v1/products`, e.apiKey, { form: 'name=Seat&metadata[sku]=SEAT-1' });
    assert.match(product.body.id, /^prod_/);
    assert.equal((await call(`${e.url}/v1/customers/${id}`, e.apiKey, { method: 'DELETE' })).body.deleted, true);
    assert.deepEqual((await call(`${e.url}/v1/customers/${id}`, e.apiKey)).body, { id, object: 'customer', deleted: true });
    assert.equal((await call(`${e.url}/v1/customers`, e.apiKey)).body.data.length, 0, 'lists leave deleted customers out');

    const all = await call(`${e.url}/v1/events?limit=10`, e.apiKey);
    assert.deepEqual(all.body.data.map((x: { type: string }) => x.type), ['customer.deleted', 'product.created', 'customer.updated', 'customer.created']);
    assert.deepEqual(all.body.data[2].data.previous_attributes, { name: 'Ada' });
    assert.equal(all.body.data[2].request.id.startsWith('req_'), true);
    const customerEvents = await call(`${e.url}/v1/events?types[]=customer.created&types[]=customer.updated`, e.apiKey);
    assert.equal(customerEvents.body.data.length, 2);
    const oldest = all.body.data[3].id as string;
    const newer = await call(`${e.url}/v1/events?ending_before=${oldest}&limit=2`, e.apiKey);
    assert.deepEqual([newer.body.data.map((x: { type: string }) => x.type), newer.body.has_more], [['product.created', 'customer.updated'], true]);
    assert.equal((await call(`${e.url}/v1/products/search?query=${encodeURIComponent("metadata['sku']:'SEAT-1'")}`, e.apiKey)).body.data[0].id, product.body.id);

    await e.webhooksSettled();
    assert.equal(receiver.requests.length, 4);
    const hook = receiver.requests[0]!;
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(hook.headers['stripe-signature'] ?? '');
    assert.ok(m);
    assert.equal(m[2], createHmac('sha256', secret).update(`${m[1]}.${hook.body.toString('utf8')}`).digest('hex'));
    assert.equal(JSON.parse(hook.body.toString('utf8')).type, 'customer.created');
  } finally {
    await Promise.all([e.close(), receiver.close()]);
  }
});

test('external CRM: associations made by a user or through the API send associationChange events for each end with webhooks (fromObjectId, toObjectId, no objectId); notes have none', async () => {
  const receiver = await startReceiver();
  const e = await startExternalCrmEmulator({ webhook: { url: `${receiver.url}/hs`, clientSecret: 'cs', events: 'all', batch: true } });
  try {
    const company = e.seed('companies', { name: 'Acme', domain: 'acme.example' });
    const contact = e.seed('contacts', { email: 'wile@acme.example' });
    const deal = e.seed('deals', { dealname: 'Anvils' });
    const note = e.seed('notes', { hs_note_body: 'Called' });
    const modified = deal.properties.hs_lastmodifieddate;
    await e.userAssociate('deals', deal.id, 'companies', company.id, true);
    const [first] = receiver.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>[]);
    assert.deepEqual(first!.map((x) => [x.subscriptionType, x.associationType, x.fromObjectId, x.toObjectId, x.isPrimaryAssociation, x.associationRemoved, 'objectId' in x]), [
      ['deal.associationChange', 'DEAL_TO_COMPANY', Number(deal.id), Number(company.id), true, false, false],
      ['company.associationChange', 'COMPANY_TO_DEAL', Number(company.id), Number(deal.id), true, false, false],
    ]);
    assert.equal(e.objects.deals.get(deal.id)!.properties.hs_lastmodifieddate, modified, 'associations do not move the modification date');
    assert.equal((await call(`${e.url}/crm/v4/objects/notes/${note.id}/associations/default/contacts/${contact.id}`, e.token, { method: 'PUT' })).status, 200);
    assert.equal((await call(`${e.url}/crm/v4/objects/deals/${deal.id}/associations/companies/${company.id}`, e.token, { method: 'DELETE' })).status, 204);
    await e.webhooksSettled();
    const later = receiver.requests.slice(1).flatMap((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>[]);
    assert.deepEqual(later.map((x) => [x.subscriptionType, x.changeSource, x.associationRemoved]), [
      ['contact.associationChange', 'INTEGRATION', false],
      ['deal.associationChange', 'INTEGRATION', true],
      ['company.associationChange', 'INTEGRATION', true],
    ]);
  } finally {
    await Promise.all([e.close(), receiver.close()]);
  }
});

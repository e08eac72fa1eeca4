/**
 * Use case 8, invoice generation (examples/08-invoice-generation.json), with every
 * service a process and the billing platform emulated (Stripe v1): an opportunity moves
 * to "Closed Won" → its company and contacts are read → code formats them for billing →
 * a billing customer (created once per company, remembered on the company) → a draft
 * invoice, one invoice item per line, finalized → the opportunity gets the invoice
 * reference → finance gets an email. Variants where the billing API does the work and
 * loses the answer (502 after processing) on invoice creation: once (the step's own
 * retry gets the saved answer back through the Idempotency-Key), and beyond the step's
 * attempts (the run fails; a retry of the run replays the same key: no second customer,
 * no second invoice).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startBillingEmulator, type BillingEmulator, type Invoice } from '../../emulators/billing.ts';
import { effectId } from '../../../libs/contracts/run.ts';
import type { Run } from '../../../libs/store/runs.ts';

const API_KEY = 'sk_test_51OurCoBillingKeyForHubE2E000000000000';
let hub: E2EHub;
let billing: BillingEmulator;
let workflowId: string;

before(async () => {
  billing = await startBillingEmulator({ apiKey: API_KEY });
  hub = await startE2EHub('uc08');
  await hub.credential({ name: 'billing-api', type: 'bearer', token: API_KEY });
  ({ workflowId } = await hub.importExample('08-invoice-generation.json', { BILLING_API_URL: billing.url, FINANCE_EMAIL: 'finance@ourco.test' }));
  await hub.sendRecords([
    { type: 'record.created', object: 'companies', recordId: 'c-acme', record: { name: 'Acme Rockets Ltd', domain: 'acme-rockets.test', billingEmail: 'accounts.payable@acme-rockets.test', phone: '+442079460000', paymentTermsDays: 45 } },
    { type: 'record.created', object: 'companies', recordId: 'c-globex', record: { name: 'Globex Corporation', domain: 'globex.test' } },
    { type: 'record.created', object: 'companies', recordId: 'c-initech', record: { name: 'Initech', domain: 'initech.test', billingEmail: 'billing@initech.test' } },
    { type: 'record.created', object: 'people', recordId: 'p-wile', record: { email: 'wile.coyote@acme-rockets.test', firstName: 'Wile E.', lastName: 'Coyote', companyId: 'c-acme', billingContact: true } },
    { type: 'record.created', object: 'people', recordId: 'p-road', record: { email: 'road.runner@acme-rockets.test', firstName: 'Road', lastName: 'Runner', companyId: 'c-acme' } },
    { type: 'record.created', object: 'people', recordId: 'p-hank', record: { email: 'hank.scorpio@globex.test', firstName: 'Hank', lastName: 'Scorpio', companyId: 'c-globex' } },
  ]);
  for (const [object, id] of [['companies', 'c-acme'], ['companies', 'c-globex'], ['companies', 'c-initech'], ['people', 'p-wile'], ['people', 'p-road'], ['people', 'p-hank']] as const) {
    await eventually(`${object} ${id} projected`, () => hub.record(object, id), 90_000);
  }
});
after(async () => {
  await hub?.close();
  await billing?.close();
});

/** Sends the change of an opportunity from `from` to `to` (the record as it is after). */
const moveStage = (recordId: string, deal: Record<string, unknown>, from: string, to: string) => hub.sendRecords([{
  type: 'record.updated', object: 'opportunities', recordId, before: { ...deal, stage: from }, record: { ...deal, stage: to }, updatedFields: ['stage'],
}]);

const runOf = async (recordId: string): Promise<Run> => eventually(`the run for ${recordId}`, async () => {
  const runs = (await hub.runsOf(workflowId)).filter((r) => (r.trigger as { recordId: string }).recordId === recordId);
  return runs.find((r) => ['completed', 'failed', 'cancelled'].includes(r.status)) ?? null;
}, 90_000, 200);

const customersOf = (companyId: string) => [...billing.customers.values()].filter((c) => c.metadata.crm_company_id === companyId);
const invoicesOf = (customerId: string): Invoice[] => [...billing.invoices.values()].filter((i) => i.customer === customerId);
const posts = (path: string) => billing.received.filter((r) => r.method === 'POST' && r.path === path);
const steps = (run: Run) => Object.values(run.steps).map((s) => `${s.key}:${s.status}`).sort();
const mailFor = (opportunityId: string) => hub.smtp.messages.filter((m) => m.text.includes(`(${opportunityId})`));

const annual = {
  name: 'Acme Rockets — annual platform licence', amount: 24000, currency: 'GBP', companyId: 'c-acme', contactId: 'p-road', closeDate: '2024-06-28',
  lineItems: [
    { product: 'Platform licence (annual, per seat)', quantity: 50, unitPrice: 450 },
    { product: 'Onboarding and training', quantity: 1, unitPrice: 1500 },
  ],
};

test('a won deal of a new billing customer: customer, invoice with two lines, finalized; opportunity and company updated; finance emailed', async () => {
  await hub.sendRecords([{ type: 'record.created', object: 'opportunities', recordId: 'o-acme-annual', record: { ...annual, stage: 'Negotiation' } }]);
  await eventually('opportunity projected', () => hub.record('opportunities', 'o-acme-annual'), 90_000);
  await moveStage('o-acme-annual', annual, 'Negotiation', 'Closed Won');
  const run = await runOf('o-acme-annual');
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(steps(run), [
    'addItem[0]:completed', 'addItem[1]:completed', 'billing:completed', 'company:completed', 'contacts:completed', 'createCustomer:completed',
    'ensureCustomer:completed', 'finalize:completed', 'format:completed', 'invoice:completed', 'items:completed', 'linkCustomer:completed',
    'notify:completed', 'summary:completed', 'update:completed',
  ]);
  assert.deepEqual(run.steps.ensureCustomer!.output, { branch: 0 });
  const format = (run.steps.format!.output as { result: Record<string, unknown> }).result;
  assert.deepEqual(format, {
    companyId: 'c-acme', companyName: 'Acme Rockets Ltd', contactName: 'Wile E. Coyote', existingCustomerId: null,
    customer: { name: 'Acme Rockets Ltd', email: 'accounts.payable@acme-rockets.test', description: 'CRM company c-acme', metadata: { crm_company_id: 'c-acme' }, phone: '+442079460000' },
    invoice: { collection_method: 'send_invoice', days_until_due: 45, currency: 'gbp', description: 'Acme Rockets — annual platform licence', metadata: { crm_opportunity_id: 'o-acme-annual', crm_company_id: 'c-acme' } },
    lines: [
      { description: 'Platform licence (annual, per seat)', quantity: 50, unit_amount: 45000, currency: 'gbp', metadata: { crm_opportunity_id: 'o-acme-annual' } },
      { description: 'Onboarding and training', quantity: 1, unit_amount: 150000, currency: 'gbp', metadata: { crm_opportunity_id: 'o-acme-annual' } },
    ],
    total: 2_400_000,
    totalText: 'GBP 24,000.00',
    linesText: '- 50 × Platform licence (annual, per seat) at GBP 450.00\n- 1 × Onboarding and training at GBP 1,500.00',
  });

  // The billing platform: one customer, one open invoice of 24,000.00 with two lines.
  const [customer] = customersOf('c-acme');
  assert.equal(customersOf('c-acme').length, 1);
  assert.deepEqual([customer!.name, customer!.email, customer!.phone, customer!.description], ['Acme Rockets Ltd', 'accounts.payable@acme-rockets.test', '+442079460000', 'CRM company c-acme']);
  const invoices = invoicesOf(customer!.id);
  assert.equal(invoices.length, 1);
  const invoice = invoices[0]!;
  assert.deepEqual(
    [invoice.status, invoice.collection_method, invoice.currency, invoice.amount_due, invoice.lines.total_count, invoice.number, invoice.metadata],
    ['open', 'send_invoice', 'gbp', 2_400_000, 2, `${customer!.invoice_prefix}-0001`, { crm_opportunity_id: 'o-acme-annual', crm_company_id: 'c-acme' }],
  );
  assert.equal(invoice.due_date, invoice.created + 45 * 86_400);

  // What the hub sent: the key as a bearer token, the step's idempotency key, JSON bodies.
  const mine = billing.received.filter((r) => r.at >= run.startedAt!.getTime() - 1000 && r.method === 'POST');
  assert.deepEqual(mine.map((r) => [r.path, r.status]), [
    ['/v1/customers', 200], ['/v1/invoices', 200], ['/v1/invoiceitems', 200], ['/v1/invoiceitems', 200], [`/v1/invoices/${invoice.id}/finalize`, 200],
  ]);
  for (const r of mine) assert.equal(r.headers.authorization, `Bearer ${API_KEY}`);
  assert.deepEqual(mine.map((r) => r.headers['idempotency-key']), ['createCustomer', 'invoice', 'addItem[0]', 'addItem[1]', 'finalize'].map((k) => effectId(run.runId, k)));
  assert.equal(mine[0]!.headers['content-type'], 'application/json');
  assert.deepEqual(mine[0]!.body, format.customer);
  assert.deepEqual(mine[1]!.body, { customer: customer!.id, ...(format.invoice as object) });
  assert.deepEqual(mine[2]!.body, { customer: customer!.id, invoice: invoice.id, description: 'Platform licence (annual, per seat)', quantity: 50, unit_amount: 45000, currency: 'gbp', metadata: { crm_opportunity_id: 'o-acme-annual' } });
  assert.deepEqual(mine[3]!.body, { customer: customer!.id, invoice: invoice.id, description: 'Onboarding and training', quantity: 1, unit_amount: 150000, currency: 'gbp', metadata: { crm_opportunity_id: 'o-acme-annual' } });
  assert.equal(mine[4]!.rawBody, '');

  // The CRM: the opportunity carries the invoice reference, the company its billing customer.
  const dueDate = new Date(invoice.due_date! * 1000).toISOString().slice(0, 10);
  const opportunity = await eventually('opportunity updated', async () => {
    const r = await hub.record('opportunities', 'o-acme-annual');
    return r?.fields.invoiceId ? r : null;
  }, 90_000);
  assert.deepEqual({ ...opportunity.fields }, {
    ...annual, stage: 'Closed Won',
    invoiceId: invoice.id, invoiceNumber: invoice.number, invoiceStatus: 'open', invoiceUrl: `${billing.url}/i/${invoice.id}`, invoiceDueDate: dueDate, billingCustomerId: customer!.id,
  });
  const company = await eventually('company linked', async () => {
    const r = await hub.record('companies', 'c-acme');
    return r?.fields.billingCustomerId ? r : null;
  }, 90_000);
  assert.equal(company.fields.billingCustomerId, customer!.id);

  const [mail] = await eventually('finance email', async () => (mailFor('o-acme-annual').length ? mailFor('o-acme-annual') : null), 90_000);
  assert.deepEqual(mail!.to, ['finance@ourco.test']);
  assert.equal(mail!.subject, `Invoice ${invoice.number} issued to Acme Rockets Ltd: GBP 24,000.00`);
  assert.equal(mail!.text.trim(), [
    'Opportunity "Acme Rockets — annual platform licence" (o-acme-annual) was won.',
    '',
    `Invoice ${invoice.number} (${invoice.id}) for Acme Rockets Ltd, billing customer ${customer!.id}:`,
    '- 50 × Platform licence (annual, per seat) at GBP 450.00',
    '- 1 × Onboarding and training at GBP 1,500.00',
    `Total due: GBP 24,000.00 by ${dueDate}.`,
    '',
    `${billing.url}/i/${invoice.id}`,
  ].join('\n'));
});

test('a second won deal of the same company reuses its billing customer; a deal lost, or updated without a stage change, starts no run', async () => {
  const support = { name: 'Acme Rockets — premium support', amount: 4800, currency: 'GBP', companyId: 'c-acme' };
  const lost = { name: 'Acme Rockets — rocket skates pilot', amount: 900, currency: 'GBP', companyId: 'c-acme' };
  const won = (await hub.record('opportunities', 'o-acme-annual'))!.fields;
  await hub.sendRecords([{ type: 'record.updated', object: 'opportunities', recordId: 'o-acme-annual', before: won, record: { ...won, closeDate: '2024-06-30' }, updatedFields: ['closeDate'] }]);
  await moveStage('o-acme-skates', lost, 'Proposal', 'Closed Lost');
  await moveStage('o-acme-support', support, 'Proposal', 'Closed Won');
  const run = await runOf('o-acme-support');
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(run.steps.ensureCustomer!.output, { branch: 'else' });
  assert.equal(run.steps.createCustomer, undefined);
  assert.equal(run.steps.linkCustomer, undefined);
  const [customer] = customersOf('c-acme');
  assert.equal(customersOf('c-acme').length, 1, 'no second customer for the company');
  assert.deepEqual((run.steps.billing!.output as { result: { customerId: string; isNewCustomer: boolean } }).result.customerId, customer!.id);
  assert.equal((run.steps.billing!.output as { result: { isNewCustomer: boolean } }).result.isNewCustomer, false);
  const invoices = invoicesOf(customer!.id).sort((a, b) => (a.number! < b.number! ? -1 : 1));
  assert.equal(invoices.length, 2);
  const invoice = invoices[1]!;
  assert.deepEqual([invoice.number, invoice.amount_due, invoice.lines.total_count, invoice.status, invoice.description], [`${customer!.invoice_prefix}-0002`, 480_000, 1, 'open', 'Acme Rockets — premium support']);
  const item = [...billing.invoiceItems.values()].find((i) => i.invoice === invoice.id)!;
  assert.deepEqual([item.description, item.quantity, item.unit_amount, item.currency], ['Acme Rockets — premium support', 1, 480_000, 'gbp']);
  const [mail] = await eventually('finance email', async () => (mailFor('o-acme-support').length ? mailFor('o-acme-support') : null), 90_000);
  assert.equal(mail!.subject, `Invoice ${invoice.number} issued to Acme Rockets Ltd: GBP 4,800.00`);
  const opportunity = await eventually('opportunity updated', async () => {
    const r = await hub.record('opportunities', 'o-acme-support');
    return r?.fields.invoiceId ? r : null;
  }, 90_000);
  assert.equal(opportunity.fields.invoiceNumber, invoice.number);

  // Neither the lost deal, nor the close-date change, nor the workflow's own updates of the opportunities started a run.
  await eventually('lost deal projected', async () => (await hub.record('opportunities', 'o-acme-skates'))?.fields.stage === 'Closed Lost', 90_000);
  await eventually('close date projected', async () => (await hub.record('opportunities', 'o-acme-annual'))?.fields.closeDate === '2024-06-30', 90_000);
  const byRecord = (await hub.runsOf(workflowId)).map((r) => (r.trigger as { recordId: string }).recordId).sort();
  assert.deepEqual(byRecord, ['o-acme-annual', 'o-acme-support']);
});

test('variant: the billing API creates the invoice and loses the answer (502); the step\'s retry replays the same Idempotency-Key: one invoice', async () => {
  const deal = { name: 'Globex — data platform', amount: 12500.5, currency: 'USD', companyId: 'c-globex' };
  billing.failNext(1, { status: 502, afterProcessing: true }, '/v1/invoices');
  await moveStage('o-globex', deal, 'Negotiation', 'Closed Won');
  const run = await runOf('o-globex');
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  const [customer] = customersOf('c-globex');
  assert.equal(customersOf('c-globex').length, 1);
  assert.equal(customer!.email, 'hank.scorpio@globex.test', 'no billing email on the company: its contact');
  const tries = posts('/v1/invoices').filter((r) => (r.body as { customer: string }).customer === customer!.id);
  assert.deepEqual(tries.map((r) => [r.status, r.injected]), [[502, true], [200, false]]);
  assert.equal(tries[0]!.headers['idempotency-key'], effectId(run.runId, 'invoice'));
  assert.equal(tries[1]!.headers['idempotency-key'], tries[0]!.headers['idempotency-key']);
  const output = run.steps.invoice!.output as { status: number; headers: Record<string, string>; body: { id: string } };
  assert.equal(output.status, 200);
  assert.equal(output.headers['idempotent-replayed'], 'true', 'the second answer is the saved one');
  const invoices = invoicesOf(customer!.id);
  assert.equal(invoices.length, 1, 'one invoice');
  assert.equal(invoices[0]!.id, output.body.id);
  assert.deepEqual([invoices[0]!.status, invoices[0]!.amount_due], ['open', 1_250_050]);
  const [mail] = await eventually('finance email', async () => (mailFor('o-globex').length ? mailFor('o-globex') : null), 90_000);
  assert.equal(mail!.subject, `Invoice ${invoices[0]!.number} issued to Globex Corporation: USD 12,500.50`);
});

test('variant: invoice creation fails beyond the step\'s attempts (502 after processing, 3 times); the run fails; its retry creates no second customer and no second invoice', async () => {
  const deal = { name: 'Initech — TPS report automation', amount: 3600, currency: 'USD', companyId: 'c-initech', lineItems: [{ product: 'TPS automation seats', quantity: 12, unitPrice: 300 }] };
  billing.failNext(3, { status: 502, afterProcessing: true }, '/v1/invoices');
  const mailsBefore = hub.smtp.messages.length;
  await moveStage('o-initech', deal, 'Proposal', 'Closed Won');
  const failed = await runOf('o-initech');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'invoice');
  assert.equal(failed.error?.code, 'HTTP_STATUS');
  assert.match(failed.error!.message, /answered 502 after 3 attempts/);
  assert.match(failed.error!.message, /An unknown error occurred/);
  for (const k of ['items', 'finalize', 'update', 'notify']) assert.equal(failed.steps[k], undefined, `${k} did not run`);
  const [customer] = customersOf('c-initech');
  assert.equal(customersOf('c-initech').length, 1);
  // The billing platform did create the invoice; the hub never learnt its id.
  assert.equal(invoicesOf(customer!.id).length, 1);
  const created = invoicesOf(customer!.id)[0]!;
  assert.equal(created.status, 'draft');
  const firstTries = posts('/v1/invoices').filter((r) => (r.body as { customer: string }).customer === customer!.id);
  assert.deepEqual(firstTries.map((r) => r.status), [502, 502, 502]);

  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assertStepsKept(failed, done, ['format', 'createCustomer', 'linkCustomer', 'billing']);

  assert.equal(customersOf('c-initech').length, 1, 'no second customer');
  assert.equal(posts('/v1/customers').filter((r) => (r.body as { metadata: { crm_company_id: string } }).metadata.crm_company_id === 'c-initech').length, 1);
  const invoices = invoicesOf(customer!.id);
  assert.equal(invoices.length, 1, 'no second invoice');
  const tries = posts('/v1/invoices').filter((r) => (r.body as { customer: string }).customer === customer!.id);
  assert.deepEqual(tries.map((r) => r.status), [502, 502, 502, 200]);
  assert.equal(new Set(tries.map((r) => r.headers['idempotency-key'])).size, 1, 'the retried run sent the same key');
  assert.equal((done.steps.invoice!.output as { headers: Record<string, string>; body: { id: string } }).headers['idempotent-replayed'], 'true');
  assert.equal((done.steps.invoice!.output as { body: { id: string } }).body.id, created.id, 'the run carried on with the invoice made the first time');
  assert.deepEqual([invoices[0]!.status, invoices[0]!.amount_due, invoices[0]!.lines.total_count], ['open', 360_000, 1]);

  const opportunity = await eventually('opportunity updated', async () => {
    const r = await hub.record('opportunities', 'o-initech');
    return r?.fields.invoiceId ? r : null;
  }, 90_000);
  assert.equal(opportunity.fields.invoiceId, created.id);
  await hub.smtp.waitForMessages(mailsBefore + 1, 90_000);
  const mails = mailFor('o-initech');
  assert.equal(mails.length, 1, 'one email to finance');
  assert.equal(mails[0]!.subject, `Invoice ${invoices[0]!.number} issued to Initech: USD 3,600.00`);
});

/**
 * Use case 4, data enrichment (examples/04-data-enrichment.json), with every service a
 * process: a person is created → the enrichment emulator (Clearbit combined lookup) is
 * asked with the stored key → a code step keeps the useful fields, rates the account and
 * lists buying signals → the person is updated → a high-value account gets a sales task
 * → strong buying signals send an alert email. The variant: the mail server refuses the
 * alert; the run fails with its reply; a retry sends the alert without asking the
 * enrichment provider again, updating the person again or creating a second task.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startEnrichmentEmulator, type EnrichmentEmulator } from '../../emulators/enrichment.ts';
import type { RecordDocument } from '../../../libs/store/records.ts';

let hub: E2EHub;
let enrichment: EnrichmentEmulator;
let workflowId: string;

const fieldsOf = (r: RecordDocument | null | undefined) => ({ ...r?.fields });
const enriched = (recordId: string) => eventually(`${recordId} enriched`, async () => {
  const r = await hub.record('people', recordId);
  return r?.fields.enrichmentStatus ? r : null;
}, 90_000);
const tasksOf = async (personId: string) => (await hub.records('tasks')).filter((t) => t.fields.personId === personId);
const lookups = (email: string) => enrichment.received.filter((r) => r.path === '/v2/combined/find' && r.query.email === email);

const ACME = 'Ada Lovelace, VP of Engineering at Acme Corporation (1K-5K employees, $250M-$500M revenue)';
const ACME_FIRMOGRAPHICS = {
  companyName: 'Acme Corporation', companyDomain: 'acme.example', industry: 'Internet Software & Services',
  employees: 4_200, employeesRange: '1K-5K', estimatedRevenue: '$250M-$500M',
};

before(async () => {
  enrichment = await startEnrichmentEmulator({
    companies: {
      'acme.example': {
        name: 'Acme Corporation', legalName: 'Acme Corporation',
        category: { sector: 'Information Technology', industryGroup: 'Software & Services', industry: 'Internet Software & Services', subIndustry: 'Internet Software & Services', sicCode: '73', naicsCode: '51' },
        tech: ['salesforce', 'segment', 'snowflake', 'slack'],
        metrics: { employees: 4_200, employeesRange: '1K-5K', annualRevenue: 410_000_000, estimatedAnnualRevenue: '$250M-$500M', raised: 120_000_000 },
      },
      'tinyshop.example': {
        name: 'Tiny Shop', legalName: null,
        category: { sector: 'Consumer Discretionary', industryGroup: 'Retailing', industry: 'Internet & Catalog Retail', subIndustry: 'Internet & Direct Marketing Retail', sicCode: '59', naicsCode: '45' },
        tech: ['stripe'],
        metrics: { employees: 8, employeesRange: '1-10', annualRevenue: null, estimatedAnnualRevenue: '$0-$1M', raised: null },
      },
    },
    people: {
      'ada@acme.example': {
        name: { fullName: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace' }, location: 'London, England, GB',
        employment: { domain: 'acme.example', name: 'Acme Corporation', title: 'VP of Engineering', role: 'engineering', subRole: 'engineering', seniority: 'executive' },
        linkedin: { handle: 'in/ada-lovelace' },
      },
      'bob@tinyshop.example': {
        name: { fullName: 'Bob Builder', givenName: 'Bob', familyName: 'Builder' }, location: 'Austin, TX, US',
        employment: { domain: 'tinyshop.example', name: 'Tiny Shop', title: 'Account Coordinator', role: 'sales', subRole: 'account_management', seniority: 'junior' },
        linkedin: { handle: null },
      },
      'grace@acme.example': {
        name: { fullName: 'Grace Hopper', givenName: 'Grace', familyName: 'Hopper' }, location: 'New York, NY, US',
        employment: { domain: 'acme.example', name: 'Acme Corporation', title: 'Procurement Lead', role: 'operations', subRole: 'procurement', seniority: 'manager' },
        linkedin: { handle: 'in/grace-hopper' },
      },
    },
  });
  hub = await startE2EHub('uc04');
  await hub.credential({ name: 'enrichment', type: 'bearer', token: enrichment.apiKey });
  ({ workflowId } = await hub.importExample('04-data-enrichment.json', {
    ENRICHMENT_URL: enrichment.url, HIGH_VALUE_MIN_EMPLOYEES: '500', HIGH_VALUE_MIN_REVENUE: '50000000',
    COMPETITOR_TECH: 'salesforce, hubspot', SALES_REP_ID: 'rep-maya', SALES_ALERT_EMAIL: 'buying-signals@ourco.test',
  }));
});
after(async () => {
  await hub?.close();
  await enrichment?.close();
});

test('a high-value person with strong signals: enriched, a sales task, an alert', async () => {
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-ada', record: { email: 'ada@acme.example', name: 'Ada Lovelace', source: 'web form' } }]);
  const [run] = await hub.endedRuns(workflowId, 1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));

  const [lookup] = lookups('ada@acme.example');
  assert.equal(enrichment.received.length, 1);
  assert.equal(lookup!.method, 'GET');
  assert.deepEqual(lookup!.query, { email: 'ada@acme.example' });
  assert.equal(lookup!.headers.authorization, `Bearer ${enrichment.apiKey}`);
  assert.equal(lookup!.headers['idempotency-key'], undefined, 'a GET carries no idempotency key');
  assert.equal(lookup!.status, 200);

  const signals = ['decision maker (VP of Engineering)', 'uses salesforce', 'has raised $120M'];
  assert.deepEqual(run!.steps.assess!.output, {
    result: {
      fields: {
        title: 'VP of Engineering', seniority: 'executive', ...ACME_FIRMOGRAPHICS, location: 'London, England, GB',
        linkedin: 'https://www.linkedin.com/in/ada-lovelace', buyingSignals: signals, leadTier: 'high value', enrichmentStatus: 'enriched',
      },
      highValue: true, strongSignals: true, name: 'Ada Lovelace', summary: ACME,
      signalList: signals.map((s) => `- ${s}`).join('\n'),
    },
  });
  const ada = await enriched('p-ada');
  assert.deepEqual(fieldsOf(ada), {
    email: 'ada@acme.example', name: 'Ada Lovelace', source: 'web form',
    title: 'VP of Engineering', seniority: 'executive', ...ACME_FIRMOGRAPHICS, location: 'London, England, GB',
    linkedin: 'https://www.linkedin.com/in/ada-lovelace', buyingSignals: signals, leadTier: 'high value', enrichmentStatus: 'enriched',
  });

  assert.deepEqual(run!.steps.highValue!.output, { branch: 0 });
  const tasks = await eventually('sales task', async () => { const t = await tasksOf('p-ada'); return t.length ? t : null; }, 90_000);
  assert.equal(tasks.length, 1);
  assert.deepEqual(fieldsOf(tasks[0]), { title: `High-value lead: ${ACME}`, personId: 'p-ada', assignee: 'rep-maya', priority: 'high', status: 'open', source: 'data enrichment' });

  assert.deepEqual(run!.steps.signals!.output, { branch: 0 });
  const [mail] = await hub.smtp.waitForMessages(1, 90_000);
  assert.deepEqual(mail!.to, ['buying-signals@ourco.test']);
  assert.equal(mail!.subject, 'Strong buying signals: Ada Lovelace (Acme Corporation)');
  assert.equal(mail!.text.trim(), [
    `${ACME} shows strong buying signals:`, ...signals.map((s) => `- ${s}`), '',
    'Email: ada@acme.example', 'CRM person: p-ada', 'Lead tier: high value',
  ].join('\n'));
});

test('a small account without signals: enriched only, no task, no alert', async () => {
  const mailsBefore = hub.smtp.messages.length;
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-bob', record: { email: 'bob@tinyshop.example', name: 'Bob Builder' } }]);
  const run = (await hub.endedRuns(workflowId, 2))[1]!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.equal(run.trigger && (run.trigger as { recordId: string }).recordId, 'p-bob');
  assert.equal(lookups('bob@tinyshop.example').length, 1);

  const bob = await enriched('p-bob');
  assert.deepEqual(fieldsOf(bob), {
    email: 'bob@tinyshop.example', name: 'Bob Builder',
    title: 'Account Coordinator', seniority: 'junior', companyName: 'Tiny Shop', companyDomain: 'tinyshop.example', industry: 'Internet & Catalog Retail',
    employees: 8, employeesRange: '1-10', estimatedRevenue: '$0-$1M', location: 'Austin, TX, US', linkedin: null,
    buyingSignals: [], leadTier: 'standard', enrichmentStatus: 'enriched',
  });
  assert.deepEqual(run.steps.highValue!.output, { branch: 'else' });
  assert.deepEqual(run.steps.signals!.output, { branch: 'else' });
  assert.equal(run.steps.salesTask, undefined);
  assert.equal(run.steps.alert, undefined);
  assert.deepEqual(await tasksOf('p-bob'), []);
  assert.equal(hub.smtp.messages.length, mailsBefore, 'no alert');
});

test('variant: the mail server refuses the alert; the run fails with its reply; a retry sends it without repeating a step', async () => {
  hub.smtp.failNext(1, { code: 550, message: 'Requested action not taken: mailbox buying-signals unavailable' });
  const mailsBefore = hub.smtp.messages.length;
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-grace', record: { email: 'grace@acme.example', name: 'Grace Hopper', source: 'trade show' } }]);
  const failed = (await hub.endedRuns(workflowId, 3))[2]!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'alert');
  assert.match(failed.error!.message, /mailbox buying-signals unavailable/);
  assert.equal(failed.steps.alert!.status, 'failed');
  for (const id of ['enrich', 'assess', 'update', 'highValue', 'salesTask', 'signals']) assert.equal(failed.steps[id]!.status, 'completed', id);

  // What was done before the refusal stands: the person is enriched, the task exists.
  const grace = await enriched('p-grace');
  const signals = ['uses salesforce', 'has raised $120M'];
  assert.deepEqual(fieldsOf(grace), {
    email: 'grace@acme.example', name: 'Grace Hopper', source: 'trade show',
    title: 'Procurement Lead', seniority: 'manager', ...ACME_FIRMOGRAPHICS, location: 'New York, NY, US',
    linkedin: 'https://www.linkedin.com/in/grace-hopper', buyingSignals: signals, leadTier: 'high value', enrichmentStatus: 'enriched',
  });
  const version = grace.version;
  await eventually('grace task', async () => (await tasksOf('p-grace')).length === 1, 90_000);

  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assert.equal(done.error, null);
  assertStepsKept(failed, done, ['enrich', 'assess', 'update', 'salesTask']);
  assert.equal(done.steps.alert!.status, 'completed');

  const summary = 'Grace Hopper, Procurement Lead at Acme Corporation (1K-5K employees, $250M-$500M revenue)';
  const mails = await hub.smtp.waitForMessages(mailsBefore + 1, 90_000);
  const alerts = mails.filter((m) => m.subject === 'Strong buying signals: Grace Hopper (Acme Corporation)');
  assert.equal(alerts.length, 1, 'one alert');
  assert.deepEqual(alerts[0]!.to, ['buying-signals@ourco.test']);
  assert.equal(alerts[0]!.text.trim(), [
    `${summary} shows strong buying signals:`, ...signals.map((s) => `- ${s}`), '',
    'Email: grace@acme.example', 'CRM person: p-grace', 'Lead tier: high value',
  ].join('\n'));

  assert.equal(lookups('grace@acme.example').length, 1, 'the enrichment provider was asked once');
  const tasks = await tasksOf('p-grace');
  assert.equal(tasks.length, 1, 'one sales task');
  assert.equal(tasks[0]!.fields.title, `High-value lead: ${summary}`);
  assert.equal((await hub.record('people', 'p-grace'))!.version, version, 'the person was not updated again');
});

test('a person the enrichment API does not know (404, accepted by the step): marked unknown, no task, no alert', async () => {
  const mailsBefore = hub.smtp.messages.length;
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-ghost', record: { email: 'casper@ghost.invalid', name: 'Casper' } }]);
  const run = (await hub.endedRuns(workflowId, 4)).find((r) => (r.trigger as { recordId: string }).recordId === 'p-ghost')!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.equal((run.steps.enrich!.output as { status: number }).status, 404);
  assert.equal(lookups('casper@ghost.invalid').length, 1);
  const ghost = await eventually('marked unknown', async () => { const r = await hub.record('people', 'p-ghost'); return r?.fields.enrichmentStatus ? r : null; }, 90_000);
  assert.equal(ghost.fields.enrichmentStatus, 'unknown');
  assert.equal(ghost.fields.leadTier, 'standard');
  assert.deepEqual(run.steps.highValue!.output, { branch: 'else' });
  assert.deepEqual(await tasksOf('p-ghost'), []);
  assert.equal(hub.smtp.messages.length, mailsBefore, 'no alert');
});

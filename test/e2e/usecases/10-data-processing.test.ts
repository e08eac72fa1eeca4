/**
 * Use case 10, multi-step data processing (examples/10-data-processing.json), with every
 * service a process: a lead import POSTed to the webhook → code validates → code
 * normalises → code applies the business rules → each lead searched for by email →
 * update of the duplicate or creation → a data-quality report by email when rows were
 * skipped or need a look.
 *
 * Variants: a malformed export makes the validation code throw: the run fails with the
 * line and column of the throw, and nothing is imported. The mail server refuses the
 * report: the run fails with its reply, and a retry sends the report once without
 * importing anything again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import type { Run } from '../../../libs/store/runs.ts';
import { sleep } from '../../../libs/time/sleep.ts';

let hub: E2EHub;
let workflowId: string;
let hookUrl: string;

const SOURCE = 'SaaStr Europa 2024 badge scans';

async function postImport(body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as unknown };
}

const byEmail = async (email: string) => (await hub.records('people')).filter((r) => r.fields.email === email);
const stepsOfType = (run: Run, id: string) => Object.values(run.steps).filter((s) => s.id === id).sort((a, b) => a.key.localeCompare(b.key));

before(async () => {
  hub = await startE2EHub('uc10');
  ({ workflowId, hookUrl } = await hub.importExample('10-data-processing.json', {
    DATA_STEWARD_EMAIL: 'data-quality@acme.test', OWNER_UKI: 'rep-london', OWNER_DACH: 'rep-munich', OWNER_DEFAULT: 'rep-inside',
  }) as { workflowId: string; hookUrl: string });
  await hub.sendRecords([{
    type: 'record.created', object: 'people', recordId: 'p-grace',
    record: { email: 'grace@hopper.test', firstName: 'Grace', lastName: 'Hopper', company: 'US Navy', phone: '+12025550143', country: 'US', ownerId: 'rep-inside', status: 'customer' },
  }]);
  await eventually('grace projected', () => hub.record('people', 'p-grace'));
});
after(async () => { await hub?.close(); });

test('a messy import: rows validated, normalised, deduplicated; new people created, the known one filled in; the steward gets the report', async () => {
  const delivery = await postImport({
    importId: 'imp-2024-06-berlin', source: SOURCE,
    rows: [
      { email: ' Ada.Lovelace@Analytical-Engines.co.uk ', firstName: 'ada', lastName: 'LOVELACE', company: 'Analytical Engines Ltd', jobTitle: 'Head of Research', phone: '020 7946 0000', country: 'United Kingdom', employees: '1,200' },
      { email: 'grace@hopper.test', firstName: 'Grace', lastName: 'Hopper', company: 'Navy Research Lab', jobTitle: 'Rear Admiral', phone: '', country: 'USA', employees: '350' },
      { email: 'ada@@lovelace', firstName: 'Ada', lastName: 'Byron' },
      { email: 'linus.t@gmail.com', firstName: 'Linus', lastName: 'Torvalds', company: 'Linux Foundation', country: 'Finland', employees: '' },
      { email: 'hedy@lamarr.test', firstName: ' ', lastName: '', company: 'MGM' },
      { email: 'ADA.LOVELACE@analytical-engines.co.uk', firstName: 'Ada', lastName: 'Lovelace', phone: '+44 20 7946 0001', country: 'UK', jobTitle: 'Countess' },
      { email: 'k.zuse@zuse-kg.test', firstName: 'konrad', lastName: 'zuse', company: 'Zuse KG', phone: '0049 30 1234567', country: 'Germany', employees: 'about 80' },
    ],
  });
  assert.equal(delivery.status, 202, JSON.stringify(delivery.body));
  const [run] = await hub.endedRuns(workflowId, 1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));

  const validated = (run!.steps.validate!.output as { result: { total: number; valid: { row: number }[]; problems: unknown[] } }).result;
  assert.equal(validated.total, 7);
  assert.deepEqual(validated.valid.map((r) => r.row), [1, 2, 4, 6, 7]);
  assert.deepEqual(validated.problems, [
    { row: 3, email: 'ada@@lovelace', severity: 'error', messages: ['email "ada@@lovelace" is not a valid address'] },
    { row: 5, email: 'hedy@lamarr.test', severity: 'error', messages: ['name is missing'] },
  ]);
  const transformed = (run!.steps.transform!.output as { result: { leads: unknown[]; warnings: unknown[] } }).result;
  assert.deepEqual(transformed.leads[0], {
    row: 1, email: 'ada.lovelace@analytical-engines.co.uk', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines Ltd', jobTitle: 'Head of Research', phone: '+442079460000', country: 'GB', employees: 1200,
  });
  assert.deepEqual(transformed.warnings, [{ row: 7, email: 'k.zuse@zuse-kg.test', severity: 'warning', messages: ['employees "about 80" is not a number'] }]);
  const ruled = (run!.steps.rules!.output as { result: { leads: { row: number; segment: string; ownerId: string }[]; skipped: number; warned: number } }).result;
  assert.deepEqual(ruled.leads.map((l) => [l.row, l.segment, l.ownerId]), [[1, 'enterprise', 'rep-london'], [2, 'mid-market', 'rep-inside'], [4, 'unknown', 'rep-inside'], [7, 'unknown', 'rep-munich']]);
  assert.deepEqual([ruled.skipped, ruled.warned], [2, 3]);

  // One iteration per lead: the duplicate search, then update (Grace) or create.
  assert.deepEqual(run!.steps.each!.output, { count: 4 });
  assert.deepEqual(stepsOfType(run!, 'upsert').map((s) => [s.key, (s.output as { branch: unknown }).branch]), [['upsert[0]', 'else'], ['upsert[1]', 0], ['upsert[2]', 'else'], ['upsert[3]', 'else']]);
  assert.deepEqual(stepsOfType(run!, 'create').map((s) => s.key), ['create[0]', 'create[2]', 'create[3]']);
  assert.deepEqual(stepsOfType(run!, 'update').map((s) => s.key), ['update[1]']);
  assert.deepEqual((run!.steps['merge[1]']!.output as { result: { filled: string[] } }).result.filled, ['jobTitle', 'employees']);
  assert.deepEqual(run!.steps.quality!.output, { branch: 0 });

  const common = { status: 'new', source: SOURCE, importId: 'imp-2024-06-berlin' };
  const [ada] = await eventually('ada created', async () => { const p = await byEmail('ada.lovelace@analytical-engines.co.uk'); return p.length ? p : null; });
  assert.deepEqual({ ...ada!.fields }, {
    email: 'ada.lovelace@analytical-engines.co.uk', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines Ltd', jobTitle: 'Head of Research',
    phone: '+442079460000', country: 'GB', employees: 1200, segment: 'enterprise', ownerId: 'rep-london', ...common,
  });
  const [linus] = await eventually('linus created', async () => { const p = await byEmail('linus.t@gmail.com'); return p.length ? p : null; });
  assert.deepEqual({ ...linus!.fields }, {
    email: 'linus.t@gmail.com', firstName: 'Linus', lastName: 'Torvalds', company: 'Linux Foundation', jobTitle: null,
    phone: null, country: 'FI', employees: null, segment: 'unknown', ownerId: 'rep-inside', ...common,
  });
  const [konrad] = await eventually('konrad created', async () => { const p = await byEmail('k.zuse@zuse-kg.test'); return p.length ? p : null; });
  assert.deepEqual({ ...konrad!.fields }, {
    email: 'k.zuse@zuse-kg.test', firstName: 'Konrad', lastName: 'Zuse', company: 'Zuse KG', jobTitle: null,
    phone: '+49301234567', country: 'DE', employees: null, segment: 'unknown', ownerId: 'rep-munich', ...common,
  });
  // The known person keeps her own values (company, phone, owner, status); the import fills the gaps.
  const grace = await eventually('grace filled in', async () => { const r = await hub.record('people', 'p-grace'); return r?.fields.lastImportId ? r : null; });
  assert.deepEqual({ ...grace.fields }, {
    email: 'grace@hopper.test', firstName: 'Grace', lastName: 'Hopper', company: 'US Navy', jobTitle: 'Rear Admiral', phone: '+12025550143',
    country: 'US', employees: 350, segment: 'mid-market', ownerId: 'rep-inside', status: 'customer', lastImportId: 'imp-2024-06-berlin',
  });
  assert.equal((await hub.records('people')).length, 4, 'no duplicate, no skipped row imported');

  const [mail] = await hub.smtp.waitForMessages(1, 30_000);
  assert.deepEqual(mail!.to, ['data-quality@acme.test']);
  assert.equal(mail!.subject, 'Data-quality report for import imp-2024-06-berlin: 2 rows skipped, 3 to check');
  assert.equal(mail!.text?.trim(), [
    `Import imp-2024-06-berlin (${SOURCE}): 7 rows received, 5 imported as 4 people, 2 skipped.`,
    '',
    'Skipped, not imported:',
    '- row 3, ada@@lovelace: email "ada@@lovelace" is not a valid address',
    '- row 5, hedy@lamarr.test: name is missing',
    '',
    'Imported, please check:',
    '- row 4, linus.t@gmail.com: personal address (gmail.com): the company cannot be confirmed',
    '- row 6, ada.lovelace@analytical-engines.co.uk: same person as row 1: merged into it',
    '- row 7, k.zuse@zuse-kg.test: employees "about 80" is not a number',
    '',
    'Please correct these rows in the source and send them again.',
  ].join('\n'));
  assert.equal(typeof (run!.steps.report!.output as { messageId: string }).messageId, 'string');
});

test('a clean import: the lead is created, no report is sent', async () => {
  const mailsBefore = hub.smtp.messages.length;
  await postImport({ importId: 'imp-2024-06-webinar', source: 'Webinar sign-ups', rows: [
    { email: 'margaret@hamilton.test', firstName: 'Margaret', lastName: 'Hamilton', company: 'Hamilton Technologies', jobTitle: 'CEO', phone: '(617) 555-0123', country: 'US', employees: '45' },
  ] });
  const run = (await hub.endedRuns(workflowId, 2))[1]!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(run.steps.quality!.output, { branch: 'else' });
  assert.equal(run.steps.report, undefined);
  const [margaret] = await eventually('margaret created', async () => { const p = await byEmail('margaret@hamilton.test'); return p.length ? p : null; });
  assert.deepEqual({ ...margaret!.fields }, {
    email: 'margaret@hamilton.test', firstName: 'Margaret', lastName: 'Hamilton', company: 'Hamilton Technologies', jobTitle: 'CEO',
    phone: '+16175550123', country: 'US', employees: 45, segment: 'smb', ownerId: 'rep-inside', status: 'new', source: 'Webinar sign-ups', importId: 'imp-2024-06-webinar',
  });
  await sleep(1500);
  assert.equal(hub.smtp.messages.length, mailsBefore, 'no data-quality email');
});

test('variant: a malformed export makes the validation code throw; the run fails with the line and column; nothing is imported', async () => {
  const peopleBefore = (await hub.records('people')).length;
  const mailsBefore = hub.smtp.messages.length;
  await postImport({ importId: 'imp-2024-06-broken', source: 'Partner list', rows: [
    { email: 'barbara@liskov.test', firstName: 'Barbara', lastName: 'Liskov' },
    null,
    { email: 'edsger@dijkstra.test', firstName: 'Edsger', lastName: 'Dijkstra' },
  ] });
  const run = (await hub.endedRuns(workflowId, 3))[2]!;
  assert.equal(run.status, 'failed');
  assert.equal(run.error?.stepKey, 'validate');
  assert.equal(run.error?.code, 'CODE_ERROR');
  assert.equal(run.error?.path, '/source');
  assert.equal(run.error?.retriable, false);
  // The position is the throw's, in the workflow's own source.
  const example = JSON.parse(readFileSync('examples/10-data-processing.json', 'utf8')) as { workflow: { steps: { id: string; input: { source: string } }[] } };
  const lines = example.workflow.steps.find((s) => s.id === 'validate')!.input.source.split('\n');
  const line = lines.findIndex((l) => l.includes('throw new TypeError')) + 1;
  const column = lines[line - 1]!.indexOf('(') + 1;
  assert.equal(run.error!.message, `code failed: TypeError: row 2 is not an object but null: the export is malformed (line ${line}, column ${column})`);
  assert.equal(run.steps.validate!.status, 'failed');
  assert.deepEqual(run.steps.validate!.error, { code: 'CODE_ERROR', message: run.error!.message, path: '/source', retriable: false });
  assert.equal(run.steps.transform, undefined);
  assert.equal(run.steps.each, undefined);
  await sleep(1500);
  assert.equal((await hub.records('people')).length, peopleBefore);
  assert.equal((await byEmail('barbara@liskov.test')).length, 0);
  assert.equal(hub.smtp.messages.length, mailsBefore);
});

test('variant: the mail server refuses the report; the run fails with its reply; a retry sends it once without importing again', async () => {
  hub.smtp.failNext(1, { code: 550, message: '5.7.1 data-quality@acme.test: recipient rejected by policy' });
  const mailsBefore = hub.smtp.messages.length;
  await postImport({ importId: 'imp-2024-06-partner', source: 'Partner list', rows: [
    { email: 'Barbara@Liskov.test', firstName: 'Barbara', lastName: 'Liskov', company: 'MIT', country: 'USA', employees: '12,000' },
    { email: 'not-an-address', firstName: 'Nobody' },
  ] });
  const failed = (await hub.endedRuns(workflowId, 4))[3]!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'report');
  assert.match(failed.error!.message, /recipient rejected by policy/);
  const [barbara] = await eventually('barbara created', async () => { const p = await byEmail('barbara@liskov.test'); return p.length ? p : null; });
  assert.deepEqual({ ...barbara!.fields }, {
    email: 'barbara@liskov.test', firstName: 'Barbara', lastName: 'Liskov', company: 'MIT', jobTitle: null, phone: null, country: 'US',
    employees: 12000, segment: 'enterprise', ownerId: 'rep-inside', status: 'new', source: 'Partner list', importId: 'imp-2024-06-partner',
  });

  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assertStepsKept(failed, done, ['create[0]', 'dupes[0]']);
  assert.equal(done.steps.report!.status, 'completed');
  const mails = await hub.smtp.waitForMessages(mailsBefore + 1, 30_000);
  const reports = mails.filter((m) => m.subject === 'Data-quality report for import imp-2024-06-partner: 1 row skipped, 0 to check');
  assert.equal(reports.length, 1, 'one report');
  assert.deepEqual(reports[0]!.to, ['data-quality@acme.test']);
  assert.match(reports[0]!.text ?? '', /- row 2, not-an-address: email "not-an-address" is not a valid address/);
  await sleep(1500);
  assert.equal(hub.smtp.messages.filter((m) => m.subject?.includes('imp-2024-06-partner')).length, 1);
  assert.equal((await byEmail('barbara@liskov.test')).length, 1, 'one Barbara');
});

/**
 * Use case 1, web form submission (examples/01-web-form.json), with every service a
 * process: a form POST → the person found and updated, or created → a follow-up task
 * → an email to the sales team. The variant: the mail server refuses the email; the
 * run fails with the server's reply, and a retry sends it without repeating a step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { postForm } from '../../emulators/web-form.ts';

let hub: E2EHub;
let workflowId: string;
let hookUrl: string;
before(async () => {
  hub = await startE2EHub('uc01');
  ({ workflowId, hookUrl } = await hub.importExample('01-web-form.json', { SALES_TEAM_EMAIL: 'sales-team@acme.test', SALES_REP_ID: 'rep-42' }) as { workflowId: string; hookUrl: string });
});
after(async () => { await hub?.close(); });

test('a new person: created, a task for the rep, an email to the sales team', async () => {
  const delivery = await postForm(hookUrl, { email: 'ada@lovelace.test', name: 'Ada Lovelace', company: 'Analytical Engines', message: 'We need a demo' });
  assert.equal(delivery.status, 202);
  const [run] = await hub.endedRuns(workflowId, 1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  assert.deepEqual(run!.steps.upsert!.output, { branch: 'else' });
  assert.deepEqual(run!.steps.person!.output, { result: { id: (run!.steps.create!.output as { record: { id: string } }).record.id, isNew: true } });

  const people = await eventually('person created', async () => { const p = (await hub.records('people')).filter((r) => r.fields.email === 'ada@lovelace.test'); return p.length ? p : null; });
  assert.equal(people.length, 1);
  assert.deepEqual({ ...people[0]!.fields }, { email: 'ada@lovelace.test', name: 'Ada Lovelace', company: 'Analytical Engines', lastFormMessage: 'We need a demo', source: 'web form' });
  const tasks = await eventually('task created', async () => { const t = await hub.records('tasks'); return t.length ? t : null; });
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.fields.personId, people[0]!.recordId);
  assert.equal(tasks[0]!.fields.assignee, 'rep-42');
  assert.equal(tasks[0]!.fields.title, 'Follow up with Ada Lovelace (Analytical Engines)');

  const [mail] = await hub.smtp.waitForMessages(1, 30_000);
  assert.deepEqual(mail!.to, ['sales-team@acme.test']);
  assert.equal(mail!.subject, 'New web form lead: Ada Lovelace');
  assert.match(mail!.text ?? '', /Ada Lovelace <ada@lovelace\.test> from Analytical Engines wrote:\n\nWe need a demo/);
  assert.match(mail!.text ?? '', new RegExp(`Follow-up task ${tasks[0]!.recordId} is assigned to rep-42`));
  assert.equal((run!.steps.notify!.output as { messageId: string }).messageId.length > 0, true);
});

test('a known person: updated, not created again', async () => {
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-grace', record: { email: 'grace@hopper.test', name: 'G. Hopper' } }]);
  await eventually('person projected', () => hub.record('people', 'p-grace'));
  await postForm(hookUrl, { email: 'grace@hopper.test', name: 'Grace Hopper', company: 'Navy', message: 'Pricing?' });
  const runs = await hub.endedRuns(workflowId, 2);
  const run = runs[1]!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(run.steps.upsert!.output, { branch: 0 });
  assert.equal(run.steps.create, undefined);
  const grace = await eventually('person updated', async () => { const r = await hub.record('people', 'p-grace'); return r?.fields.name === 'Grace Hopper' ? r : null; });
  assert.equal(grace.fields.lastFormMessage, 'Pricing?');
  assert.equal((await hub.records('people')).filter((r) => r.fields.email === 'grace@hopper.test').length, 1);
  const tasks = await eventually('task for grace', async () => { const t = (await hub.records('tasks')).filter((r) => r.fields.personId === 'p-grace'); return t.length ? t : null; });
  assert.equal(tasks.length, 1);
});

test('variant: the mail server refuses; the run fails with its reply; a retry sends the email without repeating a step', async () => {
  hub.smtp.failNext(1, { code: 550, message: 'Mailbox unavailable: sales-team quota exceeded' });
  const before = hub.smtp.messages.length;
  await postForm(hookUrl, { email: 'alan@turing.test', name: 'Alan Turing', company: 'Bletchley', message: 'Hello' });
  const failed = (await hub.endedRuns(workflowId, 3))[2]!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'notify');
  assert.match(failed.error!.message, /quota exceeded/);

  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assertStepsKept(failed, done, ['create', 'task']);
  const mails = await hub.smtp.waitForMessages(before + 1, 30_000);
  assert.equal(mails.filter((m) => m.subject === 'New web form lead: Alan Turing').length, 1, 'one email');
  assert.equal((await hub.records('people')).filter((r) => r.fields.email === 'alan@turing.test').length, 1);
  assert.equal((await hub.records('tasks')).filter((r) => String(r.fields.title).includes('Alan Turing')).length, 1);
});

test('the example imports with one command: npm run hub -- workflow import … --activate', async () => {
  const { execFile } = await import('node:child_process');
  const run = (args: string[], env: Record<string, string>) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/hub.ts', ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
  const ok = await run(['workflow', 'import', 'examples/01-web-form.json', '--var', 'SALES_TEAM_EMAIL=cli@acme.test', '--activate', '--json'], { HUB_URL: hub.url, HUB_API_KEY: hub.apiKey });
  assert.equal(ok.code, 0, ok.stderr);
  const imported = JSON.parse(ok.stdout) as { workflowId: string; status: string; activeVersion: number; hook: { url: string } };
  assert.equal(imported.status, 'active');
  assert.equal(imported.activeVersion, 1);
  assert.match(imported.hook.url, /\/hooks\/hk_/);
  const stored = await hub.api('GET', `/v1/workflows/${imported.workflowId}`);
  assert.deepEqual((stored.body as { versions: { definition: { steps: { id: string; input: { to?: string[] } }[] } }[] }).versions[0]!.definition.steps.find((s) => s.id === 'notify')!.input.to, ['cli@acme.test']);
  const noKey = await run(['workflow', 'import', 'examples/01-web-form.json'], { HUB_URL: hub.url, HUB_API_KEY: '' });
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /set HUB_API_KEY/);
  const badVar = await run(['workflow', 'import', 'examples/01-web-form.json', '--var', 'NOPE'], { HUB_URL: hub.url, HUB_API_KEY: hub.apiKey });
  assert.equal(badVar.code, 1);
  assert.match(badVar.stderr, /expected --var NAME=value/);
});

/**
 * Use case 7, lead scoring (examples/07-lead-scoring.json), with every service a
 * process and the scoring tool emulated (MadKudu API v1): a person updated → a person
 * with a business email domain is scored by the scoring tool (HTTP), one with a personal
 * address by the workflow's internal logic (code: company size, industry, seniority,
 * behaviour) → the score is written on the person → a lead crossing the threshold gets
 * a task and an email to its owner, once. The workflow's own score writes trigger
 * nothing. The variant: the scoring tool is down (503) beyond the step's attempts; the
 * run fails with its answer, and a retry scores the lead without repeating a step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startScoringEmulator, type ScoringEmulator, type PersonInput } from '../../emulators/scoring.ts';
import type { Run } from '../../../libs/store/runs.ts';

let hub: E2EHub;
let scoring: ScoringEmulator;
let workflowId: string;

before(async () => {
  scoring = await startScoringEmulator({ apiKey: 'mk_live_7c1e0a9b44d2' });
  hub = await startE2EHub('uc07');
  await hub.credential({ name: 'scoring-api', type: 'header', header: 'Authorization', value: `Basic ${Buffer.from(`${scoring.apiKey}:`).toString('base64')}` });
  ({ workflowId } = await hub.importExample('07-lead-scoring.json', {
    SCORING_API_URL: scoring.url, HOT_LEAD_THRESHOLD: '70', DEFAULT_REP_ID: 'rep-inbound', DEFAULT_REP_EMAIL: 'inbound-sales@ourco.test',
  }));
});
after(async () => {
  await hub?.close();
  await scoring?.close();
});

type Fields = Record<string, unknown>;

/** A person as it was, then the update the CRM reports (the record after, the fields that changed). */
async function update(recordId: string, was: Fields, changes: Fields): Promise<void> {
  await hub.sendRecords([{ type: 'record.updated', object: 'people', recordId, before: was, record: { ...was, ...changes }, updatedFields: Object.keys(changes) }]);
}

const endedRunsOf = async (recordId: string, count: number): Promise<Run[]> => eventually(`${count} run(s) for ${recordId}`, async () => {
  const runs = (await hub.runsOf(workflowId)).filter((r) => (r.trigger as { recordId: string }).recordId === recordId && ['completed', 'failed', 'cancelled'].includes(r.status));
  return runs.length >= count ? runs.sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime()) : null;
}, 90_000, 200);

const scored = (recordId: string, score: number) => eventually(`${recordId} scored ${score}`, async () => {
  const r = await hub.record('people', recordId);
  return r?.fields.leadScore === score ? r : null;
}, 90_000);

const tasksOf = async (personId: string) => (await hub.records('tasks')).filter((t) => t.fields.personId === personId);
const toolCallsFor = (email: string) => scoring.received.filter((r) => r.path === '/v1/persons' && (r.body as { email?: string } | undefined)?.email === email);
const result = (run: Run, step: string) => (run.steps[step]!.output as { result: Fields }).result;

const priya = {
  email: 'Priya.Raman@northwind-capital.test', firstName: 'Priya', lastName: 'Raman', title: 'VP Engineering', companyName: 'Northwind Capital',
  employees: 1200, industry: 'Financial Services', pageviews30d: 8, requestedDemo: false, signedUp: false, emailsOpened30d: 1, ownerId: 'rep-5', ownerEmail: 'dana.rep@ourco.test',
};

test('a business domain: scored by the scoring tool; a hot lead gets a task and an email to its owner', async () => {
  await update('p-priya', priya, { pageviews30d: 24, requestedDemo: true, emailsOpened30d: 4 });
  const [run] = await endedRunsOf('p-priya', 1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  assert.deepEqual(run!.steps.route!.output, { branch: 0 });
  assert.equal(run!.steps.internalScore, undefined);
  assert.deepEqual(run!.steps.alert!.output, { branch: 0 });

  // What the scoring tool received: the CRM's firmographics and behaviour, Basic auth with the key and an empty password.
  const expectedRequest: PersonInput = {
    email: 'priya.raman@northwind-capital.test', first_name: 'Priya', last_name: 'Raman', title: 'VP Engineering',
    company: { name: 'Northwind Capital', domain: 'northwind-capital.test', employees: 1200, industry: 'Financial Services' },
    traits: { pageviews_30d: 24, requested_demo: true, signed_up: false, emails_opened_30d: 4 },
  };
  const calls = toolCallsFor('priya.raman@northwind-capital.test');
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.method, 'POST');
  assert.equal(calls[0]!.status, 200);
  assert.equal(calls[0]!.headers.authorization, `Basic ${Buffer.from('mk_live_7c1e0a9b44d2:').toString('base64')}`);
  assert.deepEqual(calls[0]!.body, expectedRequest);
  const answer = scoring.score(expectedRequest);
  assert.deepEqual([answer.properties.customer_fit.score, answer.properties.likelihood_to_buy.score], [80, 85]);

  assert.deepEqual(result(run!, 'score'), {
    score: 82, fit: 80, behaviour: 85, segment: 'good', source: 'scoring tool', hot: true,
    signals: '+ employee count: 1200; + industry: Financial Services; + seniority: VP Engineering; + requested demo: true; + pageviews (30d): 24',
  });
  const person = await scored('p-priya', 82);
  assert.deepEqual({ ...person.fields }, {
    ...priya, pageviews30d: 24, requestedDemo: true, emailsOpened30d: 4,
    leadScore: 82, leadSegment: 'good', fitScore: 80, behaviourScore: 85, scoreSource: 'scoring tool',
    scoreSignals: '+ employee count: 1200; + industry: Financial Services; + seniority: VP Engineering; + requested demo: true; + pageviews (30d): 24',
    scoredAt: (run!.trigger as { occurredAt: string }).occurredAt,
  });

  const tasks = await eventually('task', async () => { const t = await tasksOf('p-priya'); return t.length ? t : null; }, 90_000);
  assert.equal(tasks.length, 1);
  assert.deepEqual({ ...tasks[0]!.fields }, {
    title: 'Hot lead: call Priya Raman (Northwind Capital), score 82',
    description: 'Lead score 82/100 (good; fit 80, behaviour 85, by the scoring tool). Signals: + employee count: 1200; + industry: Financial Services; + seniority: VP Engineering; + requested demo: true; + pageviews (30d): 24',
    personId: 'p-priya', assignee: 'rep-5', priority: 'high', status: 'open', source: 'lead scoring',
  });
  const mail = await eventually('alert email', async () => hub.smtp.messages.find((m) => m.subject.includes('Priya Raman')) ?? null, 90_000);
  assert.deepEqual(mail.to, ['dana.rep@ourco.test']);
  assert.equal(mail.subject, 'Hot lead: Priya Raman (Northwind Capital) scored 82/100');
  assert.equal(mail.text.trim(), [
    'Priya Raman <priya.raman@northwind-capital.test> from Northwind Capital now scores 82/100 (good): fit 80, behaviour 85, by the scoring tool.',
    '',
    'Signals: + employee count: 1200; + industry: Financial Services; + seniority: VP Engineering; + requested demo: true; + pageviews (30d): 24',
    '',
    `Task ${tasks[0]!.recordId} is assigned to you.`,
  ].join('\n'));
});

test('personal addresses: scored by the internal logic, never sent to the tool; a hot lead is alerted once, a cold one not at all; score writes trigger nothing', async () => {
  const jo = { email: 'jo.bloggs@gmail.com', firstName: 'Jo', lastName: 'Bloggs', title: 'Store Manager', companyName: 'Bloggs Bakery', employees: 30, industry: 'Retail', pageviews30d: 2 };
  const sam = { email: 'sam.founder@proton.me', firstName: 'Sam', lastName: 'Okafor', title: 'Founder', companyName: 'Okafor Analytics', employees: 250, industry: 'SaaS', pageviews30d: 30, requestedDemo: false, signedUp: true, emailsOpened30d: 5 };
  await update('p-jo', jo, { pageviews30d: 6 });
  await update('p-sam', sam, { requestedDemo: true });
  const [joRun] = await endedRunsOf('p-jo', 1);
  const [samRun] = await endedRunsOf('p-sam', 1);
  for (const run of [joRun!, samRun!]) {
    assert.equal(run.status, 'completed', JSON.stringify(run.error));
    assert.deepEqual(run.steps.route!.output, { branch: 'else' });
    assert.equal(run.steps.scoringTool, undefined);
  }
  assert.deepEqual(result(joRun!, 'internalScore'), { fit: 23, behaviour: 15, signals: [] });
  assert.deepEqual(result(joRun!, 'score'), { score: 20, fit: 23, behaviour: 15, segment: 'low', source: 'internal', signals: 'none', hot: false });
  assert.deepEqual(joRun!.steps.alert!.output, { branch: 'else' });
  assert.equal(joRun!.steps.task, undefined);
  assert.deepEqual(result(samRun!, 'score'), {
    score: 82, fit: 70, behaviour: 100, segment: 'good', source: 'internal', hot: true,
    signals: '+ company size: 250; + industry: SaaS; + seniority: Founder; + requested demo; + page views (30d): 30; + signed up',
  });
  assert.deepEqual(toolCallsFor('jo.bloggs@gmail.com'), []);
  assert.deepEqual(toolCallsFor('sam.founder@proton.me'), []);

  const joScored = await scored('p-jo', 20);
  assert.deepEqual([joScored.fields.leadSegment, joScored.fields.scoreSource, joScored.fields.scoreSignals], ['low', 'internal', 'none']);
  const samScored = await scored('p-sam', 82);
  const samTasks = await eventually('task for sam', async () => { const t = await tasksOf('p-sam'); return t.length ? t : null; }, 90_000);
  assert.equal(samTasks.length, 1);
  assert.equal(samTasks[0]!.fields.assignee, 'rep-inbound', 'no owner: the default rep');
  const samMail = await eventually('alert for sam', async () => hub.smtp.messages.find((m) => m.subject.includes('Sam Okafor')) ?? null, 90_000);
  assert.deepEqual(samMail.to, ['inbound-sales@ourco.test']);
  assert.equal(samMail.subject, 'Hot lead: Sam Okafor (Okafor Analytics) scored 82/100');

  // Sam opens more emails: scored again, still hot, but already above the threshold: no second alert.
  await update('p-sam', { ...samScored.fields }, { emailsOpened30d: 7 });
  const samRuns = await endedRunsOf('p-sam', 2);
  assert.equal(samRuns[1]!.status, 'completed', JSON.stringify(samRuns[1]!.error));
  assert.deepEqual(result(samRuns[1]!, 'score'), { ...result(samRun!, 'score'), hot: false });
  assert.equal(result(samRuns[1]!, 'profile').previousScore, 82);
  assert.deepEqual(samRuns[1]!.steps.alert!.output, { branch: 'else' });
  await eventually('second score written', async () => (await hub.record('people', 'p-sam'))?.fields.emailsOpened30d === 7, 90_000);
  assert.equal((await tasksOf('p-sam')).length, 1);
  assert.equal(hub.smtp.messages.filter((m) => m.subject.includes('Sam Okafor')).length, 1);

  // The workflow's own updates (leadScore, …) are not trigger fields: one run per CRM update.
  assert.equal((await hub.runsOf(workflowId)).filter((r) => (r.trigger as { recordId: string }).recordId === 'p-jo').length, 1);
  assert.equal((await hub.runsOf(workflowId)).filter((r) => (r.trigger as { recordId: string }).recordId === 'p-sam').length, 2);
});

test('variant: the scoring tool answers 503 beyond the step\'s attempts; the run fails with its answer; a retry scores the lead without repeating a step', async () => {
  const lin = {
    email: 'lin.chen@helios-software.test', firstName: 'Lin', lastName: 'Chen', title: 'Director of IT', companyName: 'Helios Software', employees: 450, industry: 'Software',
    pageviews30d: 12, requestedDemo: false, signedUp: true, emailsOpened30d: 0, ownerId: 'rep-9', ownerEmail: 'sam.rep@ourco.test',
  };
  scoring.failNext(3, { status: 503 }, '/v1/persons');
  const mailsBefore = hub.smtp.messages.length;
  await update('p-lin', lin, { requestedDemo: true });
  const [failed] = await endedRunsOf('p-lin', 1);
  assert.equal(failed!.status, 'failed');
  assert.equal(failed!.error?.stepKey, 'scoringTool');
  assert.equal(failed!.error?.code, 'HTTP_STATUS');
  assert.match(failed!.error!.message, /answered 503 after 3 attempts/);
  assert.match(failed!.error!.message, /Service Unavailable/);
  assert.equal(failed!.steps.update, undefined);
  assert.deepEqual(toolCallsFor('lin.chen@helios-software.test').map((r) => [r.status, r.injected]), [[503, true], [503, true], [503, true]]);

  const done = await hub.retryRun(failed!.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assertStepsKept(failed!, done, ['profile', 'route']);
  assert.deepEqual(toolCallsFor('lin.chen@helios-software.test').map((r) => r.status), [503, 503, 503, 200]);
  assert.deepEqual(result(done, 'score'), {
    score: 72, fit: 70, behaviour: 75, segment: 'good', source: 'scoring tool', hot: true,
    signals: '+ employee count: 450; + industry: Software; + seniority: Director of IT; + requested demo: true; + signed up: true',
  });
  await scored('p-lin', 72);
  const tasks = await eventually('task for lin', async () => { const t = await tasksOf('p-lin'); return t.length ? t : null; }, 90_000);
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.fields.assignee, 'rep-9');
  await hub.smtp.waitForMessages(mailsBefore + 1, 90_000);
  const mails = hub.smtp.messages.filter((m) => m.subject.includes('Lin Chen'));
  assert.equal(mails.length, 1);
  assert.deepEqual(mails[0]!.to, ['sam.rep@ourco.test']);
  assert.equal(mails[0]!.subject, 'Hot lead: Lin Chen (Helios Software) scored 72/100');
});

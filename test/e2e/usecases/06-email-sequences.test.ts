/**
 * Use case 6, email sequence triggers (examples/06-email-sequences.json), with every
 * service a process and the sequence tool emulated (Outreach API v2): a person created
 * who matches the criteria → code picks the sequence → the prospect is created and
 * enrolled (sequenceState) → the person is updated → a monitoring task. People who do
 * not match (a customer, an opted-out lead, no email) start no run. Variants: the tool
 * rate-limits the enrolment (429 + Retry-After, absorbed by the step's retries, same
 * Idempotency-Key); the sequence is disabled (422), the run fails with the tool's words,
 * and once it is enabled a retry enrols the prospect without creating it again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startSequencesEmulator, type SequencesEmulator } from '../../emulators/sequences.ts';
import { effectId } from '../../../libs/contracts/run.ts';
import type { Run } from '../../../libs/store/runs.ts';

let hub: E2EHub;
let outreach: SequencesEmulator;
let workflowId: string;

before(async () => {
  outreach = await startSequencesEmulator({ token: 'outreach-oauth-token-6f1c2b' });
  hub = await startE2EHub('uc06');
  await hub.credential({ name: 'sequences-api', type: 'bearer', token: outreach.token });
  ({ workflowId } = await hub.importExample('06-email-sequences.json', {
    SEQUENCES_API_URL: outreach.url, DEFAULT_OWNER_ID: 'rep-7', MONITOR_AFTER_DAYS: '7',
  }));
});
after(async () => {
  await hub?.close();
  await outreach?.close();
});

const runFor = async (recordId: string): Promise<Run> => {
  const run = await eventually(`the run for ${recordId}`, async () => {
    const runs = (await hub.runsOf(workflowId)).filter((r) => (r.trigger as { recordId: string }).recordId === recordId);
    return runs.find((r) => ['completed', 'failed', 'cancelled'].includes(r.status)) ?? null;
  }, 90_000, 200);
  return run;
};

const requests = (path: string) => outreach.received.filter((r) => r.method === 'POST' && r.path === path);
const plusDays = (iso: string, days: number) => new Date(Date.parse(iso) + days * 86_400_000).toISOString().slice(0, 10);

test('a trial user: enrolled in Trial Onboarding, the person updated, a monitoring task for the owner', async () => {
  await hub.sendRecords([{
    type: 'record.created', object: 'people', recordId: 'p-marie',
    record: { email: 'Marie.Curie@Radium.test', firstName: 'Marie', lastName: 'Curie', title: 'Head of Research', companyName: 'Radium Labs', employees: 40, lifecycleStage: 'trial', leadSource: 'product signup', ownerId: 'rep-12' },
  }]);
  const run = await runFor('p-marie');
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(Object.values(run.steps).map((s) => [s.id, s.status, s.attempts]), [
    ['pick', 'completed', 1], ['prospect', 'completed', 1], ['enrol', 'completed', 1], ['update', 'completed', 1], ['task', 'completed', 1],
  ]);
  const occurredAt = (run.trigger as { occurredAt: string }).occurredAt;
  assert.deepEqual((run.steps.pick!.output as { result: unknown }).result, {
    sequence: { key: 'trial', id: 3, name: 'Trial Onboarding' },
    mailboxId: 1,
    reason: 'started a product trial',
    fullName: 'Marie Curie',
    ownerId: 'rep-12',
    monitorDue: plusDays(occurredAt, 7),
    prospect: { data: { type: 'prospect', attributes: {
      emails: ['marie.curie@radium.test'], tags: ['crm-hub', 'trial'], custom1: 'p-marie',
      firstName: 'Marie', lastName: 'Curie', title: 'Head of Research', company: 'Radium Labs', source: 'product signup',
    } } },
  });

  // What the sequence tool received: the prospect, then its sequenceState, with the token and the step's idempotency key.
  const [createProspect] = requests('/api/v2/prospects');
  assert.equal(requests('/api/v2/prospects').length, 1);
  assert.equal(createProspect!.status, 201);
  assert.equal(createProspect!.headers.authorization, 'Bearer outreach-oauth-token-6f1c2b');
  assert.equal(createProspect!.headers['content-type'], 'application/vnd.api+json');
  assert.equal(createProspect!.headers['idempotency-key'], effectId(run.runId, 'prospect'));
  assert.deepEqual(createProspect!.body, (run.steps.pick!.output as { result: { prospect: unknown } }).result.prospect);
  const [enrol] = requests('/api/v2/sequenceStates');
  assert.equal(requests('/api/v2/sequenceStates').length, 1);
  assert.equal(enrol!.status, 201);
  assert.equal(enrol!.headers.authorization, 'Bearer outreach-oauth-token-6f1c2b');
  assert.deepEqual(enrol!.body, { data: { type: 'sequenceState', relationships: {
    prospect: { data: { type: 'prospect', id: 1 } },
    sequence: { data: { type: 'sequence', id: 3 } },
    mailbox: { data: { type: 'mailbox', id: 1 } },
  } } });

  // The tool's state: one prospect, active in sequence 3 from mailbox 1.
  assert.equal(outreach.prospects.size, 1);
  assert.deepEqual(outreach.prospects.get(1)!.attributes.emails, ['marie.curie@radium.test']);
  const states = [...outreach.sequenceStates.values()];
  assert.deepEqual(states.map((s) => [s.prospectId, s.sequenceId, s.mailboxId, s.state]), [[1, 3, 1, 'active']]);

  const marie = await eventually('person updated', async () => {
    const r = await hub.record('people', 'p-marie');
    return r?.fields.sequenceStateId !== undefined ? r : null;
  }, 90_000);
  assert.deepEqual({ ...marie.fields }, {
    email: 'Marie.Curie@Radium.test', firstName: 'Marie', lastName: 'Curie', title: 'Head of Research', companyName: 'Radium Labs', employees: 40,
    lifecycleStage: 'trial', leadSource: 'product signup', ownerId: 'rep-12',
    sequenceProspectId: 1, sequenceStateId: states[0]!.id, sequenceName: 'Trial Onboarding', sequenceStatus: 'active', sequenceEnrolledAt: states[0]!.createdAt,
  });

  const tasks = await eventually('monitoring task', async () => {
    const t = (await hub.records('tasks')).filter((r) => r.fields.personId === 'p-marie');
    return t.length ? t : null;
  }, 90_000);
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.recordId, (run.steps.task!.output as { record: { id: string } }).record.id);
  assert.deepEqual({ ...tasks[0]!.fields }, {
    title: 'Monitor the Trial Onboarding sequence for Marie Curie',
    description: `Marie Curie was enrolled because: started a product trial. Check opens, replies and bounces (sequence state ${states[0]!.id}).`,
    personId: 'p-marie', assignee: 'rep-12', dueDate: plusDays(occurredAt, 7), status: 'open', source: 'email sequences',
  });
});

test('an enterprise lead and a webinar lead get their sequences; a customer, an opted-out lead and a person without email start no run', async () => {
  await hub.sendRecords([
    { type: 'record.created', object: 'people', recordId: 'p-existing-customer', record: { email: 'buyer@customer.test', firstName: 'Bea', lifecycleStage: 'customer' } },
    { type: 'record.created', object: 'people', recordId: 'p-opted-out', record: { email: 'no-mail@optout.test', firstName: 'Otto', lifecycleStage: 'lead', doNotEmail: true } },
    { type: 'record.created', object: 'people', recordId: 'p-no-email', record: { firstName: 'Nemo', lifecycleStage: 'lead' } },
  ]);
  await hub.sendRecords([
    { type: 'record.created', object: 'people', recordId: 'p-grace', record: { email: 'grace@navy.test', firstName: 'Grace', lastName: 'Hopper', companyName: 'US Navy', employees: 250000, lifecycleStage: 'lead', leadSource: 'outbound' } },
    { type: 'record.created', object: 'people', recordId: 'p-alan', record: { email: 'alan@bletchley.test', firstName: 'Alan', lastName: 'Turing', companyName: 'Bletchley Park', employees: 120, lifecycleStage: 'lead', leadSource: 'webinar' } },
  ]);
  const grace = await runFor('p-grace');
  const alan = await runFor('p-alan');
  assert.equal(grace.status, 'completed', JSON.stringify(grace.error));
  assert.equal(alan.status, 'completed', JSON.stringify(alan.error));
  const pick = (r: Run) => (r.steps.pick!.output as { result: { sequence: unknown; reason: string; ownerId: string } }).result;
  assert.deepEqual([pick(grace).sequence, pick(grace).reason, pick(grace).ownerId], [{ key: 'enterprise', id: 2, name: 'Enterprise Outbound' }, 'enterprise account (250000 employees)', 'rep-7']);
  assert.deepEqual([pick(alan).sequence, pick(alan).reason], [{ key: 'nurture', id: 1, name: 'Inbound Lead Nurture' }, 'inbound lead from webinar']);

  const prospectOf = (email: string) => [...outreach.prospects.values()].find((p) => (p.attributes.emails as string[]).includes(email));
  const graceProspect = prospectOf('grace@navy.test')!;
  const alanProspect = prospectOf('alan@bletchley.test')!;
  assert.deepEqual(graceProspect.attributes.tags, ['crm-hub', 'enterprise']);
  const stateOf = (prospectId: number) => [...outreach.sequenceStates.values()].filter((s) => s.prospectId === prospectId).map((s) => [s.sequenceId, s.state]);
  assert.deepEqual(stateOf(graceProspect.id), [[2, 'active']]);
  assert.deepEqual(stateOf(alanProspect.id), [[1, 'active']]);
  const graceTask = await eventually('task for grace', async () => (await hub.records('tasks')).find((r) => r.fields.personId === 'p-grace') ?? null, 90_000);
  assert.equal(graceTask.fields.title, 'Monitor the Enterprise Outbound sequence for Grace Hopper');
  assert.equal(graceTask.fields.assignee, 'rep-7', 'no owner on the person: the default owner');

  // The three people that do not match were projected (sent before), and never started a run.
  for (const id of ['p-existing-customer', 'p-opted-out', 'p-no-email']) await eventually(`${id} projected`, () => hub.record('people', id), 90_000);
  const started = (await hub.runsOf(workflowId)).map((r) => (r.trigger as { recordId: string }).recordId);
  for (const id of ['p-existing-customer', 'p-opted-out', 'p-no-email']) assert.ok(!started.includes(id), `${id} started a run`);
  assert.equal(prospectOf('buyer@customer.test'), undefined);
  assert.equal(prospectOf('no-mail@optout.test'), undefined);
});

test('variant: the sequence tool rate-limits the enrolment; the step waits out Retry-After and enrols once', async () => {
  outreach.failNext(1, { status: 429, retryAfterSeconds: 1 }, '/api/v2/sequenceStates');
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-ada', record: { email: 'ada@engines.test', firstName: 'Ada', lastName: 'Lovelace', lifecycleStage: 'trial' } }]);
  const run = await runFor('p-ada');
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  const prospectId = (run.steps.prospect!.output as { body: { data: { id: number } } }).body.data.id;
  const tries = requests('/api/v2/sequenceStates').filter((r) => (r.body as { data: { relationships: { prospect: { data: { id: number } } } } }).data.relationships.prospect.data.id === prospectId);
  assert.deepEqual(tries.map((r) => [r.status, r.injected]), [[429, true], [201, false]]);
  assert.equal(tries[1]!.at - tries[0]!.at >= 900, true, 'Retry-After: 1 was honoured');
  assert.equal(tries[0]!.headers['idempotency-key'], tries[1]!.headers['idempotency-key']);
  assert.equal(tries[0]!.headers['idempotency-key'], effectId(run.runId, 'enrol'));
  assert.deepEqual([...outreach.sequenceStates.values()].filter((s) => s.prospectId === prospectId).map((s) => [s.sequenceId, s.state]), [[3, 'active']]);
  const ada = await eventually('ada updated', async () => {
    const r = await hub.record('people', 'p-ada');
    return r?.fields.sequenceStatus === 'active' ? r : null;
  }, 90_000);
  assert.equal(ada.fields.sequenceName, 'Trial Onboarding');
});

test('variant: the sequence is disabled (422); the run fails with the tool\'s reason; once enabled, a retry enrols without creating the prospect again', async () => {
  const trial = outreach.sequences.find((s) => s.id === 3)!;
  trial.enabled = false;
  const prospectsBefore = outreach.prospects.size;
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p-hedy', record: { email: 'hedy@lamarr.test', firstName: 'Hedy', lastName: 'Lamarr', lifecycleStage: 'trial', ownerId: 'rep-3' } }]);
  const failed = await runFor('p-hedy');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'enrol');
  assert.equal(failed.error?.code, 'HTTP_STATUS');
  assert.match(failed.error!.message, /answered 422/);
  assert.match(failed.error!.message, /Sequence is not enabled; enable it before adding prospects\./);
  assert.equal(failed.steps.update, undefined);
  assert.equal(failed.steps.task, undefined);
  assert.equal(outreach.prospects.size, prospectsBefore + 1);

  trial.enabled = true;
  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assertStepsKept(failed, done, ['prospect', 'pick']);
  assert.equal(outreach.prospects.size, prospectsBefore + 1, 'no second prospect');
  const hedyProspect = (done.steps.prospect!.output as { body: { data: { id: number } } }).body.data.id;
  const attempts = requests('/api/v2/sequenceStates').filter((r) => (r.body as { data: { relationships: { prospect: { data: { id: number } } } } }).data.relationships.prospect.data.id === hedyProspect);
  assert.deepEqual(attempts.map((r) => r.status), [422, 201]);
  // The key stays the same across retries of the run (an API that saved a lost answer replays it).
  assert.equal(attempts[1]!.headers['idempotency-key'], attempts[0]!.headers['idempotency-key']);
  assert.equal(attempts[1]!.headers['idempotency-key'], effectId(failed.runId, 'enrol'));
  assert.deepEqual([...outreach.sequenceStates.values()].filter((s) => s.prospectId === hedyProspect).map((s) => [s.sequenceId, s.state]), [[3, 'active']]);
  const tasks = await eventually('task for hedy', async () => {
    const t = (await hub.records('tasks')).filter((r) => r.fields.personId === 'p-hedy');
    return t.length ? t : null;
  }, 90_000);
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.fields.assignee, 'rep-3');
});

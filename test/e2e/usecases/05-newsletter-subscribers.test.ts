/**
 * Use case 5, newsletter subscribers (examples/05-newsletter-subscribers.json), with
 * every service a process: a manual run without a record → the people of the newsletter
 * audience (search criteria) → a code step formats them as list members → one batch
 * subscribe request to the email marketing emulator (Mailchimp) → a campaign-tracking
 * record → a confirmation email. The variant: Mailchimp subscribes the batch but its
 * answers are lost (502 after processing) past the step's attempts; the run fails with
 * the HTTP_STATUS error; a retry re-sends the batch, which update_existing makes
 * harmless: one member per address, one campaign record, one confirmation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startEmailMarketingEmulator, type EmailMarketingEmulator } from '../../emulators/email-marketing.ts';
import type { RecordDocument } from '../../../libs/store/records.ts';

const LIST = 'a1b2c3d4e5';

let hub: E2EHub;
let mailchimp: EmailMarketingEmulator;
let workflowId: string;

const fieldsOf = (r: RecordDocument | null | undefined) => ({ ...r?.fields });
const campaignsNamed = async (name: string) => (await hub.records('campaigns')).filter((c) => c.fields.name === name);
const members = () => [...mailchimp.members.get(LIST)!.values()].sort((a, b) => a.email_address.localeCompare(b.email_address));
const basicAuth = () => `Basic ${Buffer.from(`crm-hub:${mailchimp.apiKey}`).toString('base64')}`;

const MEMBERS = [
  { email_address: 'margaret.hamilton@apollo.test', status: 'subscribed', merge_fields: { FNAME: 'Margaret', LNAME: 'Hamilton', COMPANY: 'MIT Instrumentation Lab' }, tags: ['crm newsletter'] },
  { email_address: 'ada@lovelace.test', status: 'subscribed', merge_fields: { FNAME: 'Ada', LNAME: 'King Lovelace', COMPANY: 'Analytical Engines' }, tags: ['crm newsletter'] },
  { email_address: 'grace@hopper.test', status: 'subscribed', merge_fields: { FNAME: 'Grace', LNAME: 'Hopper', COMPANY: '' }, tags: ['crm newsletter'] },
];
const SKIPPED = [{ id: 'p-katherine', email: 'katherine.johnson@nasa', reason: 'invalid email' }];

async function runNow(campaign: string): Promise<string> {
  const started = await hub.api('POST', `/v1/workflows/${workflowId}/runs`, { input: { campaign } });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const { runIds } = started.body as { runIds: string[] };
  assert.equal(runIds.length, 1);
  return runIds[0]!;
}

before(async () => {
  mailchimp = await startEmailMarketingEmulator();
  hub = await startE2EHub('uc05');
  await hub.credential({ name: 'email-marketing', type: 'basic', username: 'crm-hub', password: mailchimp.apiKey });
  await hub.sendRecords([
    { type: 'record.created', object: 'people', recordId: 'p-ada', record: { email: 'ada@lovelace.test', name: 'Ada King Lovelace', company: 'Analytical Engines', newsletterOptIn: true, lifecycleStage: 'customer' } },
    { type: 'record.created', object: 'people', recordId: 'p-grace', record: { email: 'grace@hopper.test', name: 'Grace Hopper', newsletterOptIn: true, lifecycleStage: 'lead' } },
    { type: 'record.created', object: 'people', recordId: 'p-margaret', record: { email: 'Margaret.Hamilton@Apollo.test', name: 'Margaret Hamilton', company: 'MIT Instrumentation Lab', newsletterOptIn: true, lifecycleStage: 'customer' } },
    { type: 'record.created', object: 'people', recordId: 'p-alan', record: { email: 'alan@turing.test', name: 'Alan Turing', newsletterOptIn: false, lifecycleStage: 'customer' } },
    { type: 'record.created', object: 'people', recordId: 'p-linus', record: { email: 'linus@kernel.test', name: 'Linus Torvalds', newsletterOptIn: true, lifecycleStage: 'churned' } },
    { type: 'record.created', object: 'people', recordId: 'p-katherine', record: { email: 'katherine.johnson@nasa', name: 'Katherine Johnson', newsletterOptIn: true, lifecycleStage: 'lead' } },
    { type: 'record.created', object: 'people', recordId: 'p-dorothy', record: { name: 'Dorothy Vaughan', newsletterOptIn: true, lifecycleStage: 'lead' } },
  ]);
  await eventually('people projected', async () => (await hub.records('people')).length === 7, 90_000);
  ({ workflowId } = await hub.importExample('05-newsletter-subscribers.json', { EMAIL_MARKETING_URL: mailchimp.url, LIST_ID: LIST, MARKETING_TEAM_EMAIL: 'marketing@ourco.test' }));
});
after(async () => {
  await hub?.close();
  await mailchimp?.close();
});

test('a manual run: the audience is batch-subscribed, a campaign record keeps the counts, marketing is told', async () => {
  // Margaret is already on the list, under a nickname: she is updated, not added twice.
  const hash = mailchimp.subscriberHash('margaret.hamilton@apollo.test');
  const put = await fetch(`${mailchimp.url}/3.0/lists/${LIST}/members/${hash}`, {
    method: 'PUT', headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: 'margaret.hamilton@apollo.test', status_if_new: 'subscribed', merge_fields: { FNAME: 'Maggie', LNAME: 'Hamilton' } }),
  });
  assert.equal(put.status, 200);
  const from = mailchimp.received.length;

  const runId = await runNow('Spring 2025 product newsletter');
  const run = await hub.waitForRun(runId);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(run.trigger, { input: { campaign: 'Spring 2025 product newsletter' } });

  // The view's criteria: opted in, lead or customer, with an email (sorted by email as stored).
  const audience = run.steps.audience!.output as { records: { id: string }[]; count: number; total: number };
  assert.deepEqual(audience.records.map((r) => r.id), ['p-margaret', 'p-ada', 'p-grace', 'p-katherine']);
  assert.equal(audience.total, 4);
  assert.deepEqual(run.steps.format!.output, { result: { campaign: 'Spring 2025 product newsletter', members: MEMBERS, count: 3, skipped: SKIPPED } });

  const requests = mailchimp.received.slice(from);
  assert.equal(requests.length, 1, 'one batch request');
  const [batch] = requests;
  assert.equal(batch!.method, 'POST');
  assert.equal(batch!.path, `/3.0/lists/${LIST}`);
  assert.equal(batch!.headers.authorization, basicAuth());
  assert.deepEqual(batch!.body, { members: MEMBERS, update_existing: true });
  assert.equal(batch!.status, 200);
  const answer = (run.steps.subscribe!.output as { body: { total_created: number; total_updated: number; error_count: number } }).body;
  assert.deepEqual([answer.total_created, answer.total_updated, answer.error_count], [2, 1, 0]);

  assert.deepEqual(members().map((m) => [m.email_address, m.status, m.merge_fields, m.tags.map((t) => t.name)]), [
    ['ada@lovelace.test', 'subscribed', { FNAME: 'Ada', LNAME: 'King Lovelace', COMPANY: 'Analytical Engines', PHONE: '' }, ['crm newsletter']],
    ['grace@hopper.test', 'subscribed', { FNAME: 'Grace', LNAME: 'Hopper', COMPANY: '', PHONE: '' }, ['crm newsletter']],
    ['margaret.hamilton@apollo.test', 'subscribed', { FNAME: 'Margaret', LNAME: 'Hamilton', COMPANY: 'MIT Instrumentation Lab', PHONE: '' }, ['crm newsletter']],
  ]);

  const [campaign] = await eventually('campaign record', async () => { const c = await campaignsNamed('Spring 2025 product newsletter'); return c.length ? c : null; }, 90_000);
  assert.equal(campaign!.recordId, (run.steps.campaign!.output as { record: { id: string } }).record.id);
  assert.deepEqual(fieldsOf(campaign), {
    name: 'Spring 2025 product newsletter', channel: 'newsletter', listId: LIST, audienceSize: 3, skipped: SKIPPED,
    subscribed: 3, newSubscribers: 2, updatedSubscribers: 1, refused: [], status: 'audience synced', source: 'newsletter sync',
  });

  const [mail] = await hub.smtp.waitForMessages(1, 90_000);
  assert.deepEqual(mail!.to, ['marketing@ourco.test']);
  assert.equal(mail!.subject, 'Newsletter audience synced: Spring 2025 product newsletter (3 subscribers)');
  assert.equal(mail!.text.trim(), [
    `3 contacts of the newsletter audience were sent to the list ${LIST}:`,
    '- 2 new subscribers',
    '- 1 updated',
    '- 0 refused',
    '1 contact skipped (invalid or duplicate email): katherine.johnson@nasa.',
    '',
    `Campaign record: ${campaign!.recordId}`,
  ].join('\n'));
});

test('variant: the batch is applied but its answers are lost past the step\'s attempts; the run fails; a retry re-sends it without duplicates', async () => {
  mailchimp.reset();
  const mailsBefore = hub.smtp.messages.length;
  mailchimp.failNext(2, { status: 502, afterProcessing: true }, `/3.0/lists/${LIST}`);

  const runId = await runNow('Summer 2025 product newsletter');
  const failed = await hub.waitForRun(runId);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'subscribe');
  assert.equal(failed.error?.code, 'HTTP_STATUS');
  assert.match(failed.error!.message, /^POST 127\.0\.0\.1 answered 502 after 2 attempts: \{"type":"https:\/\/mailchimp\.com\/developer\/marketing\/docs\/errors\/","title":"Internal Server Error","status":502,/);
  assert.deepEqual(failed.steps.subscribe!.error, { code: 'HTTP_STATUS', message: failed.error!.message, retriable: false });
  assert.equal(failed.steps.report, undefined);
  assert.equal(failed.steps.campaign, undefined);
  // Both tries reached Mailchimp, which applied them: the members are there already.
  assert.deepEqual(mailchimp.received.map((r) => [r.path, r.status, r.injected]), [[`/3.0/lists/${LIST}`, 502, true], [`/3.0/lists/${LIST}`, 502, true]]);
  assert.deepEqual(members().map((m) => m.email_address), ['ada@lovelace.test', 'grace@hopper.test', 'margaret.hamilton@apollo.test']);
  assert.deepEqual(await campaignsNamed('Summer 2025 product newsletter'), []);

  const done = await hub.retryRun(runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assert.equal(done.error, null);
  assertStepsKept(failed, done, ['audience', 'format']);

  const resent = mailchimp.received.slice(2);
  assert.equal(resent.length, 1);
  assert.equal(resent[0]!.status, 200);
  assert.deepEqual(resent[0]!.body, { members: MEMBERS, update_existing: true });
  // The same Idempotency-Key every time (Mailchimp ignores it; update_existing is what makes the repeat harmless).
  assert.equal(new Set(mailchimp.received.map((r) => r.headers['idempotency-key'])).size, 1);
  // update_existing: the repeat updates, never duplicates.
  const answer = (done.steps.subscribe!.output as { body: { total_created: number; total_updated: number; error_count: number } }).body;
  assert.deepEqual([answer.total_created, answer.total_updated, answer.error_count], [0, 3, 0]);
  assert.equal(members().length, 3);
  assert.ok(members().every((m) => m.status === 'subscribed'));

  const [campaign] = await eventually('campaign record', async () => { const c = await campaignsNamed('Summer 2025 product newsletter'); return c.length ? c : null; }, 90_000);
  assert.deepEqual(fieldsOf(campaign), {
    name: 'Summer 2025 product newsletter', channel: 'newsletter', listId: LIST, audienceSize: 3, skipped: SKIPPED,
    subscribed: 3, newSubscribers: 0, updatedSubscribers: 3, refused: [], status: 'audience synced', source: 'newsletter sync',
  });
  const mails = await hub.smtp.waitForMessages(mailsBefore + 1, 90_000);
  const confirmations = mails.filter((m) => m.subject.startsWith('Newsletter audience synced: Summer 2025'));
  assert.equal(confirmations.length, 1);
  assert.equal(confirmations[0]!.subject, 'Newsletter audience synced: Summer 2025 product newsletter (3 subscribers)');
  assert.match(confirmations[0]!.text, new RegExp(`- 0 new subscribers\\n- 3 updated\\n- 0 refused\\n[^]*Campaign record: ${campaign!.recordId}`));
  assert.equal((await campaignsNamed('Summer 2025 product newsletter')).length, 1);
});

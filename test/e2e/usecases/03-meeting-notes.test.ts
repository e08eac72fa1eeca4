/**
 * Use case 3, meeting notes from a call recorder (examples/03-meeting-notes.json), with
 * every service a process: the call recorder emulator (Gong) posts a recorded call to the
 * workflow's webhook → when the webhook carries only metadata, the call's details are
 * fetched from the recorder's API → a code step extracts the summary and action items →
 * the opportunity (by the recorder's CRM reference) and the person (first external
 * participant) are looked up → a note → a follow-up task per action item → a recap email
 * to the participants. The variant: the recorder's API answers 503 past the step's
 * attempts; the run fails with the HTTP_STATUS error and nothing is written; a retry
 * fetches again and completes, without deciding the branch again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertStepsKept, startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { sendWebhook } from '../../emulators/base.ts';
import { startCallRecorderEmulator, type CallRecorderEmulator } from '../../emulators/call-recorder.ts';
import type { RecordDocument } from '../../../libs/store/records.ts';

const ACME_CALL = '7782342274025937895';
const GLOBEX_CALL = '7782342274025937896';
const PRICING_CALL = '7782342274025937901';

let hub: E2EHub;
let recorder: CallRecorderEmulator;
let workflowId: string;
let hookUrl: string;

const fieldsOf = (r: RecordDocument | null | undefined) => ({ ...r?.fields });
const notesOf = async (callId: string) => (await hub.records('notes')).filter((n) => n.fields.callId === callId);
const tasksOf = async (callId: string) => (await hub.records('tasks')).filter((t) => t.fields.callId === callId);

/** What a recorder sends when its automation rule shares the call's metadata only. */
function metadataOnly(callId: string) {
  const full = recorder.webhookPayload(callId) as { callData: { metaData: unknown } };
  return sendWebhook(hookUrl, JSON.stringify({ isTest: false, callData: { metaData: full.callData.metaData } }), {
    method: 'POST', contentType: 'application/json', headers: { 'user-agent': 'Gong-Webhooks/1.0' },
  });
}

const EXTENSIVE_BODY = (callId: string) => ({
  filter: { callIds: [callId] },
  contentSelector: { context: 'Extended', exposedFields: { parties: true, content: { brief: true, keyPoints: true, pointsOfInterest: true } } },
});

const acmeNotes = (callId: string, title: string, started: string) => [
  `${title} (${started}, 45 min)`,
  'Participants: Riley Rep <rep@ourco.example>, Sam Engineer <se@ourco.example>, Ada Lovelace <ada@acme.example>, Grace Hopper <grace@acme.example>',
  '',
  'Summary:',
  'Acme wants to replace its in-house sync scripts before Q2. They need SSO and a sandbox; budget is approved for 50 seats.',
  '',
  'Key points:',
  '- Budget approved for 50 seats',
  '- SSO is a hard requirement',
  '- Decision by end of February',
  '',
  'Action items:',
  '- I will send the security questionnaire and SOC 2 report by Friday. (Riley Rep)',
  '- We need a sandbox workspace to test the HubSpot sync next week. (Ada Lovelace)',
  '',
  `Recording: ${recorder.url.replace('http://', 'https://app.')}/call?id=${callId}`,
].join('\n');

const ACME_PARTICIPANTS = ['rep@ourco.example', 'se@ourco.example', 'ada@acme.example', 'grace@acme.example'];

before(async () => {
  recorder = await startCallRecorderEmulator();
  hub = await startE2EHub('uc03');
  await hub.credential({ name: 'call-recorder', type: 'basic', username: recorder.accessKey, password: recorder.accessKeySecret });
  await hub.sendRecords([
    { type: 'record.created', object: 'opportunities', recordId: 'opp-acme', record: { name: 'Acme - Platform', externalId: 'opp_acme_1', stage: 'Discovery', amount: 60_000 } },
    { type: 'record.created', object: 'opportunities', recordId: 'opp-initech', record: { name: 'Initech - Renewal', stage: 'Negotiation', amount: 12_000 } },
    { type: 'record.created', object: 'people', recordId: 'p-ada', record: { email: 'ada@acme.example', name: 'Ada Lovelace', title: 'VP Engineering' } },
    { type: 'record.created', object: 'people', recordId: 'p-hank', record: { email: 'hank@globex.example', name: 'Hank Scorpio', title: 'CEO' } },
  ]);
  await eventually('records projected', async () => (await hub.records('opportunities')).length === 2 && (await hub.records('people')).length === 2, 90_000);
  ({ workflowId, hookUrl } = await hub.importExample('03-meeting-notes.json', { CALL_RECORDER_URL: recorder.url }) as { workflowId: string; hookUrl: string });
});
after(async () => {
  await hub?.close();
  await recorder?.close();
});

test('a full webhook: no fetch; a note on the opportunity and person, a task per action item, a recap to the participants', async () => {
  const delivery = await recorder.notify(hookUrl, ACME_CALL);
  assert.equal(delivery.status, 202);
  const [run] = await hub.endedRuns(workflowId, 1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  assert.deepEqual(run!.steps.details!.output, { branch: 'else' });
  assert.equal(run!.steps.fetch, undefined);
  assert.equal(recorder.received.length, 0, 'the webhook carried everything');

  const title = 'Acme <> OurCo: technical deep dive';
  const started = '2025-01-15T16:00:00-08:00';
  const notes = acmeNotes(ACME_CALL, title, started);
  assert.deepEqual((run!.steps.extract!.output as { result: unknown }).result, {
    callId: ACME_CALL, title, started, minutes: 45, url: `${recorder.url.replace('http://', 'https://app.')}/call?id=${ACME_CALL}`,
    summary: 'Acme wants to replace its in-house sync scripts before Q2. They need SSO and a sandbox; budget is approved for 50 seats.',
    keyPoints: ['Budget approved for 50 seats', 'SSO is a hard requirement', 'Decision by end of February'],
    actionItems: [
      { text: 'I will send the security questionnaire and SOC 2 report by Friday.', saidBy: 'Riley Rep', assignee: 'rep@ourco.example', kind: 'commitment' },
      { text: 'We need a sandbox workspace to test the HubSpot sync next week.', saidBy: 'Ada Lovelace', assignee: 'rep@ourco.example', kind: 'customer request' },
    ],
    opportunityRef: 'opp_acme_1', contactEmail: 'ada@acme.example', participants: ACME_PARTICIPANTS, owner: 'rep@ourco.example', notes,
  });
  assert.deepEqual(run!.steps.links!.output, { result: { opportunityId: 'opp-acme', personId: 'p-ada' } });

  const [note] = await eventually('note created', async () => { const n = await notesOf(ACME_CALL); return n.length ? n : null; }, 90_000);
  assert.deepEqual(fieldsOf(note), {
    title: `Call notes: ${title}`, body: notes,
    summary: 'Acme wants to replace its in-house sync scripts before Q2. They need SSO and a sandbox; budget is approved for 50 seats.',
    callId: ACME_CALL, callUrl: `${recorder.url.replace('http://', 'https://app.')}/call?id=${ACME_CALL}`, callStartedAt: started,
    opportunityId: 'opp-acme', personId: 'p-ada', source: 'call recorder',
  });
  assert.deepEqual(run!.steps.followUps!.output, { count: 2 });
  const tasks = await eventually('two tasks', async () => { const t = await tasksOf(ACME_CALL); return t.length >= 2 ? t : null; }, 90_000);
  assert.equal(tasks.length, 2);
  const common = { status: 'open', noteId: note!.recordId, opportunityId: 'opp-acme', personId: 'p-ada', callId: ACME_CALL, source: 'call recorder' };
  assert.deepEqual(tasks.map(fieldsOf).sort((a, b) => String(a.title).localeCompare(String(b.title))), [
    { title: 'I will send the security questionnaire and SOC 2 report by Friday.', kind: 'commitment', requestedBy: 'Riley Rep', assignee: 'rep@ourco.example', ...common },
    { title: 'We need a sandbox workspace to test the HubSpot sync next week.', kind: 'customer request', requestedBy: 'Ada Lovelace', assignee: 'rep@ourco.example', ...common },
  ]);

  const [mail] = await hub.smtp.waitForMessages(1, 90_000);
  assert.deepEqual(mail!.to, ACME_PARTICIPANTS);
  assert.equal(mail!.subject, `Recap: ${title}`);
  assert.equal(mail!.text?.trim(), `Hello all,\n\nThank you for your time. Here is the recap of our call.\n\n${notes}`);
  assert.deepEqual((run!.steps.recap!.output as { accepted: string[] }).accepted, ACME_PARTICIPANTS);
});

test('a metadata-only webhook: the details are fetched with the stored key; no opportunity, no action item', async () => {
  const delivery = await metadataOnly(GLOBEX_CALL);
  assert.equal(delivery.status, 202);
  const run = (await hub.endedRuns(workflowId, 2))[1]!;
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(run.steps.details!.output, { branch: 0 });

  assert.equal(recorder.received.length, 1);
  const [req] = recorder.received;
  assert.equal(req!.method, 'POST');
  assert.equal(req!.path, '/v2/calls/extensive');
  assert.equal(req!.headers.authorization, recorder.authorization);
  assert.deepEqual(req!.body, EXTENSIVE_BODY(GLOBEX_CALL));
  assert.equal(req!.status, 200);

  const title = 'Globex intro call';
  const notes = [
    `${title} (2025-01-16T09:30:00Z, 25 min)`,
    'Participants: Riley Rep <rep@ourco.example>, Hank Scorpio <hank@globex.example>',
    '',
    'Summary:',
    'Intro call; Globex evaluates in Q3.',
    '',
    'Key points:',
    '- Evaluating in Q3',
    '',
    `Recording: ${recorder.url.replace('http://', 'https://app.')}/call?id=${GLOBEX_CALL}`,
  ].join('\n');
  const extracted = (run.steps.extract!.output as { result: Record<string, unknown> }).result;
  assert.deepEqual(extracted.actionItems, []);
  assert.equal(extracted.opportunityRef, null);
  assert.equal(extracted.notes, notes);
  assert.deepEqual(run.steps.opportunity!.output, { records: [], count: 0, total: 0 }, 'no CRM reference: the opportunity without one is not matched');
  assert.deepEqual(run.steps.links!.output, { result: { opportunityId: null, personId: 'p-hank' } });

  const [note] = await eventually('note created', async () => { const n = await notesOf(GLOBEX_CALL); return n.length ? n : null; }, 90_000);
  assert.deepEqual(fieldsOf(note), {
    title: `Call notes: ${title}`, body: notes, summary: 'Intro call; Globex evaluates in Q3.',
    callId: GLOBEX_CALL, callUrl: `${recorder.url.replace('http://', 'https://app.')}/call?id=${GLOBEX_CALL}`, callStartedAt: '2025-01-16T09:30:00Z',
    opportunityId: null, personId: 'p-hank', source: 'call recorder',
  });
  assert.deepEqual(run.steps.followUps!.output, { count: 0 });
  assert.deepEqual(await tasksOf(GLOBEX_CALL), []);

  const mails = await hub.smtp.waitForMessages(2, 90_000);
  const mail = mails.find((m) => m.subject === `Recap: ${title}`)!;
  assert.deepEqual(mail.to, ['rep@ourco.example', 'hank@globex.example']);
  assert.equal(mail.text?.trim(), `Hello all,\n\nThank you for your time. Here is the recap of our call.\n\n${notes}`);
});

test('variant: the recorder answers 503 past the step\'s attempts; the run fails with HTTP_STATUS, nothing written; a retry completes', async () => {
  recorder.addCall({ id: PRICING_CALL, title: 'Acme <> OurCo: pricing review', started: '2025-01-22T17:00:00Z', duration: 2700 });
  const from = recorder.received.length;
  const mailsBefore = hub.smtp.messages.length;
  recorder.failNext(3, { status: 503 }, '/v2/calls/extensive');

  await metadataOnly(PRICING_CALL);
  const failed = (await hub.endedRuns(workflowId, 3))[2]!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.stepKey, 'fetch');
  assert.equal(failed.error?.code, 'HTTP_STATUS');
  assert.equal(failed.error?.retriable, false);
  assert.match(failed.error!.message, /^POST 127\.0\.0\.1 answered 503 after 3 attempts: \{"requestId":"[a-z0-9]+","errors":\["Internal server error"\]\}$/);
  assert.equal(failed.steps.fetch!.status, 'failed');
  assert.deepEqual(failed.steps.fetch!.error, { code: 'HTTP_STATUS', message: failed.error!.message, retriable: false });
  assert.equal(failed.steps.extract, undefined, 'nothing after the fetch ran');
  const firstTries = recorder.received.slice(from);
  assert.deepEqual(firstTries.map((r) => [r.path, r.status, r.injected]), Array(3).fill(['/v2/calls/extensive', 503, true]));
  assert.equal(new Set(firstTries.map((r) => r.headers['idempotency-key'])).size, 1);
  assert.deepEqual(await notesOf(PRICING_CALL), []);
  assert.deepEqual(await tasksOf(PRICING_CALL), []);

  const done = await hub.retryRun(failed.runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assert.equal(done.error, null);
  assertStepsKept(failed, done, ['details']);
  assert.deepEqual(done.steps.details!.output, { branch: 0 });

  const again = recorder.received.slice(from + 3);
  assert.equal(again.length, 1, 'one more request, answered');
  assert.equal(again[0]!.status, 200);
  assert.equal(again[0]!.headers.authorization, recorder.authorization);
  assert.deepEqual(again[0]!.body, EXTENSIVE_BODY(PRICING_CALL));
  assert.equal(again[0]!.headers['idempotency-key'], firstTries[0]!.headers['idempotency-key'], 'one effect, one Idempotency-Key, across the run\'s retry too');

  const notes = acmeNotes(PRICING_CALL, 'Acme <> OurCo: pricing review', '2025-01-22T17:00:00Z');
  const [note] = await eventually('note created', async () => { const n = await notesOf(PRICING_CALL); return n.length ? n : null; }, 90_000);
  assert.equal(note!.fields.body, notes);
  assert.equal(note!.fields.opportunityId, 'opp-acme');
  assert.equal(note!.fields.personId, 'p-ada');
  const tasks = await eventually('two tasks', async () => { const t = await tasksOf(PRICING_CALL); return t.length >= 2 ? t : null; }, 90_000);
  assert.equal(tasks.length, 2);
  assert.ok(tasks.every((t) => t.fields.noteId === note!.recordId));

  const mails = await hub.smtp.waitForMessages(mailsBefore + 1, 90_000);
  const recaps = mails.filter((m) => m.subject === 'Recap: Acme <> OurCo: pricing review');
  assert.equal(recaps.length, 1);
  assert.deepEqual(recaps[0]!.to, ACME_PARTICIPANTS);
  assert.equal((await notesOf(PRICING_CALL)).length, 1);
});

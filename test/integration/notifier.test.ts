/**
 * The notifier on the real stack (Kafka, registry, FerretDB) against a real SMTP server
 * (the capture emulator): NotificationRequested in, email out, step.result on hub.runs;
 * redeliveries, 4xx retries, 5xx failures, stale and live claims, stored credentials,
 * chat webhooks. Then the email step handler, alone and through the notifier.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createNotifier, notifierGroup } from '../../services/notifier/app.ts';
import { createNotificationLedger, notificationsCollection, type NotificationEntry } from '../../services/notifier/delivery-ledger.ts';
import type { SmtpSettings } from '../../services/notifier/deps.ts';
import { parseSmtpUrl } from '../../services/notifier/config.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections, type Store } from '../../libs/store/mongo.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { externalEnvelope } from '../../libs/kafka/envelope.ts';
import type { NotificationRequested, RunEvent } from '../../libs/kafka/events.ts';
import type { ConsumerRunner } from '../../libs/kafka/consumer.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { HubError } from '../../libs/errors/index.ts';
import { Secret } from '../../libs/secrets/crypto.ts';
import type { StepResult, StepRunContext } from '../../libs/workflow/interpreter.ts';
import type { Step } from '../../libs/contracts/workflow.ts';
import { createEmailStepHandler } from '../../libs/workflow/steps/email.ts';
import { startSmtpCapture, type SmtpCapture, type CapturedMessage } from '../../stack/smtp/catcher.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';
import { readTopic, type ReadMessage } from '../support/topic.ts';
import { envFor, startService, type ServiceProcess } from '../support/process.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep } from '../../libs/time/sleep.ts';

const config = isolatedConfig('notifier');
const log = testLogger('notifier-test');
const FROM = 'CRM hub <hub@crm-hub.test>';
const SMTP_PASSWORD = `smtp-pw-${randomBytes(6).toString('hex')}`;
const WEBHOOK_TOKEN = `chat-token-${randomBytes(6).toString('hex')}`;

let runtime: KafkaRuntime;
let store: Store;
let smtp: SmtpCapture;
let acmeSmtp: SmtpCapture;
let notifier: ConsumerRunner;
let chat: Server;
let chatPort: number;
const chatPosts: { path: string; contentType: string; body: unknown }[] = [];
let closedPort: number;
/** Everything the notifier logged, to check that no body or secret reaches a log line. */
let notifierLogs = '';

function entries() {
  return store.db.collection<NotificationEntry>(notificationsCollection.name);
}

before(async () => {
  store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  await ensureCollections(store.db, [notificationsCollection]);
  runtime = await startKafkaRuntime(config, log, { groups: [notifierGroup] });
  smtp = await startSmtpCapture();
  acmeSmtp = await startSmtpCapture({ user: 'acme-mailer', pass: SMTP_PASSWORD });
  chat = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      chatPosts.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => chat.listen(0, '127.0.0.1', resolve));
  chatPort = (chat.address() as AddressInfo).port;
  // A port nothing listens on: connection refused, a temporary failure.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const logSink = new Writable({ write(chunk: Buffer, _enc, done) { notifierLogs += chunk.toString('utf8'); done(); } });
  const credentials: Record<string, SmtpSettings> = {
    'acme-smtp': { host: '127.0.0.1', port: acmeSmtp.port, secure: false, username: 'acme-mailer', password: new Secret(SMTP_PASSWORD), from: 'Acme sales <sales@acme.test>' },
    'dead-smtp': { host: '127.0.0.1', port: closedPort, secure: false },
  };
  notifier = createNotifier({
    runtime,
    ledger: createNotificationLedger(store.db),
    http: createHttpClient({ allowlist: ['127.0.0.1'] }),
    log: createLogger({ service: 'notifier', level: 'debug', destination: logSink }),
    settings: {
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false }, from: FROM,
      maxAttempts: 4, retryBackoffMs: 50, smtpTimeoutMs: 5_000, chatTimeoutMs: 5_000,
    },
    resolveSmtp: async (ws, name) => (ws === 'ws-cred' ? credentials[name] ?? null : null),
    resolveChatWebhook: async (ws, name) => (ws === 'ws-chat' && name === 'team-chat' ? new Secret(`http://127.0.0.1:${chatPort}/hooks/T0001/${WEBHOOK_TOKEN}`) : null),
    retry: { initialDelayMs: 50, maxDelayMs: 300, poisonAttempts: 2 },
    concurrency: 3,
  });
  await notifier.start();
});

after(async () => {
  await notifier?.stop();
  await runtime?.close();
  await smtp?.close();
  await acmeSmtp?.close();
  await new Promise<void>((resolve) => (chat ? chat.close(() => resolve()) : resolve()));
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
});

interface EmailBody { to: string[]; cc: string[]; subject: string; text: string | null; html: string | null }

function email(subject: string, over: Partial<EmailBody> = {}): EmailBody {
  return { to: ['ada@example.com'], cc: [], subject, text: `Hello Ada (${subject})`, html: `<p>Hello <b>Ada</b> (${subject})</p>`, ...over };
}

function notification(ws: string, message: unknown, over: Partial<NotificationRequested> = {}): NotificationRequested {
  const id = randomUUID();
  return {
    ...externalEnvelope('notification.requested', ws, Date.now()),
    type: 'notification.requested',
    notificationId: id,
    runId: `run_${randomBytes(12).toString('hex')}`,
    workflowId: 'wf-welcome',
    version: 3,
    stepKey: 'send-welcome',
    channel: 'email',
    credential: null,
    message: JSON.stringify(message),
    ...over,
  };
}

const publish = (n: NotificationRequested) => runtime.bus.publish(runtime.topic(topics.notifications), [{ key: n.notificationId, value: n }]);

/** Waits until hub.runs holds `count` results addressed to `resultId`. */
async function results(resultId: string, count = 1, on: KafkaRuntime = runtime, timeoutMs = 30_000): Promise<ReadMessage<RunEvent>[]> {
  return eventually(`${count} step.result(s) for ${resultId}`, async () => {
    const found = (await readTopic<RunEvent>(on, on.topic(topics.runs))).filter((m) => m.value.stepKey === resultId);
    return found.length >= count ? found : null;
  }, timeoutMs, 250);
}

const resultOf = (m: ReadMessage<RunEvent>) => JSON.parse(m.value.data) as StepResult;
const captured = (box: SmtpCapture, subject: string): CapturedMessage[] => box.messages.filter((m) => m.subject === subject);
const rejected = (box: SmtpCapture, subject: string) => box.rejected.filter((m) => m.subject === subject);

describe('notifier', () => {
  test('an email is delivered, recorded, and its result goes to hub.runs for the waiting step', async () => {
    const subject = `Welcome ${randomUUID()}`;
    const n = notification('ws-mail', email(subject, { to: ['ada@example.com', 'bob@example.com'], cc: ['boss@example.com'] }));
    await publish(n);

    const [message] = await eventually('the email', async () => captured(smtp, subject).length > 0 && captured(smtp, subject));
    assert.ok(message);
    assert.deepEqual(message.to, ['ada@example.com', 'bob@example.com']);
    assert.deepEqual(message.cc, ['boss@example.com']);
    assert.equal(message.from, 'hub@crm-hub.test');
    assert.equal(message.text.trim(), `Hello Ada (${subject})`);
    assert.equal(message.html, `<p>Hello <b>Ada</b> (${subject})</p>`);
    assert.equal(message.messageId, `<${n.notificationId}@crm-hub.test>`, 'the Message-ID derives from the notification id');

    const [result] = await results(n.notificationId);
    assert.ok(result);
    assert.equal(result.key, 'ws-mail', 'hub.runs is keyed by workspace');
    assert.equal(result.headers['hub.event-type'], 'step.result');
    assert.equal(result.headers['hub.run-id'], n.runId);
    assert.equal(result.value.type, 'step.result');
    assert.equal(result.value.runId, n.runId);
    assert.equal(result.value.workflowId, 'wf-welcome');
    assert.equal(result.value.version, 3);
    assert.equal(result.value.correlationId, n.correlationId);
    assert.equal(result.value.causationId, n.eventId);
    const data = resultOf(result);
    assert.equal(data.status, 'succeeded');
    assert.equal(data.error, null);
    const output = data.output as { messageId: string; accepted: string[]; rejected: string[]; response: string };
    assert.equal(output.messageId, message.messageId);
    assert.deepEqual(output.accepted.sort(), ['ada@example.com', 'bob@example.com', 'boss@example.com']);
    assert.deepEqual(output.rejected, []);
    assert.match(output.response, /^250/);

    const entry = await entries().findOne({ _id: n.notificationId });
    assert.ok(entry);
    assert.equal(entry.status, 'sent');
    assert.equal(entry.attempts, 1);
    assert.equal(entry.messageId, message.messageId);
    assert.equal(entry.workspaceId, 'ws-mail');
    assert.equal(entry.runId, n.runId);
    assert.equal(entry.stepKey, 'send-welcome');
    assert.ok(entry.sentAt instanceof Date);
    assert.equal(entry.error, null);
  });

  test('a redelivered notification sends nothing again and publishes the same result again', async () => {
    const subject = `Once ${randomUUID()}`;
    const n = notification('ws-mail', email(subject));
    await publish(n);
    const [first] = await results(n.notificationId);
    // The producer retried after a timeout; then the step itself, resumed, asked again.
    await publish(n);
    await publish({ ...n, eventId: randomUUID(), occurredAt: Date.now() });
    const all = await results(n.notificationId, 3);
    assert.equal(all.length, 3);
    assert.equal(captured(smtp, subject).length, 1, 'one email');
    for (const again of all) {
      assert.equal(again.value.eventId, first?.value.eventId, 'the same result event (derived id)');
      assert.deepEqual(resultOf(again), resultOf(first!));
    }
    assert.equal((await entries().findOne({ _id: n.notificationId }))?.attempts, 1);
  });

  test('451 twice, then accepted: one email, three attempts recorded', async () => {
    const subject = `Greylisted ${randomUUID()}`;
    smtp.failNext(2, { code: 451, message: 'Greylisted, please try again later' });
    const n = notification('ws-mail', email(subject));
    await publish(n);
    const [result] = await results(n.notificationId);
    assert.equal(resultOf(result!).status, 'succeeded');
    assert.equal(captured(smtp, subject).length, 1);
    assert.equal(rejected(smtp, subject).length, 2);
    const entry = await entries().findOne({ _id: n.notificationId });
    assert.equal(entry?.status, 'sent');
    assert.equal(entry?.attempts, 3);
  });

  test('550 fails at once with the server\'s reply, without retries', async () => {
    const subject = `Refused ${randomUUID()}`;
    smtp.failNext(1, { code: 550, message: 'Mailbox unavailable: no such user here' });
    const n = notification('ws-mail', email(subject, { to: ['nobody@example.com'] }));
    await publish(n);
    const [result] = await results(n.notificationId);
    const data = resultOf(result!);
    assert.equal(data.status, 'failed');
    assert.equal(data.output, null);
    assert.equal(data.error?.code, 'SMTP_REJECTED');
    assert.match(data.error?.message ?? '', /550 Mailbox unavailable: no such user here/);
    assert.equal(data.error?.retriable, false);
    assert.equal(rejected(smtp, subject).length, 1, 'no retry');
    assert.equal(captured(smtp, subject).length, 0);
    const entry = await entries().findOne({ _id: n.notificationId });
    assert.equal(entry?.status, 'failed');
    assert.equal(entry?.attempts, 1);
    assert.equal(entry?.error?.code, 'SMTP_REJECTED');
  });

  test('a server that keeps answering 451 or cannot be reached fails after HUB_SMTP_MAX_ATTEMPTS', async () => {
    const subject = `Always busy ${randomUUID()}`;
    smtp.failNext(4, { code: 451, message: 'Local error in processing' });
    const busy = notification('ws-mail', email(subject));
    const dead = notification('ws-cred', email(`Dead ${randomUUID()}`), { credential: 'dead-smtp' });
    await publish(busy);
    await publish(dead);
    const busyResult = resultOf((await results(busy.notificationId))[0]!);
    assert.equal(busyResult.error?.code, 'SMTP_TEMPORARY_FAILURE');
    assert.match(busyResult.error?.message ?? '', /451 Local error in processing.*gave up after 4 attempts/);
    assert.equal(rejected(smtp, subject).length, 4);
    const deadResult = resultOf((await results(dead.notificationId))[0]!);
    assert.equal(deadResult.error?.code, 'SMTP_UNREACHABLE');
    assert.equal((await entries().findOne({ _id: dead.notificationId }))?.attempts, 4);
  });

  test('a named credential sends through the workspace\'s own server; an unknown one fails clearly', async () => {
    const subject = `Via Acme ${randomUUID()}`;
    const viaAcme = notification('ws-cred', email(subject), { credential: 'acme-smtp' });
    const unknown = notification('ws-cred', email(`Unknown ${randomUUID()}`), { credential: 'no-such-credential' });
    await publish(viaAcme);
    await publish(unknown);
    assert.equal(resultOf((await results(viaAcme.notificationId))[0]!).status, 'succeeded');
    const [message] = captured(acmeSmtp, subject);
    assert.equal(message?.user, 'acme-mailer', 'logged in with the stored credential');
    assert.equal(message?.from, 'sales@acme.test', 'the credential\'s From');
    assert.equal(captured(smtp, subject).length, 0);
    const failed = resultOf((await results(unknown.notificationId))[0]!);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'NOTIFICATION_CREDENTIAL_MISSING');
    assert.match(failed.error?.message ?? '', /no-such-credential/);
  });

  test('a message that does not hold up (a rendered non-address, not JSON) fails without sending', async () => {
    const badTo = notification('ws-mail', email(`Bad to ${randomUUID()}`, { to: ['ada@example.com', 'not an address'] }));
    const notJson = notification('ws-mail', null, { message: '{oops' });
    const fax = notification('ws-mail', email('fax'), { channel: 'fax' as 'email' });
    for (const n of [badTo, notJson, fax]) await publish(n);
    const codeOf = async (n: NotificationRequested) => resultOf((await results(n.notificationId))[0]!).error;
    const e1 = await codeOf(badTo);
    assert.equal(e1?.code, 'EMAIL_RECIPIENT_INVALID');
    assert.match(e1?.message ?? '', /"not an address".*\/to\/1/);
    assert.equal((await codeOf(notJson))?.code, 'NOTIFICATION_INVALID');
    assert.equal((await codeOf(fax))?.code, 'NOTIFICATION_CHANNEL_UNSUPPORTED');
    assert.equal((await entries().findOne({ _id: badTo.notificationId }))?.attempts, 0);
  });

  test('a live claim by another notifier is waited for; a stale one is taken over', async () => {
    const now = Date.now();
    const base = (n: NotificationRequested, claimedBy: string, claimedAt: Date, attempts: number): NotificationEntry => ({
      _id: n.notificationId, workspaceId: n.workspaceId, runId: n.runId, workflowId: n.workflowId, version: n.version, stepKey: n.stepKey,
      channel: 'email', status: 'sending', attempts, claimedBy, claimedAt, messageId: null, accepted: [], rejected: [], response: null,
      httpStatus: null, sentAt: null, error: null, createdAt: claimedAt, finishedAt: null,
    });
    const liveSubject = `Live claim ${randomUUID()}`;
    const live = notification('ws-mail', email(liveSubject));
    await entries().insertOne(base(live, 'notifier-other', new Date(now), 1));
    const staleSubject = `Stale claim ${randomUUID()}`;
    const stale = notification('ws-mail', email(staleSubject));
    await entries().insertOne(base(stale, 'notifier-crashed', new Date(now - 30 * 60_000), 1));
    // One at a time: a message waiting for a live claim holds its partition (in-place retry).
    await publish(stale);

    // The crashed notifier's delivery is taken over and made.
    assert.equal(resultOf((await results(stale.notificationId))[0]!).status, 'succeeded');
    assert.equal(captured(smtp, staleSubject).length, 1);
    const taken = await entries().findOne({ _id: stale.notificationId });
    assert.equal(taken?.attempts, 2, 'attempts go on from the recorded ones');
    assert.notEqual(taken?.claimedBy, 'notifier-crashed');

    // The live one is not sent while the other notifier holds it…
    await publish(live);
    await sleep(1500);
    assert.equal(captured(smtp, liveSubject).length, 0);
    assert.equal((await entries().findOne({ _id: live.notificationId }))?.claimedBy, 'notifier-other');
    // …and once that one records its delivery, its result is what gets published.
    await entries().updateOne({ _id: live.notificationId }, { $set: { status: 'sent', messageId: '<other@crm-hub.test>', accepted: ['ada@example.com'], response: '250 OK', sentAt: new Date(), finishedAt: new Date() } });
    const data = resultOf((await results(live.notificationId))[0]!);
    assert.equal((data.output as { messageId: string }).messageId, '<other@crm-hub.test>');
    assert.equal(captured(smtp, liveSubject).length, 0, 'never sent by this notifier');
  });

  test('chat: a Slack-compatible body is posted to the credential\'s webhook', async () => {
    const n = notification('ws-chat', { text: 'Deal won: ACME', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Deal won*' } }] }, { channel: 'chat', credential: 'team-chat' });
    const noWebhook = notification('ws-chat', { text: 'hi' }, { channel: 'chat', credential: null });
    await publish(n);
    await publish(noWebhook);
    const data = resultOf((await results(n.notificationId))[0]!);
    assert.equal(data.status, 'succeeded');
    assert.deepEqual(data.output, { httpStatus: 200, response: '200 ok' });
    const post = chatPosts.find((p) => (p.body as { text?: string }).text === 'Deal won: ACME');
    assert.ok(post);
    assert.equal(post.path, `/hooks/T0001/${WEBHOOK_TOKEN}`);
    assert.match(post.contentType, /^application\/json/);
    assert.deepEqual(post.body, { text: 'Deal won: ACME', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Deal won*' } }] });
    assert.equal(resultOf((await results(noWebhook.notificationId))[0]!).error?.code, 'NOTIFICATION_CREDENTIAL_MISSING');
  });

  test('logs name the workspace, run and notification, never a body or a secret', () => {
    assert.match(notifierLogs, /"notificationId":"[0-9a-f-]{36}"/);
    assert.match(notifierLogs, /"workspaceId":"ws-mail".*"runId":"run_[0-9a-f]{24}"/);
    for (const leaked of ['Hello Ada', 'Hello <b>Ada</b>', SMTP_PASSWORD, WEBHOOK_TOKEN, 'Deal won']) {
      assert.equal(notifierLogs.includes(leaked), false, `logs contain "${leaked}"`);
    }
  });
});

describe('email step handler', () => {
  const step: Step = { id: 'send', type: 'email', input: { to: ['{{trigger.email}}'], subject: 'Hi', text: 'Hello' } };

  function context(over: { dryRun?: boolean; result?: StepResult } = {}) {
    const asked: string[] = [];
    const ctx: StepRunContext = {
      runId: 'run_0123456789abcdef01234567', workspaceId: 'ws-step', workflowId: 'wf-step', version: 3, stepKey: 'send[2]',
      effectId: randomUUID(), correlationId: 'corr-1', causationId: 'trigger-1', depth: 1, memory: new Map(),
      dryRun: over.dryRun ?? false, attempt: 1, signal: new AbortController().signal, scope: { trigger: {}, steps: {} },
      now: () => 1_700_000_000_000, log,
      awaitResult: async (id) => {
        asked.push(id);
        return over.result ?? { status: 'succeeded', output: { messageId: '<m1@x.test>', accepted: ['ada@example.com'], rejected: [], response: '250 OK' }, error: null };
      },
    };
    return { ctx, asked };
  }

  function fakePublish() {
    const published: NotificationRequested[] = [];
    return { published, publish: async (n: NotificationRequested) => { published.push(n); } };
  }

  const input = { to: ['ada@example.com', ['bob@example.com']], cc: 'boss@example.com', subject: 'Quarterly\r\nBcc: evil@example.com', text: 'Hi', html: '<p>Hi</p>' };

  test('publishes the notification under the effect id and returns the delivery', async () => {
    const { published, publish } = fakePublish();
    const handler = createEmailStepHandler({ publish, deliveryTimeoutMs: 120_000 });
    const { ctx, asked } = context();
    const out = await handler.execute(input, step, ctx);
    assert.deepEqual(out, { messageId: '<m1@x.test>', accepted: ['ada@example.com'], rejected: [] });
    assert.equal(handler.timeoutMs?.(input), 120_000);
    assert.equal(published.length, 1);
    const n = published[0]!;
    assert.equal(n.notificationId, ctx.effectId);
    assert.equal(n.eventId, ctx.effectId);
    assert.deepEqual(asked, [ctx.effectId], 'waits for the result addressed to the notification');
    assert.equal(n.channel, 'email');
    assert.equal(n.credential, null);
    assert.equal(n.stepKey, 'send[2]');
    assert.equal(n.runId, ctx.runId);
    assert.equal(n.causationId, 'trigger-1');
    assert.equal(n.causationDepth, 2);
    assert.deepEqual(JSON.parse(n.message), {
      to: ['ada@example.com', 'bob@example.com'], cc: ['boss@example.com'], subject: 'Quarterly Bcc: evil@example.com', text: 'Hi', html: '<p>Hi</p>',
    }, 'lists flattened, the subject kept on one line');
  });

  test('a failed delivery fails the step, not retriable, with the notifier\'s code and reply', async () => {
    const { publish } = fakePublish();
    const handler = createEmailStepHandler({ publish, deliveryTimeoutMs: 1000 });
    const { ctx } = context({ result: { status: 'failed', output: null, error: { code: 'SMTP_REJECTED', message: 'the SMTP server refused the message: 550 no such user', retriable: false } } });
    await assert.rejects(handler.execute(input, step, ctx), (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.code, 'SMTP_REJECTED');
      assert.equal(err.retriable, false);
      assert.match(err.message, /550 no such user/);
      return true;
    });
  });

  test('a dry run shows what would be sent and publishes nothing', async () => {
    const { published, publish } = fakePublish();
    const handler = createEmailStepHandler({ publish, deliveryTimeoutMs: 1000 });
    const { ctx, asked } = context({ dryRun: true });
    const out = await handler.execute({ to: 'ada@example.com', subject: 'Hi', text: 'Hello' }, step, ctx);
    assert.deepEqual(out, { dryRun: { wouldSend: { to: ['ada@example.com'], cc: [], subject: 'Hi', text: 'Hello', html: null } } });
    assert.equal(published.length, 0);
    assert.deepEqual(asked, []);
  });

  test('a recipient that rendered to a non-address is a user error at its path', async () => {
    const { published, publish } = fakePublish();
    const handler = createEmailStepHandler({ publish, deliveryTimeoutMs: 1000 });
    const { ctx } = context();
    const cases: [unknown, string][] = [
      [{ to: ['not-an-address'], subject: 'x', text: 'y' }, '/to/0'],
      [{ to: ['ada@example.com', ''], subject: 'x', text: 'y' }, '/to/1'],
      [{ to: 'a@example.com, b@example.com', subject: 'x', text: 'y' }, '/to'],
      [{ to: [['ok@example.com', 42]], subject: 'x', text: 'y' }, '/to/0/1'],
      [{ to: ['ada@example.com'], cc: [{ email: 'x@example.com' }], subject: 'x', text: 'y' }, '/cc/0'],
      [{ to: [], subject: 'x', text: 'y' }, '/to'],
    ];
    for (const [bad, path] of cases) {
      await assert.rejects(handler.execute(bad, step, ctx), (err: unknown) => {
        assert.ok(err instanceof HubError, String(err));
        assert.equal(err.code, 'EMAIL_RECIPIENT_INVALID');
        assert.equal(err.retriable, false);
        assert.equal(err.path, path, JSON.stringify(bad));
        return true;
      });
    }
    assert.equal(published.length, 0);
  });

  test('through the real notifier: the step gets the delivered message id', async () => {
    const handler = createEmailStepHandler({
      publish: (n) => runtime.bus.publish(runtime.topic(topics.notifications), [{ key: n.notificationId, value: n }]),
      deliveryTimeoutMs: 60_000,
    });
    const { ctx } = context();
    ctx.awaitResult = async (id) => resultOf((await results(id))[0]!);
    const subject = `From a step ${randomUUID()}`;
    const out = await handler.execute({ to: ['ada@example.com'], subject, text: 'Sent by a workflow' }, step, ctx) as { messageId: string };
    const [message] = captured(smtp, subject);
    assert.ok(message);
    assert.equal(out.messageId, message.messageId);
    assert.equal(message.text.trim(), 'Sent by a workflow');
  });
});

test('HUB_SMTP_URL parses to settings, and a bad one is refused without echoing it', () => {
  const ok = parseSmtpUrl('smtps://mailer%40acme:p%40ss@smtp.acme.test');
  assert.ok('value' in ok);
  assert.equal(ok.value.host, 'smtp.acme.test');
  assert.equal(ok.value.port, 465);
  assert.equal(ok.value.secure, true);
  assert.equal(ok.value.username, 'mailer@acme');
  assert.equal(ok.value.password?.reveal(), 'p@ss');
  assert.equal(JSON.stringify(ok.value).includes('p@ss'), false, 'the password never serializes');
  const plain = parseSmtpUrl('smtp://127.0.0.1:2525');
  assert.deepEqual('value' in plain && plain.value, { host: '127.0.0.1', port: 2525, secure: false });
  const bad = parseSmtpUrl('https://user:hunter2@example.com');
  assert.ok('reason' in bad && !bad.reason.includes('hunter2'));
});

describe('notifier crashes (SIGKILL, as a process)', () => {
  let dir: string;
  const running: ServiceProcess[] = [];
  const runtimes: KafkaRuntime[] = [];
  const databases: string[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'notifier-crash-'));
  });
  after(async () => {
    for (const p of running) await p.kill('SIGKILL');
    for (const r of runtimes) await r.close();
    for (const name of databases) await store?.client.db(name).dropDatabase().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * A notifier process on its own topics and database (never in the in-process
   * notifier's group), killed by `failpoint` on its first notification, then restarted
   * without it; resolves with what the restart left. A restart waits for the group to
   * drop the killed member (about a minute), so the scenarios run side by side.
   */
  async function crashAndRestart(label: string, failpoint: string, subject: string) {
    const config = isolatedConfig(label);
    const rt = await startKafkaRuntime(config, log, { groups: [notifierGroup] });
    runtimes.push(rt);
    databases.push(config.mongodbDatabase);
    const start = async (extra: Record<string, string>) => {
      const p = startService('notifier', envFor(config, { HUB_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, HUB_SMTP_FROM: FROM, HUB_NOTIFIER_CLAIM_STALE_MS: '3000', ...extra }));
      running.push(p);
      await p.started;
      return p;
    };
    const entry = () => store.client.db(config.mongodbDatabase).collection<NotificationEntry>(notificationsCollection.name).findOne({ _id: n.notificationId });
    const ws = `ws-${label}`;
    const n = notification(ws, email(subject));
    const first = await start({ HUB_FAILPOINTS: `${failpoint}:${ws}`, HUB_FAILPOINT_MARKER: path.join(dir, label) });
    await rt.bus.publish(rt.topic(topics.notifications), [{ key: n.notificationId, value: n }]);
    assert.equal(await first.exited, null, `${label}: killed by its failpoint`);
    const beforeRestart = { emails: captured(smtp, subject).length, entry: await entry() };
    const restarted = await start({});
    const expected = failpoint === 'notifier-after-result' ? 2 : 1;
    const all = await results(n.notificationId, expected, rt, 150_000);
    await restarted.kill('SIGTERM');
    return { n, beforeRestart, results: all, emails: captured(smtp, subject), entry: await entry() };
  }

  test('killed after the result, before the commit: nothing sent twice; killed between the 250 and the ledger write: sent again, with the same Message-ID', async () => {
    const [afterResult, afterDelivery] = await Promise.all([
      crashAndRestart('crash_result', 'notifier-after-result', `Crash after result ${randomUUID()}`),
      crashAndRestart('crash_send', 'notifier-after-delivery', `Crash after send ${randomUUID()}`),
    ]);

    // Redelivered (its offset was never committed) and answered from the ledger.
    assert.equal(afterResult.beforeRestart.emails, 1);
    assert.equal(afterResult.beforeRestart.entry?.status, 'sent');
    assert.equal(afterResult.results.length, 2);
    assert.deepEqual(resultOf(afterResult.results[1]!), resultOf(afterResult.results[0]!));
    assert.equal(afterResult.results[1]?.value.eventId, afterResult.results[0]?.value.eventId);
    assert.equal(afterResult.emails.length, 1, 'nothing sent twice');

    // The window SMTP leaves open: accepted by the server, unknown to the ledger.
    assert.equal(afterDelivery.beforeRestart.emails, 1);
    assert.equal(afterDelivery.beforeRestart.entry?.status, 'sending');
    assert.equal(afterDelivery.results.length, 1);
    assert.equal(resultOf(afterDelivery.results[0]!).status, 'succeeded');
    assert.equal(afterDelivery.emails.length, 2, 'sent again once the stale claim was taken over');
    assert.equal(afterDelivery.emails[0]?.messageId, `<${afterDelivery.n.notificationId}@crm-hub.test>`);
    assert.equal(afterDelivery.emails[1]?.messageId, afterDelivery.emails[0]?.messageId, 'the copy carries the same Message-ID');
    assert.equal(afterDelivery.entry?.status, 'sent');
    assert.equal(afterDelivery.entry?.attempts, 2);
  });
});

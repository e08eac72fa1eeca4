/**
 * One NotificationRequested, from claim to result:
 *
 *   claim (insert 'sending', unique _id) → deliver, retrying temporary failures →
 *   ledger 'sent'/'failed' → step.result on hub.runs → (the consumer commits)
 *
 * A redelivery finds the ledger entry: sent/failed → the recorded result is published
 * again (a resumed run picks it up), nothing is sent; 'sending' under a live claim →
 * wait (retriable NOTIFICATION_IN_FLIGHT); 'sending' under a stale claim (its notifier
 * crashed mid-delivery) → taken over and delivered.
 *
 * At least once, not exactly once: SMTP has no idempotency key, so a crash between the
 * server's 250 and the ledger write (a few milliseconds: nothing else happens between
 * them) makes the takeover send the message again. The Message-ID is derived from the
 * notification id, so such a copy is recognisable, and mail stores that dedupe by
 * Message-ID drop it. A store failure at that point (not a crash) sends nothing twice:
 * the outcome is kept in memory and written on the next try.
 */
import { createHash } from 'node:crypto';
import type { NotificationRequested, RunEvent } from '../../libs/kafka/events.ts';
import { causedEnvelope } from '../../libs/kafka/envelope.ts';
import { HubError, errorMessage, isRetriable } from '../../libs/errors/index.ts';
import type { HttpClient } from '../../libs/http/index.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { Secret } from '../../libs/secrets/crypto.ts';
import type { StepResult } from '../../libs/workflow/interpreter.ts';
import { emailMessage, isOperatorAlert } from '../../libs/contracts/notification.ts';
import { defaultLimits } from '../../libs/workflow/step-types.ts';
import { raiseNotifier } from './errors.ts';
import type { CredentialResolvers, SmtpSettings } from './deps.ts';
import { outcomeOf, type NotificationEntry, type NotificationLedger, type Outcome, type RecordedError } from './delivery-ledger.ts';
import type { EmailContent, Mailer } from './smtp.ts';
import { postChat, type ChatContent } from './chat.ts';
import { backoffDelayMs, type Backoff } from '../../libs/time/sleep.ts';

export interface NotifierDeps extends CredentialResolvers {
  ledger: NotificationLedger;
  /** Publishes on hub.runs (acks=all). */
  publishResult(event: RunEvent): Promise<void>;
  mailer: Mailer;
  http: HttpClient;
  /** The hub's own SMTP server, for notifications that name no credential. */
  smtp: SmtpSettings;
  from: string;
  maxAttempts: number;
  retryBackoffMs: number;
  chatTimeoutMs: number;
  /** A 'sending' claim not renewed for this long belongs to a notifier that stopped. */
  claimStaleMs: number;
  /** This notifier's claims. */
  instanceId: string;
  /** Delivered, ledger write failed: written on the next try instead of sending again. */
  unrecorded: Map<string, { outcome: Outcome; at: number }>;
  /** Notifications this process is delivering right now. */
  inFlight: Set<string>;
  now(): number;
  sleep(ms: number): Promise<void>;
  log: Logger;
  /** Crash tests kill the process here: after the server accepted, before the ledger knows. */
  afterDelivery?(n: NotificationRequested): void;
  /** …and here: after the result was published, before the offset is committed. */
  afterResult?(n: NotificationRequested): void;
}

const BACKOFF_MAX_MS = 30_000;
const CHAT_TEXT_MAX = 40_000;
const CHAT_BLOCKS_MAX = 50;

type Prepared =
  | { channel: 'email'; server: SmtpSettings; mail: EmailContent }
  | { channel: 'chat'; webhook: Secret; content: ChatContent };

/** Waits between delivery attempts: `retryBackoffMs`, doubling, at most 30 s. */
export const deliveryBackoff = (retryBackoffMs: number): Backoff => ({ initialMs: retryBackoffMs, maxMs: BACKOFF_MAX_MS });

/** The result event's id derives from the notification: a result published again is the same event. */
export function resultEventId(notificationId: string): string {
  const h = createHash('sha256').update(`step.result\u0000${notificationId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function stepResultOf(channel: string, outcome: Outcome): StepResult {
  if (outcome.status === 'failed') return { status: 'failed', output: null, error: outcome.error };
  const output = channel === 'chat'
    ? { httpStatus: outcome.httpStatus, response: outcome.response }
    : { messageId: outcome.messageId, accepted: outcome.accepted, rejected: outcome.rejected, response: outcome.response };
  return { status: 'succeeded', output, error: null };
}

/** step.result for the waiting step: `stepKey` carries the result id (the notification id). */
export function stepResultEvent(n: NotificationRequested, outcome: Outcome, at: number): RunEvent {
  return {
    ...causedEnvelope(n, 'step.result', at, resultEventId(n.notificationId)),
    type: 'step.result',
    runId: n.runId,
    workflowId: n.workflowId,
    version: n.version,
    stepKey: n.notificationId,
    data: JSON.stringify(stepResultOf(n.channel, outcome)),
  };
}

function parseMessage(n: NotificationRequested): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(n.message);
  } catch {
    throw raiseNotifier('NOTIFICATION_INVALID', 'message is not JSON', { path: '/message' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw raiseNotifier('NOTIFICATION_INVALID', 'message must be a JSON object', { path: '/message' });
  return value as Record<string, unknown>;
}

function chatContent(m: Record<string, unknown>): ChatContent {
  if (typeof m.text !== 'string' || m.text.trim() === '' || m.text.length > CHAT_TEXT_MAX) {
    throw raiseNotifier('NOTIFICATION_INVALID', `a chat message needs text of 1 to ${CHAT_TEXT_MAX} characters`, { path: '/message/text' });
  }
  if (m.blocks !== undefined && (!Array.isArray(m.blocks) || m.blocks.length > CHAT_BLOCKS_MAX)) {
    throw raiseNotifier('NOTIFICATION_INVALID', `blocks must be an array of at most ${CHAT_BLOCKS_MAX} blocks`, { path: '/message/blocks' });
  }
  return { text: m.text, ...(m.blocks === undefined ? {} : { blocks: m.blocks as unknown[] }) };
}

/** Checks the message (anyone may write the topic) and resolves where it goes. */
async function prepare(n: NotificationRequested, d: NotifierDeps): Promise<Prepared> {
  const message = parseMessage(n);
  const missing = (what: string) => raiseNotifier('NOTIFICATION_CREDENTIAL_MISSING', `workspace ${n.workspaceId} has no ${what} credential named "${n.credential}"`, { path: '/credential' });
  if (n.channel === 'email') {
    const mail = emailMessage(message, defaultLimits.emailRecipientsMax);
    if (n.credential === null) return { channel: 'email', server: d.smtp, mail };
    const server = await d.resolveSmtp(n.workspaceId, n.credential);
    if (!server) throw missing('SMTP');
    return { channel: 'email', server, mail };
  }
  if (n.channel === 'chat') {
    const content = chatContent(message);
    if (n.credential === null) {
      throw raiseNotifier('NOTIFICATION_CREDENTIAL_MISSING', 'a chat notification needs a credential naming its webhook', { path: '/credential' });
    }
    const webhook = await d.resolveChatWebhook(n.workspaceId, n.credential);
    if (!webhook) throw missing('chat webhook');
    return { channel: 'chat', webhook, content };
  }
  throw raiseNotifier('NOTIFICATION_CHANNEL_UNSUPPORTED', `channel "${String(n.channel)}" is not email or chat`, { path: '/channel' });
}

/** `<notificationId@sender's domain>`: the same on every attempt and every takeover. */
function messageIdFor(notificationId: string, from: string): string {
  const domain = /@([^\s@<>]+)>?\s*$/.exec(from)?.[1] ?? 'crm-hub.invalid';
  return `<${notificationId}@${domain}>`;
}

async function sendOnce(p: Prepared, n: NotificationRequested, d: NotifierDeps): Promise<Outcome> {
  if (p.channel === 'chat') {
    const posted = await postChat(d.http, p.webhook, p.content, d.chatTimeoutMs);
    return { status: 'sent', messageId: null, accepted: [], rejected: [], response: posted.response, httpStatus: posted.httpStatus };
  }
  const from = p.server.from ?? d.from;
  const sent = await d.mailer.send(p.server, { ...p.mail, from, messageId: messageIdFor(n.notificationId, from) });
  return { status: 'sent', messageId: sent.messageId, accepted: sent.accepted, rejected: sent.rejected, response: sent.response, httpStatus: null };
}

function recordedError(err: unknown, attempts: number): RecordedError {
  const code = err instanceof HubError ? err.code : 'NOTIFICATION_FAILED';
  const at = err instanceof HubError && err.path ? ` (at ${err.path})` : '';
  const after = attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
  return { code, message: `${errorMessage(err)}${at}${after}`.slice(0, 2000), retriable: false };
}

/** Attempts from `done + 1`, each counted and the claim renewed first; temporary failures back off and try again. */
async function deliver(p: Prepared, done: number, n: NotificationRequested, d: NotifierDeps, log: Logger): Promise<Outcome> {
  for (let attempt = done + 1; ; attempt++) {
    await d.ledger.beginAttempt(n.notificationId, attempt, d.instanceId, new Date(d.now()));
    try {
      const outcome = await sendOnce(p, n, d);
      log.info({ attempt }, 'delivered');
      return outcome;
    } catch (err) {
      const code = err instanceof HubError ? err.code : 'NOTIFICATION_FAILED';
      if (isRetriable(err) && attempt < d.maxAttempts) {
        const delayMs = backoffDelayMs(attempt, deliveryBackoff(d.retryBackoffMs));
        log.warn({ attempt, code, delayMs }, 'delivery failed; retrying');
        await d.sleep(delayMs);
        continue;
      }
      log.warn({ attempt, code }, 'delivery failed');
      return { status: 'failed', error: recordedError(err, attempt) };
    }
  }
}

function newEntry(n: NotificationRequested, d: NotifierDeps, now: Date): NotificationEntry {
  return {
    _id: n.notificationId, workspaceId: n.workspaceId, runId: n.runId, workflowId: n.workflowId, version: n.version, stepKey: n.stepKey,
    channel: n.channel, status: 'sending', attempts: 0, claimedBy: d.instanceId, claimedAt: now,
    messageId: null, accepted: [], rejected: [], response: null, httpStatus: null, sentAt: null, error: null, createdAt: now, finishedAt: null,
  };
}

/** Someone's 'sending' entry: ours (an earlier try failed on the store or broker), stale (taken over) or live (wait). */
async function resume(e: NotificationEntry, d: NotifierDeps, log: Logger): Promise<number> {
  if (e.claimedBy === d.instanceId) return e.attempts;
  const ageMs = d.now() - e.claimedAt.getTime();
  if (ageMs < d.claimStaleMs) {
    throw raiseNotifier('NOTIFICATION_IN_FLIGHT', `notifier ${e.claimedBy} is delivering ${e._id} (claim renewed ${ageMs} ms ago); waiting for its result`);
  }
  if (!(await d.ledger.takeOver(e, d.instanceId, new Date(d.now())))) {
    throw raiseNotifier('NOTIFICATION_IN_FLIGHT', `the claim on ${e._id} changed while taking it over`);
  }
  // The previous notifier may have been past the server's 250: the recipient may get it twice.
  log.warn({ previousClaim: e.claimedBy, ageMs, attempts: e.attempts }, 'took over a stale delivery claim');
  return e.attempts;
}

async function record(n: NotificationRequested, outcome: Outcome, at: number, d: NotifierDeps): Promise<void> {
  d.unrecorded.set(n.notificationId, { outcome, at });
  await d.ledger.finish(n.notificationId, outcome, new Date(at));
  d.unrecorded.delete(n.notificationId);
  // The ledger first: a crash from here on publishes the recorded result again, sends nothing.
  // An operator alert has no run waiting for its result.
  if (!isOperatorAlert(n)) await d.publishResult(stepResultEvent(n, outcome, at));
  d.afterResult?.(n);
}

export async function onNotificationRequested(n: NotificationRequested, d: NotifierDeps): Promise<'delivered' | 'replayed'> {
  const id = n.notificationId;
  const log = d.log.child({ workspaceId: n.workspaceId, runId: n.runId, notificationId: id, channel: n.channel });
  const pending = d.unrecorded.get(id);
  if (pending) {
    await record(n, pending.outcome, pending.at, d);
    return 'delivered';
  }
  if (d.inFlight.has(id)) throw raiseNotifier('NOTIFICATION_IN_FLIGHT', `${id} is being delivered by this notifier`);
  d.inFlight.add(id);
  try {
    const existing = await d.ledger.claim(newEntry(n, d, new Date(d.now())));
    if (existing && existing.status !== 'sending') {
      if (!isOperatorAlert(n)) await d.publishResult(stepResultEvent(n, outcomeOf(existing), existing.finishedAt?.getTime() ?? d.now()));
      log.info({ status: existing.status }, 'already delivered; result published again');
      return 'replayed';
    }
    const done = existing ? await resume(existing, d, log) : 0;
    let outcome: Outcome;
    try {
      outcome = await deliver(await prepare(n, d), done, n, d, log);
    } catch (err) {
      // The store or a resolver unavailable: the consumer tries the whole message again.
      if (isRetriable(err)) throw err;
      log.warn({ code: err instanceof HubError ? err.code : 'NOTIFICATION_FAILED' }, 'notification refused');
      outcome = { status: 'failed', error: recordedError(err, 0) };
    }
    // The window SMTP leaves open: a crash here sends the message again after a takeover.
    d.afterDelivery?.(n);
    await record(n, outcome, d.now(), d);
    return 'delivered';
  } finally {
    d.inFlight.delete(id);
  }
}

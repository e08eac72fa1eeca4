import { randomBytes } from 'node:crypto';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { createConsumerRunner, type ConsumerRunner, type RetryPolicy } from '../../libs/kafka/consumer.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { NotificationRequested, RunEvent } from '../../libs/kafka/events.ts';
import type { HttpClient } from '../../libs/http/index.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { CredentialResolvers, SmtpSettings } from './deps.ts';
import type { NotificationLedger } from './delivery-ledger.ts';
import { createSmtpMailer, type Mailer } from './smtp.ts';
import { createAddressGuard } from '../../libs/http/index.ts';
import { deliveryBackoff, onNotificationRequested, type NotifierDeps } from './notify.ts';
import { backoffDelayMs, sleep } from '../../libs/time/sleep.ts';

export const notifierGroup = 'notifier';

export interface NotifierSettings {
  /** The hub's SMTP server (HUB_SMTP_URL). */
  smtp: SmtpSettings;
  from: string;
  maxAttempts: number;
  retryBackoffMs: number;
  smtpTimeoutMs: number;
  chatTimeoutMs: number;
  /** HUB_HTTP_ALLOWLIST: private addresses a workspace's own SMTP server may have. */
  allowlist?: readonly string[];
}

export interface NotifierAppDeps extends CredentialResolvers {
  runtime: KafkaRuntime;
  ledger: NotificationLedger;
  http: HttpClient;
  log: Logger;
  settings: NotifierSettings;
  /** Default: nodemailer with `settings.smtpTimeoutMs`. */
  mailer?: Mailer;
  /** 0 or absent: derived from the time limits (see below). */
  claimStaleMs?: number;
  group?: string;
  retry?: RetryPolicy;
  /** Partitions delivered at once (one slow server holds only its own partition). */
  concurrency?: number;
  now?(): number;
  sleep?(ms: number): Promise<void>;
  faults?: Pick<NotifierDeps, 'afterDelivery' | 'afterResult'>;
}

const clamp = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v));

/** The notifier's consumer of hub.notifications, unstarted, so tests drive it without a process. */
export function createNotifier(d: NotifierAppDeps): ConsumerRunner {
  const s = d.settings;
  const runsTopic = d.runtime.topic(topics.runs);
  // Longest silence of a live sender's claim: one attempt (SMTP connect, greeting and
  // socket limits can add up) and the longest backoff after it.
  const attemptMs = Math.max(2 * s.smtpTimeoutMs, s.chatTimeoutMs);
  const maxBackoffMs = backoffDelayMs(Math.max(1, s.maxAttempts - 1), deliveryBackoff(s.retryBackoffMs));
  const deps: NotifierDeps = {
    ledger: d.ledger,
    publishResult: (e: RunEvent) => d.runtime.bus.publish(runsTopic, [{ key: e.workspaceId, value: e, headers: { 'hub.event-type': e.type, 'hub.run-id': e.runId } }]),
    mailer: d.mailer ?? createSmtpMailer({ timeoutMs: s.smtpTimeoutMs, guard: createAddressGuard({ allowlist: s.allowlist ?? [] }) }),
    http: d.http,
    resolveSmtp: d.resolveSmtp,
    resolveChatWebhook: d.resolveChatWebhook,
    smtp: s.smtp,
    from: s.from,
    maxAttempts: s.maxAttempts,
    retryBackoffMs: s.retryBackoffMs,
    chatTimeoutMs: s.chatTimeoutMs,
    claimStaleMs: d.claimStaleMs || Math.max(60_000, 2 * (attemptMs + maxBackoffMs)),
    instanceId: `notifier-${randomBytes(6).toString('hex')}`,
    unrecorded: new Map(),
    inFlight: new Set(),
    now: d.now ?? Date.now,
    sleep: d.sleep ?? sleep,
    log: d.log,
    ...d.faults,
  };
  // A delivery with its retries runs inside one handler call, and kafkajs heartbeats only
  // between calls: a session covering a few attempts avoids needless rebalances, capped so
  // a crashed notifier's partitions move on within two minutes. Past it, correctness
  // rests on the claim (renewed before each attempt), not on the session.
  const sessionTimeoutMs = clamp(s.maxAttempts * attemptMs, 30_000, 120_000);
  return createConsumerRunner<NotificationRequested>({
    ...d.runtime.consumer(d.group ?? notifierGroup, d.log),
    topics: [d.runtime.topic(topics.notifications)],
    fromBeginning: true,
    sessionTimeoutMs,
    ...(d.concurrency ? { partitionsConsumedConcurrently: d.concurrency } : {}),
    ...(d.retry ? { retry: d.retry } : {}),
    handler: async (m) => {
      await onNotificationRequested(m.value, deps);
    },
  });
}

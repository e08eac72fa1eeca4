/**
 * The email step: asks the notifier to deliver a message (a NotificationRequested on
 * hub.notifications) and waits for the delivery's result (a step.result on hub.runs).
 * The notification id is the step's effect id, so the same step executed again after
 * a crash or a timeout asks for the same notification, which the notifier sends once
 * and answers again.
 */
import type { NotificationRequested } from '../../kafka/events.ts';
import { HubError, errorFactory } from '../../errors/index.ts';
import type { StepHandler } from '../interpreter.ts';
import { defaultLimits } from '../step-types.ts';

export const emailStepErrors = {
  /** A recipient template rendered to something that is not an address. */
  EMAIL_RECIPIENT_INVALID: { status: 422, retriable: false },
  EMAIL_CONTENT_INVALID: { status: 422, retriable: false },
} as const;
const raise = errorFactory(emailStepErrors);

/** A failed delivery, as the notifier reported it: it already retried what could be retried. */
const deliveryFailed = { status: 502, retriable: false } as const;

/** The same test as the definition's validator (step-types.ts), applied after rendering. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;
/** Under Kafka's default 1 MB message limit, with room for the envelope. */
const MAX_MESSAGE_BYTES = 900_000;

/** The message as the notifier receives it (NotificationRequested.message, JSON). */
export interface EmailMessage {
  to: string[];
  cc: string[];
  subject: string;
  text: string | null;
  html: string | null;
}

export interface EmailStepDeps {
  /** Publishes on hub.notifications (acks=all). */
  publish(n: NotificationRequested): Promise<void>;
  /** How long a step waits for its delivery per attempt (the notifier's own retries included). */
  deliveryTimeoutMs: number;
  maxRecipients?: number;
}

/**
 * Recipients after rendering: an address, or a list whose items are addresses or
 * lists of addresses (a whole template such as "{{trigger.emails}}" renders to one).
 */
function recipients(value: unknown, path: string, min: number, max: number): string[] {
  if (value === undefined || value === null) {
    if (min === 0) return [];
    throw raise('EMAIL_RECIPIENT_INVALID', 'no recipient: the template rendered to nothing', { path });
  }
  const out: string[] = [];
  const check = (v: unknown, at: string) => {
    if (typeof v !== 'string' || !EMAIL.test(v.trim())) {
      const shown = typeof v === 'string' ? `"${v.slice(0, 100)}"` : JSON.stringify(v)?.slice(0, 100) ?? String(v);
      throw raise('EMAIL_RECIPIENT_INVALID', `recipient ${shown} is not an email address`, { path: at });
    }
    out.push(v.trim());
  };
  if (!Array.isArray(value)) check(value, path);
  else value.forEach((item, i) => (Array.isArray(item) ? item.forEach((v, j) => check(v, `${path}/${i}/${j}`)) : check(item, `${path}/${i}`)));
  if (out.length < min || out.length > max) {
    throw raise('EMAIL_RECIPIENT_INVALID', `needs ${min} to ${max} recipients, got ${out.length}`, { path });
  }
  return out;
}

function content(value: unknown, path: string, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) throw raise('EMAIL_CONTENT_INVALID', 'rendered to nothing', { path });
    return null;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') throw raise('EMAIL_CONTENT_INVALID', `must render to text, got ${Array.isArray(value) ? 'an array' : typeof value}`, { path });
  return value;
}

/** Checks the rendered input and shapes it as the notifier's message. */
export function emailMessage(input: unknown, maxRecipients: number): EmailMessage {
  const v = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const to = recipients(v.to, '/to', 1, maxRecipients);
  const cc = recipients(v.cc, '/cc', 0, maxRecipients);
  // A line break in a header is how headers get injected; a subject is one line.
  const subject = (content(v.subject, '/subject', true) as string).replace(/[\r\n]+/g, ' ').trim();
  if (subject.length === 0) throw raise('EMAIL_CONTENT_INVALID', 'the subject rendered empty', { path: '/subject' });
  const text = content(v.text, '/text', false);
  const html = content(v.html, '/html', false);
  if (text === null && html === null) throw raise('EMAIL_CONTENT_INVALID', 'text and html both rendered to nothing', { path: '/text' });
  return { to, cc, subject, text, html };
}


export function createEmailStepHandler(deps: EmailStepDeps): StepHandler {
  const maxRecipients = deps.maxRecipients ?? defaultLimits.emailRecipientsMax;
  return {
    timeoutMs: () => deps.deliveryTimeoutMs,
    async execute(input, _step, ctx) {
      const message = emailMessage(input, maxRecipients);
      if (ctx.dryRun) return { dryRun: { wouldSend: message } };
      const text = JSON.stringify(message);
      if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
        throw raise('EMAIL_CONTENT_INVALID', `the rendered email has ${Buffer.byteLength(text)} bytes, more than ${MAX_MESSAGE_BYTES}`, { path: '/html' });
      }
      await deps.publish({
        eventId: ctx.effectId, type: 'notification.requested', workspaceId: ctx.workspaceId, occurredAt: ctx.now(),
        correlationId: ctx.correlationId, causationId: ctx.causationId, causationDepth: ctx.depth + 1,
        notificationId: ctx.effectId, runId: ctx.runId, workflowId: ctx.workflowId, version: ctx.version, stepKey: ctx.stepKey,
        channel: 'email', credential: null, message: text,
      });
      const result = await ctx.awaitResult(ctx.effectId);
      if (result.status === 'failed') {
        const error = result.error;
        throw new HubError(error?.code ?? 'EMAIL_DELIVERY_FAILED', deliveryFailed, error?.message ?? 'the notifier reported a failed delivery');
      }
      const output = (result.output ?? {}) as { messageId?: unknown; accepted?: unknown; rejected?: unknown };
      return {
        messageId: typeof output.messageId === 'string' ? output.messageId : null,
        accepted: Array.isArray(output.accepted) ? output.accepted : [],
        rejected: Array.isArray(output.rejected) ? output.rejected : [],
      };
    },
  };
}

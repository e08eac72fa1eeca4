/**
 * The email step (`{to, cc?, subject, text?, html?}`: schema, checks and handler):
 * asks the notifier to deliver a message (a NotificationRequested on hub.notifications)
 * and waits for the delivery's result (a step.result on hub.runs).
 * The notification id is the step's effect id, so the same step executed again after
 * a crash or a timeout asks for the same notification, which the notifier sends once
 * and answers again.
 */
import type { NotificationRequested } from '../../kafka/events.ts';
import { HubError, errorFactory, pickErrors } from '../../errors/index.ts';
import type { StepHandler } from '../interpreter.ts';
import { inputObject, defaultLimits, textSchema, type JsonSchema, type StepTypeSpec } from '../step-spec.ts';
import { emailMessage } from '../../contracts/notification.ts';

export const emailStepErrors = pickErrors('EMAIL_RECIPIENT_INVALID', 'EMAIL_CONTENT_INVALID');
const raise = errorFactory(emailStepErrors);

/** A failed delivery, as the notifier reported it: it already retried what could be retried. */
const deliveryFailed = { status: 502, retriable: false } as const;

/** Under Kafka's default 1 MB message limit, with room for the envelope. */
const MAX_MESSAGE_BYTES = 900_000;

export interface EmailStepDeps {
  /** Publishes on hub.notifications (acks=all). */
  publish(n: NotificationRequested): Promise<void>;
  /** How long a step waits for its delivery per attempt (the notifier's own retries included). */
  deliveryTimeoutMs: number;
  maxRecipients?: number;
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

/** An address (the notifier's test, contracts/notification.ts) or text holding a template. */
const RECIPIENT = '^(?:[^\\s@]{1,64}@[^\\s@]+\\.[^\\s@]{2,}|[\\s\\S]*\\{\\{[\\s\\S]*)$';
const NOT_AN_ADDRESS = '{value} is not an email address';

/** One recipient, or a list of them; a whole template may render to a list. */
const recipients = (name: string, min: number, max: number): JsonSchema => ({
  type: ['string', 'array'], maxLength: 320, pattern: RECIPIENT, maxItems: max, ...(min > 0 ? { minItems: min } : {}),
  items: { type: 'string', maxLength: 320, pattern: RECIPIENT, 'x-message': { default: 'each recipient must be a string of at most 320 characters', pattern: NOT_AN_ADDRESS } },
  'x-message': { default: `${name} must be an address or an array of ${min} to ${max} addresses (or templates)`, pattern: NOT_AN_ADDRESS },
});

export const email: StepTypeSpec = {
  type: 'email',
  description: 'Asks the notifier to send an email and waits for its delivery; output {messageId, accepted, rejected}',
  inputSchema: ({ limits }) => inputObject(['to', 'subject'], {
    to: recipients('to', 1, limits.emailRecipientsMax),
    cc: recipients('cc', 0, limits.emailRecipientsMax),
    subject: textSchema(1000),
    text: textSchema(1_000_000, 'Plain-text body'),
    html: textSchema(1_000_000, 'HTML body'),
  }, {
    anyOf: [{ required: ['text'] }, { required: ['html'] }],
    'x-message': { anyOf: 'an email needs text, html or both' },
  }),
  check(input, ctx) {
    const list = (v: unknown) => (typeof v === 'string' ? [v] : v as string[]);
    for (const key of ['to', 'cc', 'subject', 'text', 'html']) if (input[key] !== undefined) ctx.templates(input[key], `/${key}`);
    const { to, cc, subject, text, html } = input;
    return { input: { to: list(to), ...(cc === undefined ? {} : { cc: list(cc) }), subject, ...(text === undefined ? {} : { text }), ...(html === undefined ? {} : { html }) } };
  },
  handler: (d) => createEmailStepHandler({ publish: d.publishNotification, deliveryTimeoutMs: d.emailDeliveryTimeoutMs }),
};

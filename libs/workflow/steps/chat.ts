/**
 * The chat step (`{credential, text, blocks?}`: schema, checks and handler): asks the
 * notifier to post a Slack-compatible message to the incoming webhook stored as a
 * `chat` credential, and waits for the delivery's result, as the email step does.
 * The notification id is the step's effect id: a step executed again asks for the
 * same notification, which the notifier posts once.
 */
import { HubError, errorFactory, pickErrors } from '../../errors/index.ts';
import type { StepHandler } from '../interpreter.ts';
import { textSchema, type StepTypeSpec } from '../step-spec.ts';

export const chatStepErrors = pickErrors('CHAT_CONTENT_INVALID', 'CREDENTIAL_NOT_FOUND');
const raise = errorFactory(chatStepErrors);

const deliveryFailed = { status: 502, retriable: false } as const;
const TEXT_MAX = 40_000;
const BLOCKS_MAX = 50;
const NAME = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$';

/** The rendered input as the notifier's message ({text, blocks?}), checked as the notifier checks it. */
export function chatMessage(input: unknown): { text: string; blocks?: unknown[] } {
  const v = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const text = typeof v.text === 'number' || typeof v.text === 'boolean' ? String(v.text) : v.text;
  if (typeof text !== 'string' || text.trim() === '' || text.length > TEXT_MAX) throw raise('CHAT_CONTENT_INVALID', `text must render to 1 to ${TEXT_MAX} characters`, { path: '/text' });
  if (v.blocks === undefined || v.blocks === null) return { text };
  if (!Array.isArray(v.blocks) || v.blocks.length > BLOCKS_MAX) throw raise('CHAT_CONTENT_INVALID', `blocks must render to an array of at most ${BLOCKS_MAX} blocks`, { path: '/blocks' });
  return { text, blocks: v.blocks };
}

export function createChatStepHandler(deps: Parameters<NonNullable<StepTypeSpec['handler']>>[0]): StepHandler {
  return {
    timeoutMs: () => deps.emailDeliveryTimeoutMs,
    async execute(input, _step, ctx) {
      const credential = String((input as { credential: unknown }).credential);
      const message = chatMessage(input);
      // Named but missing fails the step here (and the dry run), not in the notifier.
      const found = await deps.credentials.resolve(ctx.workspaceId, credential);
      if (!found || found.type !== 'chat') throw raise('CREDENTIAL_NOT_FOUND', `no chat credential "${credential}" in this workspace; create it with POST /v1/credentials {"type": "chat", "webhookUrl"}`, { path: '/credential' });
      if (ctx.dryRun) return { dryRun: { wouldPost: { host: found.host, ...message } } };
      await deps.publishNotification({
        eventId: ctx.effectId, type: 'notification.requested', workspaceId: ctx.workspaceId, occurredAt: ctx.now(),
        correlationId: ctx.correlationId, causationId: ctx.causationId, causationDepth: ctx.depth + 1,
        notificationId: ctx.effectId, runId: ctx.runId, workflowId: ctx.workflowId, version: ctx.version, stepKey: ctx.stepKey,
        channel: 'chat', credential, message: JSON.stringify(message),
      });
      const result = await ctx.awaitResult(ctx.effectId);
      if (result.status === 'failed') {
        throw new HubError(result.error?.code ?? 'CHAT_DELIVERY_FAILED', deliveryFailed, result.error?.message ?? 'the notifier reported a failed delivery');
      }
      const output = (result.output ?? {}) as { httpStatus?: unknown; response?: unknown };
      return { httpStatus: typeof output.httpStatus === 'number' ? output.httpStatus : null, response: typeof output.response === 'string' ? output.response : null };
    },
  };
}

export const chat: StepTypeSpec = {
  type: 'chat',
  description: 'Posts a message to a Slack-compatible chat webhook (a stored chat credential) through the notifier and waits for it; output {httpStatus, response}',
  inputSchema: () => ({
    type: 'object', additionalProperties: false, required: ['credential', 'text'],
    properties: {
      credential: { type: 'string', pattern: NAME, description: 'Name of a stored credential of type chat', 'x-message': 'credential must name a stored credential (1 to 100 letters, digits, _ . : -), never a URL or a template' },
      text: textSchema(TEXT_MAX, 'The message (Slack mrkdwn); templates allowed'),
      blocks: { description: 'Slack Block Kit blocks (an array, or one template rendering to one)', type: ['array', 'string'], maxItems: BLOCKS_MAX },
    },
  }),
  check(input, ctx) {
    ctx.templates(input.text, '/text');
    if (input.blocks !== undefined) ctx.templates(input.blocks, '/blocks');
    return { input };
  },
  handler: (d) => createChatStepHandler(d),
};

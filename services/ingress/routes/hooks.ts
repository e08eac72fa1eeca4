import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { ingressRoutes } from '../../../libs/contracts/ingress-routes.ts';
import { checkHookBody } from '../../../libs/contracts/hook-body.ts';
import { isHookId } from '../../../libs/store/hooks.ts';
import { verify as verifySignature } from '../../../libs/webhooks/standard.ts';
import { externalEnvelope } from '../../../libs/kafka/envelope.ts';
import type { WebhookReceived } from '../../../libs/kafka/events.ts';
import { createAcceptor } from '../acceptor.ts';

/** Request headers worth keeping on the event; never credentials or signatures. */
const KEPT_HEADERS = ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'x-request-id', 'x-forwarded-for'];

/** Deterministic delivery id for a sender's webhook-id, so a redelivery gets the same answer. */
function deliveryIdFor(hookId: string, webhookId: string | null): string {
  if (webhookId === null) return randomUUID();
  const h = createHash('sha256').update(`${hookId}\n${webhookId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function parseBody(request: FastifyRequest, raw: Buffer | undefined): { body: Record<string, unknown>; textValues: boolean } {
  if (request.method === 'GET') {
    const query = request.query as Record<string, unknown>;
    return { body: { ...query }, textValues: true };
  }
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const text = raw?.toString('utf8') ?? '';
  if (type === 'application/json' || type.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw raise('JSON_INVALID', `body is not valid JSON: ${(err as Error).message}`, { path: '/body' });
    }
    // Senders that batch (HubSpot, Segment…) post an array: it arrives as {"items": [...]}.
    if (Array.isArray(parsed)) return { body: { items: parsed }, textValues: false };
    if (typeof parsed !== 'object' || parsed === null) throw raise('BODY_INVALID', 'body must be a JSON object or array', { path: '/body' });
    return { body: parsed as Record<string, unknown>, textValues: false };
  }
  if (type === 'application/x-www-form-urlencoded') {
    const body: Record<string, unknown> = {};
    for (const [k, v] of new URLSearchParams(text)) {
      const prev = body[k];
      body[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return { body, textValues: true };
  }
  if (text.length === 0 && type === '') return { body: {}, textValues: true };
  throw raise('MEDIA_TYPE_UNSUPPORTED', `content-type "${type || '(none)'}" is not accepted; send application/json or application/x-www-form-urlencoded`, { path: '/headers/content-type' });
}

/** The public delivery endpoint of every hook: checked, then published on hub.webhooks. */
export function deliveryRoutes(app: FastifyInstance, d: IngressDeps): void {
  const acceptor = createAcceptor({
    ackTimeoutMs: d.ackTimeoutMs,
    ledger: d.ledger, bus: d.bus, topic: d.webhooksTopic,
    onCommitError: (err) => d.log.warn({ err }, 'could not confirm a delivery; a redelivery may publish again'),
  });

  // The public endpoint: raw bytes, because a signature covers the body as sent.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: d.maxHookBodyBytes }, (_req, body, done) => done(null, body));
    scope.route({
      ...ingressRoutes.delivery,
      method: [...ingressRoutes.delivery.method],
      bodyLimit: d.maxHookBodyBytes,
      handler: async (request, reply) => {
        const { hookId } = request.params as { hookId: string };
        const hook = isHookId(hookId) ? await d.hooks.get(hookId) : null;
        if (!hook) throw raise('NOT_FOUND', `no hook ${hookId}`, { path: '/params/hookId' });
        if (hook.status === 'disabled') throw raise('HOOK_DISABLED', `hook ${hookId} is disabled`, { path: '/params/hookId' });
        if (!hook.methods.includes(request.method as 'POST' | 'GET')) {
          void reply.header('allow', hook.methods.join(', '));
          throw raise('METHOD_NOT_ALLOWED', `hook ${hookId} accepts ${hook.methods.join(', ')}`, { path: '/method' });
        }
        const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
        const header = (name: string) => {
          const v = request.headers[name];
          return typeof v === 'string' ? v : undefined;
        };
        let webhookId = header('webhook-id') ?? null;
        const live = hook.secrets.filter((s) => !s.expiresAt || s.expiresAt.getTime() > d.now());
        if (hook.secrets.length > 0) {
          if (live.length === 0) throw raise('WEBHOOK_SIGNATURE_REQUIRED', `hook ${hookId} has no valid secret left; add one`, { path: '/headers/webhook-signature' });
          // For GET, the signed "body" is the query string as sent.
          const signed = request.method === 'GET' ? Buffer.from(request.url.split('?')[1] ?? '', 'utf8') : raw ?? Buffer.alloc(0);
          const verified = verifySignature({
            secrets: live.map((s) => d.secrets.open(s.sealed, `hook:${hook._id}`).reveal()),
            headers: { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') },
            body: signed,
            nowSeconds: Math.floor(d.now() / 1000),
          });
          webhookId = verified.webhookId;
        }
        const { body, textValues } = parseBody(request, raw);
        const checked = checkHookBody(hook.expectedBody, body, textValues);
        const deliveryId = deliveryIdFor(hook._id, webhookId);
        const headers: Record<string, string> = {};
        for (const h of KEPT_HEADERS) { const v = header(h); if (v !== undefined) headers[h] = v.slice(0, 500); }
        const event: WebhookReceived = {
          ...externalEnvelope('webhook.received', hook.workspaceId, d.now(), deliveryId),
          type: 'webhook.received', hookId: hook._id, workflowId: hook.workflowId, webhookId, method: request.method,
          contentType: header('content-type') ?? null, body: JSON.stringify(checked), headers,
        };
        // Deliveries with a webhook-id are remembered, so the sender's retries are accepted once.
        const { duplicate } = await acceptor.accept([{
          key: webhookId === null ? null : `hook:${hook._id}:${webhookId}`,
          message: { key: hook._id, value: event, headers: { 'hub.event-id': deliveryId, 'hub.workspace-id': hook.workspaceId } },
        }]);
        if (duplicate[0]) {
          d.metrics.duplicates.inc({ kind: 'webhook' });
          return reply.code(202).send({ deliveryId, duplicate: true });
        }
        d.metrics.published.inc({ topic: 'hub.webhooks' });
        d.log.info({ workspaceId: hook.workspaceId, hookId: hook._id, deliveryId }, 'webhook accepted');
        return reply.code(202).send({ deliveryId });
      },
    });
  });
}

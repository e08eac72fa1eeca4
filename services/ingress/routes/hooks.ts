import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../errors.ts';
import type { RouteTable } from '../http.ts';
import { checkHookBody, parseHookDefinition } from '../../../libs/contracts/hook-body.ts';
import { isHookId, newHookId, type HookDocument, type HookSecret } from '../store/hooks.ts';
import { verify as verifySignature } from '../../../libs/webhooks/standard.ts';
import { externalEnvelope } from '../../../libs/kafka/envelope.ts';
import type { WebhookReceived } from '../../../libs/kafka/events.ts';
import type { Principal } from '../auth.ts';
import { createAcceptor } from '../acceptor.ts';

const ROTATION_GRACE_S = 24 * 60 * 60;
/** Request headers worth keeping on the event; never credentials or signatures. */
const KEPT_HEADERS = ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'x-request-id', 'x-forwarded-for'];

function view(hook: HookDocument, publicUrl: string) {
  return {
    hookId: hook._id,
    url: `${publicUrl}/hooks/${hook._id}`,
    name: hook.name,
    methods: hook.methods,
    expectedBody: hook.expectedBody,
    status: hook.status,
    signed: hook.secrets.length > 0,
    secrets: hook.secrets.map((s) => ({ id: s.id, createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt?.toISOString() ?? null })),
    workflowId: hook.workflowId,
    createdAt: hook.createdAt.toISOString(),
  };
}

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

/** Hook management for a workspace (API key), and the public delivery endpoint. */
export function hookRoutes(app: FastifyInstance, d: IngressDeps, routes: RouteTable, authenticate: (r: FastifyRequest) => Promise<Principal>): void {
  const tags = ['hooks'];
  const ownHook = async (principal: Principal, hookId: string) => {
    const hook = isHookId(hookId) ? await d.hooks.get(hookId) : null;
    // Another workspace's hook is reported exactly like a missing one.
    if (!hook || hook.workspaceId !== principal.workspaceId) throw raise('NOT_FOUND', `no hook ${hookId}`, { path: '/params/hookId' });
    return hook;
  };
  const sealSecret = (hookId: string, secret: string): HookSecret => ({
    id: randomUUID().slice(0, 8), sealed: d.secrets.seal(secret, `hook:${hookId}`), createdAt: new Date(d.now()), expiresAt: null,
  });

  routes.add(['GET', 'POST'], '/v1/hooks');
  app.post('/v1/hooks', {
    schema: {
      tags, summary: 'Create a webhook endpoint',
      body: {
        type: 'object', required: ['name'],
        properties: {
          name: { type: 'string' }, methods: { type: 'array', items: { type: 'string', enum: ['POST', 'GET'] } },
          expectedBody: { type: 'object', additionalProperties: { type: 'object', properties: { type: { type: 'string', enum: ['string', 'number', 'boolean', 'object', 'array'] }, required: { type: 'boolean' }, format: { type: 'string', enum: ['email', 'uri', 'date-time'] } } } },
          secret: { type: 'string', description: 'Standard Webhooks secret (whsec_<base64>); deliveries must then be signed' },
        },
      },
    },
  }, async (request, reply) => {
    const principal = await authenticate(request);
    const def = parseHookDefinition(request.body);
    const hookId = newHookId();
    const now = new Date(d.now());
    const hook: HookDocument = {
      _id: hookId, workspaceId: principal.workspaceId, name: def.name, methods: def.methods, expectedBody: def.expectedBody,
      secrets: def.secret ? [sealSecret(hookId, def.secret)] : [], status: 'active', workflowId: null, createdAt: now, updatedAt: now,
    };
    await d.hooks.insert(hook);
    d.log.info({ workspaceId: principal.workspaceId, hookId }, 'hook created');
    return reply.code(201).send(view(hook, d.publicUrl));
  });
  app.get('/v1/hooks', { schema: { tags, summary: 'List the workspace\'s hooks' } }, async (request) => {
    const principal = await authenticate(request);
    return { hooks: (await d.hooks.list(principal.workspaceId)).map((h) => view(h, d.publicUrl)) };
  });

  const params = { type: 'object', properties: { hookId: { type: 'string' } } } as const;
  routes.add(['GET', 'DELETE'], '/v1/hooks/:hookId');
  app.get('/v1/hooks/:hookId', { schema: { tags, summary: 'Read a hook', params } }, async (request) => {
    const principal = await authenticate(request);
    return view(await ownHook(principal, (request.params as { hookId: string }).hookId), d.publicUrl);
  });
  app.delete('/v1/hooks/:hookId', { schema: { tags, summary: 'Delete a hook (its URL then answers 404)', params } }, async (request) => {
    const principal = await authenticate(request);
    const hook = await ownHook(principal, (request.params as { hookId: string }).hookId);
    await d.hooks.remove(hook._id);
    d.log.info({ workspaceId: principal.workspaceId, hookId: hook._id }, 'hook deleted');
    return { hookId: hook._id, deleted: true };
  });
  for (const [action, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    routes.add('POST', `/v1/hooks/:hookId/${action}`);
    app.post(`/v1/hooks/:hookId/${action}`, { schema: { tags, summary: `${action === 'disable' ? 'Disable (its URL then answers 410)' : 'Enable'} a hook`, params } }, async (request) => {
      const principal = await authenticate(request);
      const hook = await ownHook(principal, (request.params as { hookId: string }).hookId);
      await d.hooks.update(hook._id, { status });
      d.log.info({ workspaceId: principal.workspaceId, hookId: hook._id, status }, 'hook status changed');
      return view({ ...hook, status }, d.publicUrl);
    });
  }
  routes.add('POST', '/v1/hooks/:hookId/secrets');
  app.post('/v1/hooks/:hookId/secrets', {
    schema: { tags, summary: 'Add a signing secret (rotation): older secrets stay valid for graceSeconds', params, body: { type: 'object', required: ['secret'], properties: { secret: { type: 'string' }, graceSeconds: { type: 'integer', minimum: 0 } } } },
  }, async (request, reply) => {
    const principal = await authenticate(request);
    const hook = await ownHook(principal, (request.params as { hookId: string }).hookId);
    const body = request.body as Record<string, unknown> | null;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw raise('BODY_INVALID', 'body must be a JSON object like {"secret": "whsec_..."}', { path: '' });
    for (const key of Object.keys(body)) if (!['secret', 'graceSeconds'].includes(key)) throw raise('BODY_INVALID', `unknown field "${key}"`, { path: `/${key}` });
    if (typeof body.secret !== 'string' || body.secret.length < 16 || body.secret.length > 200) throw raise('BODY_INVALID', 'secret must be a string of 16 to 200 characters', { path: '/secret' });
    const grace = body.graceSeconds ?? ROTATION_GRACE_S;
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > 30 * 86400) throw raise('BODY_INVALID', 'graceSeconds must be an integer from 0 to 2592000', { path: '/graceSeconds' });
    const expiresAt = new Date(d.now() + grace * 1000);
    const kept = hook.secrets
      .filter((s) => !s.expiresAt || s.expiresAt.getTime() > d.now())
      .map((s) => ({ ...s, expiresAt: s.expiresAt && s.expiresAt < expiresAt ? s.expiresAt : expiresAt }))
      .filter((s) => s.expiresAt.getTime() > d.now());
    const secrets = [...kept, sealSecret(hook._id, body.secret)];
    await d.hooks.update(hook._id, { secrets });
    d.log.info({ workspaceId: principal.workspaceId, hookId: hook._id, secrets: secrets.length }, 'hook secret rotated');
    return reply.code(201).send(view({ ...hook, secrets }, d.publicUrl));
  });

  const acceptor = createAcceptor({
    ackTimeoutMs: d.ackTimeoutMs,
    ledger: d.ledger, bus: d.bus, topic: d.webhooksTopic,
    onCommitError: (err) => d.log.warn({ err }, 'could not confirm a delivery; a redelivery may publish again'),
  });

  // The public endpoint: raw bytes, because a signature covers the body as sent.
  routes.add(['POST', 'GET'], '/hooks/:hookId');
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: d.maxHookBodyBytes }, (_req, body, done) => done(null, body));
    scope.route({
      method: ['POST', 'GET'],
      url: '/hooks/:hookId',
      bodyLimit: d.maxHookBodyBytes,
      schema: { tags: ['deliveries'], summary: 'Deliver a webhook (public; signed when the hook has secrets)', params },
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

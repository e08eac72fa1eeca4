import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf, type Principal } from '../../../libs/http-server/auth.ts';
import { expectedBodySchema, parseHookDefinition } from '../../../libs/contracts/hook-body.ts';
import { isHookId, newHookId, type HookDocument, type HookSecret } from '../../../libs/store/hooks.ts';

const ROTATION_GRACE_S = 24 * 60 * 60;

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

/** Hook management for a workspace (API key); deliveries to the hooks are the ingress's. */
export function hookRoutes(app: FastifyInstance, d: ApiDeps): void {
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
  app.post('/v1/hooks', { config: { auth: 'workspace' },
    schema: {
      tags, summary: 'Create a webhook endpoint',
      body: {
        type: 'object', required: ['name'], additionalProperties: false,
        properties: {
          name: { type: 'string', maxLength: 200 },
          methods: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string', pattern: '^([Pp][Oo][Ss][Tt]|[Gg][Ee][Tt])$', description: 'POST or GET' }, default: ['POST'] },
          expectedBody: expectedBodySchema,
          secret: { type: ['string', 'null'], minLength: 16, maxLength: 200, description: 'Standard Webhooks secret (whsec_<base64>); deliveries must then be signed' },
        },
      },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
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
  app.get('/v1/hooks', { config: { auth: 'workspace' }, schema: { tags, summary: 'List the workspace\'s hooks' } }, async (request) => {
    const principal = principalOf(request);
    return { hooks: (await d.hooks.list(principal.workspaceId)).map((h) => view(h, d.publicUrl)) };
  });

  const params = { type: 'object', required: ['hookId'], properties: { hookId: { type: 'string' } } } as const;
  app.get('/v1/hooks/:hookId', { config: { auth: 'workspace' }, schema: { tags, summary: 'Read a hook', params } }, async (request) => {
    const principal = principalOf(request);
    return view(await ownHook(principal, (request.params as { hookId: string }).hookId), d.publicUrl);
  });
  app.delete('/v1/hooks/:hookId', { config: { auth: 'workspace' }, schema: { tags, summary: 'Delete a hook (its URL then answers 404)', params } }, async (request) => {
    const principal = principalOf(request);
    const hook = await ownHook(principal, (request.params as { hookId: string }).hookId);
    await d.hooks.remove(hook._id);
    d.log.info({ workspaceId: principal.workspaceId, hookId: hook._id }, 'hook deleted');
    return { hookId: hook._id, deleted: true };
  });
  for (const [action, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    app.post(`/v1/hooks/:hookId/${action}`, { config: { auth: 'workspace' }, schema: { tags, summary: `${action === 'disable' ? 'Disable (its URL then answers 410)' : 'Enable'} a hook`, params } }, async (request) => {
      const principal = principalOf(request);
      const hook = await ownHook(principal, (request.params as { hookId: string }).hookId);
      await d.hooks.update(hook._id, { status });
      d.log.info({ workspaceId: principal.workspaceId, hookId: hook._id, status }, 'hook status changed');
      return view({ ...hook, status }, d.publicUrl);
    });
  }
  app.post('/v1/hooks/:hookId/secrets', { config: { auth: 'workspace' },
    schema: { tags, summary: 'Add a signing secret (rotation): older secrets stay valid for graceSeconds', params, body: { type: 'object', required: ['secret'], additionalProperties: false, properties: { secret: { type: 'string', minLength: 16, maxLength: 200 }, graceSeconds: { type: 'integer', minimum: 0, maximum: 30 * 86400, default: ROTATION_GRACE_S } } } },
  }, async (request, reply) => {
    const principal = principalOf(request);
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

}

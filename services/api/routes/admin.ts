import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';

/** Workspaces and their API keys, for the operator holding the admin token (declared `admin`: checked by the auth hook). */
export function adminRoutes(app: FastifyInstance, d: ApiDeps): void {
  const workspaceOr404 = async (workspaceId: string) => {
    const ws = await d.workspaces.get(workspaceId);
    if (!ws) throw raise('NOT_FOUND', `no workspace ${workspaceId}`, { path: '/params/workspaceId' });
    return ws;
  };
  const tags = ['admin'];
  const wsParams = { type: 'object', required: ['workspaceId'], properties: { workspaceId: { type: 'string' } } } as const;
  const keyParams = { type: 'object', required: ['workspaceId', 'keyId'], properties: { workspaceId: { type: 'string' }, keyId: { type: 'string' } } } as const;
  app.post('/v1/admin/workspaces', { config: { auth: 'admin' },
    schema: { tags, summary: 'Create a workspace and its first API key (shown once)', body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } },
  }, async (request, reply) => {
    const body = request.body as Record<string, unknown> | null;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw raise('BODY_INVALID', 'body must be a JSON object like {"name": "Acme"}', { path: '' });
    for (const key of Object.keys(body)) if (key !== 'name') throw raise('BODY_INVALID', `unknown field "${key}"`, { path: `/${key}` });
    const name = body.name;
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) throw raise('BODY_INVALID', 'name must be a non-empty string of at most 200 characters', { path: '/name' });
    const { workspace, keyId, apiKey } = await d.workspaces.create(name.trim());
    d.log.info({ workspaceId: workspace._id, keyId }, 'workspace created');
    return reply.code(201).send({ workspaceId: workspace._id, name: workspace.name, keyId, apiKey });
  });
  app.get('/v1/admin/workspaces', { config: { auth: 'admin' }, schema: { tags, summary: 'List workspaces' } }, async () => {
    const list = await d.workspaces.list();
    return { workspaces: list.map((w) => ({ workspaceId: w._id, name: w.name, createdAt: w.createdAt.toISOString() })) };
  });
  app.get('/v1/admin/workspaces/:workspaceId/keys', { config: { auth: 'admin' }, schema: { tags, summary: 'List a workspace\'s API keys (prefixes only)', params: wsParams } }, async (request) => {
    const { workspaceId } = request.params as { workspaceId: string };
    await workspaceOr404(workspaceId);
    return { keys: await d.workspaces.listKeys(workspaceId) };
  });
  app.post('/v1/admin/workspaces/:workspaceId/keys', { config: { auth: 'admin' }, schema: { tags, summary: 'Create another API key (shown once; no body)', params: wsParams } }, async (request, reply) => {
    const { workspaceId } = request.params as { workspaceId: string };
    await workspaceOr404(workspaceId);
    const { keyId, apiKey } = await d.workspaces.createKey(workspaceId);
    d.log.info({ workspaceId, keyId }, 'api key created');
    return reply.code(201).send({ keyId, prefix: `hub_${keyId}_`, apiKey });
  });
  app.delete('/v1/admin/workspaces/:workspaceId/keys/:keyId', { config: { auth: 'admin' }, schema: { tags, summary: 'Revoke an API key', params: keyParams } }, async (request) => {
    const { workspaceId, keyId } = request.params as { workspaceId: string; keyId: string };
    await workspaceOr404(workspaceId);
    if (!(await d.workspaces.revokeKey(workspaceId, keyId))) throw raise('NOT_FOUND', `workspace ${workspaceId} has no key ${keyId}`, { path: '/params/keyId' });
    d.auth.forget(keyId);
    d.log.info({ workspaceId, keyId }, 'api key revoked');
    return { keyId, revoked: true };
  });
}

import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../errors.ts';
import type { RouteTable } from '../http.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Workspaces and their API keys, for the operator holding the admin token. */
export function adminRoutes(app: FastifyInstance, d: IngressDeps, routes: RouteTable): void {
  const expected = digest(d.adminToken);
  const requireAdmin = async (authorization: string | undefined) => {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      throw raise('UNAUTHORIZED', 'admin routes need "Authorization: Bearer <admin token>"', { path: '/headers/authorization' });
    }
  };
  const workspaceOr404 = async (workspaceId: string) => {
    const ws = await d.workspaces.get(workspaceId);
    if (!ws) throw raise('NOT_FOUND', `no workspace ${workspaceId}`, { path: '/params/workspaceId' });
    return ws;
  };
  const tags = ['admin'];
  const params = { type: 'object', properties: { workspaceId: { type: 'string' }, keyId: { type: 'string' } } } as const;

  routes.add('POST', '/v1/admin/workspaces');
  app.post('/v1/admin/workspaces', {
    schema: { tags, summary: 'Create a workspace and its first API key (shown once)', body: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } } },
  }, async (request, reply) => {
    await requireAdmin(request.headers.authorization);
    const body = request.body as Record<string, unknown> | null;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw raise('BODY_INVALID', 'body must be a JSON object like {"name": "Acme"}', { path: '' });
    for (const key of Object.keys(body)) if (key !== 'name') throw raise('BODY_INVALID', `unknown field "${key}"`, { path: `/${key}` });
    const name = body.name;
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) throw raise('BODY_INVALID', 'name must be a non-empty string of at most 200 characters', { path: '/name' });
    const { workspace, keyId, apiKey } = await d.workspaces.create(name.trim());
    d.log.info({ workspaceId: workspace._id, keyId }, 'workspace created');
    return reply.code(201).send({ workspaceId: workspace._id, name: workspace.name, keyId, apiKey });
  });

  routes.add('GET', '/v1/admin/workspaces');
  app.get('/v1/admin/workspaces', { schema: { tags, summary: 'List workspaces' } }, async (request) => {
    await requireAdmin(request.headers.authorization);
    const list = await d.workspaces.list();
    return { workspaces: list.map((w) => ({ workspaceId: w._id, name: w.name, createdAt: w.createdAt.toISOString() })) };
  });

  routes.add(['GET', 'POST'], '/v1/admin/workspaces/:workspaceId/keys');
  app.get('/v1/admin/workspaces/:workspaceId/keys', { schema: { tags, summary: 'List a workspace\'s API keys (prefixes only)', params } }, async (request) => {
    await requireAdmin(request.headers.authorization);
    const { workspaceId } = request.params as { workspaceId: string };
    await workspaceOr404(workspaceId);
    return { keys: await d.workspaces.listKeys(workspaceId) };
  });
  app.post('/v1/admin/workspaces/:workspaceId/keys', { schema: { tags, summary: 'Create another API key (shown once)', params } }, async (request, reply) => {
    await requireAdmin(request.headers.authorization);
    const { workspaceId } = request.params as { workspaceId: string };
    await workspaceOr404(workspaceId);
    const { keyId, apiKey } = await d.workspaces.createKey(workspaceId);
    d.log.info({ workspaceId, keyId }, 'api key created');
    return reply.code(201).send({ keyId, prefix: `hub_${keyId}_`, apiKey });
  });

  routes.add('DELETE', '/v1/admin/workspaces/:workspaceId/keys/:keyId');
  app.delete('/v1/admin/workspaces/:workspaceId/keys/:keyId', { schema: { tags, summary: 'Revoke an API key', params } }, async (request) => {
    await requireAdmin(request.headers.authorization);
    const { workspaceId, keyId } = request.params as { workspaceId: string; keyId: string };
    await workspaceOr404(workspaceId);
    if (!(await d.workspaces.revokeKey(workspaceId, keyId))) throw raise('NOT_FOUND', `workspace ${workspaceId} has no key ${keyId}`, { path: '/params/keyId' });
    d.auth.forget(keyId);
    d.log.info({ workspaceId, keyId }, 'api key revoked');
    return { keyId, revoked: true };
  });
}

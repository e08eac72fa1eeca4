import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../errors.ts';
import type { RouteTable } from '../http.ts';
import type { Principal } from '../auth.ts';

/** Health, readiness, metrics, the OpenAPI document, and the caller's own workspace. */
export function opsRoutes(app: FastifyInstance, d: IngressDeps, routes: RouteTable, authenticate: (r: FastifyRequest) => Promise<Principal>): void {
  const tags = ['operations'];
  routes.add('GET', '/healthz');
  app.get('/healthz', { schema: { tags, summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  routes.add('GET', '/readyz');
  app.get('/readyz', { schema: { tags, summary: 'Kafka, the schema registry and the store are reachable' } }, async (_request, reply) => {
    const parts = await d.readiness();
    const ready = Object.values(parts).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', parts });
  });

  routes.add('GET', '/metrics');
  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics (text format)' } }, async (_request, reply) => {
    return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });

  routes.add('GET', '/docs');
  app.get('/docs', { schema: { tags, summary: 'This OpenAPI 3 document' } }, async () => app.swagger());

  routes.add('GET', '/v1/workspace');
  app.get('/v1/workspace', { schema: { tags: ['workspace'], summary: 'The workspace of the API key' } }, async (request) => {
    const principal = await authenticate(request);
    const ws = await d.workspaces.get(principal.workspaceId);
    return { workspaceId: principal.workspaceId, name: ws?.name ?? null, keyId: principal.keyId };
  });
  routes.add('GET', '/v1/workspaces/:workspaceId');
  app.get('/v1/workspaces/:workspaceId', {
    schema: { tags: ['workspace'], summary: 'A workspace by id: only the key\'s own (403 otherwise)', params: { type: 'object', properties: { workspaceId: { type: 'string' } } } },
  }, async (request) => {
    const principal = await authenticate(request);
    const { workspaceId } = request.params as { workspaceId: string };
    if (workspaceId !== principal.workspaceId) throw raise('WORKSPACE_FORBIDDEN', `this API key belongs to another workspace than ${workspaceId}`, { path: '/params/workspaceId' });
    const ws = await d.workspaces.get(principal.workspaceId);
    return { workspaceId, name: ws?.name ?? null, keyId: principal.keyId };
  });
}

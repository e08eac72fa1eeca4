import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf } from '../../../libs/http-server/auth.ts';
import { AggregatorRegistry } from 'prom-client';

/** The api's series and the ops service's, as one list (ops away: the api's alone, with hub_ops_up 0). */
async function withOps(own: object[], d: ApiDeps): Promise<object[]> {
  const ops = await d.ops.call('GET', '/metrics').catch(() => null);
  const up = { name: 'hub_ops_up', help: '1 when the api read the ops service\'s metrics at this scrape, else 0', type: 'gauge', aggregator: 'sum', values: [{ labels: {}, value: ops?.status === 200 ? 1 : 0 }] };
  const lists = ops?.status === 200 && Array.isArray(ops.body) ? [own, ops.body as object[]] : [own];
  return [...await AggregatorRegistry.aggregate(lists as Parameters<typeof AggregatorRegistry.aggregate>[0]).getMetricsAsJSON(), up];
}

/**
 * The caller's own workspace, and the api process's own health, readiness and metrics.
 * At the hub's address (:8080) /healthz, /readyz and /metrics are the ingress's (its
 * /metrics includes these), so the api's are hidden from /docs: they are for whoever
 * watches the api process itself on its own port.
 */
export function opsRoutes(app: FastifyInstance, d: ApiDeps): void {
  const hidden = { hide: true } as const;
  app.get('/healthz', { config: { auth: 'public' }, schema: hidden }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { auth: 'public' }, schema: hidden }, async (_request, reply) => {
    const parts = await d.readiness();
    const ready = Object.values(parts).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', parts });
  });
  // Text for Prometheus; JSON (prom-client's form) for the ingress, which sums both processes' series into one scrape.
  app.get('/metrics', { config: { auth: 'public' }, schema: hidden }, async (request, reply) => {
    // The ops service's series (lag, topics, DLQ, alerts) join the api's: one scrape at the hub's address covers them.
    if (request.headers.accept === 'application/json') return reply.send(await withOps(await d.metrics.registry.getMetricsAsJSON(), d));
    return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });

  const tags = ['workspace'];
  app.get('/v1/workspace', { config: { auth: 'workspace' }, schema: { tags, summary: 'The workspace of the API key' } }, async (request) => {
    const principal = principalOf(request);
    const ws = await d.workspaces.get(principal.workspaceId);
    return { workspaceId: principal.workspaceId, name: ws?.name ?? null, keyId: principal.keyId };
  });
  app.get('/v1/workspaces/:workspaceId', {
    config: { auth: 'workspace' },
    schema: { tags, summary: 'A workspace by id: only the key\'s own (403 otherwise)', params: { type: 'object', required: ['workspaceId'], properties: { workspaceId: { type: 'string' } } } },
  }, async (request) => {
    const principal = principalOf(request);
    const { workspaceId } = request.params as { workspaceId: string };
    if (workspaceId !== principal.workspaceId) throw raise('WORKSPACE_FORBIDDEN', `this API key belongs to another workspace than ${workspaceId}`, { path: '/params/workspaceId' });
    const ws = await d.workspaces.get(principal.workspaceId);
    return { workspaceId, name: ws?.name ?? null, keyId: principal.keyId };
  });
}

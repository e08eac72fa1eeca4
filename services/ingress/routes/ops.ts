import type { FastifyInstance } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { ingressRoutes } from '../../../libs/contracts/ingress-routes.ts';

/**
 * Health, readiness and metrics of the hub's address. /metrics adds the api's series,
 * read from the api at each scrape (hub_api_up says whether that worked), so the
 * operator scrapes one target.
 */
export function opsRoutes(app: FastifyInstance, d: IngressDeps): void {
  app.route({ ...ingressRoutes.healthz, handler: async () => ({ status: 'ok' }) });
  app.route({
    ...ingressRoutes.readyz,
    handler: async (_request, reply) => {
      const parts = await d.readiness();
      const ready = Object.values(parts).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', parts });
    },
  });
  const readApi = async () => {
    const res = await fetch(`${d.api.url}/metrics`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    return await res.json() as object[];
  };
  app.route({
    ...ingressRoutes.metrics,
    handler: async (_request, reply) => {
      const { contentType, text } = await d.metrics.scrape(readApi);
      return reply.type(contentType).send(text);
    },
  });
}

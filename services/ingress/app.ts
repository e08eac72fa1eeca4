import type { FastifyInstance } from 'fastify';
import type { IngressDeps } from './deps.ts';
import { createHttpServer, useJsonBodies } from '../../libs/http-server/server.ts';
import { recordEventSchema } from '../../libs/contracts/ingress-routes.ts';
import { eventRoutes } from './routes/events.ts';
import { deliveryRoutes } from './routes/hooks.ts';
import { syncHookRoutes } from './routes/sync-hooks.ts';
import { opsRoutes } from './routes/ops.ts';
import { forwardUnmatched, installForwarding } from './forward.ts';

/**
 * The ingress HTTP server (the hot path), unstarted (tests call `inject()` or
 * `listen()`): producer events, webhook deliveries, health, readiness and metrics.
 * Any other request is forwarded to the api (forward.ts), so one address answers every
 * route. Forwarded bodies pass as sent; only the events route parses JSON.
 */
export async function buildIngressApp(d: IngressDeps): Promise<FastifyInstance> {
  const { app } = createHttpServer({
    log: d.log, metrics: d.metrics, bodyLimit: d.maxEventsBodyBytes,
    auth: { authenticator: d.auth, limiter: d.limiter, adminToken: null },
    skipMetrics: (request) => request.forwarded,
    unmatched: (routes) => forwardUnmatched(d, routes),
  });
  app.removeAllContentTypeParsers();
  app.addSchema(recordEventSchema);
  await installForwarding(app, d);
  opsRoutes(app, d);
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    useJsonBodies(scope);
    eventRoutes(scope, d);
  });
  deliveryRoutes(app, d);
  syncHookRoutes(app, d);
  return app;
}

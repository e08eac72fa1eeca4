import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../log/index.ts';
import { routeLabel } from './route-table.ts';

/**
 * The request metrics every HTTP service keeps, one registry per app (tests build
 * several). `processPrefix` names the process's own default metrics (`hub_ingress_`,
 * `hub_api_`), so the ingress can serve both processes' metrics in one scrape.
 */
export function createHttpMetrics(o: { processPrefix: string }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: o.processPrefix });
  return {
    registry,
    requests: new Counter({ name: 'hub_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'hub_http_request_duration_seconds', help: 'HTTP request latency by route and method', labelNames: ['route', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
    }),
    rejected: new Counter({ name: 'hub_requests_rejected_total', help: 'Refused requests by error code', labelNames: ['code'], registers: [registry] }),
  };
}

export type HttpMetrics = ReturnType<typeof createHttpMetrics>;

/** Counts and times every answered request, and logs each refusal in one line. `skip`: requests another process answers and counts. */
export function installRequestMetrics(app: FastifyInstance, log: Logger, metrics: HttpMetrics, skip: (request: FastifyRequest) => boolean = () => false): void {
  app.addHook('onResponse', async (request, reply) => {
    if (skip(request)) return;
    const route = routeLabel(request);
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) log.info({ route, method: request.method, status: reply.statusCode }, 'request refused');
  });
}

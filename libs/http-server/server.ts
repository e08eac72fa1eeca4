import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../log/index.ts';
import { frameworkErrorHandler, installErrorHandling } from './errors-reply.ts';
import { installAuth, type AuthOptions } from './auth.ts';
import { installRequestMetrics, type HttpMetrics } from './metrics.ts';
import { RouteTable } from './route-table.ts';
import { createValidatorCompiler } from './validation.ts';

export interface HttpServerOptions {
  log: Logger;
  metrics: HttpMetrics;
  auth: AuthOptions & { publicPrefixes?: readonly string[] };
  bodyLimit: number;
  /** Requests answered by another process (the ingress's forwarding): not counted here. */
  skipMetrics?: (request: FastifyRequest) => boolean;
  /** Answers requests no route matched (default: 405 with `Allow` for a known path, else 404). */
  unmatched?: (routes: RouteTable) => (request: FastifyRequest, reply: FastifyReply) => unknown;
}

/**
 * The one fastify setup of the hub's HTTP services, unstarted: our error shape for
 * every refusal (including fastify's own and schema failures), 404/405 with `Allow`,
 * request metrics, schemas validated, and auth declared per route. Add routes, then
 * `inject()` or `listen()`.
 */
export function createHttpServer(o: HttpServerOptions): { app: FastifyInstance; routes: RouteTable } {
  const app = Fastify({
    // Our own onResponse hook logs refusals, one line each; fastify's logger stays off.
    logger: false,
    bodyLimit: o.bodyLimit,
    return503OnClosing: true,
    trustProxy: false,
    frameworkErrors: frameworkErrorHandler(o.metrics),
  });
  app.setValidatorCompiler(createValidatorCompiler(() => app.getSchemas()));
  app.removeContentTypeParser('text/plain');
  useJsonBodies(app);
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => {
    if (route.method === 'HEAD' || route.url.endsWith('*')) return;
    routes.add(route.method as string | string[], route.url);
  });
  installErrorHandling(app, o.log, o.metrics, routes, o.unmatched?.(routes));
  installRequestMetrics(app, o.log, o.metrics, o.skipMetrics);
  installAuth(app, o.auth);
  return { app, routes };
}

/**
 * JSON bodies with fastify's own parser (prototype poisoning refused), except that an
 * empty body with content-type JSON is no body: bodiless POSTs (activate, cancel,
 * revoke) from clients that always set the header are accepted. For `app` or a scope.
 */
export function useJsonBodies(app: FastifyInstance, bodyLimit?: number): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', ...(bodyLimit ? { bodyLimit } : {}) }, (request, body, done) => {
    if (body === '') { done(null, undefined); return; }
    parseJson(request, body as string, done);
  });
}

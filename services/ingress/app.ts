import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { IngressDeps } from './deps.ts';
import { frameworkErrorHandler, installErrorHandling, RouteTable, routeLabel } from './http.ts';
import { raise } from './errors.ts';
import type { Principal } from './auth.ts';
import { adminRoutes } from './routes/admin.ts';
import { eventRoutes } from './routes/events.ts';
import { recordRoutes } from './routes/records.ts';
import { hookRoutes } from './routes/hooks.ts';
import { opsRoutes } from './routes/ops.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { runRoutes } from './routes/runs.ts';
import { credentialRoutes } from './routes/credentials.ts';

const recordEventSchema = {
  $id: 'RecordEvent',
  type: 'object',
  required: ['type', 'object', 'recordId'],
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Idempotency key; assigned when absent' },
    type: { type: 'string', enum: ['record.created', 'record.updated', 'record.deleted'] },
    object: { type: 'string', maxLength: 200 },
    recordId: { type: 'string', maxLength: 200 },
    occurredAt: { type: 'string', format: 'date-time' },
    record: { type: 'object', description: 'Fields after the change (required unless deleted)' },
    before: { type: 'object' },
    updatedFields: { type: 'array', items: { type: 'string' } },
    version: { type: 'integer', minimum: 0, description: 'Orders changes of one record; defaults to occurredAt in ms' },
  },
} as const;

/**
 * The ingress HTTP server, unstarted (tests call `inject()` or `listen()`). Validation
 * is done by the handlers, which name the offending field; route schemas only feed
 * the OpenAPI document at /docs.
 */
export async function buildIngressApp(d: IngressDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Our own onResponse hook logs refusals, one line each; fastify's logger stays off.
    logger: false,
    bodyLimit: d.maxEventsBodyBytes,
    return503OnClosing: true,
    trustProxy: false,
    frameworkErrors: frameworkErrorHandler(d.metrics),
  });
  app.setValidatorCompiler(() => () => true);
  app.removeContentTypeParser('text/plain');
  app.addSchema(recordEventSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'CRM integration hub', version: '1', description: 'Record events and webhooks into Kafka; workspaces, API keys, hooks and materialized records.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Workspace API key (admin routes: the admin token)' } } },
      security: [{ apiKey: [] }],
    },
  });

  const routes = new RouteTable();
  installErrorHandling(app, d.log, d.metrics, routes);
  app.addHook('onResponse', async (request, reply) => {
    const route = routeLabel(request);
    d.metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    d.metrics.latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) d.log.info({ route, method: request.method, status: reply.statusCode }, 'request refused');
  });

  const authenticate = async (request: FastifyRequest): Promise<Principal> => {
    const principal = await d.auth.authenticate(request.headers.authorization);
    const claimed = request.headers['hub-workspace-id'];
    if (claimed !== undefined && claimed !== principal.workspaceId) {
      throw raise('WORKSPACE_FORBIDDEN', 'the Hub-Workspace-Id header names another workspace than this API key\'s', { path: '/headers/hub-workspace-id' });
    }
    d.limiter.take(principal.workspaceId);
    return principal;
  };

  opsRoutes(app, d, routes, authenticate);
  adminRoutes(app, d, routes);
  eventRoutes(app, d, routes, authenticate);
  recordRoutes(app, d, routes, authenticate);
  hookRoutes(app, d, routes, authenticate);
  workflowRoutes(app, d, routes, authenticate);
  runRoutes(app, d, routes, authenticate);
  credentialRoutes(app, d, routes, authenticate);
  return app;
}

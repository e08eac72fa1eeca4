import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.ts';
import { createHttpServer } from '../../libs/http-server/server.ts';
import { DOCS_PREFIX, documentRoutes, registerDocs } from '../../libs/http-server/docs.ts';
import { ingressRoutes, recordEventSchema } from '../../libs/contracts/ingress-routes.ts';
import { adminRoutes } from './routes/admin.ts';
import { opsRoutes } from './routes/ops.ts';
import { operateRoutes } from './routes/operate.ts';
import { registerConsole } from './console.ts';
import { hookRoutes } from './routes/hooks.ts';
import { recordRoutes } from './routes/records.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { runRoutes } from './routes/runs.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { syncRoutes } from './routes/sync.ts';

/** Largest body of a control-plane request (a workflow definition, a credential). */
export const API_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The api (control plane) HTTP server, unstarted (tests call `inject()` or `listen()`):
 * workspaces and keys, hooks management, workflows, runs and dry runs, credentials,
 * records, and /docs, whose OpenAPI document also lists the ingress's routes (the hub
 * answers both at one address).
 */
export async function buildApiApp(d: ApiDeps): Promise<FastifyInstance> {
  const { app } = createHttpServer({
    log: d.log, metrics: d.metrics, bodyLimit: API_MAX_BODY_BYTES,
    auth: { authenticator: d.auth, limiter: d.limiter, adminToken: d.adminToken, publicPrefixes: [DOCS_PREFIX] },
  });
  await registerDocs(app, await documentRoutes(Object.values(ingressRoutes), [recordEventSchema]));
  opsRoutes(app, d);
  adminRoutes(app, d);
  operateRoutes(app, d);
  await registerConsole(app);
  recordRoutes(app, d);
  hookRoutes(app, d);
  workflowRoutes(app, d);
  runRoutes(app, d);
  credentialRoutes(app, d);
  syncRoutes(app, d);
  return app;
}

import Fastify, { type FastifyInstance, type FastifySchema, type RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { AuthMode } from './auth.ts';

/** A route as documented: what the OpenAPI document needs, without a handler. */
export interface RouteDoc {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | readonly ('GET' | 'POST')[];
  url: string;
  schema: FastifySchema;
  config: { auth: AuthMode };
}

export const DOCS_PREFIX = '/docs';

type OpenApi = { paths: Record<string, Record<string, unknown>>; components: { schemas?: Record<string, unknown> } };

const security = { workspace: [{ apiKey: [] }], admin: [{ adminToken: [] }], public: [] } as const;

function swaggerOptions(transformObject?: (doc: OpenApi) => OpenApi) {
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'CRM integration hub', version: '1',
        description: 'Every route http://127.0.0.1:8080 answers: record events and webhook deliveries (served by the ingress), workspaces, keys, hooks, workflows, runs, credentials and records (forwarded to the api).',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http' as const, scheme: 'bearer', description: 'Workspace API key' },
          adminToken: { type: 'http' as const, scheme: 'bearer', description: 'The admin token (HUB_ADMIN_TOKEN)' },
        },
      },
    },
    // Each operation names what it needs, from the route's declared auth.
    transform: ({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) => ({
      schema: { ...schema, security: security[route.config?.auth ?? 'workspace'] } as FastifySchema, url,
    }),
    ...(transformObject ? { transformObject: (doc: object) => transformObject((doc as { openapiObject: OpenApi }).openapiObject) as never } : {}),
  };
}

/**
 * The OpenAPI paths of routes another process serves (the ingress's hot path), made by
 * the same generator from the same route schemas, so /docs documents every route of
 * the hub's address without the api serving them.
 */
export async function documentRoutes(routes: readonly RouteDoc[], shared: readonly { $id: string }[]): Promise<OpenApi> {
  const scratch = Fastify({ logger: false });
  scratch.setValidatorCompiler(() => () => true);
  for (const s of shared) scratch.addSchema(s);
  await scratch.register(swagger, swaggerOptions());
  for (const r of routes) scratch.route({ ...r, method: typeof r.method === 'string' ? r.method : [...r.method], handler: async () => null });
  await scratch.ready();
  const doc = scratch.swagger() as unknown as OpenApi;
  await scratch.close();
  return doc;
}

/** Swagger UI at /docs and the OpenAPI document at /docs/json, with `elsewhere`'s routes merged in. */
export async function registerDocs(app: FastifyInstance, elsewhere?: OpenApi): Promise<void> {
  await app.register(swagger, swaggerOptions(elsewhere ? (doc) => ({
    ...doc,
    paths: { ...doc.paths, ...elsewhere.paths },
    components: { ...doc.components, schemas: { ...doc.components.schemas, ...elsewhere.components.schemas } },
  }) : undefined));
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}

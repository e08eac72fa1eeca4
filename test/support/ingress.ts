import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { readConfig } from '../../libs/config/index.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections, type Store } from '../../libs/store/mongo.ts';
import { recordsCollection } from '../../libs/store/records.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { ingressConfigSpec } from '../../services/ingress/config.ts';
import { assembleIngress, type IngressConfig } from '../../services/ingress/assemble.ts';
import { apiConfigSpec } from '../../services/api/config.ts';
import { assembleApi } from '../../services/api/assemble.ts';
import { isolatedConfig, testLogger } from './env.ts';
import { createLogger } from '../../libs/log/index.ts';
import type { IngressDeps } from '../../services/ingress/deps.ts';
import type { ApiDeps } from '../../services/api/deps.ts';

/**
 * The hub's HTTP side in the test process, as `npm start` runs it: the api app listening
 * on a loopback port and the ingress app forwarding to it. `app` is the ingress, so
 * `app.inject()` reaches every route at one address: the hot path is served by the
 * ingress itself, the control plane by the api through a real socket.
 */
export interface TestIngress {
  /** The ingress (the hub's address): hot path served, everything else forwarded to `api`. */
  app: FastifyInstance;
  /** The api (control plane), listening on `apiUrl`. */
  api: FastifyInstance;
  apiUrl: string;
  config: IngressConfig;
  runtime: KafkaRuntime;
  store: Store;
  adminToken: string;
  /** Base URL once `listen()` was called. */
  url: string;
  listen(): Promise<string>;
  createWorkspace(name?: string): Promise<{ workspaceId: string; apiKey: string; keyId: string }>;
  /** Stops everything; drops the test database unless `keepDatabase` (shared with another instance). */
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

export function testIngressEnv(label: string, overrides: Record<string, string> = {}): Record<string, string> {
  const base = isolatedConfig(label);
  return {
    KAFKA_BROKERS: base.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: base.schemaRegistryUrl,
    MONGODB_URI: base.mongodbUri,
    MONGODB_DATABASE: base.mongodbDatabase,
    HUB_TOPIC_PREFIX: base.topicPrefix,
    HUB_TOPIC_PARTITIONS: '3',
    HUB_ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
    HUB_SECRETS_KEY: `test:${randomBytes(32).toString('base64')}`,
    HUB_HTTP_PORT: '0',
    HUB_API_PORT: '0',
    // No ops service unless a test starts one: never another checkout's on the default port.
    HUB_OPS_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...overrides,
  };
}

/** An in-process ingress on the real stack, isolated by topic prefix and database. */
export interface TestIngressOptions {
  env?: Record<string, string>;
  /** Replacements of the ingress's dependencies, built from the test's runtime. */
  deps?: (runtime: KafkaRuntime) => Partial<IngressDeps>;
  /** Replacements of the api's dependencies. */
  apiDeps?: (runtime: KafkaRuntime) => Partial<ApiDeps>;
  /** Where the ingress logs go (default: stderr at TEST_LOG_LEVEL). */
  logDestination?: NodeJS.WritableStream;
}

export async function startTestIngress(label: string, options: TestIngressOptions = {}): Promise<TestIngress> {
  const env = testIngressEnv(label, options.env);
  const apiConfig = readConfig(apiConfigSpec, env);
  const log = options.logDestination
    ? createLogger({ service: `ingress-${label}`, level: 'debug', destination: options.logDestination })
    : testLogger(`ingress-${label}`);
  const store = await connectStore(apiConfig.mongodbUri, apiConfig.mongodbDatabase);
  const runtime = await startKafkaRuntime(apiConfig, log);
  const secrets = new SecretBox(apiConfig.secretsKey);
  const api = await assembleApi({ config: apiConfig, log, store, runtime, secrets, ...(options.apiDeps ? { overrides: options.apiDeps(runtime) } : {}) });
  const apiUrl = await api.app.listen({ host: '127.0.0.1', port: 0 });
  const config = readConfig(ingressConfigSpec, { ...env, HUB_API_URL: apiUrl });
  const ingress = await assembleIngress({ config, log, store, runtime, secrets, ...(options.deps ? { overrides: options.deps(runtime) } : {}) });
  await ensureCollections(store.db, [...api.collections, ...ingress.collections, recordsCollection]);
  const t: TestIngress = {
    app: ingress.app, api: api.app, apiUrl, config, runtime, store, adminToken: apiConfig.adminToken, url: '',
    async listen() {
      const address = await ingress.app.listen({ host: '127.0.0.1', port: 0 });
      t.url = address;
      return address;
    },
    async createWorkspace(name = 'test workspace') {
      const res = await ingress.app.inject({ method: 'POST', url: '/v1/admin/workspaces', headers: { authorization: `Bearer ${apiConfig.adminToken}` }, payload: { name } });
      if (res.statusCode !== 201) throw new Error(`cannot create a workspace: ${res.statusCode} ${res.body}`);
      return res.json() as { workspaceId: string; apiKey: string; keyId: string };
    },
    async close(closeOptions = {}) {
      await ingress.close();
      await api.close();
      await runtime.close();
      if (!closeOptions.keepDatabase) await store.db.dropDatabase().catch(() => undefined);
      await store.close();
    },
  };
  return t;
}

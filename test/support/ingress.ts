import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { readConfig } from '../../libs/config/index.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections, type Store } from '../../libs/store/mongo.ts';
import { recordsCollection } from '../../libs/store/records.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { ingressConfigSpec } from '../../services/ingress/config.ts';
import { assembleIngress, type IngressConfig } from '../../services/ingress/assemble.ts';
import { isolatedConfig, testLogger } from './env.ts';
import { createLogger } from '../../libs/log/index.ts';
import type { IngressDeps } from '../../services/ingress/deps.ts';

export interface TestIngress {
  app: FastifyInstance;
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
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...overrides,
  };
}

/** An in-process ingress on the real stack, isolated by topic prefix and database. */
export interface TestIngressOptions {
  env?: Record<string, string>;
  /** Replacements of the ingress's dependencies, built from the test's runtime. */
  deps?: (runtime: KafkaRuntime) => Partial<IngressDeps>;
  /** Where the ingress logs go (default: stderr at TEST_LOG_LEVEL). */
  logDestination?: NodeJS.WritableStream;
}

export async function startTestIngress(label: string, options: TestIngressOptions = {}): Promise<TestIngress> {
  const config = readConfig(ingressConfigSpec, testIngressEnv(label, options.env));
  const log = options.logDestination
    ? createLogger({ service: `ingress-${label}`, level: 'debug', destination: options.logDestination })
    : testLogger(`ingress-${label}`);
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  const runtime = await startKafkaRuntime(config, log);
  const ingress = await assembleIngress({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey), ...(options.deps ? { overrides: options.deps(runtime) } : {}) });
  await ensureCollections(store.db, [...ingress.collections, recordsCollection]);
  const t: TestIngress = {
    app: ingress.app, config, runtime, store, adminToken: config.adminToken, url: '',
    async listen() {
      const address = await ingress.app.listen({ host: '127.0.0.1', port: 0 });
      t.url = address;
      return address;
    },
    async createWorkspace(name = 'test workspace') {
      const res = await ingress.app.inject({ method: 'POST', url: '/v1/admin/workspaces', headers: { authorization: `Bearer ${config.adminToken}` }, payload: { name } });
      if (res.statusCode !== 201) throw new Error(`cannot create a workspace: ${res.statusCode} ${res.body}`);
      return res.json() as { workspaceId: string; apiKey: string; keyId: string };
    },
    async close(closeOptions = {}) {
      await ingress.close();
      await runtime.close();
      if (!closeOptions.keepDatabase) await store.db.dropDatabase().catch(() => undefined);
      await store.close();
    },
  };
  return t;
}

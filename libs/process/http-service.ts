/**
 * What the hub's HTTP services (the api and the ingress) build alike: a Kafka admin for
 * readiness, key authentication, the per-workspace rate limit, and a main.ts that listens
 * once the clients are connected.
 */
import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import type { BaseConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { KafkaRuntime } from '../kafka/runtime.ts';
import type { CollectionSpec, Store } from '../store/mongo.ts';
import type { WorkspaceStore } from '../store/workspaces.ts';
import { createAuthenticator, type Authenticator } from '../http-server/auth.ts';
import { createRateLimiter, type RateLimiter } from '../http-server/rate-limit.ts';
import { reachable } from '../http-server/reachable.ts';
import { runHubService, type HubClients } from './hub-service.ts';

export interface HttpAccessConfig {
  authCacheMs: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
}

export interface HttpServiceBasics {
  /** Connected; close() disconnects it. */
  admin: Admin;
  auth: Authenticator;
  limiter: RateLimiter;
  /** The /readyz check: Kafka, the service's own checks, then the store, each reachable or not. */
  readiness(own?: Record<string, () => Promise<unknown>>): () => Promise<Record<string, boolean>>;
  close(): Promise<void>;
}

export async function connectHttpBasics(config: HttpAccessConfig, store: Store, runtime: KafkaRuntime, workspaces: WorkspaceStore): Promise<HttpServiceBasics> {
  const admin = runtime.kafka.admin();
  await admin.connect();
  return {
    admin,
    auth: createAuthenticator(workspaces, config.authCacheMs),
    limiter: createRateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
    readiness: (own = {}) => async () => {
      const checks = Object.entries({ kafka: () => admin.describeCluster(), ...own, store: () => store.db.command({ ping: 1 }) });
      const answers = await Promise.all(checks.map(([, check]) => reachable(check)));
      return Object.fromEntries(checks.map(([name], i) => [name, answers[i]!]));
    },
    close: () => admin.disconnect(),
  };
}

/** What an HTTP service's assemble() gives main.ts: its app unstarted, its collections, one close. */
export interface AssembledHttpService {
  app: FastifyInstance;
  collections: CollectionSpec[];
  close(): Promise<void>;
}

/** An HTTP service's main.ts: assembles it from the connected clients, listens, and says where in one line. */
export function runHttpService(
  config: BaseConfig & { httpHost: string; httpPort: number },
  log: Logger,
  assemble: (clients: HubClients) => Promise<AssembledHttpService>,
  listening: { message: string; fields: Record<string, unknown> },
): Promise<void> {
  return runHubService(config, log, [], async (clients) => {
    const service = await assemble(clients);
    return {
      collections: service.collections,
      start: async () => {
        await service.app.listen({ host: config.httpHost, port: config.httpPort });
        log.info({ url: `http://${config.httpHost}:${config.httpPort}`, ...listening.fields }, listening.message);
      },
      stop: service.close,
    };
  });
}

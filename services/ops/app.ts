/**
 * The ops service, unstarted: the sampler (lag, rates), the tail reader (bytes/s), the
 * DLQ index, replays, alerts, the active-workflow index a backfill matches against, and
 * the HTTP server the api forwards operators' and workspaces' requests to.
 */
import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import type { Db } from 'mongodb';
import type { Logger } from '../../libs/log/index.ts';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { WorkflowChanged } from '../../libs/kafka/events.ts';
import type { CredentialStore } from '../../libs/store/credentials.ts';
import type { CollectionSpec } from '../../libs/store/mongo.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import { createHttpServer } from '../../libs/http-server/server.ts';
import { createRateLimiter } from '../../libs/http-server/rate-limit.ts';
import { raise } from '../../libs/errors/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import { WorkflowIndex } from '../../libs/workflow/workflow-index.ts';
import { createSampler, type Snapshot } from './sampler.ts';
import { createTailReader } from './tail.ts';
import { createDlq, dlqCollection } from './dlq.ts';
import { createReplays, replaysCollection } from './replays.ts';
import { createAlerts, alertsCollection } from './alerts.ts';
import { createOpsMetrics } from './metrics.ts';
import { opsRoutes } from './routes.ts';

export interface OpsDeps {
  runtime: KafkaRuntime;
  admin: Admin;
  db: Db;
  credentials: CredentialStore;
  log: Logger;
  adminToken: string;
  prefix: string;
  sampleMs: number;
  alertEveryMs: number;
  thresholds: { stallAfterMs: number; laggingAfterSeconds: number };
}

export const opsCollections: CollectionSpec[] = [dlqCollection, replaysCollection, alertsCollection];

export function createOps(d: OpsDeps): { app: FastifyInstance; start(): Promise<void>; stop(): Promise<void> } {
  const log = d.log;
  const tail = createTailReader({ kafka: d.runtime.kafka, groupPrefix: d.prefix, log });
  const sampler = createSampler({ admin: d.admin, prefix: d.prefix, log, thresholds: d.thresholds, bytesSeen: () => tail.bytesSeen() });
  const dlq = createDlq({ kafka: d.runtime.kafka, admin: d.admin, serde: d.runtime.serde, bus: d.runtime.bus, db: d.db, prefix: d.prefix, log });
  const index = new WorkflowIndex();
  const definitions = followTopic<WorkflowChanged>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, log, topic: d.runtime.topic(topics.workflows), groupPrefix: `${d.prefix}ops.index`,
    apply: (value) => index.apply(value),
  });
  const replays = createReplays({ runtime: d.runtime, kafka: d.runtime.kafka, admin: d.admin, db: d.db, prefix: d.prefix, log, index, catchUpIndex: () => definitions.catchUp() });
  const alerts = createAlerts({ db: d.db, bus: d.runtime.bus, notificationsTopic: d.runtime.topic(topics.notifications), credentials: d.credentials, log });
  const metrics = createOpsMetrics({ latest: () => sampler.latest(), parked: () => dlq.parkedCounts(), firing: () => alerts.firing().length });
  const { app } = createHttpServer({
    // Its requests come from the api, which counts them: not counted twice.
    log, metrics, bodyLimit: 1024 * 1024, skipMetrics: () => true,
    auth: { authenticator: { authenticate: () => Promise.reject(raise('UNAUTHORIZED', 'the ops service takes the admin token only')), forget: () => undefined }, limiter: createRateLimiter(1000, 2000), adminToken: d.adminToken },
  });

  let sampling: Promise<Snapshot> | null = null;
  const sampleOnce = () => {
    sampling ??= sampler.sample().finally(() => { sampling = null; });
    return sampling;
  };
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const loop = (everyMs: number, what: string, f: () => Promise<unknown>) => {
    const turn = async () => {
      if (stopped) return;
      try {
        await f();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, `${what} failed; trying again`);
      }
      if (!stopped) timers.push(setTimeout(() => void turn(), everyMs));
    };
    void turn();
  };

  opsRoutes(app, {
    sampler, dlq, replays, alerts, metrics,
    snapshot: async () => sampler.latest() ?? sampleOnce(),
  });

  return {
    app,
    async start() {
      await replays.recover();
      await definitions.start();
      loop(d.sampleMs, 'sampling', async () => {
        await sampleOnce();
        const dlqs = sampler.physicalTopics().filter((t) => t.endsWith('.dlq'));
        await Promise.all([tail.follow(sampler.physicalTopics()), dlq.follow(dlqs)]);
      });
      loop(d.alertEveryMs, 'alert evaluation', async () => alerts.tick(sampler.latest(), await dlq.parkedCounts()));
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      replays.stop();
      await app.close();
      await Promise.all([tail.stop(), dlq.stop(), definitions.stop()]);
    },
  };
}

import type { FastifyInstance } from 'fastify';
import type { ConfigOf } from '../../libs/config/index.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { Store, CollectionSpec } from '../../libs/store/mongo.ts';
import type { SecretBox } from '../../libs/secrets/crypto.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { createRecordReader, recordsCollection } from '../../libs/store/records.ts';
import { createRunStore, runsCollection } from '../../libs/store/runs.ts';
import { createCredentialStore, credentialsCollection } from '../../libs/store/credentials.ts';
import { createStepHandlers } from '../../libs/workflow/steps/index.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { createCodeRunner } from '../../libs/sandbox/code-runner.ts';
import type { ingressConfigSpec } from './config.ts';
import { buildIngressApp } from './app.ts';
import type { IngressDeps } from './deps.ts';
import { createAuthenticator } from './auth.ts';
import { createRateLimiter } from './rate-limit.ts';
import { createIngressMetrics } from './metrics.ts';
import { dlqDepths } from '../../libs/kafka/dlq-depth.ts';
import { createWorkspaceStore, workspaceCollections } from './store/workspaces.ts';
import { createHookStore, hookCollections } from './store/hooks.ts';
import { createAcceptedIdLedger, ledgerCollections } from './store/accepted-ids.ts';
import { createWorkflowStore, workflowCollections } from './store/workflows.ts';

export type IngressConfig = ConfigOf<typeof ingressConfigSpec>;

const PRUNE_EVERY_MS = 60 * 60 * 1000;

async function reachable(check: () => Promise<unknown>, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([check(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs); })]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the ingress's dependencies and app from connected clients; main.ts and tests share it. */
export async function assembleIngress(o: { config: IngressConfig; log: Logger; store: Store; runtime: KafkaRuntime; secrets: SecretBox; overrides?: Partial<IngressDeps> }): Promise<{ app: FastifyInstance; collections: CollectionSpec[]; close(): Promise<void> }> {
  const { config, log, store, runtime } = o;
  const workspaces = createWorkspaceStore(store.db);
  const ledger = createAcceptedIdLedger(store.db, { abandonAfterMs: 60_000, waitForInFlightMs: 10_000 });
  const records = createRecordReader(store.db);
  const credentials = createCredentialStore(store.db, o.secrets);
  // Dry runs perform no effect: nothing is published and no request is sent (each
  // handler honours ctx.dryRun); code runs, since it has none.
  const code = await createCodeRunner();
  const refuse = async () => { throw new Error('a dry run publishes nothing'); };
  const dryRunHandlers = createStepHandlers({
    records, publishRecords: refuse, publishNotification: refuse,
    http: createHttpClient({ allowlist: [] }), credentials, code,
    maxDepth: config.workflowMaxDepth, searchScanMax: config.searchScanMax, emailDeliveryTimeoutMs: 1000,
  });
  const admin = runtime.kafka.admin();
  await admin.connect();
  const app = await buildIngressApp({
    log,
    adminToken: config.adminToken,
    publicUrl: config.publicUrl,
    maxEventsBodyBytes: config.maxEventsBodyBytes,
    maxHookBodyBytes: config.maxHookBodyBytes,
    ackTimeoutMs: config.ackTimeoutMs,
    bus: runtime.bus,
    recordsTopic: runtime.topic(topics.records),
    webhooksTopic: runtime.topic(topics.webhooks),
    workflowsTopic: runtime.topic(topics.workflows),
    runsTopic: runtime.topic(topics.runs),
    workspaces,
    hooks: createHookStore(store.db),
    workflows: createWorkflowStore(store.db),
    ledger,
    records,
    runs: createRunStore(store.db),
    dryRun: { handlers: dryRunHandlers, timeoutMs: 30_000, stepTimeoutMs: 10_000 },
    secrets: o.secrets,
    credentials,
    auth: createAuthenticator(workspaces, config.authCacheMs),
    limiter: createRateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
    metrics: createIngressMetrics({ dlqDepths: () => dlqDepths(admin, config.topicPrefix) }),
    readiness: async () => {
      const [kafka, registry, store_] = await Promise.all([
        reachable(() => admin.describeCluster()),
        reachable(async () => { const r = await fetch(`${config.schemaRegistryUrl}/subjects`, { signal: AbortSignal.timeout(2000) }); if (!r.ok) throw new Error(String(r.status)); }),
        reachable(() => store.db.command({ ping: 1 })),
      ]);
      return { kafka, registry, store: store_ };
    },
    now: Date.now,
    ...o.overrides,
  });
  const prune = setInterval(() => {
    const cutoff = new Date(Date.now() - config.dedupeRetentionHours * 3600_000);
    ledger.prune(cutoff).then((n) => log.info({ removed: n }, 'pruned accepted ids'), (err: unknown) => log.warn({ err }, 'pruning accepted ids failed'));
  }, PRUNE_EVERY_MS);
  prune.unref();
  return {
    app,
    collections: [...workspaceCollections, ...hookCollections, ...ledgerCollections, ...workflowCollections, recordsCollection, runsCollection, credentialsCollection],
    async close() {
      clearInterval(prune);
      await app.close();
      code.close();
      await admin.disconnect();
    },
  };
}

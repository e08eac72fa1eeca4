import type { ConfigOf } from '../../libs/config/index.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { Store } from '../../libs/store/mongo.ts';
import type { SecretBox } from '../../libs/secrets/crypto.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { createWorkspaceStore, workspaceCollections } from '../../libs/store/workspaces.ts';
import { createHookStore, hookCollections } from '../../libs/store/hooks.ts';
import { connectHttpBasics, type AssembledHttpService } from '../../libs/process/http-service.ts';
import type { ingressConfigSpec } from './config.ts';
import { buildIngressApp } from './app.ts';
import type { IngressDeps } from './deps.ts';
import { createIngressMetrics } from './metrics.ts';
import { createAcceptedIdLedger, ledgerCollections } from './store/accepted-ids.ts';

export type IngressConfig = ConfigOf<typeof ingressConfigSpec>;

const PRUNE_EVERY_MS = 60 * 60 * 1000;

/** Builds the ingress's dependencies and app from connected clients; main.ts and tests share it. */
export async function assembleIngress(o: { config: IngressConfig; log: Logger; store: Store; runtime: KafkaRuntime; secrets: SecretBox; overrides?: Partial<IngressDeps> }): Promise<AssembledHttpService> {
  const { config, log, store, runtime } = o;
  const ledger = createAcceptedIdLedger(store.db, { abandonAfterMs: 60_000, waitForInFlightMs: 10_000 });
  const basics = await connectHttpBasics(config, store, runtime, createWorkspaceStore(store.db));
  const app = await buildIngressApp({
    log,
    maxEventsBodyBytes: config.maxEventsBodyBytes,
    maxHookBodyBytes: config.maxHookBodyBytes,
    ackTimeoutMs: config.ackTimeoutMs,
    bus: runtime.bus,
    recordsTopic: runtime.topic(topics.records),
    webhooksTopic: runtime.topic(topics.webhooks),
    hooks: createHookStore(store.db),
    ledger,
    secrets: o.secrets,
    auth: basics.auth,
    limiter: basics.limiter,
    metrics: createIngressMetrics(),
    api: { url: config.apiUrl, timeoutMs: config.apiTimeoutMs },
    readiness: basics.readiness({
      registry: async () => { const r = await fetch(`${config.schemaRegistryUrl}/subjects`, { signal: AbortSignal.timeout(2000) }); if (!r.ok) throw new Error(String(r.status)); },
    }),
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
    collections: [...workspaceCollections, ...hookCollections, ...ledgerCollections],
    async close() {
      clearInterval(prune);
      await app.close();
      await basics.close();
    },
  };
}

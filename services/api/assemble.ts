import type { ConfigOf } from '../../libs/config/index.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { Store } from '../../libs/store/mongo.ts';
import type { SecretBox } from '../../libs/secrets/crypto.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { createRecordReader, recordsCollection } from '../../libs/store/records.ts';
import { createRunStore, runsCollection } from '../../libs/store/runs.ts';
import { createCredentialStore, credentialsCollection } from '../../libs/store/credentials.ts';
import { createWorkspaceStore, workspaceCollections } from '../../libs/store/workspaces.ts';
import { createHookStore, hookCollections } from '../../libs/store/hooks.ts';
import { createStepHandlers } from '../../libs/workflow/steps/index.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { createCodeRunner } from '../../libs/sandbox/code-runner.ts';
import { connectHttpBasics, type AssembledHttpService } from '../../libs/process/http-service.ts';
import type { apiConfigSpec } from './config.ts';
import { buildApiApp } from './app.ts';
import type { ApiDeps } from './deps.ts';
import { createApiMetrics } from './metrics.ts';
import { createWorkflowStore, workflowCollections } from './store/workflows.ts';
import { createSyncConnectionStore, createSyncStateReader, syncConnectionsCollection } from '../../libs/store/sync.ts';
import { createOpsClient } from './routes/operate.ts';

export type ApiConfig = ConfigOf<typeof apiConfigSpec>;

/** Builds the api's dependencies and app from connected clients; main.ts and tests share it. */
export async function assembleApi(o: { config: ApiConfig; log: Logger; store: Store; runtime: KafkaRuntime; secrets: SecretBox; overrides?: Partial<ApiDeps> }): Promise<AssembledHttpService> {
  const { config, log, store, runtime } = o;
  const workspaces = createWorkspaceStore(store.db);
  const records = createRecordReader(store.db);
  const credentials = createCredentialStore(store.db, o.secrets);
  // Dry runs perform no effect: nothing is published and no request is sent (each
  // handler honours ctx.dryRun); code runs, since it has none. The isolate lives here,
  // in the control plane, never in the ingress.
  const code = await createCodeRunner();
  const refuse = async () => { throw new Error('a dry run publishes nothing'); };
  const dryRunHandlers = createStepHandlers({
    records, publishRecords: refuse, publishNotification: refuse,
    http: createHttpClient({ allowlist: [] }), credentials, code,
    maxDepth: config.workflowMaxDepth, searchScanMax: config.searchScanMax, emailDeliveryTimeoutMs: 1000,
  });
  const basics = await connectHttpBasics(config, store, runtime, workspaces);
  const app = await buildApiApp({
    log,
    adminToken: config.adminToken,
    publicUrl: config.publicUrl,
    bus: runtime.bus,
    workflowsTopic: runtime.topic(topics.workflows),
    runsTopic: runtime.topic(topics.runs),
    workspaces,
    hooks: createHookStore(store.db),
    workflows: createWorkflowStore(store.db),
    records,
    runs: createRunStore(store.db),
    dryRun: { handlers: dryRunHandlers, timeoutMs: 30_000, stepTimeoutMs: 10_000 },
    secrets: o.secrets,
    credentials,
    sync: {
      connections: createSyncConnectionStore(store.db), state: createSyncStateReader(store.db),
      connectionsTopic: runtime.topic(topics.syncConnections), inboundTopic: runtime.topic(topics.syncInbound),
    },
    auth: basics.auth,
    limiter: basics.limiter,
    metrics: createApiMetrics(),
    ops: createOpsClient({ url: config.opsUrl, adminToken: config.adminToken }),
    readiness: basics.readiness(),
    now: Date.now,
    ...o.overrides,
  });
  return {
    app,
    collections: [...workspaceCollections, ...hookCollections, ...workflowCollections, recordsCollection, runsCollection, credentialsCollection, syncConnectionsCollection],
    async close() {
      await app.close();
      code.close();
      await basics.close();
    },
  };
}

import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections } from '../../libs/store/mongo.ts';
import { runService } from '../../libs/process/run-service.ts';
import { createRecordReader } from '../../libs/store/records.ts';
import { createCredentialStore } from '../../libs/store/credentials.ts';
import { syncStateCollections } from '../../libs/store/sync.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { createConnectorFactory } from '../../libs/sync/connectors.ts';
import { reconcilerConfigSpec } from './config.ts';
import { createReconcilerApp, reconcilerGroup, routerGroup } from './app.ts';
import { createSyncState } from './state.ts';

const config = loadConfigOrExit(reconcilerConfigSpec);
const log = createLogger({ service: 'sync-reconciler', level: config.logLevel });

await runService(log, async (onStop) => {
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  onStop(store.close);
  await ensureCollections(store.db, syncStateCollections);
  const runtime = await startKafkaRuntime(config, log, { groups: [reconcilerGroup, routerGroup] });
  onStop(runtime.close);
  const app = createReconcilerApp({
    runtime, log, state: createSyncState(store.db), records: createRecordReader(store.db),
    credentials: createCredentialStore(store.db, new SecretBox(config.secretsKey)),
    connectors: createConnectorFactory(createHttpClient({ allowlist: config.httpAllowlist })),
    pollIntervalMs: config.pollIntervalMs, sessionTimeoutMs: config.sessionTimeoutMs, chunkSize: config.chunkSize,
  });
  onStop(app.stop);
  await app.start();
});

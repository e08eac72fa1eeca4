import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
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

await runHubService(config, log, [reconcilerGroup, routerGroup], ({ store, runtime }) => {
  const app = createReconcilerApp({
    runtime, log, state: createSyncState(store.db), records: createRecordReader(store.db),
    credentials: createCredentialStore(store.db, new SecretBox(config.secretsKey)),
    connectors: createConnectorFactory(createHttpClient({ allowlist: config.httpAllowlist })),
    pollIntervalMs: config.pollIntervalMs, sessionTimeoutMs: config.sessionTimeoutMs, chunkSize: config.chunkSize,
  });
  return { collections: syncStateCollections, start: app.start, stop: app.stop };
});

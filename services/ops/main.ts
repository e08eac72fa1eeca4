import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { createCredentialStore, credentialsCollection } from '../../libs/store/credentials.ts';
import { projectionsCollection } from '../../libs/store/active-collection.ts';
import { opsConfigSpec } from './config.ts';
import { createOps, opsCollections } from './app.ts';

const config = loadConfigOrExit(opsConfigSpec);
const log = createLogger({ service: 'ops', level: config.logLevel });

await runHubService(config, log, [], async ({ store, runtime, onStop }) => {
  const admin = runtime.kafka.admin();
  await admin.connect();
  onStop(() => admin.disconnect());
  const ops = createOps({
    runtime, admin, db: store.db, credentials: createCredentialStore(store.db, new SecretBox(config.secretsKey)), log,
    adminToken: config.adminToken, prefix: config.topicPrefix, sampleMs: config.sampleMs, alertEveryMs: config.alertEveryMs,
    thresholds: { stallAfterMs: config.stallAfterMs, laggingAfterSeconds: config.laggingAfterSeconds },
  });
  return {
    collections: [...opsCollections, credentialsCollection, projectionsCollection],
    async start() {
      await ops.start();
      await ops.app.listen({ host: config.httpHost, port: config.httpPort });
      log.info({ url: `http://${config.httpHost}:${config.httpPort}` }, 'listening');
    },
    stop: ops.stop,
  };
});

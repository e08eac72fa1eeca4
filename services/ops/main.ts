import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runService } from '../../libs/process/run-service.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections } from '../../libs/store/mongo.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { createCredentialStore, credentialsCollection } from '../../libs/store/credentials.ts';
import { projectionsCollection } from '../../libs/store/active-collection.ts';
import { opsConfigSpec } from './config.ts';
import { createOps, opsCollections } from './app.ts';

const config = loadConfigOrExit(opsConfigSpec);
const log = createLogger({ service: 'ops', level: config.logLevel });

await runService(log, async (onStop) => {
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  onStop(store.close);
  await ensureCollections(store.db, [...opsCollections, credentialsCollection, projectionsCollection]);
  const runtime = await startKafkaRuntime(config, log);
  onStop(runtime.close);
  const admin = runtime.kafka.admin();
  await admin.connect();
  onStop(() => admin.disconnect());
  const ops = createOps({
    runtime, admin, db: store.db, credentials: createCredentialStore(store.db, new SecretBox(config.secretsKey)), log,
    adminToken: config.adminToken, prefix: config.topicPrefix, sampleMs: config.sampleMs, alertEveryMs: config.alertEveryMs,
    thresholds: { stallAfterMs: config.stallAfterMs, laggingAfterSeconds: config.laggingAfterSeconds },
  });
  onStop(ops.stop);
  await ops.start();
  await ops.app.listen({ host: config.httpHost, port: config.httpPort });
  log.info({ url: `http://${config.httpHost}:${config.httpPort}` }, 'listening');
});

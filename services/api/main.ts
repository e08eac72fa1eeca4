import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runService } from '../../libs/process/run-service.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections } from '../../libs/store/mongo.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { apiConfigSpec } from './config.ts';
import { assembleApi } from './assemble.ts';

const config = loadConfigOrExit(apiConfigSpec);
const log = createLogger({ service: 'api', level: config.logLevel });

await runService(log, async (onStop) => {
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  onStop(store.close);
  const runtime = await startKafkaRuntime(config, log);
  onStop(runtime.close);
  const api = await assembleApi({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey) });
  onStop(api.close);
  await ensureCollections(store.db, api.collections);
  await api.app.listen({ host: config.httpHost, port: config.httpPort });
  log.info({ url: `http://${config.httpHost}:${config.httpPort}`, docs: '/docs' }, 'listening');
});

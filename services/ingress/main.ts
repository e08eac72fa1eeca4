import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runService } from '../../libs/process/run-service.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections } from '../../libs/store/mongo.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { ingressConfigSpec } from './config.ts';
import { assembleIngress } from './assemble.ts';

const config = loadConfigOrExit(ingressConfigSpec);
const log = createLogger({ service: 'ingress', level: config.logLevel });

await runService(log, async (onStop) => {
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  onStop(store.close);
  const runtime = await startKafkaRuntime(config, log);
  onStop(runtime.close);
  const ingress = await assembleIngress({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey) });
  onStop(ingress.close);
  await ensureCollections(store.db, ingress.collections);
  await ingress.app.listen({ host: config.httpHost, port: config.httpPort });
  log.info({ url: `http://${config.httpHost}:${config.httpPort}`, api: config.apiUrl }, 'listening; forwarding every other route to the api');
});

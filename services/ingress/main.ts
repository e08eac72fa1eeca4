import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { ingressConfigSpec } from './config.ts';
import { assembleIngress } from './assemble.ts';

const config = loadConfigOrExit(ingressConfigSpec);
const log = createLogger({ service: 'ingress', level: config.logLevel });

await runHubService(config, log, [], async ({ store, runtime }) => {
  const ingress = await assembleIngress({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey) });
  return {
    collections: ingress.collections,
    start: async () => {
      await ingress.app.listen({ host: config.httpHost, port: config.httpPort });
      log.info({ url: `http://${config.httpHost}:${config.httpPort}`, api: config.apiUrl }, 'listening; forwarding every other route to the api');
    },
    stop: ingress.close,
  };
});

import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { apiConfigSpec } from './config.ts';
import { assembleApi } from './assemble.ts';

const config = loadConfigOrExit(apiConfigSpec);
const log = createLogger({ service: 'api', level: config.logLevel });

await runHubService(config, log, [], async ({ store, runtime }) => {
  const api = await assembleApi({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey) });
  return {
    collections: api.collections,
    start: async () => {
      await api.app.listen({ host: config.httpHost, port: config.httpPort });
      log.info({ url: `http://${config.httpHost}:${config.httpPort}`, docs: '/docs' }, 'listening');
    },
    stop: api.close,
  };
});

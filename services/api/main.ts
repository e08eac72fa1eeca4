import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHttpService } from '../../libs/process/http-service.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { apiConfigSpec } from './config.ts';
import { assembleApi } from './assemble.ts';

const config = loadConfigOrExit(apiConfigSpec);
const log = createLogger({ service: 'api', level: config.logLevel });

await runHttpService(config, log, ({ store, runtime }) => assembleApi({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey) }), {
  message: 'listening', fields: { docs: '/docs' },
});

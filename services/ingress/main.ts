import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHttpService } from '../../libs/process/http-service.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { ingressConfigSpec } from './config.ts';
import { assembleIngress } from './assemble.ts';

const config = loadConfigOrExit(ingressConfigSpec);
const log = createLogger({ service: 'ingress', level: config.logLevel });

await runHttpService(config, log, ({ store, runtime }) => assembleIngress({ config, log, store, runtime, secrets: new SecretBox(config.secretsKey) }), {
  message: 'listening; forwarding every other route to the api', fields: { api: config.apiUrl },
});

import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { failpoint } from '../../libs/process/failpoints.ts';
import { notifierConfigSpec } from './config.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { createCredentialStore } from '../../libs/store/credentials.ts';
import type { CredentialResolvers } from './deps.ts';
import { createNotificationLedger, notificationsCollection } from './delivery-ledger.ts';
import { createNotifier, notifierGroup } from './app.ts';

const config = loadConfigOrExit(notifierConfigSpec);
const log = createLogger({ service: 'notifier', level: config.logLevel });

await runHubService(config, log, [notifierGroup], ({ store, runtime }) => {
  const credentials = createCredentialStore(store.db, new SecretBox(config.secretsKey));
  const resolvers: CredentialResolvers = {
    async resolveSmtp(workspaceId, name) {
      const c = await credentials.resolve(workspaceId, name);
      if (!c || c.type !== 'smtp') return null;
      return { host: c.host, port: c.port, secure: c.secure, guarded: true, ...(c.username ? { username: c.username } : {}), ...(c.password ? { password: c.password } : {}), ...(c.from ? { from: c.from } : {}) };
    },
    async resolveChatWebhook(workspaceId, name) {
      const c = await credentials.resolve(workspaceId, name);
      return c && c.type === 'chat' ? c.webhookUrl : null;
    },
  };
  const notifier = createNotifier({
    runtime,
    ledger: createNotificationLedger(store.db),
    http: createHttpClient({ allowlist: config.httpAllowlist }),
    log,
    settings: {
      smtp: config.smtp, from: config.smtpFrom, maxAttempts: config.smtpMaxAttempts, retryBackoffMs: config.smtpRetryBackoffMs,
      smtpTimeoutMs: config.smtpTimeoutMs, chatTimeoutMs: config.chatTimeoutMs, allowlist: config.httpAllowlist,
    },
    ...resolvers,
    claimStaleMs: config.claimStaleMs,
    concurrency: config.topicPartitions,
    faults: {
      afterDelivery: (n) => failpoint('notifier-after-delivery', n.workspaceId),
      afterResult: (n) => failpoint('notifier-after-result', n.workspaceId),
    },
  });
  return { collections: [notificationsCollection], start: notifier.start, stop: notifier.stop };
});

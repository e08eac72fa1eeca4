import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { createRecordReader, recordsCollection } from '../../libs/store/records.ts';
import { createRunStore, runsCollection } from '../../libs/store/runs.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { failpoint } from '../../libs/process/failpoints.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';
import { createCredentialStore } from '../../libs/store/credentials.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { createCodeRunner } from '../../libs/sandbox/code-runner.ts';
import { executorConfigSpec } from './config.ts';
import { createExecutorApp, executorGroup } from './app.ts';

const config = loadConfigOrExit(executorConfigSpec);
const log = createLogger({ service: 'action-executor', level: config.logLevel });

await runHubService(config, log, [executorGroup], async ({ store, runtime, onStop }) => {
  const code = await createCodeRunner({ timeoutMs: config.codeTimeoutMs, memoryBytes: config.codeMemoryMb * 1024 * 1024 });
  onStop(async () => code.close());
  const app = createExecutorApp({
    runtime, runs: createRunStore(store.db), records: createRecordReader(store.db), log,
    integrations: {
      http: createHttpClient({ allowlist: config.httpAllowlist, userAgent: 'crm-hub/0.1' }),
      credentials: createCredentialStore(store.db, new SecretBox(config.secretsKey)),
      code,
      emailDeliveryTimeoutMs: config.emailDeliveryTimeoutMs,
    },
    limits: {
      runsPerWorkspace: config.runsPerWorkspace, stepTimeoutMs: config.stepTimeoutMs, stepMaxAttempts: config.stepMaxAttempts,
      retryBackoffMs: config.stepRetryBackoffMs, retryBackoffMaxMs: 30_000, workflowMaxDepth: config.workflowMaxDepth,
      searchScanMax: config.searchScanMax, maxBufferedRuns: config.maxBufferedRuns,
    },
    afterEffect: (step) => failpoint('after-step-effect', step.id),
  });
  return { collections: [recordsCollection, runsCollection], start: app.start, stop: app.stop };
});

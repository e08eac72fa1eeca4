import { baseConfigSpec, custom, int } from '../../libs/config/index.ts';
import { parseEncryptionKey, type EncryptionKey } from '../../libs/secrets/crypto.ts';
import { parseAllowlist } from '../../libs/http/index.ts';

export const executorConfigSpec = {
  ...baseConfigSpec,
  /** Runs of one workspace executing at once; more wait in order. */
  runsPerWorkspace: int('HUB_RUNS_PER_WORKSPACE', 100, { min: 1, max: 10_000 }),
  /** A record write caused by a chain deeper than this fails its run (workflow loops). */
  workflowMaxDepth: int('HUB_WORKFLOW_MAX_DEPTH', 5, { min: 1, max: 100 }),
  stepTimeoutMs: int('HUB_STEP_TIMEOUT_MS', 30_000, { min: 100, max: 15 * 60_000 }),
  stepMaxAttempts: int('HUB_STEP_MAX_ATTEMPTS', 5, { min: 1, max: 50 }),
  stepRetryBackoffMs: int('HUB_STEP_RETRY_BACKOFF_MS', 500, { min: 0, max: 60_000 }),
  /** A record.search that would read more candidates than this fails (add an equality to its filter). */
  searchScanMax: int('HUB_SEARCH_SCAN_MAX', 10_000, { min: 1, max: 1_000_000 }),
  /** Runs held in memory (running or waiting) before the executor stops reading hub.runs for a while. */
  maxBufferedRuns: int('HUB_EXECUTOR_MAX_BUFFERED_RUNS', 20_000, { min: 100, max: 1_000_000 }),
  /** Opens stored credentials for http steps (the same key the ingress seals them with). */
  secretsKey: custom<EncryptionKey>('HUB_SECRETS_KEY', undefined, (text) => {
    const key = parseEncryptionKey(text);
    return typeof key === 'string' ? { reason: key } : { value: key };
  }),
  /**
   * Addresses http steps may reach although they are private, loopback or link-local
   * (comma-separated IPs, CIDRs or host names). Operator configuration, never workflow text.
   */
  httpAllowlist: custom<string[]>('HUB_HTTP_ALLOWLIST', '', (text) => {
    try { return { value: parseAllowlist(text) }; } catch (err) { return { reason: (err as Error).message }; }
  }),
  codeTimeoutMs: int('HUB_CODE_TIMEOUT_MS', 1000, { min: 10, max: 60_000 }),
  codeMemoryMb: int('HUB_CODE_MEMORY_MB', 64, { min: 16, max: 1024 }),
  /** How long an email step waits for its delivery (the notifier's retries included). */
  emailDeliveryTimeoutMs: int('HUB_EMAIL_DELIVERY_TIMEOUT_MS', 120_000, { min: 1000, max: 3_600_000 }),
} as const;

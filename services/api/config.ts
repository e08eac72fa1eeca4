import { baseConfigSpec, custom, int, secret, str, url } from '../../libs/config/index.ts';
import { parseEncryptionKey, type EncryptionKey } from '../../libs/secrets/crypto.ts';

export const apiConfigSpec = {
  ...baseConfigSpec,
  /** The api's own address; users reach it through the ingress (HUB_HTTP_PORT), which forwards to HUB_API_URL. */
  httpHost: str('HUB_API_HOST', '127.0.0.1'),
  httpPort: int('HUB_API_PORT', 8090, { min: 0, max: 65535 }),
  /** Base of the hook URLs handed to users (the ingress's address, which senders reach). */
  publicUrl: url('HUB_PUBLIC_URL', 'http://127.0.0.1:8080', ['http:', 'https:']),
  adminToken: secret('HUB_ADMIN_TOKEN', 24, ' (npm start writes one to .stack/admin-token)'),
  /** `<keyId>:<base64 of 32 bytes>`; seals hook secrets and credentials (AES-256-GCM). */
  secretsKey: custom<EncryptionKey>('HUB_SECRETS_KEY', undefined, (text) => {
    const key = parseEncryptionKey(text);
    return typeof key === 'string' ? { reason: key } : { value: key };
  }),
  /** The ops service (lag, DLQ, replays, alerts), which the operate routes forward to. */
  opsUrl: url('HUB_OPS_URL', 'http://127.0.0.1:8095', ['http:', 'https:']),
  rateLimitPerSecond: int('HUB_RATE_LIMIT_RPS', 1000, { min: 1 }),
  rateLimitBurst: int('HUB_RATE_LIMIT_BURST', 2000, { min: 1 }),
  authCacheMs: int('HUB_AUTH_CACHE_MS', 2000, { min: 0, max: 60_000 }),
  /** Shared with the executor: dry runs apply the same loop guard and search limit. */
  workflowMaxDepth: int('HUB_WORKFLOW_MAX_DEPTH', 5, { min: 1, max: 100 }),
  searchScanMax: int('HUB_SEARCH_SCAN_MAX', 10_000, { min: 1, max: 1_000_000 }),
} as const;

import { baseConfigSpec, custom, int, str, url } from '../../libs/config/index.ts';
import { parseEncryptionKey, type EncryptionKey } from '../../libs/secrets/crypto.ts';

export const ingressConfigSpec = {
  ...baseConfigSpec,
  /** The hub's one address: the hot path is served here, every other route forwarded to the api. */
  httpHost: str('HUB_HTTP_HOST', '127.0.0.1'),
  httpPort: int('HUB_HTTP_PORT', 8080, { min: 0, max: 65535 }),
  /** Where the api (control plane) listens; requests for any route but the hot path go there. */
  apiUrl: url('HUB_API_URL', 'http://127.0.0.1:8090', ['http:', 'https:']),
  /** The hub's public base URL: apps sign the URL they call (HubSpot's X-HubSpot-Signature-v3). */
  publicUrl: url('HUB_PUBLIC_URL', 'http://127.0.0.1:8080', ['http:', 'https:']),
  /** How long a forwarded request may wait for the api's answer (a dry run takes up to 30 s). */
  apiTimeoutMs: int('HUB_API_TIMEOUT_MS', 60_000, { min: 100, max: 600_000 }),
  /** `<keyId>:<base64 of 32 bytes>`; opens hook secrets to verify signatures (AES-256-GCM). */
  secretsKey: custom<EncryptionKey>('HUB_SECRETS_KEY', undefined, (text) => {
    const key = parseEncryptionKey(text);
    return typeof key === 'string' ? { reason: key } : { value: key };
  }),
  rateLimitPerSecond: int('HUB_RATE_LIMIT_RPS', 1000, { min: 1 }),
  rateLimitBurst: int('HUB_RATE_LIMIT_BURST', 2000, { min: 1 }),
  maxEventsBodyBytes: int('HUB_EVENTS_MAX_BODY_BYTES', 1024 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
  maxHookBodyBytes: int('HUB_HOOK_MAX_BODY_BYTES', 1024 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
  dedupeRetentionHours: int('HUB_DEDUPE_RETENTION_HOURS', 48, { min: 24, max: 24 * 90 }),
  authCacheMs: int('HUB_AUTH_CACHE_MS', 2000, { min: 0, max: 60_000 }),
  /** How long a delivery or an event waits for Kafka's acknowledgement before the answer is 503 with Retry-After. */
  ackTimeoutMs: int('HUB_INGRESS_ACK_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
} as const;

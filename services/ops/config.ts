import { baseConfigSpec, custom, int, secret, str } from '../../libs/config/index.ts';
import { parseEncryptionKey, type EncryptionKey } from '../../libs/secrets/crypto.ts';

/** The ops service: lag sampling, alerts, DLQ listing and redrive, replays. One replica. */
export const opsConfigSpec = {
  ...baseConfigSpec,
  /** Its internal address; the api asks it (HUB_OPS_URL), with the admin token. */
  httpHost: str('HUB_OPS_HOST', '127.0.0.1'),
  httpPort: int('HUB_OPS_PORT', 8095, { min: 0, max: 65535 }),
  adminToken: secret('HUB_ADMIN_TOKEN', 24, ' (npm start writes one to .stack/admin-token)'),
  /** Seals the alert channels' chat webhooks as credentials of the operator (the notifier opens them). */
  secretsKey: custom<EncryptionKey>('HUB_SECRETS_KEY', undefined, (text) => {
    const key = parseEncryptionKey(text);
    return typeof key === 'string' ? { reason: key } : { value: key };
  }),
  /** How often end and committed offsets are read (rates, lag, statuses, the hour of history). */
  sampleMs: int('HUB_OPS_SAMPLE_MS', 5000, { min: 200, max: 60_000 }),
  /** How often alert rules are evaluated. */
  alertEveryMs: int('HUB_OPS_ALERT_EVERY_MS', 15_000, { min: 200, max: 600_000 }),
  /** A partition whose committed offset has not moved for this long while messages wait is `stalled`. */
  stallAfterMs: int('HUB_OPS_STALL_AFTER_MS', 60_000, { min: 1000, max: 3_600_000 }),
  /** A partition whose oldest waiting message is older than this (and moving) is `lagging`. */
  laggingAfterSeconds: int('HUB_OPS_LAGGING_SECONDS', 30, { min: 1, max: 86_400 }),
} as const;

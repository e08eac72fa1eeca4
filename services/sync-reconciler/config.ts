import { baseConfigSpec, custom, int } from '../../libs/config/index.ts';
import { parseEncryptionKey, type EncryptionKey } from '../../libs/secrets/crypto.ts';
import { parseAllowlist } from '../../libs/http/index.ts';

export const reconcilerConfigSpec = {
  ...baseConfigSpec,
  /** Opens the stored credentials of connections (the key the api seals them with). */
  secretsKey: custom<EncryptionKey>('HUB_SECRETS_KEY', undefined, (text) => {
    const key = parseEncryptionKey(text);
    return typeof key === 'string' ? { reason: key } : { value: key };
  }),
  /** Private, loopback or link-local addresses a connection's baseUrl may reach (tests point it at emulators). */
  httpAllowlist: custom<string[]>('HUB_HTTP_ALLOWLIST', '', (text) => {
    try { return { value: parseAllowlist(text) }; } catch (err) { return { reason: (err as Error).message }; }
  }),
  /** Polling reconciliation of each connection's objects (changed since the cursor, archived, failing retried), unless the connection sets its own. */
  pollIntervalMs: int('HUB_SYNC_POLL_INTERVAL_MS', 30_000, { min: 1000, max: 86_400_000 }),
  /** How long a silent (crashed) reconciler keeps its (connection, object) pairs before another takes them. */
  sessionTimeoutMs: int('HUB_SYNC_SESSION_TIMEOUT_MS', 30_000, { min: 6000, max: 300_000 }),
  /** Records per initial-sync step (one batch request to the app; HubSpot takes 100). */
  chunkSize: int('HUB_SYNC_CHUNK_SIZE', 100, { min: 1, max: 100 }),
} as const;

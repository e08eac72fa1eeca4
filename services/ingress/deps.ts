import type { Logger } from '../../libs/log/index.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { SecretBox } from '../../libs/secrets/crypto.ts';
import type { HookStore } from '../../libs/store/hooks.ts';
import type { Authenticator } from '../../libs/http-server/auth.ts';
import type { RateLimiter } from '../../libs/http-server/rate-limit.ts';
import type { AcceptedIdLedger } from './store/accepted-ids.ts';
import type { IngressMetrics } from './metrics.ts';
import type { SyncConnectionStore } from '../../libs/store/sync.ts';
import type { CredentialStore } from '../../libs/store/credentials.ts';

/** Everything the ingress's handlers use; built by assemble.ts (main.ts or a test) and passed in. */
export interface IngressDeps {
  log: Logger;
  maxEventsBodyBytes: number;
  maxHookBodyBytes: number;
  /** How long an accepted request may wait for Kafka's acknowledgement (then 503). */
  ackTimeoutMs: number;
  bus: EventBus;
  recordsTopic: string;
  webhooksTopic: string;
  /** Deliveries read their hook by id; hooks are managed through the api. */
  hooks: Pick<HookStore, 'get'>;
  ledger: AcceptedIdLedger;
  /** Opens hook secrets to verify delivery signatures. */
  secrets: SecretBox;
  /** Data sync webhooks: connections (read), their webhook-secret credentials (read), where notices go. */
  sync: { connections: Pick<SyncConnectionStore, 'get'>; credentials: Pick<CredentialStore, 'resolve'>; inboundTopic: string };
  /** The hub's public base URL (HubSpot signs the URL it called). */
  publicUrl: string;
  auth: Authenticator;
  limiter: RateLimiter;
  metrics: IngressMetrics;
  /** Where every request but the hot path goes (the api), and how long it may take. */
  api: { url: string; timeoutMs: number };
  /** Which parts the ingress depends on are reachable, for /readyz. */
  readiness(): Promise<Record<string, boolean>>;
  now(): number;
}

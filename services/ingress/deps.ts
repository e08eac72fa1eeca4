import type { Logger } from '../../libs/log/index.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RecordReader } from '../../libs/store/records.ts';
import type { SecretBox } from '../../libs/secrets/crypto.ts';
import type { RunStore } from '../../libs/store/runs.ts';
import type { CredentialStore } from '../../libs/store/credentials.ts';
import type { StepHandlers } from '../../libs/workflow/interpreter.ts';
import type { WorkspaceStore } from './store/workspaces.ts';
import type { HookStore } from './store/hooks.ts';
import type { WorkflowStore } from './store/workflows.ts';
import type { AcceptedIdLedger } from './store/accepted-ids.ts';
import type { Authenticator } from './auth.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { IngressMetrics } from './metrics.ts';

/** Everything the ingress's handlers use; built by main.ts (or a test) and passed in. */
export interface IngressDeps {
  log: Logger;
  adminToken: string;
  publicUrl: string;
  maxEventsBodyBytes: number;
  maxHookBodyBytes: number;
  /** How long an accepted request may wait for Kafka's acknowledgement (then 503). */
  ackTimeoutMs: number;
  bus: EventBus;
  recordsTopic: string;
  webhooksTopic: string;
  workflowsTopic: string;
  runsTopic: string;
  workspaces: WorkspaceStore;
  hooks: HookStore;
  workflows: WorkflowStore;
  ledger: AcceptedIdLedger;
  records: RecordReader;
  /** Runs: read here; written by the executor, except manual runs' first record (queued). */
  runs: Pick<RunStore, 'get' | 'list' | 'insert' | 'remove'>;
  /** Dry runs (`POST /v1/workflows/:id/test`) execute here, with handlers that perform no effect. */
  dryRun: { handlers: StepHandlers; timeoutMs: number; stepTimeoutMs: number };
  secrets: SecretBox;
  /** Stored credentials (`/v1/credentials`); secrets sealed with `secrets`. */
  credentials: CredentialStore;
  auth: Authenticator;
  limiter: RateLimiter;
  metrics: IngressMetrics;
  /** Which parts the ingress depends on are reachable, for /readyz. */
  readiness(): Promise<Record<string, boolean>>;
  now(): number;
}

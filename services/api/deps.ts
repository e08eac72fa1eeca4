import type { Logger } from '../../libs/log/index.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RecordReader } from '../../libs/store/records.ts';
import type { SecretBox } from '../../libs/secrets/crypto.ts';
import type { RunStore } from '../../libs/store/runs.ts';
import type { CredentialStore } from '../../libs/store/credentials.ts';
import type { WorkspaceStore } from '../../libs/store/workspaces.ts';
import type { HookStore } from '../../libs/store/hooks.ts';
import type { StepHandlers } from '../../libs/workflow/interpreter.ts';
import type { Authenticator } from '../../libs/http-server/auth.ts';
import type { RateLimiter } from '../../libs/http-server/rate-limit.ts';
import type { WorkflowStore } from './store/workflows.ts';
import type { ApiMetrics } from './metrics.ts';
import type { SyncConnectionStore, SyncStateReader } from '../../libs/store/sync.ts';
import type { OpsClient } from './routes/operate.ts';

/** Everything the api's handlers use; built by assemble.ts (main.ts or a test) and passed in. */
export interface ApiDeps {
  log: Logger;
  adminToken: string;
  /** Base of the hook URLs handed to users (the ingress's public address). */
  publicUrl: string;
  bus: EventBus;
  workflowsTopic: string;
  runsTopic: string;
  workspaces: WorkspaceStore;
  hooks: HookStore;
  workflows: WorkflowStore;
  records: RecordReader;
  /** Runs: read here; written by the executor, except manual runs' first record (queued). */
  runs: Pick<RunStore, 'get' | 'list' | 'insert' | 'remove'>;
  /** Dry runs (`POST /v1/workflows/:id/test`) execute here, with handlers that perform no effect. */
  dryRun: { handlers: StepHandlers; timeoutMs: number; stepTimeoutMs: number };
  secrets: SecretBox;
  /** Stored credentials (`/v1/credentials`); secrets sealed with `secrets`. */
  credentials: CredentialStore;
  /** Data sync: connections (the api's) and the reconciler's state (read only), and where sync work is published. */
  sync: { connections: SyncConnectionStore; state: SyncStateReader; connectionsTopic: string; inboundTopic: string };
  auth: Authenticator;
  limiter: RateLimiter;
  metrics: ApiMetrics;
  /** The ops service: monitoring, alerts, DLQ and replays are its answers. */
  ops: OpsClient;
  /** Which parts the api depends on are reachable, for its own /readyz. */
  readiness(): Promise<Record<string, boolean>>;
  now(): number;
}

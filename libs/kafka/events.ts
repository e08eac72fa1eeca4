import type { Envelope } from './envelope.ts';

export const recordEventTypes = ['record.created', 'record.updated', 'record.deleted'] as const;
export type RecordEventType = (typeof recordEventTypes)[number];

/** Value of `crm.records` (schemas/record-changed.avsc). JSON fields are text on the wire. */
export interface RecordChanged extends Envelope {
  type: RecordEventType;
  source: string;
  object: string;
  recordId: string;
  version: number;
  record: string | null;
  before: string | null;
  updatedFields: string[];
}

/** Partition key of record events: order holds per record. */
export function recordEventKey(e: Pick<RecordChanged, 'workspaceId' | 'object' | 'recordId'>): string {
  return `${e.workspaceId}:${e.object}:${e.recordId}`;
}

/** Value of `hub.webhooks` (schemas/webhook-received.avsc). */
export interface WebhookReceived extends Envelope {
  type: 'webhook.received';
  hookId: string;
  workflowId: string | null;
  webhookId: string | null;
  method: string;
  contentType: string | null;
  body: string;
  headers: Record<string, string>;
}

/** Value of `hub.workflows` (schemas/workflow-changed.avsc), compacted. */
export interface WorkflowChanged extends Envelope {
  type: 'workflow.saved' | 'workflow.activated' | 'workflow.deactivated';
  workflowId: string;
  kind: 'version' | 'state';
  name: string;
  status: 'draft' | 'active' | 'inactive' | 'version';
  version: number;
  activeVersion: number | null;
  definition: string | null;
  hookId: string | null;
}

/**
 * What the executor acts on. `step.result` delivers the outcome of work done outside
 * the executor for a waiting step (a notification's delivery): `stepKey` carries the
 * result id, `data` a StepResult.
 */
export const runCommandTypes = ['run.requested', 'run.retry-requested', 'run.cancel-requested', 'step.result'] as const;
export const runRecordTypes = ['run.retried', 'run.started', 'step.completed', 'step.failed', 'run.completed', 'run.failed', 'run.cancelled'] as const;
export type RunEventType = (typeof runCommandTypes)[number] | (typeof runRecordTypes)[number];

/** Value of `hub.runs` (schemas/run-event.avsc), keyed by workspaceId. */
export interface RunEvent extends Envelope {
  type: RunEventType;
  runId: string;
  workflowId: string;
  version: number;
  stepKey: string | null;
  /** JSON object text; see the schema's doc for each type. */
  data: string;
}

/** Value of `hub.notifications` (schemas/notification.avsc), keyed by notificationId. */
export interface NotificationRequested extends Envelope {
  type: 'notification.requested';
  notificationId: string;
  runId: string;
  workflowId: string;
  version: number;
  stepKey: string;
  channel: 'email' | 'chat';
  credential: string | null;
  /** JSON object text: email {to, cc, subject, text, html}; chat {text, blocks?}. */
  message: string;
}

/** Value of `sync.connections` (schemas/sync-connection.avsc), compacted, keyed by connectionId. */
export interface SyncConnectionChanged extends Envelope {
  connectionId: string;
  state: 'draft' | 'active' | 'paused' | 'deleted';
  revision: number;
  /** JSON of the connection (libs/sync/connections.ts `SyncConnection`). */
  connection: string;
}

export const syncInboundTypes = ['hub.changed', 'app.changed', 'poll.due', 'initial-sync', 'associations.due', 'resync', 'resume', 'forget'] as const;
export type SyncInboundType = (typeof syncInboundTypes)[number];

/** Value of `sync.inbound` (schemas/sync-inbound.avsc), keyed `connectionId:object`. */
export interface SyncInbound extends Envelope {
  type: SyncInboundType;
  connectionId: string;
  object: string;
  hubId: string | null;
  appId: string | null;
  /** JSON object text; see the schema. */
  data: string;
}

/** Value of `sync.events` (schemas/sync-event.avsc), keyed `connectionId:object`. */
export interface SyncEvent extends Envelope {
  connectionId: string;
  object: string;
  side: string | null;
  hubId: string | null;
  appId: string | null;
  reason: string | null;
  code: string | null;
  message: string | null;
  data: string;
}

/** Value of `sync.state` (schemas/sync-state.avsc), keyed `collection|docId`: the reconciler's changelog. */
export interface SyncStateSaved extends Envelope {
  connectionId: string;
  object: string;
  collection: SyncStateCollection;
  docId: string;
  /** MongoDB extended JSON text of the document, null when removed. */
  doc: string | null;
}

export type SyncStateCollection = 'sync_links' | 'sync_unlinked' | 'sync_objects';

/** Partition key of sync.inbound and sync.events: one owner per (connection, object). */
export function syncKey(connectionId: string, object: string): string {
  return `${connectionId}:${object}`;
}

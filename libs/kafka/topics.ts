/**
 * The topic catalogue: every topic the hub uses, with its partitions, cleanup policy,
 * retention and the Avro schema of its values. Created idempotently at start.
 */
export interface TopicSpec {
  /** Logical name; the physical name is `${prefix}${name}`. */
  readonly name: string;
  /** Schema file under schemas/ for the value, or null for raw bytes (DLQs). */
  readonly schema: string | null;
  readonly compacted: boolean;
  /** -1 keeps forever; compacted topics ignore it. */
  readonly retentionMs: number;
  /** Overrides the configured default partition count. */
  readonly partitions?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const topics = {
  records: { name: 'crm.records', schema: 'record-changed.avsc', compacted: false, retentionMs: 30 * DAY_MS },
  webhooks: { name: 'hub.webhooks', schema: 'webhook-received.avsc', compacted: false, retentionMs: 7 * DAY_MS },
  workflows: { name: 'hub.workflows', schema: 'workflow-changed.avsc', compacted: true, retentionMs: -1 },
  runs: { name: 'hub.runs', schema: 'run-event.avsc', compacted: false, retentionMs: 30 * DAY_MS },
  notifications: { name: 'hub.notifications', schema: 'notification.avsc', compacted: false, retentionMs: 7 * DAY_MS },
  /** Data sync: connection settings and wanted state, keyed by connectionId (api → sync-reconciler). */
  syncConnections: { name: 'sync.connections', schema: 'sync-connection.avsc', compacted: true, retentionMs: -1 },
  /** Data sync: work for one (connection, object), keyed `connectionId:object`: one writer per pair. */
  syncInbound: { name: 'sync.inbound', schema: 'sync-inbound.avsc', compacted: false, retentionMs: 7 * DAY_MS },
  /** Data sync: the reconciler's decisions, keyed `connectionId:object` (the audit trail: why each record is where it is). */
  syncEvents: { name: 'sync.events', schema: 'sync-event.avsc', compacted: false, retentionMs: 30 * DAY_MS },
  /** Data sync: the reconciler's changelog, keyed `collection|docId`: its state can be rebuilt from it (npm run sync:rebuild). */
  syncState: { name: 'sync.state', schema: 'sync-state.avsc', compacted: true, retentionMs: -1 },
} as const satisfies Record<string, TopicSpec>;

export type TopicKey = keyof typeof topics;

/** The dead-letter topic of a consumer group: poison messages, kept 30 days. */
export function dlqTopic(group: string): TopicSpec {
  return { name: `${group}.dlq`, schema: null, compacted: false, retentionMs: 30 * DAY_MS, partitions: 1 };
}

export function physicalName(prefix: string, spec: TopicSpec | string): string {
  return `${prefix}${typeof spec === 'string' ? spec : spec.name}`;
}

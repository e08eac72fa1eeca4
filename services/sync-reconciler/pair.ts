/**
 * What the owner of one (connection, object) works with while it handles that pair's
 * messages: the connection and its settings, the connector, the stores, and what the
 * handling produces (decision events, follow-up work, latency samples). Each handler
 * file (changes, initial sync, poll, associations) takes a Pair and its deps.
 */
import type { Connector, SyncObject } from '../../libs/sync/connector.ts';
import type { SyncConnection } from '../../libs/sync/connections.ts';
import { associationKinds, type ObjectSettings, type SyncSettings } from '../../libs/sync/reconcile/index.ts';
import type { SyncInbound } from '../../libs/kafka/events.ts';
import type { EventBus, OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { RecordReader } from '../../libs/store/records.ts';
import type { LinkDocument, ObjectStateDocument } from '../../libs/store/sync.ts';
import type { Logger } from '../../libs/log/index.ts';
import { inboundMessage, syncEventMessage, type InboundInput, type SyncEventInput } from '../../libs/sync/messages.ts';
import type { SyncState } from './state.ts';
import type { SeenSnapshots } from './seen.ts';

export interface PairDeps {
  state: SyncState;
  /** App snapshots in-sync links already account for (a hint kept in memory; see seen.ts). */
  seen: SeenSnapshots;
  /** The hub's records as the record-projector holds them (read only). */
  records: RecordReader;
  bus: EventBus;
  topics: { records: string; inbound: string };
  log: Logger;
  now(): number;
  pollIntervalMs: number;
  /** Records per initial-sync step (one batch request to the app). */
  chunkSize: number;
  /** Lets the group know this member is alive during long work. */
  heartbeat(): Promise<void>;
}

export interface Pair {
  c: SyncConnection;
  object: SyncObject;
  settings: SyncSettings;
  /** The object's settings, undefined when it does not sync (then only bookkeeping happens). */
  os: ObjectSettings | undefined;
  connector: Connector;
  objState: ObjectStateDocument;
  /** The message being handled: the cause of everything published. */
  cause: SyncInbound;
  events: OutgoingEvent[];
  followUps: OutgoingEvent[];
  samples: number[];
}

export function decisionEvent(p: Pair, d: PairDeps, e: SyncEventInput): void {
  p.events.push(syncEventMessage(p.cause, e, d.now()));
}

export function followUp(p: Pair, d: PairDeps, i: Omit<InboundInput, 'workspaceId' | 'connectionId' | 'cause'> & { connectionId?: string }): void {
  p.followUps.push(inboundMessage({ workspaceId: p.c.workspaceId, connectionId: p.c.connectionId, cause: p.cause, ...i }, d.now()));
}

export const parseJson = <T>(text: string | null | undefined, fallback: T): T => {
  if (!text) return fallback;
  try { return JSON.parse(text) as T; } catch { return fallback; }
};

export function hubFieldsOf(link: LinkDocument): Record<string, unknown> {
  return parseJson<Record<string, unknown>>(link.hubFields, {});
}

/** The association kinds this pair's records carry and keep: the target object syncs too and the app has the kind. */
export const kindsFrom = (p: Pair) => (Object.entries(associationKinds) as [keyof typeof associationKinds, (typeof associationKinds)[keyof typeof associationKinds]][])
  .filter(([kind, k]) => k.from === p.object && p.settings.objects[k.to] && (p.connector.objects[p.object]?.associations ?? []).includes(kind));

/** Time spent per named stage, summed: where a poll step's or a run of changes' time goes, logged at debug level. */
export function lapTimer(): ((stage: string) => void) & { spent(): Record<string, number> } {
  let at = Date.now();
  const spent: Record<string, number> = {};
  const lap = (stage: string) => { const now = Date.now(); spent[stage] = (spent[stage] ?? 0) + now - at; at = now; };
  return Object.assign(lap, { spent: () => spent });
}

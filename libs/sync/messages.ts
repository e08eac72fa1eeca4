/**
 * The messages of data sync on Kafka, built one way by whoever publishes them: the api
 * (connection changes, initial-sync, resync, resume and forget requests), the ingress (app
 * webhooks) and the reconciler (routed hub changes, poll ticks, continuations, decisions).
 */
import { createHash, randomUUID } from 'node:crypto';
import { causedEnvelope, envelopeHeaders, externalEnvelope, type Envelope } from '../kafka/envelope.ts';
import { syncKey, type SyncConnectionChanged, type SyncEvent, type SyncInbound, type SyncInboundType } from '../kafka/events.ts';
import type { OutgoingEvent } from '../kafka/producer.ts';
import type { SyncConnection } from './connections.ts';

/** A UUID-shaped id derived from its parts: the same work published twice is the same message. */
export function derivedId(...parts: readonly (string | number)[]): string {
  const h = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function connectionMessage(c: SyncConnection, type: string, now: number): OutgoingEvent {
  const value: SyncConnectionChanged = {
    ...externalEnvelope(type, c.workspaceId, now), connectionId: c.connectionId, state: c.state, revision: c.revision, connection: JSON.stringify(c),
  };
  return { key: c.connectionId, value, headers: envelopeHeaders(value) };
}

export interface InboundInput {
  workspaceId: string;
  connectionId: string;
  object: string;
  type: SyncInboundType;
  hubId?: string | null;
  appId?: string | null;
  data?: Record<string, unknown>;
  /** Derived id (webhook event ids, continuation steps); random when absent. */
  eventId?: string;
  cause?: Envelope;
}

export function inboundMessage(i: InboundInput, now: number): OutgoingEvent {
  const eventId = i.eventId ?? randomUUID();
  const envelope = i.cause ? causedEnvelope(i.cause, i.type, now, eventId) : externalEnvelope(i.type, i.workspaceId, now, eventId);
  const value: SyncInbound = {
    ...envelope, type: i.type, connectionId: i.connectionId, object: i.object, hubId: i.hubId ?? null, appId: i.appId ?? null, data: JSON.stringify(i.data ?? {}),
  };
  return { key: syncKey(i.connectionId, i.object), value, headers: envelopeHeaders(value) };
}

export interface SyncEventInput {
  type: string;
  object: string;
  side?: string | null;
  hubId?: string | null;
  appId?: string | null;
  reason?: string | null;
  code?: string | null;
  message?: string | null;
  data?: unknown;
}

export function syncEventMessage(cause: SyncInbound, e: SyncEventInput, now: number): OutgoingEvent {
  const value: SyncEvent = {
    ...causedEnvelope(cause, e.type, now), connectionId: cause.connectionId, object: e.object, side: e.side ?? null, hubId: e.hubId ?? null, appId: e.appId ?? null,
    reason: e.reason ?? null, code: e.code ?? null, message: e.message ?? null, data: JSON.stringify(e.data ?? {}),
  };
  return { key: syncKey(cause.connectionId, e.object), value, headers: envelopeHeaders(value) };
}

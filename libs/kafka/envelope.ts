import { randomUUID } from 'node:crypto';

/** Fields every hub event carries first, whatever its topic. */
export interface Envelope {
  eventId: string;
  type: string;
  workspaceId: string;
  /** Milliseconds since the epoch. */
  occurredAt: number;
  correlationId: string;
  causationId: string | null;
  causationDepth: number;
}

/** Envelope of an event entering from outside the hub: it starts its own causal chain. */
export function externalEnvelope(type: string, workspaceId: string, occurredAt: number, eventId: string = randomUUID()): Envelope {
  return { eventId, type, workspaceId, occurredAt, correlationId: eventId, causationId: null, causationDepth: 0 };
}

/** Envelope of an event caused by `cause`: same correlation, one level deeper. */
export function causedEnvelope(cause: Envelope, type: string, occurredAt: number, eventId: string = randomUUID()): Envelope {
  return {
    eventId,
    type,
    workspaceId: cause.workspaceId,
    occurredAt,
    correlationId: cause.correlationId,
    causationId: cause.eventId,
    causationDepth: cause.causationDepth + 1,
  };
}

/** Headers mirrored from the envelope so tools can route and trace without decoding. */
export function envelopeHeaders(e: Envelope): Record<string, string> {
  return {
    'hub.event-id': e.eventId,
    'hub.event-type': e.type,
    'hub.workspace-id': e.workspaceId,
    'hub.correlation-id': e.correlationId,
  };
}

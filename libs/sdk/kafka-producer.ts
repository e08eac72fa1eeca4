/**
 * For producers inside the cluster: publishes record events straight to `crm.records`,
 * built by the same code as the ingress (libs/kafka/record-events.ts), without the
 * HTTP hop.
 *
 * Unlike the ingress it does not dedupe ids: consumers are idempotent by eventId (the
 * projector ignores a repeated (version, eventId)), so publishing an event twice is
 * harmless as long as both copies carry the same id. Give events your own `id` (e.g.
 * the id of your outbox row) when you retry a failed `emit`: an event without one gets
 * a new random id on each call, and a retry would then be a second event.
 */
import { errorFactory } from '../errors/index.ts';
import type { KafkaRuntime } from '../kafka/runtime.ts';
import { recordEventErrors, recordEventMessage, toRecordChanged, type RecordEventInput } from '../kafka/record-events.ts';
import { topics } from '../kafka/topics.ts';

const raise = errorFactory(recordEventErrors);

export interface DirectProducer {
  /**
   * Validates every event first (nothing is published when one is invalid: EVENT_INVALID
   * naming `/events/<i>/<field>`, or `/<field>` for a single event), then publishes them
   * in one call that resolves once Kafka acknowledged all (acks=all). Resolves with the
   * event ids in input order. A KAFKA_UNAVAILABLE failure is retriable, but some events
   * may have been written: retry with the same ids.
   */
  emit(workspaceId: string, events: RecordEventInput | readonly RecordEventInput[]): Promise<{ accepted: string[] }>;
}

export function createDirectProducer(deps: { runtime: KafkaRuntime }): DirectProducer {
  const topic = deps.runtime.topic(topics.records);
  return {
    async emit(workspaceId, events) {
      if (typeof workspaceId !== 'string' || workspaceId.length === 0) {
        throw raise('EVENT_INVALID', 'workspaceId must be a non-empty string');
      }
      const now = Date.now();
      const values = Array.isArray(events)
        ? events.map((e: unknown, i) => toRecordChanged(workspaceId, e, now, `/events/${i}`))
        : [toRecordChanged(workspaceId, events, now)];
      await deps.runtime.bus.publish(topic, values.map(recordEventMessage));
      return { accepted: values.map((v) => v.eventId) };
    },
  };
}

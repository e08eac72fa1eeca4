import type { FastifyInstance } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf } from '../../../libs/http-server/auth.ts';
import { ingressRoutes, MAX_EVENTS_PER_REQUEST } from '../../../libs/contracts/ingress-routes.ts';
import { toRecordChanged, recordEventMessage } from '../../../libs/kafka/record-events.ts';
import type { RecordChanged } from '../../../libs/kafka/events.ts';
import { createAcceptor } from '../acceptor.ts';
import { isPlainObject } from '../../../libs/json/index.ts';


/**
 * One event, or `{"events": [...]}`: validated as a whole before anything is published.
 * The route's schema refuses wrong shapes first; this names what it cannot (NUL
 * characters, nesting, calendar dates) and builds the events.
 */
function eventsOf(body: unknown, workspaceId: string, now: number): RecordChanged[] {
  if (isPlainObject(body) && 'events' in body) {
    for (const key of Object.keys(body)) if (key !== 'events') throw raise('BODY_INVALID', `unknown field "${key}" beside "events"`, { path: `/${key}` });
    const list = body.events;
    if (!Array.isArray(list)) throw raise('BODY_INVALID', 'events must be an array of events', { path: '/events' });
    if (list.length === 0) throw raise('BODY_INVALID', 'events must hold at least one event', { path: '/events' });
    if (list.length > MAX_EVENTS_PER_REQUEST) throw raise('BODY_INVALID', `at most ${MAX_EVENTS_PER_REQUEST} events per request, got ${list.length}`, { path: '/events' });
    return list.map((e, i) => toRecordChanged(workspaceId, e, now, `/events/${i}`));
  }
  if (!isPlainObject(body)) throw raise('BODY_INVALID', 'body must be an event object or {"events": [...]}', { path: '' });
  return [toRecordChanged(workspaceId, body, now, '')];
}

/**
 * POST /v1/events: answers 202 only once Kafka acknowledged every new event (acks=all);
 * ids accepted before (or repeated in the batch) are reported as duplicates and not
 * published again. Concurrent requests are committed in groups (see acceptor.ts).
 */
export function eventRoutes(app: FastifyInstance, d: IngressDeps): void {
  const acceptor = createAcceptor({
    ackTimeoutMs: d.ackTimeoutMs,
    ledger: d.ledger, bus: d.bus, topic: d.recordsTopic,
    onCommitError: (err) => d.log.warn({ err }, 'could not confirm a publish; a retry may publish again'),
  });
  app.route({
    ...ingressRoutes.events,
    config: { ...ingressRoutes.events.config, invalidBody: 'EVENT_INVALID' },
    bodyLimit: d.maxEventsBodyBytes,
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const events = eventsOf(request.body, principal.workspaceId, d.now());
      const { duplicate } = await acceptor.accept(events.map((e) => ({ key: `${principal.workspaceId}:${e.eventId}`, message: recordEventMessage(e) })));
      const fresh = events.filter((_, i) => !duplicate[i]);
      const duplicates = events.filter((_, i) => duplicate[i]).map((e) => e.eventId);
      d.metrics.published.inc({ topic: 'crm.records' }, fresh.length);
      if (duplicates.length > 0) d.metrics.duplicates.inc({ kind: 'event' }, duplicates.length);
      d.log.info({ workspaceId: principal.workspaceId, route: '/v1/events', eventIds: fresh.length <= 10 ? fresh.map((e) => e.eventId) : undefined, accepted: fresh.length, duplicates: duplicates.length }, 'events accepted');
      return reply.code(202).send({ accepted: fresh.map((e) => e.eventId), duplicates });
    },
  });
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../errors.ts';
import type { RouteTable } from '../http.ts';
import type { Principal } from '../auth.ts';
import { toRecordChanged, recordEventMessage } from '../../../libs/kafka/record-events.ts';
import type { RecordChanged } from '../../../libs/kafka/events.ts';
import { createAcceptor } from '../acceptor.ts';

export const MAX_EVENTS_PER_REQUEST = 500;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One event, or `{"events": [...]}`: validated as a whole before anything is published. */
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
export function eventRoutes(app: FastifyInstance, d: IngressDeps, routes: RouteTable, authenticate: (r: FastifyRequest) => Promise<Principal>): void {
  const acceptor = createAcceptor({
    ackTimeoutMs: d.ackTimeoutMs,
    ledger: d.ledger, bus: d.bus, topic: d.recordsTopic,
    onCommitError: (err) => d.log.warn({ err }, 'could not confirm a publish; a retry may publish again'),
  });
  routes.add('POST', '/v1/events');
  app.post('/v1/events', {
    bodyLimit: d.maxEventsBodyBytes,
    schema: {
      tags: ['events'],
      summary: 'Emit record-change events (one, or {"events": [...]} up to 500 / 1 MiB); all-or-nothing',
      body: {
        type: 'object',
        properties: {
          events: { type: 'array', maxItems: MAX_EVENTS_PER_REQUEST, items: { $ref: 'RecordEvent#' } },
          id: { type: 'string', format: 'uuid' }, type: { type: 'string' }, object: { type: 'string' }, recordId: { type: 'string' },
        },
      },
      response: {
        202: { type: 'object', properties: { accepted: { type: 'array', items: { type: 'string' } }, duplicates: { type: 'array', items: { type: 'string' } } } },
      },
    },
  }, async (request, reply) => {
    const principal = await authenticate(request);
    const events = eventsOf(request.body, principal.workspaceId, d.now());
    const { duplicate } = await acceptor.accept(events.map((e) => ({ key: `${principal.workspaceId}:${e.eventId}`, message: recordEventMessage(e) })));
    const fresh = events.filter((_, i) => !duplicate[i]);
    const duplicates = events.filter((_, i) => duplicate[i]).map((e) => e.eventId);
    d.metrics.published.inc({ topic: 'crm.records' }, fresh.length);
    if (duplicates.length > 0) d.metrics.duplicates.inc({ kind: 'event' }, duplicates.length);
    d.log.info({ workspaceId: principal.workspaceId, route: '/v1/events', eventIds: fresh.length <= 10 ? fresh.map((e) => e.eventId) : undefined, accepted: fresh.length, duplicates: duplicates.length }, 'events accepted');
    return reply.code(202).send({ accepted: fresh.map((e) => e.eventId), duplicates });
  });
}

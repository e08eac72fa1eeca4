/**
 * The ingress's routes as an HTTP contract: the ingress serves them with these schemas,
 * and the api's OpenAPI document (/docs) lists them, since both answer at the hub's
 * one address.
 */
import { recordEventTypes } from '../kafka/events.ts';
import { recordEventLimits } from '../kafka/record-events.ts';
import type { RouteDoc } from '../http-server/docs.ts';

export const MAX_EVENTS_PER_REQUEST = 500;

export const recordEventSchema = {
  $id: 'RecordEvent',
  type: 'object',
  required: ['type', 'object', 'recordId'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Idempotency key; assigned when absent' },
    type: { type: 'string', enum: [...recordEventTypes] },
    object: { type: 'string', minLength: 1, maxLength: recordEventLimits.objectMaxChars, pattern: '^[A-Za-z0-9_.:-]+$' },
    recordId: { type: 'string', minLength: 1, maxLength: recordEventLimits.recordIdMaxChars, description: 'No control characters' },
    occurredAt: { type: 'string', description: 'ISO-8601 date and time (to the minute at least) with a zone, e.g. 2024-05-01T12:30:00Z' },
    record: { type: 'object', description: 'Fields after the change (required unless deleted)' },
    before: { type: 'object' },
    updatedFields: { type: 'array', maxItems: recordEventLimits.updatedFieldsMax, items: { type: 'string' } },
    version: { type: 'integer', minimum: 0, description: 'Orders changes of one record; defaults to occurredAt in ms' },
  },
} as const;

const tags = ['operations'];
const hookParams = { type: 'object', required: ['hookId'], properties: { hookId: { type: 'string' } } } as const;

export const ingressRoutes = {
  events: {
    method: 'POST', url: '/v1/events', config: { auth: 'workspace' },
    schema: {
      tags: ['events'],
      summary: 'Emit record-change events (one, or {"events": [...]} up to 500 / 1 MiB); all-or-nothing',
      body: {
        anyOf: [
          { $ref: 'RecordEvent#' },
          {
            type: 'object', required: ['events'], additionalProperties: false,
            properties: { events: { type: 'array', minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST, items: { $ref: 'RecordEvent#' } } },
          },
        ],
      },
      response: {
        202: { type: 'object', properties: { accepted: { type: 'array', items: { type: 'string' } }, duplicates: { type: 'array', items: { type: 'string' } } } },
      },
    },
  },
  delivery: {
    method: ['POST', 'GET'], url: '/hooks/:hookId', config: { auth: 'public' },
    schema: {
      tags: ['deliveries'], params: hookParams,
      summary: 'Deliver a webhook (public; signed when the hook has secrets): JSON or form body (POST), or query string (GET)',
    },
  },
  syncDelivery: {
    method: 'POST', url: '/hooks/sync/:connectionId', config: { auth: 'public' },
    schema: {
      tags: ['sync'], params: { type: 'object', required: ['connectionId'], properties: { connectionId: { type: 'string' } } },
      summary: 'An app\'s webhook for a sync connection (public): checked with the app\'s own signature (X-HubSpot-Signature-v3, Stripe-Signature) against the connection\'s webhookCredential',
    },
  },
  healthz: { method: 'GET', url: '/healthz', config: { auth: 'public' }, schema: { tags, summary: 'The ingress process is up' } },
  readyz: { method: 'GET', url: '/readyz', config: { auth: 'public' }, schema: { tags, summary: 'Kafka, the schema registry and the store are reachable' } },
  metrics: {
    method: 'GET', url: '/metrics', config: { auth: 'public' },
    schema: { tags, summary: 'Prometheus metrics (text format) of the ingress and of the api (series of both processes, summed)' },
  },
} as const satisfies Record<string, RouteDoc>;

import { createHmac } from 'node:crypto';
import { ApiError, newId, sendWebhook, type Reply, type RouteContext, type WebhookDelivery } from './base.ts';

/**
 * Stripe's events for the billing emulator: every change is an event (`customer.created`,
 * `customer.updated` with `previous_attributes`, `customer.deleted`, `product.*`,
 * `invoice.*`), listable newest first at `GET /v1/events` (`type`, `types[]`, `created[gt|gte|lt|lte]`,
 * `limit`, `starting_after`, `ending_before`) and `GET /v1/events/:id`, and sent to a
 * webhook endpoint signed the Stripe way: `Stripe-Signature: t=<unix seconds>,v1=<hex
 * HMAC-SHA256(endpoint secret, "t.payload")>`.
 */

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  /** `id` null for changes made in the Dashboard; the API request and its Idempotency-Key otherwise. */
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface StripeWebhookOptions {
  url: string;
  /** The endpoint's signing secret, `whsec_…`. */
  secret: string;
  retries?: number;
  /** The endpoint's `enabled_events`: when set, only events of these types are sent, as Stripe does. */
  subscriptions?: readonly string[];
}

/** The `Stripe-Signature` header value for a payload. */
export function stripeSignature(secret: string, timestampSeconds: number, payload: string): string {
  return `t=${timestampSeconds},v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${payload}`).digest('hex')}`;
}

export interface EventLog {
  events: StripeEvent[];
  deliveries: { event: StripeEvent; result: WebhookDelivery | { error: string } }[];
  emit(type: string, object: object, ctx?: RouteContext, previous?: Record<string, unknown>): StripeEvent;
  settled(): Promise<void>;
  list(ctx: RouteContext): Reply;
  get(ctx: RouteContext): Reply;
  clear(): void;
}

type Fail = (message: string, code: string, param?: string, status?: number) => never;

export function createEventLog(webhook: StripeWebhookOptions | undefined, fail: Fail): EventLog {
  const events: StripeEvent[] = [];
  const deliveries: EventLog['deliveries'] = [];
  const inFlight = new Set<Promise<void>>();
  const deliver = async (event: StripeEvent): Promise<void> => {
    if (!webhook || (webhook.subscriptions && !webhook.subscriptions.includes(event.type))) return;
    const payload = JSON.stringify(event, null, 2);
    const t = Math.floor(Date.now() / 1000);
    try {
      const result = await sendWebhook(webhook.url, payload, {
        contentType: 'application/json; charset=utf-8', headers: { 'stripe-signature': stripeSignature(webhook.secret, t, payload), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
        ...(webhook.retries !== undefined ? { retries: webhook.retries } : {}),
      });
      deliveries.push({ event, result });
    } catch (err) {
      deliveries.push({ event, result: { error: (err as Error).message } });
    }
  };
  const createdFilter = (ctx: RouteContext) => {
    const bound = (op: string): number | undefined => {
      const v = ctx.search.get(`created[${op}]`);
      if (v === null) return undefined;
      if (!/^\d+$/.test(v)) fail(`Invalid integer: ${v}`, 'parameter_invalid_integer', `created[${op}]`);
      return Number(v);
    };
    const exact = ctx.search.get('created');
    const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
    return (created: number) => (exact === null || created === Number(exact)) && (gt === undefined || created > gt) && (gte === undefined || created >= gte)
      && (lt === undefined || created < lt) && (lte === undefined || created <= lte);
  };
  return {
    events, deliveries,
    emit(type, object, ctx, previous) {
      const event: StripeEvent = {
        id: newId('evt_', 24), object: 'event', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000),
        data: { object: structuredClone(object) as Record<string, unknown>, ...(previous ? { previous_attributes: previous } : {}) },
        livemode: false, pending_webhooks: webhook ? 1 : 0,
        request: { id: ctx ? newId('req_') : null, idempotency_key: ctx?.req.headers['idempotency-key'] ?? null }, type,
      };
      events.push(event);
      if (webhook) {
        const p = deliver(event).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      return event;
    },
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    list(ctx) {
      const limit = ctx.search.get('limit') === null ? 10 : Number(ctx.search.get('limit'));
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) fail('Invalid integer: limit must be between 1 and 100', 'parameter_invalid_integer', 'limit');
      const types = [...ctx.search.getAll('types[]'), ...ctx.search.getAll('types')];
      const type = ctx.search.get('type');
      if (types.length > 20) fail('You may pass at most 20 types.', 'parameter_invalid_string', 'types');
      const matchType = (t: string) => (type === null || (type.endsWith('.*') ? t.startsWith(type.slice(0, -1)) : t === type)) && (types.length === 0 || types.includes(t));
      const inRange = createdFilter(ctx);
      const all = [...events].reverse().filter((e) => matchType(e.type) && inRange(e.created));
      const after = ctx.search.get('starting_after');
      const before = ctx.search.get('ending_before');
      const indexOf = (id: string, param: string) => {
        const i = all.findIndex((e) => e.id === id);
        if (i < 0 && !events.some((e) => e.id === id)) fail(`No such event: '${id}'`, 'resource_missing', param);
        return i;
      };
      let data: StripeEvent[];
      let hasMore: boolean;
      if (before !== null) {
        // The page just newer than the cursor, still newest first.
        let end = indexOf(before, 'ending_before');
        if (end < 0) end = all.findIndex((e) => e.created < (events.find((x) => x.id === before)?.created ?? 0));
        if (end < 0) end = all.length;
        const start = Math.max(0, end - limit);
        data = all.slice(start, end);
        hasMore = start > 0;
      } else {
        const start = after === null ? 0 : indexOf(after, 'starting_after') + 1;
        data = all.slice(start, start + limit);
        hasMore = start + data.length < all.length;
      }
      return { status: 200, body: { object: 'list', data, has_more: hasMore, url: '/v1/events' } };
    },
    get(ctx) {
      const e = events.find((x) => x.id === ctx.params.id);
      if (!e) throw new ApiError({ status: 404, body: { error: { code: 'resource_missing', message: `No such event: '${ctx.params.id}'`, param: 'id', type: 'invalid_request_error' } } });
      return { status: 200, body: e };
    },
    clear() {
      events.length = 0;
      deliveries.length = 0;
    },
  };
}

/** `created[gte]=…` filters of Stripe's lists, as a predicate on `created`. */
export function createdRange(ctx: RouteContext): (created: number) => boolean {
  const get = (op: string) => (ctx.search.get(`created[${op}]`) === null ? undefined : Number(ctx.search.get(`created[${op}]`)));
  const [gt, gte, lt, lte] = [get('gt'), get('gte'), get('lt'), get('lte')];
  return (c) => (gt === undefined || c > gt) && (gte === undefined || c >= gte) && (lt === undefined || c < lt) && (lte === undefined || c <= lte);
}

/**
 * The Stripe connector: customers ↔ people, products ↔ products, invoices ↔ invoices
 * (associated with customers only). Auth: a secret or restricted key (Bearer); bodies are
 * form-encoded.
 *
 * - Changes: Stripe objects carry no modification time a list can filter on, so changes
 *   are read from the Events API: a `null` cursor first lists every object (`starting_after`,
 *   `has_more`), anchored at the newest event seen before the listing began, then walks
 *   events after the anchor oldest first (`ending_before`), each with the object as it was
 *   after the change. Events are kept 30 days: poll within that.
 * - Deletions: `*.deleted` events the same way.
 * - Writes: Stripe has no batch endpoints; each write carries an Idempotency-Key derived
 *   from (connection, record, version), so a retry after a lost answer is the same
 *   request and Stripe answers it again without a second customer. Stripe does not refuse
 *   a second customer with the same email: a create first looks the email up (the list
 *   endpoint, which is consistent, unlike search) and links to an existing customer.
 * - Rate limits: 25 requests per second in test mode (100 live); 429s are waited out.
 */
import type { HttpClient } from '../../http/index.ts';
import type { Secret } from '../../secrets/crypto.ts';
import type {
  AppError, AppRecord, Association, AssociationKind, CallOptions, ChangePage, Connector, DeletedPage, MatchKeys, SyncObject, WriteInput, WriteResult,
} from '../connector.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { idempotencyKey } from '../idempotency.ts';
import { createRateLimiter, systemClock, type Clock, type RateLimiter, type RateLimitPolicy } from '../rate-limit.ts';
import { createTransport, raiseSync, refused, type AppAnswer, type Send } from '../transport.ts';
import { STRIPE_OBJECTS, stripeObjects } from './mappings.ts';
import { formBody, stripeCodec } from './values.ts';
import { parseStripeEvent, parseStripeWebhook, stripeRecord, verifyStripeWebhook } from './webhooks.ts';

export const stripePolicy: RateLimitPolicy = { max: 25, windowMs: 1000, maxWaitMs: 60_000, maxAttempts: 6, backoffMs: 500, maxBatch: 100 };

export interface StripeOptions {
  connectionId: string;
  apiKey: Secret;
  http: HttpClient;
  /** Default https://api.stripe.com. */
  baseUrl?: string;
  limiter?: RateLimiter;
  clock?: Clock;
  /** Default 100 (Stripe's maximum). */
  pageSize?: number;
}

type Phase = { phase: 'list'; after?: string; anchor: string | null } | { phase: 'events'; after: string | null };
const isPhase = (v: Record<string, unknown>): v is Phase & Record<string, unknown> => v.phase === 'list' || v.phase === 'events';

function errorOf(answer: AppAnswer): AppError {
  const e = (answer.body as { error?: { type?: unknown; code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.type === 'string' ? e.type : `HTTP_${answer.status}`;
  return { status: answer.status, code, message: typeof e?.message === 'string' ? e.message : `Stripe answered ${answer.status}`, body: answer.body };
}

export function createStripeConnector(o: StripeOptions): Connector {
  const clock = o.clock ?? systemClock;
  const limiter = o.limiter ?? createRateLimiter(stripePolicy, clock);
  const send: Send = createTransport({
    app: 'Stripe', baseUrl: (o.baseUrl ?? 'https://api.stripe.com').replace(/\/$/, ''), http: o.http, limiter, clock, errorOf,
    headers: () => ({ authorization: `Bearer ${o.apiKey.reveal()}`, 'stripe-version': '2024-06-20' }),
  });
  const pageSize = Math.min(100, o.pageSize ?? 100);
  const FORM = 'application/x-www-form-urlencoded';

  const spec = (object: SyncObject) => {
    const s = STRIPE_OBJECTS[object];
    if (!s) throw raiseSync('SYNC_OBJECT_UNSUPPORTED', `Stripe has no ${object}`);
    return s;
  };
  const fail = (answer: AppAnswer): never => { throw refused('Stripe', answer, errorOf(answer)); };
  const listOf = (answer: AppAnswer): { data: Record<string, unknown>[]; hasMore: boolean } => {
    const b = answer.body as { data?: unknown; has_more?: unknown } | null;
    if (!Array.isArray(b?.data)) throw raiseSync('SYNC_APP_ANSWER_INVALID', 'Stripe answered a list without data');
    return { data: b.data as Record<string, unknown>[], hasMore: b.has_more === true };
  };
  const get = async (path: string, query: Record<string, string | number | boolean>, signal?: AbortSignal) => {
    const answer = await send({ method: 'GET', path, query, resend: 'always' }, signal);
    if (answer.status >= 400) fail(answer);
    return answer;
  };
  /** `types[]` as Stripe's query wants it, several times: URLSearchParams through the path. */
  const typesQuery = (types: readonly string[]) => types.map((t) => `types[]=${encodeURIComponent(t)}`).join('&');

  /** Events of `types` strictly after event `after` (null: the oldest still kept), oldest first. */
  async function eventsAfter(types: readonly string[], after: string | null, limit: number, signal?: AbortSignal) {
    if (after !== null) {
      const { data, hasMore } = listOf(await get(`/v1/events?${typesQuery(types)}`, { limit, ending_before: after }, signal));
      return { events: data.reverse(), more: hasMore };
    }
    // From the oldest kept: walk the newest-first pages to the last (oldest) one.
    let page = listOf(await get(`/v1/events?${typesQuery(types)}`, { limit }, signal));
    let pages = 1;
    while (page.hasMore && page.data.length > 0) {
      page = listOf(await get(`/v1/events?${typesQuery(types)}`, { limit, starting_after: String(page.data.at(-1)!.id) }, signal));
      pages += 1;
    }
    return { events: [...page.data].reverse(), more: pages > 1 };
  }

  const changeTypes = (object: SyncObject) => {
    const e = spec(object).event;
    return object === 'invoices' ? [`${e}.created`, `${e}.updated`, `${e}.finalized`, `${e}.paid`, `${e}.voided`, `${e}.marked_uncollectible`] : [`${e}.created`, `${e}.updated`];
  };

  async function listChanged(object: SyncObject, cursor: string | null, options: CallOptions & { limit?: number } = {}): Promise<ChangePage> {
    const limit = Math.min(100, options.limit ?? pageSize);
    const types = changeTypes(object);
    const c: Phase = cursor === null ? { phase: 'list', anchor: null } : decodeCursor('stripe', cursor, isPhase);
    if (c.phase === 'list') {
      // The anchor is taken before the first page, so a change made during the listing is seen again as an event.
      let anchor = c.anchor;
      if (cursor === null) {
        const newest = listOf(await get(`/v1/events?${typesQuery(types)}`, { limit: 1 }, options.signal)).data[0];
        anchor = newest ? String(newest.id) : null;
      }
      const { data, hasMore } = listOf(await get(`/v1/${spec(object).path}`, { limit, ...(c.after ? { starting_after: c.after } : {}) }, options.signal));
      const records = data.map((x) => stripeRecord(object, x));
      const next: Phase = hasMore && data.length > 0 ? { phase: 'list', after: String(data.at(-1)!.id), anchor } : { phase: 'events', after: anchor };
      return { records, cursor: encodeCursor('stripe', next), more: next.phase === 'list' || anchor !== null };
    }
    const { events, more } = await eventsAfter(types, c.after, limit, options.signal);
    const records = events.map((e) => parseStripeEvent(e)?.record).filter((r): r is AppRecord => r !== undefined);
    const after = events.length > 0 ? String(events.at(-1)!.id) : c.after;
    return { records, cursor: encodeCursor('stripe', { phase: 'events', after }), more };
  }

  async function listDeleted(object: SyncObject, cursor: string | null, options: CallOptions = {}): Promise<DeletedPage> {
    const c: Phase = cursor === null ? { phase: 'events', after: null } : decodeCursor('stripe', cursor, isPhase);
    const after = c.phase === 'events' ? c.after : null;
    const { events, more } = await eventsAfter([`${spec(object).event}.deleted`], after, pageSize, options.signal);
    const deleted = events.map((e) => ({ id: String((e.data as { object: { id: unknown } }).object.id), object, deletedAt: Number(e.created) * 1000 }));
    return { deleted, cursor: encodeCursor('stripe', { phase: 'events', after: events.length > 0 ? String(events.at(-1)!.id) : after }), more };
  }

  async function readOne(object: SyncObject, id: string, signal?: AbortSignal): Promise<AppRecord | null> {
    const answer = await send({ method: 'GET', path: `/v1/${spec(object).path}/${encodeURIComponent(id)}`, resend: 'always' }, signal);
    if (answer.status === 404) return null;
    if (answer.status >= 400) fail(answer);
    const record = stripeRecord(object, answer.body as Record<string, unknown>);
    return record.archived ? null : record;
  }

  async function read(object: SyncObject, ids: readonly string[], options: CallOptions = {}) {
    const records: AppRecord[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const r = await readOne(object, id, options.signal);
      if (r) records.push(r);
      else missing.push(id);
    }
    return { records, missing };
  }

  async function write(op: 'create' | 'update', object: SyncObject, input: WriteInput, signal?: AbortSignal): Promise<WriteResult> {
    if (op === 'create' && object === 'people') {
      const email = input.keys?.email ?? (typeof input.properties.email === 'string' ? input.properties.email : undefined);
      if (email) {
        const hit = listOf(await get('/v1/customers', { email, limit: 1 }, signal)).data[0];
        if (hit) return { ref: input.ref, status: 'existing', id: String(hit.id) };
      }
    }
    // A create sets what has a value ('' clears a field, which a new object has no need of).
    const given = op === 'create' ? Object.fromEntries(Object.entries(input.properties).filter(([, v]) => v !== '' && v !== null)) : input.properties;
    // An invoice is made for its customer (the invoice-person association), which Stripe sets only on create; without one Stripe refuses it.
    const customer = input.associations?.find((a) => a.kind === 'invoice-person')?.toId;
    const properties = object === 'invoices' && op === 'create'
      ? { collection_method: 'send_invoice', ...(given.due_date ? {} : { days_until_due: 30 }), ...given, ...(customer ? { customer } : {}) }
      : given;
    const answer = await send({
      method: 'POST', path: `/v1/${spec(object).path}${op === 'update' ? `/${encodeURIComponent(input.id ?? '')}` : ''}`, resend: 'always',
      body: formBody(properties), contentType: FORM, headers: { 'idempotency-key': idempotencyKey(o.connectionId, op, object, input.ref, input.version) },
    }, signal);
    if (answer.status < 400) {
      const record = stripeRecord(object, answer.body as Record<string, unknown>);
      return { ref: input.ref, status: op === 'create' ? 'created' : 'updated', id: record.id, record };
    }
    const error = errorOf(answer);
    if (op === 'update' && answer.status === 404 && input.id) return { ref: input.ref, status: 'missing', id: input.id };
    return { ref: input.ref, status: 'refused', error };
  }

  const writeAll = (op: 'create' | 'update') => async (object: SyncObject, inputs: readonly WriteInput[], options: CallOptions = {}) => {
    spec(object);
    const out: WriteResult[] = [];
    for (const input of inputs) out.push(await write(op, object, input, options.signal));
    return out;
  };

  async function find(object: SyncObject, keys: MatchKeys, options: CallOptions = {}): Promise<AppRecord[]> {
    const found = new Map<string, AppRecord>();
    const add = (answer: AppAnswer) => { for (const x of listOf(answer).data) found.set(String(x.id), stripeRecord(object, x)); };
    const quote = (v: string) => `'${v.replace(/['\\]/g, '\\$&')}'`;
    if (object === 'people') {
      if (keys.email) add(await get('/v1/customers', { email: keys.email, limit: 10 }, options.signal));
      if (keys.name) add(await get('/v1/customers/search', { query: `name:${quote(keys.name)}` }, options.signal));
    } else if (object === 'products') {
      if (keys.sku) add(await get('/v1/products/search', { query: `metadata['sku']:${quote(keys.sku)}` }, options.signal));
      if (keys.name) add(await get('/v1/products/search', { query: `name:${quote(keys.name)}` }, options.signal));
    } else spec(object);
    return [...found.values()];
  }

  const onlyInvoices = (kind: AssociationKind) => {
    if (kind !== 'invoice-person') throw raiseSync('SYNC_OBJECT_UNSUPPORTED', `Stripe keeps no ${kind} associations (invoices belong to customers only)`);
  };

  async function readAssociations(kind: AssociationKind, fromIds: readonly string[], options: CallOptions = {}): Promise<Association[]> {
    onlyInvoices(kind);
    const { records } = await read('invoices', fromIds, options);
    return records.filter((r) => typeof r.properties.customer === 'string').map((r) => ({ kind, fromId: r.id, toId: String(r.properties.customer), primary: true }));
  }

  /** An invoice's customer is set when it is created and never moves: an association is accepted when it is already so. */
  async function writeAssociations(list: readonly Association[], options: CallOptions = {}) {
    const out: { association: Association; error: AppError }[] = [];
    for (const a of list) {
      onlyInvoices(a.kind);
      const [current] = await readAssociations(a.kind, [a.fromId], options);
      if (current?.toId !== a.toId) {
        out.push({ association: a, error: { status: 400, code: 'invoice_customer_fixed', message: `invoice ${a.fromId} belongs to customer ${current?.toId ?? '(none)'}; Stripe does not move invoices`, body: null } });
      }
    }
    return out;
  }

  return Object.freeze({
    app: 'stripe', objects: stripeObjects, codec: stripeCodec, idempotency: 'keys' as const, modifiedAt: 'coarse' as const, rateLimit: limiter.policy,
    listChanged, listDeleted, read, create: writeAll('create'), update: writeAll('update'), find, readAssociations, writeAssociations,
    verifyWebhook: verifyStripeWebhook, parseWebhook: parseStripeWebhook,
  });
}

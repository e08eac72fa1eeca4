import {
  ApiError, EMAIL_PATTERN, basicCredentials, bearerToken, newId, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext,
} from './base.ts';
import { createEventLog, createdRange, type StripeEvent, type StripeWebhookOptions } from './billing-events.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * A billing platform (use case 8), mimicking the Stripe API (v1). Bodies may be form-encoded
 * as Stripe requires (`metadata[deal_id]=…`) or JSON (accepted here for the hub's
 * convenience); form values are strings and are converted as Stripe does. Unknown
 * parameters are refused (`parameter_unknown`), as Stripe does.
 *
 * Auth: `Authorization: Bearer sk_test_…` or Basic with the key as user name.
 * Errors: `{ error: { type, code?, message, param?, doc_url? } }`; every answer has a
 * `Request-Id: req_…` header.
 *
 * Idempotency: any POST may carry `Idempotency-Key`. The first successful answer is saved
 * and a repeat with the same key and the same parameters gets it back (with
 * `Idempotent-Replayed: true`) and creates nothing; the same key with different parameters
 * is a 400 `idempotency_error`. As in Stripe, requests refused before the endpoint ran (auth,
 * validation, rate limiting) save nothing and may be retried with the same key.
 *
 * Routes:
 * - POST /v1/customers  { email?, name?, description?, phone?, metadata? }             → customer `cus_…`
 * - GET  /v1/customers?email=&limit=&starting_after=      GET /v1/customers/search?query=email:'a@b.c'
 * - GET  /v1/customers/:id                                POST /v1/customers/:id (update)
 * - POST /v1/invoiceitems { customer*, amount* + currency* | unit_amount* + quantity? + currency*, description?, invoice?, metadata? } → `ii_…`
 * - POST /v1/invoices   { customer*, collection_method?, days_until_due? (required for send_invoice), description?, metadata?,
 *                         auto_advance?, pending_invoice_items_behavior?: 'include' | 'exclude' (default exclude) } → draft `in_…`
 * - GET  /v1/invoices?customer=&status=&limit=&starting_after=     GET /v1/invoices/:id
 * - POST /v1/invoices/:id/finalize  (draft → open, numbered)       POST /v1/invoices/:id/send (send_invoice only)
 * - POST /v1/invoices/:id (description, due_date, metadata)       DELETE /v1/invoices/:id (drafts only)
 * - DELETE /v1/customers/:id → { id, object, deleted: true } (GET then answers the same stub; lists leave it out)
 * - POST /v1/products { name*, description?, active?, metadata? } → `prod_…`; GET /v1/products?active&created[…]&limit&starting_after;
 *   GET, POST (update) and DELETE /v1/products/:id; GET /v1/products/search?query=name:'…' or metadata['sku']:'…'
 * - GET /v1/events, GET /v1/events/:id: every change above as an event (billing-events.ts), also sent to options.webhook
 *   signed with Stripe-Signature. Lists of customers and invoices take `created[gt|gte|lt|lte]`.
 * - `userEdit` / `userDelete`: a change made in the Dashboard (events with `request.id` null).
 */

export interface Customer {
  id: string; object: 'customer'; address: Record<string, string | null> | null; balance: number; created: number; currency: string | null; default_source: null;
  delinquent: boolean; description: string | null; email: string | null; invoice_prefix: string;
  invoice_settings: { custom_fields: null; default_payment_method: null; footer: null; rendering_options: null };
  livemode: false; metadata: Record<string, string>; name: string | null; next_invoice_sequence: number; phone: string | null;
  preferred_locales: string[]; shipping: null; tax_exempt: 'none'; test_clock: null;
}

export interface InvoiceItem {
  id: string; object: 'invoiceitem'; amount: number; currency: string; customer: string; date: number; description: string | null;
  discountable: boolean; invoice: string | null; livemode: false; metadata: Record<string, string>; period: { start: number; end: number };
  proration: false; quantity: number; unit_amount: number; unit_amount_decimal: string;
}

export interface Invoice {
  id: string; object: 'invoice'; account_country: 'US'; account_name: string; amount_due: number; amount_paid: number; amount_remaining: number;
  attempt_count: number; attempted: boolean; auto_advance: boolean; billing_reason: 'manual'; collection_method: 'charge_automatically' | 'send_invoice';
  created: number; currency: string; customer: string; customer_email: string | null; customer_name: string | null; description: string | null;
  due_date: number | null; hosted_invoice_url: string | null; invoice_pdf: string | null;
  lines: { object: 'list'; data: unknown[]; has_more: false; total_count: number; url: string };
  livemode: false; metadata: Record<string, string>; number: string | null; paid: boolean; period_end: number; period_start: number;
  status: 'draft' | 'open' | 'paid' | 'void' | 'uncollectible'; status_transitions: { finalized_at: number | null; paid_at: number | null; voided_at: null };
  subtotal: number; total: number; webhooks_delivered_at: number | null;
}

export interface BillingOptions extends CommonOptions {
  /** Default `sk_test_billing_key_000000000000000000000000`. */
  apiKey?: string;
  /** A webhook endpoint: every event is POSTed there, signed with its secret. */
  webhook?: StripeWebhookOptions;
}

export interface Product {
  id: string; object: 'product'; active: boolean; created: number; default_price: null; description: string | null; images: string[];
  livemode: false; metadata: Record<string, string>; name: string; package_dimensions: null; shippable: null; statement_descriptor: null;
  tax_code: null; unit_label: null; updated: number; url: null;
}

export interface BillingEmulator extends Emulator {
  apiKey: string;
  customers: Map<string, Customer>;
  invoiceItems: Map<string, InvoiceItem>;
  invoices: Map<string, Invoice>;
  /** Saved idempotent results by key. */
  idempotency: Map<string, { fingerprint: string; reply: Reply; requestId: string }>;
  products: Map<string, Product>;
  /** Every event, oldest first. */
  events: StripeEvent[];
  webhookDeliveries: ReturnType<typeof createEventLog>['deliveries'];
  webhooksSettled(): Promise<void>;
  /** A Dashboard user creates (id undefined) or edits a customer or product; sends its event. */
  userEdit(kind: 'customer' | 'product', id: string | undefined, params: Record<string, unknown>): Promise<Customer | Product>;
  /** A Dashboard user deletes a customer or product. */
  userDelete(kind: 'customer' | 'product', id: string): Promise<void>;
}

const DOCS = 'https://stripe.com/docs/error-codes';

function stripeError(status: number, type: string, message: string, extra: { code?: string; param?: string } = {}): Reply {
  return {
    status,
    body: { error: { ...(extra.code ? { code: extra.code, doc_url: `${DOCS}/${extra.code.replace(/_/g, '-')}` } : {}), message, ...(extra.param ? { param: extra.param } : {}), type } },
  };
}

function invalidRequest(message: string, code: string, param?: string, status = 400): never {
  throw new ApiError(stripeError(status, 'invalid_request_error', message, { code, ...(param ? { param } : {}) }));
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return stripeError(status, 'invalid_request_error', 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.', { code: 'rate_limit' });
    case 'server_error': return stripeError(status, 'api_error', 'An unknown error occurred');
    case 'not_found':
    case 'method_not_allowed': {
      // The base says "no route GET /x" or "PUT is not allowed on /x"; Stripe says "(GET: /x)".
      const m = /^(?:no route )?(\S+) (?:is not allowed on )?(\S+)$/.exec(message);
      return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${m ? `${m[1]}: ${m[2]}` : message}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`);
    }
    case 'invalid_body': return stripeError(400, 'invalid_request_error', `Invalid request body: ${message}`);
    default: return stripeError(status, status >= 500 ? 'api_error' : 'invalid_request_error', message);
  }
}

/** JSON with sorted keys, so that form and JSON bodies with equal params compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isPlainObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value === undefined ? null : typeof value === 'number' || typeof value === 'boolean' ? String(value) : value);
}

type Params = Record<string, unknown>;

function paramsOf(body: unknown, allowed: string[]): Params {
  if (body === undefined) return {};
  if (!isPlainObject(body)) invalidRequest('Invalid request: the body must be form-encoded parameters or a JSON object.', 'parameter_invalid_empty');
  for (const k of Object.keys(body)) if (!allowed.includes(k)) invalidRequest(`Received unknown parameter: ${k}`, 'parameter_unknown', k);
  return body;
}

function str(p: Params, name: string, max = 5000): string | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') invalidRequest(`Invalid string: ${JSON.stringify(v)}`, 'parameter_invalid_string', name);
  const s = String(v);
  if (s.length > max) invalidRequest(`Invalid string: ${s.slice(0, 20)}...; must be at most ${max} characters`, 'parameter_invalid_string', name);
  return s;
}

function int(p: Params, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) invalidRequest(`Invalid integer: ${String(v)}`, 'parameter_invalid_integer', name);
  return n;
}

function bool(p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  invalidRequest(`Invalid boolean: ${String(v)}`, 'parameter_invalid_boolean', name);
}

function oneOf<T extends string>(p: Params, name: string, values: readonly T[]): T | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, 'parameter_invalid_string', name);
  return v as T;
}

function metadata(p: Params, previous: Record<string, string> = {}): Record<string, string> {
  const v = p.metadata;
  if (v === undefined) return previous;
  if (v === '') return {};
  if (!isPlainObject(v)) invalidRequest('Invalid object', 'parameter_invalid_object', 'metadata');
  const out = { ...previous };
  const entries = Object.entries(v);
  if (entries.length > 50) invalidRequest('Invalid metadata: at most 50 keys', 'parameter_invalid_object', 'metadata');
  for (const [k, value] of entries) {
    if (k.length > 40) invalidRequest(`Invalid metadata key ${k}: keys must be at most 40 characters`, 'parameter_invalid_string', `metadata[${k}]`);
    if (value === '' || value === null) delete out[k];
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const s = String(value);
      if (s.length > 500) invalidRequest(`Invalid metadata value for ${k}: at most 500 characters`, 'parameter_invalid_string', `metadata[${k}]`);
      out[k] = s;
    } else invalidRequest(`Invalid metadata value for ${k}: must be a string`, 'parameter_invalid_string', `metadata[${k}]`);
  }
  return out;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) invalidRequest(`Missing required param: ${name}.`, 'parameter_missing', name);
  return value;
}

const now = () => Math.floor(Date.now() / 1000);

const ADDRESS_FIELDS = ['city', 'country', 'line1', 'line2', 'postal_code', 'state'];

/** Stripe's `address[city]=…` parameters over the previous address ('' clears a field). */
function addressOf(p: Params, previous: Record<string, string | null> | null): Record<string, string | null> | null {
  const v = p.address;
  if (v === undefined) return previous;
  if (v === '') return null;
  if (!isPlainObject(v)) invalidRequest('Invalid object', 'parameter_invalid_object', 'address');
  const out: Record<string, string | null> = { ...Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, null])), ...previous };
  for (const [k, value] of Object.entries(v)) {
    if (!ADDRESS_FIELDS.includes(k)) invalidRequest(`Received unknown parameter: address[${k}]`, 'parameter_unknown', `address[${k}]`);
    out[k] = value === '' || value === null ? null : String(value);
  }
  return out;
}

export async function startBillingEmulator(options: BillingOptions = {}): Promise<BillingEmulator> {
  const apiKey = options.apiKey ?? 'sk_test_billing_key_000000000000000000000000';
  const customers = new Map<string, Customer>();
  const items = new Map<string, InvoiceItem>();
  const invoices = new Map<string, Invoice>();
  const idempotency = new Map<string, { fingerprint: string; reply: Reply; requestId: string }>();
  const products = new Map<string, Product>();
  const deletedCustomers = new Set<string>();
  const log = createEventLog(options.webhook, invalidRequest);
  let baseUrl = '';

  const customerRef = (p: Params): Customer => {
    const id = required(str(p, 'customer'), 'customer');
    const c = customers.get(id);
    if (!c) invalidRequest(`No such customer: '${id}'`, 'resource_missing', 'customer');
    return c;
  };
  const lineOf = (ii: InvoiceItem) => ({
    id: `il_${ii.id.slice(3)}`, object: 'line_item', amount: ii.amount, currency: ii.currency, description: ii.description, discountable: ii.discountable,
    invoice: ii.invoice, invoice_item: ii.id, livemode: false, metadata: ii.metadata, period: ii.period, proration: false, quantity: ii.quantity, type: 'invoiceitem',
    unit_amount_excluding_tax: String(ii.unit_amount),
  });
  const refreshTotals = (inv: Invoice) => {
    const lines = [...items.values()].filter((ii) => ii.invoice === inv.id);
    const total = lines.reduce((sum, ii) => sum + ii.amount, 0);
    inv.lines = { object: 'list', data: lines.map(lineOf), has_more: false, total_count: lines.length, url: `/v1/invoices/${inv.id}/lines` };
    inv.subtotal = total;
    inv.total = total;
    inv.amount_due = total - inv.amount_paid;
    inv.amount_remaining = inv.amount_due;
  };
  /** Stripe lists: `{ object: 'list', data, has_more, url }` with limit (1..100, default 10) and starting_after. */
  const list = <T extends { id: string }>(ctx: RouteContext, all: T[]): Reply => {
    const limit = ctx.search.get('limit') === null ? 10 : Number(ctx.search.get('limit'));
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) invalidRequest('Invalid integer: limit must be between 1 and 100', 'parameter_invalid_integer', 'limit');
    let start = 0;
    const after = ctx.search.get('starting_after');
    if (after !== null) {
      const i = all.findIndex((x) => x.id === after);
      if (i < 0) invalidRequest(`No such object: '${after}'`, 'resource_missing', 'starting_after');
      start = i + 1;
    }
    const data = all.slice(start, start + limit);
    return { status: 200, body: { object: 'list', data, has_more: start + data.length < all.length, url: ctx.req.path } };
  };
  const newestFirst = <T>(xs: T[]): T[] => xs.reverse();

  /** Wraps a POST handler with Stripe's Idempotency-Key behaviour. */
  const idempotent = (handler: (ctx: RouteContext) => Reply) => (ctx: RouteContext): Reply => {
    const key = ctx.req.headers['idempotency-key'];
    if (key === undefined) return handler(ctx);
    if (key.length === 0 || key.length > 255) invalidRequest('Idempotency-Key must be between 1 and 255 characters.', 'idempotency_key_invalid');
    const fingerprint = `${ctx.req.method} ${ctx.req.path} ${canonical(ctx.req.body ?? {})}`;
    const saved = idempotency.get(key);
    if (saved) {
      if (saved.fingerprint !== fingerprint) {
        throw new ApiError(stripeError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`));
      }
      return { ...saved.reply, headers: { ...saved.reply.headers, 'request-id': newId('req_'), 'idempotent-replayed': 'true', 'original-request': saved.requestId } };
    }
    const reply = handler(ctx);
    const requestId = newId('req_');
    const withId = { ...reply, headers: { ...reply.headers, 'request-id': requestId, 'idempotency-key': key } };
    if (reply.status < 400) idempotency.set(key, { fingerprint, reply: withId, requestId });
    return withId;
  };

  const createCustomer = (p: Params): Customer => {
    const email = str(p, 'email', 512);
    if (email !== undefined && !EMAIL_PATTERN.test(email)) invalidRequest(`Invalid email address: ${email}`, 'email_invalid', 'email');
    const c: Customer = {
      id: newId('cus_'), object: 'customer', address: addressOf(p, null), balance: int(p, 'balance') ?? 0, created: now(), currency: null, default_source: null, delinquent: false,
      description: str(p, 'description') ?? null, email: email ?? null, invoice_prefix: newId('', 8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false, metadata: metadata(p), name: str(p, 'name', 256) ?? null, next_invoice_sequence: 1, phone: str(p, 'phone', 20) ?? null,
      preferred_locales: Array.isArray(p.preferred_locales) ? p.preferred_locales.map(String) : [], shipping: null, tax_exempt: 'none', test_clock: null,
    };
    customers.set(c.id, c);
    return c;
  };
  const CUSTOMER_PARAMS = ['email', 'name', 'description', 'phone', 'metadata', 'balance', 'preferred_locales', 'address', 'expand'];
  const changedFields = (before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).map((k) => [k, before[k]]));
  const updateCustomer = (c: Customer, p: Params, ctx?: RouteContext): Customer => {
    const before = structuredClone(c) as unknown as Record<string, unknown>;
    const email = str(p, 'email', 512);
    if (email !== undefined && !EMAIL_PATTERN.test(email)) invalidRequest(`Invalid email address: ${email}`, 'email_invalid', 'email');
    if (p.email !== undefined) c.email = email ?? null;
    if (p.name !== undefined) c.name = str(p, 'name', 256) ?? null;
    if (p.description !== undefined) c.description = str(p, 'description') ?? null;
    if (p.phone !== undefined) c.phone = str(p, 'phone', 20) ?? null;
    if (p.address !== undefined) c.address = addressOf(p, c.address);
    c.metadata = metadata(p, c.metadata);
    const previous = changedFields(before, c as unknown as Record<string, unknown>);
    if (Object.keys(previous).length > 0) log.emit('customer.updated', c, ctx, previous);
    return c;
  };
  const PRODUCT_PARAMS = ['name', 'description', 'active', 'metadata', 'id', 'expand'];
  /** The object a path's id names, or Stripe's 404 for it. */
  const found = <T>(objects: Map<string, T>, noun: string, id: string): T => {
    const o = objects.get(id);
    if (!o) invalidRequest(`No such ${noun}: '${id}'`, 'resource_missing', 'id', 404);
    return o;
  };
  const productOf = (id: string): Product => found(products, 'product', id);
  const customerOf = (id: string): Customer => found(customers, 'customer', id);
  const invoiceOf = (id: string): Invoice => found(invoices, 'invoice', id);
  const createProduct = (p: Params, ctx?: RouteContext): Product => {
    const t = now();
    const prod: Product = {
      id: str(p, 'id') ?? newId('prod_'), object: 'product', active: bool(p, 'active') ?? true, created: t, default_price: null, description: str(p, 'description') ?? null,
      images: [], livemode: false, metadata: metadata(p), name: required(str(p, 'name', 250), 'name'), package_dimensions: null, shippable: null,
      statement_descriptor: null, tax_code: null, unit_label: null, updated: t, url: null,
    };
    if (products.has(prod.id)) invalidRequest(`Product already exists: ${prod.id}`, 'resource_already_exists', 'id');
    products.set(prod.id, prod);
    log.emit('product.created', prod, ctx);
    return prod;
  };
  const updateProduct = (prod: Product, p: Params, ctx?: RouteContext): Product => {
    const before = structuredClone(prod) as unknown as Record<string, unknown>;
    if (p.name !== undefined) prod.name = required(str(p, 'name', 250), 'name');
    if (p.description !== undefined) prod.description = str(p, 'description') ?? null;
    if (p.active !== undefined) prod.active = bool(p, 'active') ?? prod.active;
    prod.metadata = metadata(p, prod.metadata);
    const previous = changedFields(before, prod as unknown as Record<string, unknown>);
    if (Object.keys(previous).length > 0) {
      prod.updated = Math.max(now(), prod.updated);
      log.emit('product.updated', prod, ctx, previous);
    }
    return prod;
  };
  const deleteCustomer = (id: string, ctx?: RouteContext): Reply => {
    const c = customerOf(id);
    customers.delete(id);
    deletedCustomers.add(id);
    log.emit('customer.deleted', c, ctx);
    return { status: 200, body: { id, object: 'customer', deleted: true } };
  };
  const deleteProduct = (id: string, ctx?: RouteContext): Reply => {
    const prod = productOf(id);
    products.delete(id);
    log.emit('product.deleted', prod, ctx);
    return { status: 200, body: { id, object: 'product', deleted: true } };
  };

  const customerSearch = (query: string): Customer[] => {
    const clauses = query.split(/\s+AND\s+/i).map((c) => c.trim()).filter(Boolean);
    if (clauses.length === 0) invalidRequest('Missing required param: query.', 'parameter_missing', 'query');
    const tests = clauses.map((clause) => {
      const m = /^(email|name|phone|metadata\[['"]([^'"]+)['"]\])\s*(:|~)\s*['"](.*)['"]$/.exec(clause);
      if (!m) invalidRequest(`Invalid search query: ${clause}. Use e.g. email:'jenny@example.com'.`, 'parameter_invalid_string', 'query');
      const field = m[1]!;
      const metaKey = m[2];
      const contains = m[3] === '~';
      const value = m[4]!;
      return (c: Customer) => {
        const actual = metaKey !== undefined ? c.metadata[metaKey] : (c[field as 'email' | 'name' | 'phone'] ?? undefined);
        if (actual === undefined) return false;
        return contains ? actual.toLowerCase().includes(value.toLowerCase()) : field === 'email' ? actual.toLowerCase() === value.toLowerCase() : actual === value;
      };
    });
    return newestFirst([...customers.values()]).filter((c) => tests.every((t) => t(c)));
  };

  const routes = [
    {
      method: 'POST', path: '/v1/customers',
      handle: idempotent((ctx) => {
        const c = createCustomer(paramsOf(ctx.req.body, CUSTOMER_PARAMS));
        log.emit('customer.created', c, ctx);
        return { status: 200, body: c };
      }),
    },
    { method: 'DELETE', path: '/v1/customers/:id', handle: (ctx: RouteContext) => deleteCustomer(ctx.params.id!, ctx) },
    { method: 'GET', path: '/v1/events', handle: (ctx: RouteContext) => log.list(ctx) },
    { method: 'GET', path: '/v1/events/:id', handle: (ctx: RouteContext) => log.get(ctx) },
    { method: 'POST', path: '/v1/products', handle: idempotent((ctx) => ({ status: 200, body: createProduct(paramsOf(ctx.req.body, PRODUCT_PARAMS), ctx) })) },
    {
      method: 'GET', path: '/v1/products',
      handle(ctx: RouteContext): Reply {
        const active = ctx.search.get('active');
        const inRange = createdRange(ctx);
        return list(ctx, newestFirst([...products.values()]).filter((x) => (active === null || String(x.active) === active) && inRange(x.created)));
      },
    },
    {
      method: 'GET', path: '/v1/products/search',
      handle(ctx: RouteContext): Reply {
        const q = ctx.search.get('query') ?? '';
        const m = /^(name|metadata\[['"]([^'"]+)['"]\])\s*:\s*['"](.*)['"]$/.exec(q.trim());
        if (!m) invalidRequest(`Invalid search query: ${q}. Use e.g. name:'Widget'.`, 'parameter_invalid_string', 'query');
        const found = newestFirst([...products.values()]).filter((x) => (m[2] !== undefined ? x.metadata[m[2]] : x.name) === m[3]);
        return { status: 200, body: { object: 'search_result', data: found.slice(0, 10), has_more: found.length > 10, next_page: null, url: '/v1/products/search', total_count: found.length } };
      },
    },
    { method: 'GET', path: '/v1/products/:id', handle: (ctx: RouteContext): Reply => ({ status: 200, body: productOf(ctx.params.id!) }) },
    { method: 'POST', path: '/v1/products/:id', handle: idempotent((ctx) => ({ status: 200, body: updateProduct(productOf(ctx.params.id!), paramsOf(ctx.req.body, PRODUCT_PARAMS), ctx) })) },
    { method: 'DELETE', path: '/v1/products/:id', handle: (ctx: RouteContext) => deleteProduct(ctx.params.id!, ctx) },
    {
      method: 'GET', path: '/v1/customers',
      handle(ctx: RouteContext): Reply {
        const email = ctx.search.get('email');
        const inRange = createdRange(ctx);
        return list(ctx, newestFirst([...customers.values()]).filter((c) => (email === null || c.email === email) && inRange(c.created)));
      },
    },
    {
      method: 'GET', path: '/v1/customers/search',
      handle(ctx: RouteContext): Reply {
        const found = customerSearch(ctx.search.get('query') ?? '');
        const limit = Number(ctx.search.get('limit') ?? 10);
        return { status: 200, body: { object: 'search_result', data: found.slice(0, limit), has_more: found.length > limit, next_page: null, url: '/v1/customers/search', total_count: found.length } };
      },
    },
    {
      method: 'GET', path: '/v1/customers/:id',
      handle(ctx: RouteContext): Reply {
        const id = ctx.params.id!;
        if (!customers.has(id) && deletedCustomers.has(id)) return { status: 200, body: { id, object: 'customer', deleted: true } };
        return { status: 200, body: customerOf(id) };
      },
    },
    {
      method: 'POST', path: '/v1/customers/:id',
      handle: idempotent((ctx) => ({ status: 200, body: updateCustomer(customerOf(ctx.params.id!), paramsOf(ctx.req.body, CUSTOMER_PARAMS), ctx) })),
    },
    {
      method: 'POST', path: '/v1/invoiceitems',
      handle: idempotent((ctx) => {
        const p = paramsOf(ctx.req.body, ['customer', 'amount', 'currency', 'description', 'quantity', 'unit_amount', 'unit_amount_decimal', 'invoice', 'metadata', 'discountable', 'period', 'expand']);
        const customer = customerRef(p);
        const currency = required(str(p, 'currency'), 'currency').toLowerCase();
        if (!/^[a-z]{3}$/.test(currency)) invalidRequest(`Invalid currency: ${currency}. Stripe currently supports these currencies: usd, eur, gbp, ...`, 'parameter_invalid_string', 'currency');
        const amount = int(p, 'amount');
        const unit = int(p, 'unit_amount') ?? (p.unit_amount_decimal !== undefined ? Math.round(Number(p.unit_amount_decimal)) : undefined);
        const quantity = int(p, 'quantity') ?? 1;
        if (amount !== undefined && unit !== undefined) invalidRequest('You may only specify one of these parameters: amount, unit_amount.', 'parameter_invalid_integer', 'amount');
        if (amount === undefined && unit === undefined) invalidRequest('Missing required param: amount.', 'parameter_missing', 'amount');
        if (quantity < 1) invalidRequest('Invalid integer: quantity must be at least 1', 'parameter_invalid_integer', 'quantity');
        let invoiceId: string | null = null;
        const invoiceParam = str(p, 'invoice');
        if (invoiceParam !== undefined) {
          const inv = invoices.get(invoiceParam);
          if (!inv) invalidRequest(`No such invoice: '${invoiceParam}'`, 'resource_missing', 'invoice');
          if (inv.status !== 'draft') invalidRequest(`You can only add invoice items to draft invoices; invoice ${inv.id} is ${inv.status}.`, 'invoice_not_editable', 'invoice');
          if (inv.customer !== customer.id) invalidRequest('The invoice belongs to another customer.', 'parameter_invalid_string', 'invoice');
          invoiceId = inv.id;
        }
        const total = amount ?? unit! * quantity;
        const t = now();
        const ii: InvoiceItem = {
          id: newId('ii_'), object: 'invoiceitem', amount: total, currency, customer: customer.id, date: t, description: str(p, 'description') ?? null,
          discountable: bool(p, 'discountable') ?? true, invoice: invoiceId, livemode: false, metadata: metadata(p), period: { start: t, end: t },
          proration: false, quantity: amount !== undefined ? 1 : quantity, unit_amount: amount ?? unit!, unit_amount_decimal: String(amount ?? unit!),
        };
        items.set(ii.id, ii);
        if (invoiceId) refreshTotals(invoices.get(invoiceId)!);
        return { status: 200, body: ii };
      }),
    },
    {
      method: 'POST', path: '/v1/invoices',
      handle: idempotent((ctx) => {
        const p = paramsOf(ctx.req.body, ['customer', 'auto_advance', 'collection_method', 'days_until_due', 'description', 'metadata', 'currency', 'pending_invoice_items_behavior', 'footer', 'due_date', 'expand']);
        const customer = customerRef(p);
        const method = oneOf(p, 'collection_method', ['charge_automatically', 'send_invoice'] as const) ?? 'charge_automatically';
        const days = int(p, 'days_until_due');
        const dueDate = int(p, 'due_date');
        if (method === 'send_invoice' && days === undefined && dueDate === undefined) {
          invalidRequest('Missing required param: days_until_due. Invoices with collection_method=send_invoice need days_until_due or due_date.', 'parameter_missing', 'days_until_due');
        }
        if (method === 'charge_automatically' && days !== undefined) invalidRequest('days_until_due can only be set when collection_method is send_invoice.', 'parameter_invalid_integer', 'days_until_due');
        const behaviour = oneOf(p, 'pending_invoice_items_behavior', ['include', 'exclude'] as const) ?? 'exclude';
        const t = now();
        const inv: Invoice = {
          id: newId('in_'), object: 'invoice', account_country: 'US', account_name: 'OurCo Inc.', amount_due: 0, amount_paid: 0, amount_remaining: 0,
          attempt_count: 0, attempted: false, auto_advance: bool(p, 'auto_advance') ?? false, billing_reason: 'manual', collection_method: method,
          created: t, currency: (str(p, 'currency') ?? 'usd').toLowerCase(), customer: customer.id, customer_email: customer.email, customer_name: customer.name,
          description: str(p, 'description') ?? null, due_date: method === 'send_invoice' ? dueDate ?? t + (days ?? 0) * 86_400 : null,
          hosted_invoice_url: null, invoice_pdf: null, lines: { object: 'list', data: [], has_more: false, total_count: 0, url: '' },
          livemode: false, metadata: metadata(p), number: null, paid: false, period_end: t, period_start: t, status: 'draft',
          status_transitions: { finalized_at: null, paid_at: null, voided_at: null }, subtotal: 0, total: 0, webhooks_delivered_at: null,
        };
        invoices.set(inv.id, inv);
        if (behaviour === 'include') for (const ii of items.values()) if (ii.customer === customer.id && ii.invoice === null) ii.invoice = inv.id;
        refreshTotals(inv);
        log.emit('invoice.created', inv, ctx);
        return { status: 200, body: inv };
      }),
    },
    {
      method: 'GET', path: '/v1/invoices',
      handle(ctx: RouteContext): Reply {
        const customer = ctx.search.get('customer');
        const status = ctx.search.get('status');
        const inRange = createdRange(ctx);
        return list(ctx, newestFirst([...invoices.values()]).filter((i) => (customer === null || i.customer === customer) && (status === null || i.status === status) && inRange(i.created)));
      },
    },
    { method: 'GET', path: '/v1/invoices/:id', handle: (ctx: RouteContext): Reply => ({ status: 200, body: invoiceOf(ctx.params.id!) }) },
    {
      method: 'POST', path: '/v1/invoices/:id',
      handle: idempotent((ctx) => {
        const inv = invoiceOf(ctx.params.id!);
        const p = paramsOf(ctx.req.body, ['description', 'due_date', 'metadata', 'days_until_due', 'expand']);
        const before = structuredClone(inv) as unknown as Record<string, unknown>;
        if (p.due_date !== undefined || p.days_until_due !== undefined) {
          if (inv.status !== 'draft') invalidRequest('You can only change the due date of a draft invoice.', 'invoice_not_editable', 'due_date');
          if (inv.collection_method !== 'send_invoice') invalidRequest('due_date can only be set when collection_method is send_invoice.', 'parameter_invalid_integer', 'due_date');
          inv.due_date = int(p, 'due_date') ?? now() + (int(p, 'days_until_due') ?? 0) * 86_400;
        }
        if (p.description !== undefined) inv.description = str(p, 'description') ?? null;
        inv.metadata = metadata(p, inv.metadata);
        const previous = changedFields(before, inv as unknown as Record<string, unknown>);
        if (Object.keys(previous).length > 0) log.emit('invoice.updated', inv, ctx, previous);
        return { status: 200, body: inv };
      }),
    },
    {
      method: 'DELETE', path: '/v1/invoices/:id',
      handle(ctx: RouteContext): Reply {
        const inv = invoiceOf(ctx.params.id!);
        if (inv.status !== 'draft') invalidRequest('You can only delete draft invoices; void an open one instead.', 'invoice_not_editable');
        invoices.delete(inv.id);
        log.emit('invoice.deleted', inv, ctx);
        return { status: 200, body: { id: inv.id, object: 'invoice', deleted: true } };
      },
    },
    {
      method: 'POST', path: '/v1/invoices/:id/finalize',
      handle: idempotent((ctx) => {
        const inv = invoiceOf(ctx.params.id!);
        paramsOf(ctx.req.body, ['auto_advance', 'expand']);
        if (inv.status !== 'draft') invalidRequest(`This invoice is already finalized, you can't re-finalize a non-draft invoice.`, 'invoice_not_editable');
        const customer = customers.get(inv.customer)!;
        inv.number = `${customer.invoice_prefix}-${String(customer.next_invoice_sequence++).padStart(4, '0')}`;
        inv.status = inv.amount_due === 0 ? 'paid' : 'open';
        inv.paid = inv.status === 'paid';
        inv.status_transitions.finalized_at = now();
        if (inv.paid) inv.status_transitions.paid_at = now();
        inv.hosted_invoice_url = `${baseUrl}/i/${inv.id}`;
        inv.invoice_pdf = `${baseUrl}/i/${inv.id}/pdf`;
        log.emit('invoice.finalized', inv, ctx, { status: 'draft' });
        return { status: 200, body: inv };
      }),
    },
    {
      method: 'POST', path: '/v1/invoices/:id/send',
      handle: idempotent((ctx) => {
        const inv = invoiceOf(ctx.params.id!);
        if (inv.collection_method !== 'send_invoice') invalidRequest('You can only manually send an invoice if its collection method is send_invoice.', 'invoice_not_editable');
        if (inv.status !== 'open') invalidRequest(`You can only send open invoices; this invoice is ${inv.status}.`, 'invoice_not_editable');
        inv.webhooks_delivered_at = now();
        return { status: 200, body: inv };
      }),
    },
  ];

  const emulator = await startHttpEmulator({
    name: 'billing',
    routes: routes.map((r) => ({
      ...r,
      // Every Stripe answer names its request; replays keep the original's id.
      handle: async (ctx: RouteContext): Promise<Reply> => {
        try {
          const reply = await r.handle(ctx);
          return { ...reply, headers: { 'request-id': newId('req_'), 'stripe-version': '2024-06-20', ...reply.headers } };
        } catch (err) {
          if (err instanceof ApiError) throw new ApiError({ ...err.reply, headers: { 'request-id': newId('req_'), ...err.reply.headers } });
          throw err;
        }
      },
    })),
    authenticate(req) {
      const given = bearerToken(req.headers) ?? basicCredentials(req.headers)?.user;
      if (given === undefined || given === '') {
        return stripeError(401, 'invalid_request_error', "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.");
      }
      if (given !== apiKey) return stripeError(401, 'invalid_request_error', `Invalid API Key provided: ${given.slice(0, 8)}${'*'.repeat(Math.max(0, given.length - 12))}${given.slice(-4)}`, { code: 'api_key_invalid' });
      return null;
    },
    errorReply,
    resetState() {
      products.clear();
      deletedCustomers.clear();
      log.clear();
      customers.clear();
      items.clear();
      invoices.clear();
      idempotency.clear();
    },
  }, options, {
    apiKey, customers, invoiceItems: items, invoices, idempotency, products, events: log.events, webhookDeliveries: log.deliveries,
    webhooksSettled: () => log.settled(),
    async userEdit(kind: 'customer' | 'product', id: string | undefined, params: Record<string, unknown>): Promise<Customer | Product> {
      let out: Customer | Product;
      if (kind === 'customer') {
        if (id === undefined) {
          out = createCustomer(paramsOf(params, CUSTOMER_PARAMS));
          log.emit('customer.created', out);
        } else {
          const c = customers.get(id);
          if (!c) throw new Error(`no customer ${id}`);
          out = updateCustomer(c, paramsOf(params, CUSTOMER_PARAMS));
        }
      } else out = id === undefined ? createProduct(paramsOf(params, PRODUCT_PARAMS)) : updateProduct(productOf(id), paramsOf(params, PRODUCT_PARAMS));
      await log.settled();
      return out;
    },
    async userDelete(kind: 'customer' | 'product', id: string): Promise<void> {
      if (kind === 'customer') deleteCustomer(id);
      else deleteProduct(id);
      await log.settled();
    },
  });
  baseUrl = emulator.url;
  return emulator;
}

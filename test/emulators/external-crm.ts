import { createHmac, randomUUID } from 'node:crypto';
import {
  ApiError, EMAIL_PATTERN, bearerToken, decodeCursor, encodeCursor, sendWebhook, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext, type WebhookDelivery,
} from './base.ts';
import { associationRoutes, associationTypeId, createAssociationStore, targetOfType } from './external-crm-associations.ts';
import { batchInputs, batchReply, hubspotError } from './external-crm-batch.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * An external CRM for two-way sync (use case 9 and the data-sync guide), mimicking the
 * HubSpot CRM API v3 objects endpoints for contacts, companies and deals.
 * Auth: `Authorization: Bearer <private app token>`. Errors: `{ status: 'error', message,
 * correlationId, category, context?, errors? }`; rate limits: 429 with `errorType:
 * 'RATE_LIMIT'` (set options.rateLimit, e.g. { max: 100, windowMs: 10_000 } as HubSpot's
 * ten-second limit, or failNext). Property values are strings, as HubSpot returns them.
 *
 * Routes (:objectType = contacts | companies | deals | products | notes | tasks):
 * - GET    /crm/v3/objects/:objectType?limit(≤100, 10)&after&properties=a,b&archived   → { results, paging?: { next: { after, link } } };
 *          archived records carry archivedAt and stay listed for options.archivedRetentionMs (90 days); archiving does not
 *          change lastmodifieddate / hs_lastmodifieddate (both kept on every object)
 * - GET    /crm/v3/objects/:objectType/:id?properties&idProperty=email&archived&associations=companies
 * - POST   /crm/v3/objects/:objectType  { properties, associations? }  → 201; contacts are unique by email (409 CONFLICT)
 * - PATCH  /crm/v3/objects/:objectType/:id?idProperty  { properties }
 * - DELETE /crm/v3/objects/:objectType/:id   → 204 (archived; GET ?archived=true still finds it)
 * - POST   /crm/v3/objects/:objectType/search { filterGroups: [{ filters: [{ propertyName, operator, value | values | highValue }] }], sorts, properties, limit(≤200), after, query? }
 *          → { total, results, paging?: { next: { after } } }; operators EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN
 * - POST   /crm/v3/objects/:objectType/batch/read   { inputs: [{ id }], properties, idProperty? }
 * - POST   /crm/v3/objects/:objectType/batch/create { inputs: [{ properties, associations?, objectWriteTraceId? }] }     (≤100 inputs)
 * - POST   /crm/v3/objects/:objectType/batch/update { inputs: [{ id, properties, objectWriteTraceId? }] } (≤100 inputs)
 *          With an objectWriteTraceId on every input: 207 Multi-Status, the valid inputs written and each refused one in
 *          `errors` with `context.objectWriteTraceId` (409 CONFLICT "Contact already exists. Existing ID: n" included);
 *          without: one bad input refuses the whole batch and nothing is written.
 * - Associations v4 (external-crm-associations.ts): GET/PUT/DELETE /crm/v4/objects/:from/:id/associations/…,
 *          POST /crm/v4/associations/:from/:to/batch/{read,create}; one primary company per contact and per deal.
 * Every answer carries X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds when options.rateLimit is set.
 * Unknown properties (PROPERTY_DOESNT_EXIST), read-only ones (READ_ONLY_VALUE) and invalid
 * emails in `email` or `work_email` (INVALID_EMAIL) are 400 VALIDATION_ERROR, as in HubSpot.
 *
 * Changes made "in HubSpot" by a user (userEdit / userDelete) are sent as webhook
 * subscription events (`contact.propertyChange`, `contact.creation`, `contact.deletion`, …)
 * to options.webhook.url — one event per request as a JSON object by default (HubSpot
 * batches them in an array: `batch: true`), signed with Standard Webhooks when a `secret` is
 * given (what the hub verifies) and with HubSpot's `X-HubSpot-Signature-v3` when a
 * `clientSecret` is given. With `events: 'all'`, changes made through the API send events
 * too (changeSource INTEGRATION), as HubSpot does: a sync must not echo its own writes.
 * Associations added or removed (userAssociate, the v4 routes, `associations` on create)
 * send `<object>.associationChange` events for each end (contacts, companies, deals,
 * products), with fromObjectId / toObjectId instead of objectId.
 */

export type ObjectType = 'contacts' | 'companies' | 'deals' | 'products' | 'notes' | 'tasks';
const OBJECT_TYPES: ObjectType[] = ['contacts', 'companies', 'deals', 'products', 'notes', 'tasks'];
/** The object types whose associationChange HubSpot's (legacy) webhooks send. */
const ASSOCIATION_EVENTS = new Set<ObjectType>(['contacts', 'companies', 'deals', 'products']);
const SINGULAR: Record<ObjectType, string> = { contacts: 'contact', companies: 'company', deals: 'deal', products: 'product', notes: 'note', tasks: 'task' };

const WRITABLE: Record<ObjectType, string[]> = {
  contacts: ['email', 'work_email', 'firstname', 'lastname', 'phone', 'mobilephone', 'company', 'website', 'jobtitle', 'lifecyclestage', 'hs_lead_status', 'city', 'state', 'country', 'zip', 'address', 'industry', 'annualrevenue', 'numemployees', 'hubspot_owner_id', 'hs_email_optout'],
  companies: ['name', 'domain', 'industry', 'phone', 'city', 'state', 'country', 'zip', 'address', 'numberofemployees', 'annualrevenue', 'description', 'website', 'lifecyclestage', 'hubspot_owner_id', 'type'],
  deals: ['dealname', 'amount', 'dealstage', 'pipeline', 'closedate', 'hubspot_owner_id', 'description', 'dealtype', 'hs_priority'],
  products: ['name', 'hs_sku', 'description', 'price', 'hs_cost_of_goods_sold', 'hs_recurring_billing_period'],
  notes: ['hs_note_body', 'hs_timestamp', 'hubspot_owner_id'],
  tasks: ['hs_task_subject', 'hs_task_body', 'hs_task_status', 'hs_task_priority', 'hs_timestamp', 'hubspot_owner_id'],
};
const READ_ONLY = ['createdate', 'lastmodifieddate', 'hs_object_id', 'hs_lastmodifieddate', 'hs_createdate'];
const DEFAULT_PROPERTIES: Record<ObjectType, string[]> = {
  contacts: ['email', 'firstname', 'lastname'],
  companies: ['name', 'domain'],
  deals: ['dealname', 'amount', 'dealstage', 'pipeline', 'closedate'],
  products: ['name', 'hs_sku', 'price', 'description'],
  notes: ['hs_note_body', 'hs_timestamp'],
  tasks: ['hs_task_subject', 'hs_task_status', 'hs_timestamp'],
};
const DATE_PROPERTIES = new Set(['createdate', 'lastmodifieddate', 'hs_lastmodifieddate', 'closedate', 'hs_timestamp']);
const NUMBER_PROPERTIES = new Set(['amount', 'numberofemployees', 'numemployees', 'annualrevenue', 'price', 'hs_cost_of_goods_sold']);

export interface CrmObject {
  id: string;
  objectType: ObjectType;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
  /** Associated ids by object type. */
  associations: Partial<Record<ObjectType, string[]>>;
}

export interface WebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  /** The record's id; absent from associationChange events, which carry fromObjectId and toObjectId. */
  objectId?: number;
  changeSource: 'CRM_UI' | 'INTEGRATION' | 'IMPORT';
  changeFlag?: 'NEW' | 'DELETED';
  propertyName?: string;
  propertyValue?: string;
  sourceId?: string;
  associationType?: string;
  fromObjectId?: number;
  toObjectId?: number;
  associationRemoved?: boolean;
  isPrimaryAssociation?: boolean;
}

export interface ExternalCrmOptions extends CommonOptions {
  /** Private app token (default `pat-na1-00000000-0000-0000-0000-000000000000`). */
  token?: string;
  /** Custom properties per object type (e.g. { contacts: ['crm_hub_id', 'sync_status'] }). */
  customProperties?: Partial<Record<ObjectType, string[]>>;
  portalId?: number;
  /** How long archived records stay listable with archived=true (HubSpot: 90 days). */
  archivedRetentionMs?: number;
  appId?: number;
  webhook?: {
    url: string;
    /** Standard Webhooks secret (`whsec_…`). */
    secret?: string;
    /** HubSpot app client secret: adds X-HubSpot-Signature-v3 / X-HubSpot-Request-Timestamp. */
    clientSecret?: string;
    /** Send HubSpot's array of events in one request instead of one object per request. */
    batch?: boolean;
    /** 'user' (default): only userEdit/userDelete send events; 'all': API writes too. */
    events?: 'user' | 'all';
    retries?: number;
    /** The app's subscriptions (e.g. 'contact.associationChange'): when set, only events of these types are sent, as HubSpot does. */
    subscriptions?: readonly string[];
  };
}

export interface ExternalCrmEmulator extends Emulator {
  token: string;
  objects: Record<ObjectType, Map<string, CrmObject>>;
  /** Puts a record in place silently (no webhook), as if it existed before the test. */
  seed(objectType: ObjectType, properties: Record<string, string | number | null>, at?: Date): CrmObject;
  /** Puts an association in place silently (no request counted against the rate limit), primary by default where the pair has one. */
  seedAssociation(from: ObjectType, fromId: string, to: ObjectType, toId: string, primary?: boolean): void;
  /**
   * A HubSpot user creates (id undefined) or edits a record: sends webhook events when configured. `associations`
   * are made in the same step (a deal created from a company's page), their associationChange events sent with the rest.
   */
  userEdit(objectType: ObjectType, id: string | undefined, properties: Record<string, string | number | null>, associations?: readonly { to: ObjectType; id: string; primary?: boolean }[]): Promise<CrmObject>;
  /** A HubSpot user deletes (archives) a record. */
  userDelete(objectType: ObjectType, id: string): Promise<void>;
  /** A HubSpot user associates two records (primary by default where the pair has one): sends associationChange events when configured. */
  userAssociate(from: ObjectType, fromId: string, to: ObjectType, toId: string, primary?: boolean): Promise<void>;
  /** A HubSpot user removes the association between two records: sends associationChange events (associationRemoved) when configured. */
  userDissociate(from: ObjectType, fromId: string, to: ObjectType, toId: string): Promise<void>;
  /** Every webhook request sent, with the events it carried. */
  webhookDeliveries: { events: WebhookEvent[]; result: WebhookDelivery | { error: string } }[];
  /** Waits until the webhook deliveries under way (e.g. after API writes with events: 'all') are done. */
  webhooksSettled(): Promise<void>;
  /** The response shape of one record, with the given (or default) properties. */
  view(record: CrmObject, properties?: string[]): Record<string, unknown>;
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited':
      return {
        status,
        body: { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'TEN_SECONDLY_ROLLING', groupName: 'publicapi:private-app:1234567' },
        headers: { 'x-hubspot-ratelimit-max': '100', 'x-hubspot-ratelimit-remaining': '0', 'x-hubspot-ratelimit-interval-milliseconds': '10000' },
      };
    case 'server_error': return hubspotError(status, 'INTERNAL_ERROR', status === 502 || status === 504 ? 'The request timed out upstream.' : 'internal error');
    case 'not_found': return hubspotError(404, 'OBJECT_NOT_FOUND', `Unable to route ${message.replace(/^no route /, '')}`);
    case 'method_not_allowed': return hubspotError(405, 'VALIDATION_ERROR', message);
    case 'invalid_body': return hubspotError(400, 'VALIDATION_ERROR', `Invalid input JSON on line 1: ${message}`);
    default: return hubspotError(status, status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR', message);
  }
}

interface PropertyProblem { isValid: false; message: string; error: string; name: string; localizedErrorMessage: string }

function problem(name: string, error: string, message: string): PropertyProblem {
  return { isValid: false, message, error, name, localizedErrorMessage: message };
}

function validationFailed(problems: PropertyProblem[]): ApiError {
  return new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(problems)}`, {
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
  }));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export async function startExternalCrmEmulator(options: ExternalCrmOptions = {}): Promise<ExternalCrmEmulator> {
  const token = options.token ?? 'pat-na1-00000000-0000-0000-0000-000000000000';
  const portalId = options.portalId ?? 62_515;
  const appId = options.appId ?? 1_160_452;
  const writable = Object.fromEntries(OBJECT_TYPES.map((t) => [t, new Set([...WRITABLE[t], ...(options.customProperties?.[t] ?? [])])])) as Record<ObjectType, Set<string>>;
  const objects = Object.fromEntries(OBJECT_TYPES.map((t) => [t, new Map()])) as Record<ObjectType, Map<string, CrmObject>>;
  const assoc = createAssociationStore(objects);
  const deliveries: ExternalCrmEmulator['webhookDeliveries'] = [];
  let nextId = 101;
  let nextEventId = 1;
  let lastStamp = 0;
  const inFlight = new Set<Promise<void>>();
  /** Strictly increasing timestamps, so that every change has its own updatedAt. */
  const stamp = (): number => {
    lastStamp = Math.max(Date.now(), lastStamp + 1);
    return lastStamp;
  };

  const typeNamed = (name: string): ObjectType => {
    if (!OBJECT_TYPES.includes(name as ObjectType)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Unable to infer object type from: ${name}`));
    return name as ObjectType;
  };
  const typeOf = (ctx: RouteContext): ObjectType => typeNamed(ctx.params.objectType!);

  const view = (record: CrmObject, properties?: string[], associations?: ObjectType[]): Record<string, unknown> => {
    const names = [...new Set([...(properties ?? DEFAULT_PROPERTIES[record.objectType]), 'createdate', 'lastmodifieddate', 'hs_object_id'])];
    const props: Record<string, string | null> = {};
    for (const n of names) if (n in record.properties || writable[record.objectType].has(n) || READ_ONLY.includes(n)) props[n] = record.properties[n] ?? null;
    const out: Record<string, unknown> = { id: record.id, properties: props, createdAt: record.createdAt, updatedAt: record.updatedAt, archived: record.archived };
    if (record.archivedAt) out.archivedAt = record.archivedAt;
    if (associations && associations.length > 0) {
      const a: Record<string, unknown> = {};
      for (const t of associations) {
        const ids = record.associations[t] ?? [];
        if (ids.length > 0) a[t] = { results: ids.map((id) => ({ id, type: `${SINGULAR[record.objectType]}_to_${SINGULAR[t]}` })) };
      }
      out.associations = a;
    }
    return out;
  };

  const listParam = (ctx: RouteContext, name: string): string[] | undefined => {
    const all = ctx.search.getAll(name).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
    return all.length > 0 ? all : undefined;
  };

  /** Checks property values for writing; returns them as HubSpot stores them (strings). */
  const checkProperties = (type: ObjectType, value: unknown): Record<string, string | null> => {
    if (!isPlainObject(value)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: "properties" must be an object of property names to values'));
    const problems: PropertyProblem[] = [];
    const out: Record<string, string | null> = {};
    for (const [name, raw] of Object.entries(value)) {
      if (READ_ONLY.includes(name)) {
        problems.push(problem(name, 'READ_ONLY_VALUE', `${name} is a read only property; its value cannot be set.`));
        continue;
      }
      if (!writable[type].has(name)) {
        problems.push(problem(name, 'PROPERTY_DOESNT_EXIST', `Property "${name}" does not exist`));
        continue;
      }
      if (raw !== null && typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        problems.push(problem(name, 'INVALID_PROPERTY_VALUE', `${JSON.stringify(raw)} is not a valid value for ${name}`));
        continue;
      }
      const text = raw === null || raw === '' ? null : String(raw);
      if ((name === 'email' || name === 'work_email') && text !== null && !EMAIL_PATTERN.test(text)) {
        problems.push(problem(name, 'INVALID_EMAIL', `Email address ${text} is invalid`));
        continue;
      }
      if (NUMBER_PROPERTIES.has(name) && text !== null && !Number.isFinite(Number(text))) {
        problems.push(problem(name, 'INVALID_INTEGER', `${text} was not a valid number.`));
        continue;
      }
      if (DATE_PROPERTIES.has(name) && text !== null && !/^\d{1,15}$/.test(text) && Number.isNaN(Date.parse(text))) {
        problems.push(problem(name, 'INVALID_DATE', `${text} is not a valid date: use epoch milliseconds or ISO 8601.`));
        continue;
      }
      out[name] = name === 'email' && text !== null ? text.toLowerCase() : text;
    }
    if (problems.length > 0) throw validationFailed(problems);
    return out;
  };

  const findByEmail = (email: string, includeArchived = false): CrmObject | undefined =>
    [...objects.contacts.values()].find((c) => (includeArchived || !c.archived) && c.properties.email?.toLowerCase() === email.toLowerCase());

  const create = (type: ObjectType, props: Record<string, string | null>, source: WebhookEvent['changeSource'], at = stamp()): CrmObject => {
    if (type === 'contacts' && props.email) {
      const existing = findByEmail(props.email);
      if (existing) throw new ApiError(hubspotError(409, 'CONFLICT', `Contact already exists. Existing ID: ${existing.id}`));
    }
    const id = String(nextId++);
    const record: CrmObject = {
      id, objectType: type, createdAt: iso(at), updatedAt: iso(at), archived: false, associations: {},
      properties: { ...Object.fromEntries(Object.entries(props).filter(([, v]) => v !== null)), createdate: iso(at), lastmodifieddate: iso(at), hs_lastmodifieddate: iso(at), hs_object_id: id },
    };
    objects[type].set(id, record);
    queueEvents(type, record, source, 'creation', props);
    return record;
  };

  const update = (record: CrmObject, props: Record<string, string | null>, source: WebhookEvent['changeSource']): CrmObject => {
    if (record.objectType === 'contacts' && props.email) {
      const other = findByEmail(props.email);
      if (other && other.id !== record.id) throw new ApiError(hubspotError(409, 'CONFLICT', `A contact with the email '${props.email}' already exists. Existing ID: ${other.id}`));
    }
    const changed: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(props)) {
      if ((record.properties[k] ?? null) !== v) changed[k] = v;
      if (v === null) delete record.properties[k];
      else record.properties[k] = v;
    }
    const at = iso(stamp());
    record.updatedAt = at;
    record.properties.lastmodifieddate = at;
    record.properties.hs_lastmodifieddate = at;
    queueEvents(record.objectType, record, source, 'propertyChange', changed);
    return record;
  };

  // ---- webhooks ------------------------------------------------------------------------
  let outbox: WebhookEvent[] = [];
  const queueEvents = (type: ObjectType, record: CrmObject, source: WebhookEvent['changeSource'], kind: 'creation' | 'propertyChange' | 'deletion', props: Record<string, string | null> = {}) => {
    const hook = options.webhook;
    if (!hook || source === 'IMPORT') return;
    if (source === 'INTEGRATION' && (hook.events ?? 'user') !== 'all') return;
    const base = {
      subscriptionId: 100_000 + OBJECT_TYPES.indexOf(type) * 10 + ['creation', 'propertyChange', 'deletion'].indexOf(kind),
      portalId, appId, occurredAt: Date.parse(record.updatedAt), attemptNumber: 0, objectId: Number(record.id), changeSource: source,
      ...(source === 'INTEGRATION' ? { sourceId: String(appId) } : { sourceId: 'userId:4242' }),
    };
    const singular = SINGULAR[type];
    if (kind === 'creation') outbox.push({ eventId: nextEventId++, ...base, subscriptionType: `${singular}.creation`, changeFlag: 'NEW' });
    if (kind === 'deletion') outbox.push({ eventId: nextEventId++, ...base, subscriptionType: `${singular}.deletion`, changeFlag: 'DELETED' });
    if (kind === 'propertyChange' || kind === 'creation') {
      for (const [name, value] of Object.entries(props)) {
        outbox.push({ eventId: nextEventId++, ...base, subscriptionType: `${singular}.propertyChange`, propertyName: name, propertyValue: value ?? '' });
      }
    }
  };
  /**
   * An association added or removed: `<object>.associationChange` for each end whose type
   * has webhooks (not notes or tasks), from that end to the other, as HubSpot sends them:
   * no objectId, but fromObjectId / toObjectId, associationType, associationRemoved and
   * isPrimaryAssociation. Associations do not change either record's modification date.
   */
  const queueAssociation = (a: CrmObject, b: CrmObject, source: WebhookEvent['changeSource'], removed: boolean) => {
    const hook = options.webhook;
    if (!hook || source === 'IMPORT') return;
    if (source === 'INTEGRATION' && (hook.events ?? 'user') !== 'all') return;
    const occurredAt = stamp();
    for (const [from, to] of [[a, b], [b, a]] as const) {
      if (!ASSOCIATION_EVENTS.has(from.objectType)) continue;
      const primaryId = associationTypeId(from.objectType, to.objectType, true);
      const types = assoc.list(from, to.objectType).find((x) => x.toId === to.id)?.types ?? [];
      outbox.push({
        eventId: nextEventId++, subscriptionId: 100_000 + OBJECT_TYPES.indexOf(from.objectType) * 10 + 3, portalId, appId, occurredAt, attemptNumber: 0,
        subscriptionType: `${SINGULAR[from.objectType]}.associationChange`, changeSource: source, ...(source === 'INTEGRATION' ? { sourceId: String(appId) } : { sourceId: 'userId:4242' }),
        associationType: `${SINGULAR[from.objectType]}_TO_${SINGULAR[to.objectType]}`.toUpperCase(), fromObjectId: Number(from.id), toObjectId: Number(to.id),
        associationRemoved: removed, isPrimaryAssociation: !removed && primaryId !== associationTypeId(from.objectType, to.objectType, false) && types.includes(primaryId),
      });
    }
  };
  /** Delivers queued events; API writes do not wait for it (HubSpot delivers asynchronously). */
  const flush = (): Promise<void> => {
    const p = deliver().finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };
  const deliver = async (): Promise<void> => {
    const hook = options.webhook;
    const events = hook?.subscriptions ? outbox.filter((e) => hook.subscriptions!.includes(e.subscriptionType)) : outbox;
    outbox = [];
    if (!hook || events.length === 0) return;
    const groups = hook.batch ? [events] : events.map((e) => [e]);
    for (const group of groups) {
      const body = JSON.stringify(hook.batch ? group : group[0]);
      const headers: Record<string, string> = { 'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon-executor' };
      if (hook.clientSecret) {
        const ts = String(Date.now());
        headers['x-hubspot-request-timestamp'] = ts;
        headers['x-hubspot-signature-v3'] = createHmac('sha256', hook.clientSecret).update(`POST${hook.url}${body}${ts}`).digest('base64');
        headers['x-hubspot-signature-version'] = 'v3';
      }
      try {
        const result = await sendWebhook(hook.url, body, {
          contentType: 'application/json', headers,
          ...(hook.secret !== undefined ? { secret: hook.secret } : {}), ...(hook.retries !== undefined ? { retries: hook.retries } : {}),
        });
        deliveries.push({ events: group, result });
      } catch (err) {
        deliveries.push({ events: group, result: { error: (err as Error).message } });
      }
    }
  };

  // ---- search ----------------------------------------------------------------------------
  const compareValues = (name: string, actual: string, wanted: string): number => {
    if (DATE_PROPERTIES.has(name)) {
      const a = /^\d+$/.test(actual) ? Number(actual) : Date.parse(actual);
      const w = /^\d+$/.test(wanted) ? Number(wanted) : Date.parse(wanted);
      if (!Number.isNaN(a) && !Number.isNaN(w)) return a - w;
    }
    const na = Number(actual);
    const nw = Number(wanted);
    if (actual !== '' && wanted !== '' && Number.isFinite(na) && Number.isFinite(nw)) return na - nw;
    return actual.toLowerCase().localeCompare(wanted.toLowerCase());
  };
  const OPERATORS = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'];
  const filterTest = (type: ObjectType, f: unknown): ((r: CrmObject) => boolean) => {
    if (!isPlainObject(f) || typeof f.propertyName !== 'string' || typeof f.operator !== 'string') {
      throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: each filter needs propertyName and operator'));
    }
    const name = f.propertyName;
    const op = f.operator;
    if (!OPERATORS.includes(op)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Invalid input JSON: Cannot deserialize value of type \`FilterOperatorEnum\` from String "${op}"`));
    if (!writable[type].has(name) && !READ_ONLY.includes(name) && name !== 'id') {
      throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `There was a problem with the request.`, { errors: [{ message: `Property '${name}' does not exist`, code: 'PROPERTY_DOESNT_EXIST' }] }));
    }
    const value = f.value === undefined ? undefined : String(f.value);
    const values = Array.isArray(f.values) ? f.values.map(String) : undefined;
    const needs = (ok: boolean, what: string) => {
      if (!ok) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Invalid input JSON: operator ${op} requires ${what}`));
    };
    if (['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'].includes(op)) needs(value !== undefined, 'value');
    if (op === 'BETWEEN') needs(value !== undefined && f.highValue !== undefined, 'value and highValue');
    if (op === 'IN' || op === 'NOT_IN') needs(values !== undefined, 'values');
    return (r: CrmObject) => {
      const actual = name === 'id' ? r.id : r.properties[name] ?? null;
      switch (op) {
        case 'HAS_PROPERTY': return actual !== null;
        case 'NOT_HAS_PROPERTY': return actual === null;
        case 'NEQ': return actual === null || compareValues(name, actual, value!) !== 0;
        case 'NOT_IN': return actual === null || !values!.some((v) => actual.toLowerCase() === v.toLowerCase());
        case 'NOT_CONTAINS_TOKEN': return actual === null || !tokenMatch(actual, value!);
      }
      if (actual === null) return false;
      switch (op) {
        case 'EQ': return compareValues(name, actual, value!) === 0;
        case 'LT': return compareValues(name, actual, value!) < 0;
        case 'LTE': return compareValues(name, actual, value!) <= 0;
        case 'GT': return compareValues(name, actual, value!) > 0;
        case 'GTE': return compareValues(name, actual, value!) >= 0;
        case 'BETWEEN': return compareValues(name, actual, value!) >= 0 && compareValues(name, actual, String(f.highValue)) <= 0;
        case 'IN': return values!.some((v) => actual.toLowerCase() === v.toLowerCase());
        case 'CONTAINS_TOKEN': return tokenMatch(actual, value!);
        default: return false;
      }
    };
  };
  const tokenMatch = (actual: string, token: string): boolean => {
    const pattern = new RegExp(`^${token.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return actual.toLowerCase().split(/[\s@.,;-]+/).concat([actual.toLowerCase()]).some((t) => pattern.test(t));
  };

  // ---- routes ------------------------------------------------------------------------------
  const recordOf = (ctx: RouteContext, type: ObjectType, includeArchived = false): CrmObject => {
    const idProperty = ctx.search.get('idProperty');
    const raw = ctx.params.id!;
    let found: CrmObject | undefined;
    if (idProperty && idProperty !== 'hs_object_id') {
      if (type !== 'contacts' || idProperty !== 'email') throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Property ${idProperty} is not a unique identifier property for ${type}`));
      found = findByEmail(raw, includeArchived);
    } else found = objects[type].get(raw);
    if (!found || (found.archived && !includeArchived)) {
      throw new ApiError(hubspotError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { context: { id: [raw] } }));
    }
    return found;
  };
  const inputsOf = (body: unknown): unknown[] => batchInputs(body, 100);
  /**
   * Checks each input of a batch write. With an objectWriteTraceId on every input, HubSpot
   * answers 207: a refused input becomes an error naming its trace id and the rest go on;
   * without, the first refusal fails the whole batch.
   */
  const planBatch = <T>(inputs: unknown[], check: (input: unknown) => T): { traced: boolean; plan: T[]; errors: unknown[] } => {
    const traced = inputs.length > 0 && inputs.every((i) => isPlainObject(i) && typeof i.objectWriteTraceId === 'string');
    const plan: T[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      try {
        plan.push(check(input));
      } catch (err) {
        if (!(err instanceof ApiError) || !traced) throw err;
        const trace = isPlainObject(input) ? input.objectWriteTraceId : undefined;
        const body = err.reply.body as Record<string, unknown>;
        errors.push({ ...body, status: 'error', context: { ...(body.context as object), objectWriteTraceId: [String(trace)] } });
      }
    }
    return { traced, plan, errors };
  };
  const associate = (record: CrmObject, value: unknown) => {
    if (value === undefined) return;
    if (!Array.isArray(value)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: "associations" must be an array'));
    for (const a of value as unknown[]) {
      const to = isPlainObject(a) && isPlainObject(a.to) ? String(a.to.id) : undefined;
      const typeId = isPlainObject(a) && Array.isArray(a.types) && isPlainObject(a.types[0]) ? Number(a.types[0].associationTypeId) : undefined;
      const target = typeId === undefined ? undefined : targetOfType(record.objectType, typeId);
      if (!to || !target) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Invalid association: ${JSON.stringify(a)}`));
      const other = objects[target].get(to);
      if (!other || other.archived) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `${SINGULAR[target]} ${to} does not exist`));
      assoc.add(record, other, typeId!);
      queueAssociation(record, other, 'INTEGRATION', false);
    }
  };

  const routes = [
    {
      method: 'GET', path: '/crm/v3/objects/:objectType',
      handle(ctx: RouteContext): Reply {
        const type = typeOf(ctx);
        const limit = Number(ctx.search.get('limit') ?? 10);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'limit must be between 1 and 100'));
        const archived = ctx.search.get('archived') === 'true';
        const retention = options.archivedRetentionMs ?? 90 * 86_400_000;
        const all = [...objects[type].values()]
          .filter((r) => r.archived === archived && (!archived || Date.parse(r.archivedAt ?? '') > Date.now() - retention))
          .sort((a, b) => Number(a.id) - Number(b.id));
        const salt = `${type}:${archived}`;
        let offset = 0;
        const after = ctx.search.get('after');
        if (after !== null) {
          const o = decodeCursor(after, salt);
          if (o === undefined) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Invalid 'after' value: ${after}`));
          offset = o;
        }
        const page = all.slice(offset, offset + limit);
        const props = listParam(ctx, 'properties');
        const assoc = listParam(ctx, 'associations') as ObjectType[] | undefined;
        const body: Record<string, unknown> = { results: page.map((r) => view(r, props, assoc)) };
        if (offset + page.length < all.length) {
          const next = encodeCursor(offset + page.length, salt);
          const q = new URLSearchParams(ctx.search);
          q.set('after', next);
          body.paging = { next: { after: next, link: `${ctx.baseUrl}${ctx.req.path}?${q.toString()}` } };
        }
        return { status: 200, body };
      },
    },
    {
      method: 'GET', path: '/crm/v3/objects/:objectType/:id',
      handle(ctx: RouteContext): Reply {
        const type = typeOf(ctx);
        const r = recordOf(ctx, type, ctx.search.get('archived') === 'true');
        return { status: 200, body: view(r, listParam(ctx, 'properties'), listParam(ctx, 'associations') as ObjectType[] | undefined) };
      },
    },
    {
      method: 'POST', path: '/crm/v3/objects/:objectType',
      async handle(ctx: RouteContext): Promise<Reply> {
        const type = typeOf(ctx);
        const body = ctx.req.body;
        if (!isPlainObject(body)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: expected an object with "properties"'));
        const props = checkProperties(type, body.properties);
        const r = create(type, props, 'INTEGRATION');
        associate(r, body.associations);
        void flush();
        return { status: 201, body: view(r, Object.keys(props).length > 0 ? Object.keys(props) : undefined) };
      },
    },
    {
      method: 'PATCH', path: '/crm/v3/objects/:objectType/:id',
      async handle(ctx: RouteContext): Promise<Reply> {
        const type = typeOf(ctx);
        const r = recordOf(ctx, type);
        const body = ctx.req.body;
        if (!isPlainObject(body)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: expected an object with "properties"'));
        const props = checkProperties(type, body.properties);
        update(r, props, 'INTEGRATION');
        void flush();
        return { status: 200, body: view(r, [...new Set([...DEFAULT_PROPERTIES[type], ...Object.keys(props)])]) };
      },
    },
    {
      method: 'DELETE', path: '/crm/v3/objects/:objectType/:id',
      async handle(ctx: RouteContext): Promise<Reply> {
        const type = typeOf(ctx);
        const r = objects[type].get(ctx.params.id!);
        // HubSpot answers 204 for an id that is missing or already archived.
        if (r && !r.archived) {
          r.archived = true;
          r.archivedAt = iso(stamp());
          r.updatedAt = r.archivedAt;
          queueEvents(type, r, 'INTEGRATION', 'deletion');
          void flush();
        }
        return { status: 204 };
      },
    },
    {
      method: 'POST', path: '/crm/v3/objects/:objectType/search',
      handle(ctx: RouteContext): Reply {
        const type = typeOf(ctx);
        const body = ctx.req.body ?? {};
        if (!isPlainObject(body)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: expected an object'));
        const groups = body.filterGroups ?? [];
        if (!Array.isArray(groups)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: filterGroups must be an array'));
        if (groups.length > 5) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Too many filter groups: at most 5 are allowed'));
        const tests = groups.map((g: unknown) => {
          const filters = isPlainObject(g) && Array.isArray(g.filters) ? g.filters : undefined;
          if (!filters) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: each filter group needs a filters array'));
          if (filters.length > 6) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Too many filters in a group: at most 6 are allowed'));
          const fs = filters.map((f: unknown) => filterTest(type, f));
          return (r: CrmObject) => fs.every((t) => t(r));
        });
        const limit = body.limit === undefined ? 10 : Number(body.limit);
        if (!Number.isInteger(limit) || limit < 0 || limit > 200) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'limit must be between 0 and 200'));
        const offset = body.after === undefined ? 0 : Number(body.after);
        if (!Number.isInteger(offset) || offset < 0) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Invalid 'after' value: ${String(body.after)}`));
        if (offset + limit > 10_000) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'The search API returns at most 10,000 results per query'));
        const query = typeof body.query === 'string' ? body.query.toLowerCase() : undefined;
        let found = [...objects[type].values()].filter((r) => !r.archived && (tests.length === 0 || tests.some((t) => t(r))));
        if (query) found = found.filter((r) => Object.values(r.properties).some((v) => v?.toLowerCase().includes(query)));
        const sorts = Array.isArray(body.sorts) ? body.sorts : [];
        const sort = sorts[0];
        const sortName = typeof sort === 'string' ? sort.replace(/^-/, '') : isPlainObject(sort) ? String(sort.propertyName) : 'hs_object_id';
        const desc = typeof sort === 'string' ? sort.startsWith('-') : isPlainObject(sort) && sort.direction === 'DESCENDING';
        found.sort((a, b) => {
          const x = a.properties[sortName] ?? '';
          const y = b.properties[sortName] ?? '';
          return (desc ? -1 : 1) * (compareValues(sortName, x, y) || Number(a.id) - Number(b.id));
        });
        const props = Array.isArray(body.properties) ? body.properties.map(String) : undefined;
        const page = found.slice(offset, offset + limit);
        return {
          status: 200,
          body: { total: found.length, results: page.map((r) => view(r, props)), ...(offset + page.length < found.length ? { paging: { next: { after: String(offset + page.length) } } } : {}) },
        };
      },
    },
    {
      method: 'POST', path: '/crm/v3/objects/:objectType/batch/read',
      handle(ctx: RouteContext): Reply {
        const type = typeOf(ctx);
        const started = new Date().toISOString();
        const body = ctx.req.body as Record<string, unknown>;
        const inputs = inputsOf(body);
        const props = Array.isArray(body.properties) ? body.properties.map(String) : undefined;
        const byEmail = body.idProperty === 'email';
        const results: unknown[] = [];
        const missing: string[] = [];
        for (const input of inputs) {
          const id = isPlainObject(input) ? String(input.id) : '';
          const r = byEmail ? findByEmail(id) : objects[type].get(id);
          if (r && !r.archived) results.push(view(r, props));
          else missing.push(id);
        }
        const errors = missing.length > 0 ? [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: `Could not get some ${type} objects, they may be deleted or not exist. Check that ids are valid.`, context: { ids: missing } }] : [];
        return batchReply(200, results, started, errors);
      },
    },
    {
      // With an objectWriteTraceId on every input, HubSpot answers 207 Multi-Status: the valid
      // inputs are created, each refused one is listed with its trace id. Without, one bad
      // input fails the whole batch (400, or 409 for an existing email) and nothing is created.
      method: 'POST', path: '/crm/v3/objects/:objectType/batch/create',
      async handle(ctx: RouteContext): Promise<Reply> {
        const type = typeOf(ctx);
        const started = new Date().toISOString();
        const results: unknown[] = [];
        const emails = new Set<string>();
        const { traced, plan, errors } = planBatch(inputsOf(ctx.req.body), (input) => {
          const props = checkProperties(type, isPlainObject(input) ? input.properties : undefined);
          const email = type === 'contacts' ? props.email ?? undefined : undefined;
          const existing = email ? findByEmail(email) : undefined;
          if (existing) throw new ApiError(hubspotError(409, 'CONFLICT', `Contact already exists. Existing ID: ${existing.id}`));
          if (email && emails.has(email)) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', `Duplicate email addresses in the batch: ${email}`));
          if (email) emails.add(email);
          return { input: input as Record<string, unknown>, props };
        });
        for (const { input, props } of plan) {
          const r = create(type, props, 'INTEGRATION');
          try {
            associate(r, input.associations);
          } catch (err) {
            if (!(err instanceof ApiError) || !traced) throw err;
          }
          results.push({ ...view(r), ...(traced ? { objectWriteTraceId: input.objectWriteTraceId } : {}) });
        }
        void flush();
        return batchReply(201, results, started, errors);
      },
    },
    {
      method: 'POST', path: '/crm/v3/objects/:objectType/batch/update',
      async handle(ctx: RouteContext): Promise<Reply> {
        const type = typeOf(ctx);
        const started = new Date().toISOString();
        const { traced, plan, errors } = planBatch(inputsOf(ctx.req.body), (input) => {
          if (!isPlainObject(input) || input.id === undefined) throw new ApiError(hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON: each input needs an id'));
          const r = objects[type].get(String(input.id));
          if (!r || r.archived) throw new ApiError(hubspotError(404, 'OBJECT_NOT_FOUND', `Object not found: ${String(input.id)}`, { context: { ids: [String(input.id)] } }));
          const props = checkProperties(type, input.properties);
          if (type === 'contacts' && props.email) {
            const other = findByEmail(props.email);
            if (other && other.id !== r.id) throw new ApiError(hubspotError(409, 'CONFLICT', `A contact with the email '${props.email}' already exists. Existing ID: ${other.id}`));
          }
          return { r, props, trace: input.objectWriteTraceId };
        });
        const updated = plan.map(({ r, props, trace }) => ({ ...view(update(r, props, 'INTEGRATION')), ...(traced ? { objectWriteTraceId: trace } : {}) }));
        void flush();
        return batchReply(200, updated, started, errors);
      },
    },
    ...associationRoutes(objects, assoc, typeNamed, (from, to, removed) => { queueAssociation(from, to, 'INTEGRATION', removed); void flush(); }),
  ];

  const emulator = await startHttpEmulator({
    name: 'external-crm',
    routes,
    authenticate(req) {
      const given = bearerToken(req.headers);
      if (given === undefined) {
        return hubspotError(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview');
      }
      if (given !== token) {
        return hubspotError(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview', { context: { authorization: ['invalid'] } });
      }
      return null;
    },
    errorReply,
    rateLimitHeaders: (remaining, max, windowMs) => ({
      'x-hubspot-ratelimit-max': String(max), 'x-hubspot-ratelimit-remaining': String(remaining), 'x-hubspot-ratelimit-interval-milliseconds': String(windowMs),
    }),
    resetState() {
      for (const t of OBJECT_TYPES) objects[t].clear();
      assoc.clear();
      deliveries.length = 0;
      outbox = [];
      nextId = 101;
    },
  }, options, {
    token, objects, webhookDeliveries: deliveries,
    view: (record: CrmObject, properties?: string[]) => view(record, properties),
    async webhooksSettled(): Promise<void> {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    seed(type: ObjectType, properties: Record<string, string | number | null>, at?: Date): CrmObject {
      return create(type, checkProperties(type, properties), 'IMPORT', at?.getTime() ?? stamp());
    },
    seedAssociation(from: ObjectType, fromId: string, to: ObjectType, toId: string, primary = true): void {
      const a = objects[from].get(fromId);
      const b = objects[to].get(toId);
      if (!a || !b) throw new Error(`no ${SINGULAR[from]} ${fromId} or ${SINGULAR[to]} ${toId}`);
      assoc.add(a, b, associationTypeId(from, to, primary));
    },
    async userEdit(type: ObjectType, id: string | undefined, properties: Record<string, string | number | null>, associations: readonly { to: ObjectType; id: string; primary?: boolean }[] = []): Promise<CrmObject> {
      const props = checkProperties(type, properties);
      let r: CrmObject;
      if (id === undefined) r = create(type, props, 'CRM_UI');
      else {
        const existing = objects[type].get(id);
        if (!existing || existing.archived) throw new Error(`no ${SINGULAR[type]} ${id}`);
        r = update(existing, props, 'CRM_UI');
      }
      for (const a of associations) {
        const other = objects[a.to].get(a.id);
        if (!other || other.archived) throw new Error(`no ${SINGULAR[a.to]} ${a.id}`);
        assoc.add(r, other, associationTypeId(type, a.to, a.primary ?? true));
        queueAssociation(r, other, 'CRM_UI', false);
      }
      await flush();
      return r;
    },
    async userAssociate(from: ObjectType, fromId: string, to: ObjectType, toId: string, primary = true): Promise<void> {
      const a = objects[from].get(fromId);
      const b = objects[to].get(toId);
      if (!a || a.archived || !b || b.archived) throw new Error(`no ${SINGULAR[from]} ${fromId} or ${SINGULAR[to]} ${toId}`);
      assoc.add(a, b, associationTypeId(from, to, primary));
      queueAssociation(a, b, 'CRM_UI', false);
      await flush();
    },
    async userDissociate(from: ObjectType, fromId: string, to: ObjectType, toId: string): Promise<void> {
      const a = objects[from].get(fromId);
      const b = objects[to].get(toId);
      if (!a || !b || !(a.associations[to] ?? []).includes(toId)) throw new Error(`${SINGULAR[from]} ${fromId} is not associated with ${SINGULAR[to]} ${toId}`);
      // The event is queued while the pair still lists its labels, then the pair goes.
      assoc.remove(a, b);
      queueAssociation(a, b, 'CRM_UI', true);
      await flush();
    },
    async userDelete(type: ObjectType, id: string): Promise<void> {
      const r = objects[type].get(id);
      if (!r || r.archived) throw new Error(`no ${SINGULAR[type]} ${id}`);
      r.archived = true;
      r.archivedAt = iso(stamp());
      r.updatedAt = r.archivedAt;
      queueEvents(type, r, 'CRM_UI', 'deletion');
      await flush();
    },
  });
  return emulator;
}

/**
 * The connector interface: what the sync reconciler asks of an external app (HubSpot,
 * Stripe, …). One connector object serves one connection (one account of one app, with
 * its credentials); a workspace may connect several accounts of the same app, each its
 * own connector. Connectors do I/O only: which record wins, which field is written and
 * whether a record syncs at all is decided by the pure logic in `./reconcile/`.
 *
 * Objects are named the hub's way (`people`, `companies`, …); each connector says which
 * app object stands behind each (`objects`). App records travel as the app's own
 * property names and wire values (`AppRecord.properties`: HubSpot's strings, Stripe's JSON
 * flattened to `address.city`, `metadata.sku`); `codec` converts single values between
 * the hub's types and the app's, and `./reconcile/mapping.ts` applies the mappings.
 *
 * Failures: one bad record never fails its batch. Per-record outcomes come back as
 * `WriteResult`s (`refused` carries the app's own error body); a call throws a HubError
 * (SYNC_APP_*, from libs/errors) only when the whole call failed: bad credentials, the app
 * down past the retry budget, the rate limit not waited out in time.
 */
import type { Secret } from '../secrets/crypto.ts';
import type { RateLimitPolicy } from './rate-limit.ts';

/** The hub objects a connection can sync (seed 003: contacts, companies, deals, products, invoices, activities). */
export const syncObjects = ['people', 'companies', 'opportunities', 'products', 'invoices', 'notes', 'tasks'] as const;
export type SyncObject = (typeof syncObjects)[number];

/** A hub-side value: JSON. Dates are ISO strings (`2024-05-01` for dates, `…T…Z` for instants). */
export type HubValue = string | number | boolean | null;

/** How a mapped value is converted between the hub and an app (see each connector's codec). */
export type ValueType =
  | 'string'
  /** Trimmed and lower-cased on both sides. */
  | 'email'
  | 'number'
  | 'boolean'
  /** Hub `YYYY-MM-DD`; HubSpot: epoch ms at UTC midnight; Stripe: Unix seconds. */
  | 'date'
  /** Hub ISO instant; HubSpot: epoch ms; Stripe: Unix seconds. */
  | 'datetime'
  /** Hub decimal in major units (12.5); Stripe integer minor units (1250, or 13 for JPY); HubSpot decimal string. */
  | 'money'
  /** Two hub fields (first, last name) ↔ one app field ("Ada Lovelace"). */
  | 'fullName';

/** One field pair. `hub` is a field of the hub record; for `fullName`, `[first, last]`. */
export interface FieldMapping {
  hub: string | readonly [string, string];
  /** The app's property (`firstname`, `address.city`, `metadata.sku`). */
  app: string;
  type: ValueType;
  /** Which way this field may flow; default `both`. An app property the app computes is `from-app`. */
  direction?: 'both' | 'to-app' | 'from-app';
  /** For enumerations: hub value → app value; values not listed pass unchanged. */
  values?: Readonly<Record<string, string>>;
  /** A turned-off mapping syncs nothing (default true). */
  enabled?: boolean;
  /** Set on mappings the user added (custom mappings), absent on the connector's defaults. */
  custom?: boolean;
}

/** One row of a connector's default mappings: most fields are strings that flow both ways. */
export function field(hub: FieldMapping['hub'], app: string, type: ValueType = 'string', more: Pick<FieldMapping, 'direction' | 'values'> = {}): FieldMapping {
  return { hub, app, type, ...more };
}

/** Keys used to find a record in the app: initial-sync matching and 409 resolution. */
export interface MatchKeys {
  email?: string;
  /** Company (or email) domain, `acme.com`. */
  domain?: string;
  /** Company name, or a person's full name. */
  name?: string;
  /** Product SKU. */
  sku?: string;
}

/** The associations a hub record may carry; only these pairs sync (primary company only). */
export type AssociationKind = 'person-company' | 'opportunity-company' | 'opportunity-person' | 'invoice-person' | 'note-person' | 'task-person';

/** What a connector supports for one hub object. */
export interface ObjectSupport {
  /** The app's own name for it: `contacts`, `customers`, `deals`. */
  appObject: string;
  /** Default field mappings (seed 003: "default mappings per object"). */
  mappings: readonly FieldMapping[];
  /** Match keys the app can be searched by, in the order initial sync tries them. */
  matchBy: readonly (keyof MatchKeys)[];
  /** False when the app has no domain field (companies then match by name alone). */
  hasDomain: boolean;
  /** A key the app itself keeps unique and refuses duplicates of (HubSpot contacts: email), if any. */
  uniqueKey?: keyof MatchKeys;
  /** Associations this object's records carry in the app. */
  associations: readonly AssociationKind[];
}

export interface AppRecord {
  /** The app's id (`512`, `cus_Q2mVx8r0aLk3Zt`). */
  id: string;
  object: SyncObject;
  /** The app's properties as the app sends them (HubSpot: strings or null). */
  properties: Record<string, unknown>;
  /** When the app last changed it (epoch ms); orders changes of one record. */
  modifiedAt: number;
  /** Archived or deleted in the app. */
  archived: boolean;
}

export interface ChangePage {
  records: AppRecord[];
  /** Where the next call starts; store it only once these records are handled. */
  cursor: string;
  /** More pages are ready now (call again at once); false: caught up, poll later. */
  more: boolean;
}

export interface DeletedRecord {
  id: string;
  object: SyncObject;
  /** When it was archived or deleted (epoch ms). */
  deletedAt: number;
}

export interface DeletedPage {
  deleted: DeletedRecord[];
  cursor: string;
  more: boolean;
}

/** One record to write. `ref` is the caller's handle (the hub record id), echoed in its result. */
export interface WriteInput {
  ref: string;
  /** The app id, for updates. */
  id?: string;
  properties: Record<string, unknown>;
  /** The hub record's version: derives Idempotency-Keys, so a retry of this write is the same write. */
  version: string | number;
  /** Match keys of this record, used to resolve "already exists" and lost answers without duplicating. */
  keys?: MatchKeys;
  /**
   * Creates only: the record's associations, targets as app ids (its primary company, its
   * contact), made with the record where the app allows it. A Stripe invoice's customer can
   * only be set when it is created; without one Stripe refuses the invoice.
   */
  associations?: readonly { kind: AssociationKind; toId: string }[];
}

/** The app's own error, kept as it answered. */
export interface AppError {
  /** HTTP status of the answer carrying it (207's per-input errors: that input's). */
  status: number;
  /** The app's code or category (`VALIDATION_ERROR`, `email_invalid`). */
  code: string;
  message: string;
  /** The app's error body (or its per-input error object), untouched. */
  body: unknown;
}

export type WriteResult =
  | { ref: string; status: 'created' | 'updated'; id: string; record: AppRecord }
  /** The record already existed (HubSpot 409, a match before retrying a lost answer): link to `id`, create nothing. */
  | { ref: string; status: 'existing'; id: string }
  /** The app refused this record; the rest of its batch went on. Not retriable as is. */
  | { ref: string; status: 'refused'; error: AppError }
  /** The record to update is gone (deleted or archived in the app). */
  | { ref: string; status: 'missing'; id: string };

export interface Association {
  kind: AssociationKind;
  /** App ids, as (from, to) in the kind's order: person-company is (person id, company id). */
  fromId: string;
  toId: string;
  /** For person-company and opportunity-company: the primary company. */
  primary: boolean;
}

/** An incoming HTTP request, as the ingress received it. */
export interface WebhookRequest {
  method: string;
  /** The full public URL the app called (HubSpot signs it), with the query string. */
  url: string;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received. */
  body: Buffer;
}

/** A change the app announced; the record itself is read (or polled) before reconciling. */
export interface ChangeNotice {
  object: SyncObject;
  id: string;
  kind: 'created' | 'updated' | 'deleted' | 'restored' | 'associations';
  /** When the change happened in the app (epoch ms). */
  occurredAt: number;
  /** The app's event id, for deduplication. */
  eventId: string;
  /** Changed properties when the event says (HubSpot: one per event). */
  properties?: Record<string, unknown>;
  /** The full record when the event carries it (Stripe's `data.object`). */
  record?: AppRecord;
  /** For kind 'associations': the event says an association was removed (HubSpot's associationRemoved). */
  associationRemoved?: boolean;
  /** Written by an integration (HubSpot changeSource INTEGRATION; Stripe: made with an API key), maybe our own echo. */
  byIntegration: boolean;
}

/** Converts single values between the hub's types and the app's wire values. Pure. */
export interface ValueCodec {
  /** Hub value → app wire value; `record` is the hub record (for money: its currency). */
  toApp(value: HubValue, type: ValueType, record: Readonly<Record<string, unknown>>): unknown;
  /** App wire value → hub value (null when empty or unreadable); `record` is the app record's properties. */
  toHub(value: unknown, type: ValueType, record: Readonly<Record<string, unknown>>): HubValue;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface Connector {
  /** `hubspot`, `stripe`. */
  readonly app: string;
  readonly objects: Readonly<Partial<Record<SyncObject, ObjectSupport>>>;
  readonly codec: ValueCodec;
  /**
   * How retried writes stay single: `keys` (the app takes Idempotency-Key, derived from
   * connection, record and version) or `match` (none: the connector looks the record up
   * by its keys before retrying a create whose answer was lost).
   */
  readonly idempotency: 'keys' | 'match';
  /**
   * What a record's `modifiedAt` tells: `exact` (HubSpot: milliseconds, moved by every
   * change, so two snapshots with the same one are the same version) or `coarse` (Stripe:
   * seconds, and an invoice carries only its creation time, so equal stamps may differ).
   */
  readonly modifiedAt: 'exact' | 'coarse';
  /**
   * The app's rate limit as this connection spends it (HubSpot: 100 requests per 10 s per
   * account, batches of ≤ 100): every call waits for a token, a 429's Retry-After pauses
   * every caller, the app's remaining-quota headers lower the budget.
   */
  readonly rateLimit: RateLimitPolicy;

  /**
   * Records created or changed since `cursor`, oldest change first within what the app
   * allows; `null` starts from the beginning (initial sync: every record). Pages may
   * overlap a little (eventual consistency margin): handle a record seen twice as unchanged.
   */
  listChanged(object: SyncObject, cursor: string | null, options?: CallOptions & { limit?: number }): Promise<ChangePage>;
  /**
   * Records archived or deleted since `cursor` (HubSpot: archiving does not bump the
   * modification date, and archived records stay listable only for a while; poll often).
   */
  listDeleted(object: SyncObject, cursor: string | null, options?: CallOptions): Promise<DeletedPage>;
  /** Reads records by app id; ids not found (or archived) come back in `missing`. */
  read(object: SyncObject, ids: readonly string[], options?: CallOptions): Promise<{ records: AppRecord[]; missing: string[] }>;
  /** Creates records, batched as the app allows; one result per input, in input order. */
  create(object: SyncObject, inputs: readonly WriteInput[], options?: CallOptions): Promise<WriteResult[]>;
  /** Updates records (`input.id` required); one result per input, in input order. */
  update(object: SyncObject, inputs: readonly WriteInput[], options?: CallOptions): Promise<WriteResult[]>;
  /** Records matching the keys (each key alone, in `matchBy` order); for matching, never for linking blindly. */
  find(object: SyncObject, keys: MatchKeys, options?: CallOptions): Promise<AppRecord[]>;
  /** Associations of `kind` whose `from` side is one of `fromIds`. */
  readAssociations(kind: AssociationKind, fromIds: readonly string[], options?: CallOptions): Promise<Association[]>;
  /** Creates associations (idempotent: an existing one is kept); refused ones are returned with the app's error. */
  writeAssociations(associations: readonly Association[], options?: CallOptions): Promise<{ association: Association; error: AppError }[]>;
  /** Removes these associations (every label between each pair); the refused ones with the app's answer. Absent where the app cannot (a Stripe invoice keeps its customer). */
  removeAssociations?(associations: readonly Association[], options?: CallOptions): Promise<{ association: Association; error: AppError }[]>;
  /**
   * Checks the app's signature on a webhook request (several secrets during a rotation).
   * Throws WEBHOOK_SIGNATURE_MISSING, WEBHOOK_TIMESTAMP_INVALID (older than 5 minutes) or
   * WEBHOOK_SIGNATURE_INVALID.
   */
  verifyWebhook(request: WebhookRequest, secrets: readonly Secret[], nowMs: number): void;
  /** The notices in a verified webhook body; throws SYNC_WEBHOOK_PAYLOAD_INVALID when it is not the app's shape. */
  parseWebhook(body: Buffer): ChangeNotice[];
}

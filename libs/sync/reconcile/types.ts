/**
 * The plain data the reconcile functions take and return. Settings are what a user
 * chooses per connection (seed 003); decisions are what a service publishes and carries
 * out, one event each.
 */
import type { Association, FieldMapping, HubValue, MatchKeys, SyncObject } from '../connector.ts';
import type { Rule } from '../../rules/index.ts';
import type { Projection } from './mapping.ts';

/** `to-app`: the hub to the app only; `from-app`: the app to the hub only. */
export type Direction = 'two-way' | 'to-app' | 'from-app';
export type Side = 'hub' | 'app';

export interface SyncRules {
  /** Only records with a valid email sync (default true for people, seed 003's "fewer duplicates"). */
  requireEmail?: boolean;
  /** JSON Logic over `{ record }` (hub field names): which hub records go to the app. */
  toApp?: Rule;
  /** JSON Logic over `{ record, app }` (the app record in hub field names, and its raw properties): which app records come in. */
  fromApp?: Rule;
}

export interface ObjectSettings {
  direction: Direction;
  /** Whose value wins when both sides changed a field differently; default `app` as seed 003. */
  winner?: Side;
  /** The mappings in force (see effectiveMappings). */
  mappings: readonly FieldMapping[];
  rules?: SyncRules;
}

export interface SyncSettings {
  /** One connection: one account of one app; several may exist for the same app. */
  connectionId: string;
  /** False when the sync is turned off: nothing moves, links are kept. */
  enabled: boolean;
  /** The objects chosen for this connection; others never sync. */
  objects: Partial<Record<SyncObject, ObjectSettings>>;
}

/** What the sync remembers per linked pair (the link table's row, without its ids' indexes). */
export interface LinkState {
  hubId: string;
  appId: string;
  /** Mapped values both sides held after the last sync, by mapping key: what "changed since" is measured from. */
  base: Projection;
  /** Hash of the mapped values the sync itself last wrote, per side (echo suppression). */
  written?: { hub?: string; app?: string };
  /** The app's modifiedAt of the newest app version seen: older snapshots are stale. */
  appSeenAt?: number;
  /** Set when the record was deleted on that side; nothing syncs until a resync. */
  deletedOn?: Side;
}

export interface HubRecord {
  id: string;
  fields: Readonly<Record<string, unknown>>;
}

export type SkipReason =
  | 'sync-off' | 'object-not-synced' | 'direction' | 'excluded' | 'echo' | 'unchanged' | 'stale'
  | 'deleted-in-app' | 'deleted-in-hub' | 'duplicate' | 'association-not-synced';

export type MatchRule = 'email' | 'company-email' | 'name-and-domain' | 'domain' | 'name' | 'sku';

export interface FieldConflict {
  mapping: string;
  hub: HubValue;
  app: HubValue;
  winner: Side;
  /** The value both sides end with. */
  value: HubValue;
}

export type Decision =
  | { kind: 'link'; object: SyncObject; hubId: string; appId: string; matchedBy: MatchRule }
  | {
    kind: 'create'; object: SyncObject; side: Side; sourceId: string;
    /** Fields to write, in the target side's names and wire values. */
    fields: Record<string, unknown>;
    /** For creates in the app: keys the connector resolves "already exists" with. */
    keys?: MatchKeys;
    /** The new link's base and the hash of what is written (store both with the link). */
    base: Projection; writtenHash: string;
  }
  | {
    kind: 'update'; object: SyncObject; side: Side; hubId: string; appId: string;
    fields: Record<string, unknown>; base: Projection; writtenHash: string; conflicts: FieldConflict[];
  }
  /** Set an association on `side` (ids in that side's terms; on the hub, the from-record's field, e.g. `companyId`). */
  | { kind: 'associate'; object: SyncObject; side: Side; association: Association; hubField?: string }
  | {
    kind: 'skip'; object: SyncObject; reason: SkipReason; hubId?: string; appId?: string;
    /** For `excluded`: the rule that left the record out (`valid-email`, `filter:toApp`, `filter:fromApp`). */
    rule?: string; detail?: string;
  };

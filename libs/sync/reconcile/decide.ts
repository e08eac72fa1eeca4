/**
 * What to do about one change: a record changed on one side (a webhook notice or a poll),
 * with the link (if any) and both sides' current records. Returns decisions as plain
 * data; the caller writes, then stores each decision's `base` and `writtenHash` with the
 * link so the next change is measured from there and our own echo is recognised.
 */
import type { AppRecord, MatchKeys, SyncObject, ValueCodec } from '../connector.ts';
import { mergeFields } from './conflicts.ts';
import { appPropertiesOf, asHubFields, hubPropertiesOf, mappingKey, projectApp, projectHub, type Projection } from './mapping.ts';
import { checkRules } from './rules.ts';
import type { Decision, HubRecord, LinkState, ObjectSettings, Side, SyncSettings } from './types.ts';
import { normalizeDomain, valuesHash } from './values.ts';

export interface ChangeInput {
  settings: SyncSettings;
  object: SyncObject;
  codec: ValueCodec;
  /** The side the change happened on. */
  changed: Side;
  link: LinkState | null;
  /** The hub record as it is now; null when unknown (not linked) or deleted. */
  hub: HubRecord | null;
  /** The app record as it is now (read, or the event's snapshot); null when unknown or deleted. */
  app: AppRecord | null;
  now: number;
}

type Skip = Extract<Decision, { kind: 'skip' }>;

const skip = (object: SyncObject, reason: Skip['reason'], extra: Omit<Skip, 'kind' | 'object' | 'reason'> = {}): Decision[] => [{ kind: 'skip', object, reason, ...extra }];

/** Settings of an object that syncs now, or the skip that says why not. */
export function objectSettings(settings: SyncSettings, object: SyncObject): ObjectSettings | Decision[] {
  if (!settings.enabled) return skip(object, 'sync-off');
  return settings.objects[object] ?? skip(object, 'object-not-synced');
}

/** Keys a record is matched by in the app: email, its domain and the full name for people; domain and name for companies; SKU and name for products. */
export function matchKeysOf(object: SyncObject, fields: Readonly<Record<string, unknown>>): MatchKeys {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const keys: MatchKeys = {};
  if (object === 'people') {
    const email = str(fields.email)?.toLowerCase();
    const name = [str(fields.firstName), str(fields.lastName)].filter(Boolean).join(' ');
    if (email) keys.email = email;
    if (name) keys.name = name;
    const domain = normalizeDomain(fields.companyDomain ?? email);
    if (domain) keys.domain = domain;
  } else if (object === 'companies') {
    const domain = normalizeDomain(fields.domain);
    if (domain) keys.domain = domain;
    if (str(fields.name)) keys.name = str(fields.name)!;
  } else if (object === 'products') {
    if (str(fields.sku)) keys.sku = str(fields.sku)!;
    if (str(fields.name)) keys.name = str(fields.name)!;
  }
  return keys;
}

/** All mapping keys of a side after a write: written values over the current ones. */
const after = (current: Projection, written: Projection): Projection => ({ ...current, ...written });

export function decideChange(i: ChangeInput): Decision[] {
  const os = objectSettings(i.settings, i.object);
  if (Array.isArray(os)) return os;
  const { object, link } = i;
  const ids = { ...(link ? { hubId: link.hubId, appId: link.appId } : {}), ...(i.hub ? { hubId: i.hub.id } : {}), ...(i.app ? { appId: i.app.id } : {}) };
  if ((i.changed === 'hub' && os.direction === 'from-app') || (i.changed === 'app' && os.direction === 'to-app')) {
    return skip(object, 'direction', { ...ids, detail: `${object} sync ${os.direction === 'to-app' ? 'from the hub to the app' : 'from the app to the hub'} only` });
  }
  if (link?.deletedOn) return skip(object, link.deletedOn === 'app' ? 'deleted-in-app' : 'deleted-in-hub', { ...ids, detail: 'resync to recreate it' });
  const source = i.changed === 'hub' ? i.hub : i.app;
  if (!source || (i.app && i.app.archived && i.changed === 'app')) return skip(object, i.changed === 'hub' ? 'deleted-in-hub' : 'deleted-in-app', ids);

  const mappings = os.mappings;
  const hubP = i.hub ? projectHub(i.hub.fields, mappings) : null;
  const appP = i.app ? projectApp(i.app.properties, mappings, i.codec) : null;
  const hubVerdict = i.hub ? checkRules(object, 'hub', os.rules, i.hub.fields, i.now) : null;
  const appVerdict = i.app && appP ? checkRules(object, 'app', os.rules, asHubFields(appP, mappings), i.now, i.app.properties) : null;
  const verdict = i.changed === 'hub' ? hubVerdict : appVerdict;
  if (verdict && !verdict.included) return skip(object, 'excluded', { ...ids, rule: verdict.rule, detail: verdict.detail });

  if (link) {
    const mine = i.changed === 'hub' ? hubP! : appP!;
    if (link.written?.[i.changed] !== undefined && link.written[i.changed] === valuesHash(mine)) return skip(object, 'echo', ids);
    if (i.changed === 'app' && link.appSeenAt !== undefined && i.app!.modifiedAt < link.appSeenAt) return skip(object, 'stale', { ...ids, detail: 'an older version than one already seen' });
  }

  if (!link) {
    if (i.changed === 'hub') {
      const writable = mappings.filter((m) => (m.direction ?? 'both') !== 'from-app');
      const values = Object.fromEntries(writable.map((m) => [mappingKey(m), hubP![mappingKey(m)] ?? null]));
      const expected = Object.fromEntries(mappings.map((m) => [mappingKey(m), values[mappingKey(m)] ?? null]));
      return [{
        kind: 'create', object, side: 'app', sourceId: i.hub!.id, fields: appPropertiesOf(values, writable, i.codec, i.hub!.fields),
        keys: matchKeysOf(object, i.hub!.fields), base: values, writtenHash: valuesHash(expected),
      }];
    }
    const writable = mappings.filter((m) => (m.direction ?? 'both') !== 'to-app');
    const values = Object.fromEntries(writable.map((m) => [mappingKey(m), appP![mappingKey(m)] ?? null]));
    const expected = Object.fromEntries(mappings.map((m) => [mappingKey(m), values[mappingKey(m)] ?? null]));
    return [{ kind: 'create', object, side: 'hub', sourceId: i.app!.id, fields: hubPropertiesOf(values, writable), base: values, writtenHash: valuesHash(expected) }];
  }

  if (!i.hub || !hubP) return skip(object, 'deleted-in-hub', ids);
  if (!i.app || !appP || i.app.archived) return skip(object, 'deleted-in-app', ids);
  return updatesOf(object, os, i.codec, link, i.hub, hubP, appP, {
    app: hubVerdict?.included ?? true, hub: appVerdict?.included ?? true,
  });
}

/** The merge of a linked pair as update decisions (none: `unchanged`). `allowed` says which sides may be written under the rules. */
export function updatesOf(object: SyncObject, os: ObjectSettings, codec: ValueCodec, link: LinkState, hub: HubRecord, hubP: Projection, appP: Projection, allowed: Record<Side, boolean>): Decision[] {
  const merge = mergeFields({ mappings: os.mappings, base: link.base, hub: hubP, app: appP, winner: os.winner ?? 'app', direction: os.direction });
  const out: Decision[] = [];
  const ids = { hubId: link.hubId, appId: link.appId };
  const toHub = allowed.hub ? merge.toHub : {};
  const toApp = allowed.app ? merge.toApp : {};
  const hubFields = { ...hub.fields, ...hubPropertiesOf(toHub, os.mappings) };
  if (Object.keys(toApp).length > 0) {
    out.push({ kind: 'update', object, side: 'app', ...ids, fields: appPropertiesOf(toApp, os.mappings, codec, hubFields), base: merge.base, writtenHash: valuesHash(after(appP, toApp)), conflicts: merge.conflicts });
  }
  if (Object.keys(toHub).length > 0) {
    out.push({ kind: 'update', object, side: 'hub', ...ids, fields: hubPropertiesOf(toHub, os.mappings), base: merge.base, writtenHash: valuesHash(after(hubP, toHub)), conflicts: merge.conflicts });
  }
  return out.length > 0 ? out : skip(object, 'unchanged', ids);
}

/**
 * A record deleted (or archived) on one side: never propagated (seed 003: a resync
 * recreates it instead); the link is marked and the deletion listed.
 */
export function decideDeletion(object: SyncObject, link: LinkState, side: Side): Decision[] {
  return skip(object, side === 'app' ? 'deleted-in-app' : 'deleted-in-hub', { hubId: link.hubId, appId: link.appId, detail: 'not deleted on the other side; resync to recreate it' });
}

export interface ResyncItem {
  link: LinkState;
  /** The side it was deleted on, recreated there from the other side's record. */
  deletedOn: Side;
  /** The surviving record: the hub record when deleted in the app, else the app record. */
  hub?: HubRecord;
  app?: AppRecord;
}

/**
 * Resync of deleted records (seed 003: "resync records deleted in HubSpot / in the app",
 * one by one or all): a create on the side where each was deleted, from the survivor.
 * `only` (hub ids) picks some; without it, all. Direction and rules still apply.
 */
export function planResync(settings: SyncSettings, object: SyncObject, codec: ValueCodec, items: readonly ResyncItem[], now: number, only?: readonly string[]): Decision[] {
  const out: Decision[] = [];
  for (const item of items) {
    if (only && !only.includes(item.link.hubId)) continue;
    // A create from the survivor, as for a record never linked; the old link is replaced by the new one.
    out.push(...decideChange({
      settings, object, codec, changed: item.deletedOn === 'app' ? 'hub' : 'app', link: null,
      hub: item.deletedOn === 'app' ? item.hub ?? null : null, app: item.deletedOn === 'hub' ? item.app ?? null : null, now,
    }).map((d) => (d.kind === 'skip' ? { ...d, hubId: item.link.hubId, appId: item.link.appId } : d)));
  }
  return out;
}

/**
 * Initial sync (seed 003): both databases are compared and matching records are linked
 * and merged instead of duplicated; the rest are created on the other side as the
 * direction allows. Contacts match first on email, then on company (work) email, then on
 * full name with the same domain; companies on domain, or on name where a side has no
 * domain (some apps have no domain field at all); products on SKU, then name. Matching
 * runs pass by pass over all records, so a weaker key never takes a record an exact
 * email would have matched. A record whose key is already taken is left out as a
 * `duplicate`, never created twice.
 */
import type { AppRecord, ObjectSupport, SyncObject, ValueCodec } from '../connector.ts';
import { decideChange, objectSettings, updatesOf } from './decide.ts';
import { asHubFields, projectApp, projectHub, type Projection } from './mapping.ts';
import { checkRules } from './rules.ts';
import type { Decision, HubRecord, LinkState, MatchRule, SyncSettings } from './types.ts';
import { normalizeDomain, normalizeName } from './values.ts';

export interface InitialSyncInput {
  settings: SyncSettings;
  object: SyncObject;
  codec: ValueCodec;
  support: Pick<ObjectSupport, 'hasDomain'>;
  hub: readonly HubRecord[];
  app: readonly AppRecord[];
  /** Pairs linked before (a re-run): kept, never matched again. */
  links?: readonly Pick<LinkState, 'hubId' | 'appId'>[];
  now: number;
}

interface Side { id: string; fields: Readonly<Record<string, unknown>>; projection: Projection }

type KeyOf = (fields: Readonly<Record<string, unknown>>) => string | null;

const email: KeyOf = (f) => (typeof f.email === 'string' && f.email.trim() !== '' ? f.email.trim().toLowerCase() : null);
const workEmail: KeyOf = (f) => (typeof f.workEmail === 'string' && f.workEmail.trim() !== '' ? f.workEmail.trim().toLowerCase() : null);
const fullName: KeyOf = (f) => normalizeName([f.firstName, f.lastName].filter((x) => typeof x === 'string').join(' '));
const personDomain: KeyOf = (f) => normalizeDomain(f.companyDomain) ?? normalizeDomain(f.email);
const domain: KeyOf = (f) => normalizeDomain(f.domain);
const name: KeyOf = (f) => normalizeName(f.name);
const sku: KeyOf = (f) => (typeof f.sku === 'string' && f.sku.trim() !== '' ? f.sku.trim().toLowerCase() : null);

/** One pass: a rule and how to read the key of each side (null: not matchable by it). */
interface Pass { rule: MatchRule; hubKeys(f: Side['fields']): (string | null)[]; appKeys(f: Side['fields']): (string | null)[]; guard?(h: Side['fields'], a: Side['fields']): boolean }

function passesFor(object: SyncObject, hasDomain: boolean): Pass[] {
  if (object === 'people') {
    const nameAndDomain: KeyOf = (f) => { const n = fullName(f); const d = personDomain(f); return n && d ? `${n}@${d}` : null; };
    return [
      { rule: 'email', hubKeys: (f) => [email(f)], appKeys: (f) => [email(f)] },
      { rule: 'company-email', hubKeys: (f) => [workEmail(f), email(f)], appKeys: (f) => [workEmail(f), email(f)], guard: (h, a) => workEmail(h) !== null || workEmail(a) !== null },
      { rule: 'name-and-domain', hubKeys: (f) => [nameAndDomain(f)], appKeys: (f) => [nameAndDomain(f)] },
    ];
  }
  if (object === 'companies') {
    // With a domain on both sides the domain decides: the same domain matches whatever the
    // names, different domains never match on name. Name alone where a domain is missing.
    return [
      ...(hasDomain ? [{ rule: 'domain' as const, hubKeys: (f: Side['fields']) => [domain(f)], appKeys: (f: Side['fields']) => [domain(f)] }] : []),
      { rule: 'name', hubKeys: (f) => [name(f)], appKeys: (f) => [name(f)], guard: (h, a) => !(hasDomain && domain(h) && domain(a)) },
    ];
  }
  if (object === 'products') {
    return [
      { rule: 'sku', hubKeys: (f) => [sku(f)], appKeys: (f) => [sku(f)] },
      { rule: 'name', hubKeys: (f) => [name(f)], appKeys: (f) => [name(f)], guard: (h, a) => !(sku(h) && sku(a)) },
    ];
  }
  return [];
}

export function planInitialSync(i: InitialSyncInput): Decision[] {
  const os = objectSettings(i.settings, i.object);
  if (Array.isArray(os)) return os;
  const out: Decision[] = [];
  const linkedHub = new Set((i.links ?? []).map((l) => l.hubId));
  const linkedApp = new Set((i.links ?? []).map((l) => l.appId));
  const hubSide: Side[] = [];
  const appSide: Side[] = [];
  const hubOut = new Set<string>();
  const appOut = new Set<string>();
  for (const h of i.hub) {
    if (linkedHub.has(h.id)) continue;
    const v = checkRules(i.object, 'hub', os.rules, h.fields, i.now);
    if (!v.included) { out.push({ kind: 'skip', object: i.object, reason: 'excluded', hubId: h.id, rule: v.rule, detail: v.detail }); hubOut.add(h.id); }
    hubSide.push({ id: h.id, fields: h.fields, projection: projectHub(h.fields, os.mappings) });
  }
  const appById = new Map(i.app.map((a) => [a.id, a]));
  for (const a of i.app) {
    if (linkedApp.has(a.id) || a.archived) continue;
    const projection = projectApp(a.properties, os.mappings, i.codec);
    const fields = { ...asHubFields(projection, os.mappings), ...companyDomainOf(a) };
    const v = checkRules(i.object, 'app', os.rules, fields, i.now, a.properties);
    if (!v.included) { out.push({ kind: 'skip', object: i.object, reason: 'excluded', appId: a.id, rule: v.rule, detail: v.detail }); appOut.add(a.id); }
    appSide.push({ id: a.id, fields, projection });
  }

  const pairs = new Map<string, Side>(); // hub id → app side
  const taken = new Set<string>();
  for (const pass of passesFor(i.object, i.support.hasDomain)) {
    const index = new Map<string, Side[]>();
    for (const a of appSide) {
      if (taken.has(a.id) || appOut.has(a.id)) continue;
      for (const k of new Set(pass.appKeys(a.fields))) if (k) index.set(k, [...(index.get(k) ?? []), a]);
    }
    for (const h of hubSide) {
      if (pairs.has(h.id) || hubOut.has(h.id)) continue;
      for (const k of pass.hubKeys(h.fields)) {
        const candidate = k ? index.get(k)?.find((a) => !taken.has(a.id) && (!pass.guard || pass.guard(h.fields, a.fields))) : undefined;
        if (!candidate) continue;
        pairs.set(h.id, candidate);
        taken.add(candidate.id);
        out.push({ kind: 'link', object: i.object, hubId: h.id, appId: candidate.id, matchedBy: pass.rule });
        break;
      }
    }
  }

  // Linked pairs merge like any change, from an empty base: each field differing is a conflict.
  for (const h of hubSide) {
    const a = pairs.get(h.id);
    if (!a) continue;
    const link: LinkState = { hubId: h.id, appId: a.id, base: {} };
    out.push(...updatesOf(i.object, os, i.codec, link, { id: h.id, fields: h.fields }, h.projection, a.projection, { hub: true, app: true })
      .filter((d) => d.kind !== 'skip'));
  }

  // Left out as duplicates: a record whose first key (email, domain, SKU) a linked pair or
  // an earlier record of its side already has.
  const primary = passesFor(i.object, i.support.hasDomain)[0];
  const owner = new Map<string, string>();
  for (const h of hubSide) {
    const a = pairs.get(h.id);
    if (!a || !primary) continue;
    for (const k of [...primary.hubKeys(h.fields), ...primary.appKeys(a.fields)]) if (k) owner.set(`hub:${k}`, h.id).set(`app:${k}`, a.id);
  }
  const firstOf = (side: 'hub' | 'app', keys: (string | null)[], id: string): string | undefined => {
    for (const k of keys) {
      if (!k) continue;
      const prior = owner.get(`${side}:${k}`);
      if (prior) return prior;
      owner.set(`${side}:${k}`, id);
    }
    return undefined;
  };
  for (const h of hubSide) {
    if (pairs.has(h.id) || hubOut.has(h.id)) continue;
    const dup = primary ? firstOf('hub', primary.hubKeys(h.fields), h.id) : undefined;
    if (dup) { out.push({ kind: 'skip', object: i.object, reason: 'duplicate', hubId: h.id, detail: `same ${primary!.rule} as hub record ${dup}` }); continue; }
    if (os.direction === 'from-app') continue;
    out.push(...decideChange({ settings: i.settings, object: i.object, codec: i.codec, changed: 'hub', link: null, hub: { id: h.id, fields: h.fields }, app: null, now: i.now }));
  }
  for (const a of appSide) {
    if (taken.has(a.id) || appOut.has(a.id)) continue;
    const keys = primary ? primary.appKeys(a.fields) : [];
    const dup = firstOf('app', keys, a.id);
    if (dup) { out.push({ kind: 'skip', object: i.object, reason: 'duplicate', appId: a.id, detail: `same ${primary!.rule} as app record ${dup}` }); continue; }
    if (os.direction === 'to-app') continue;
    out.push(...decideChange({ settings: i.settings, object: i.object, codec: i.codec, changed: 'app', link: null, hub: null, app: appById.get(a.id)!, now: i.now }));
  }
  return out;
}

/** A contact's company domain when the app record carries one (a hint for name-and-domain). */
function companyDomainOf(a: AppRecord): Record<string, unknown> {
  const d = a.properties.companyDomain ?? a.properties['company.domain'];
  return typeof d === 'string' ? { companyDomain: d } : {};
}

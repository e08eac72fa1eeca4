/**
 * Field mappings: the connector's defaults, each of which can be turned off, plus the
 * user's custom mappings (a field picked on each side). A record is projected onto its
 * mappings in hub terms — `{ mappingKey: value }` — so both sides compare value for value;
 * writes are made from a projection back into the target side's own fields.
 */
import type { FieldMapping, HubValue, ValueCodec } from '../connector.ts';
import { raiseSync } from '../transport.ts';
import { normalize } from './values.ts';

export type Projection = Record<string, HubValue>;

/** The key of a mapping in projections, bases and conflicts: `email=email`, `firstName+lastName=name`. */
export function mappingKey(m: FieldMapping): string {
  return `${typeof m.hub === 'string' ? m.hub : m.hub.join('+')}=${m.app}`;
}

export interface MappingChanges {
  /** Keys of default mappings turned off. */
  off?: readonly string[];
  /** The user's own field pairs (Operations Hub's custom mappings); `enabled: false` turns one off. */
  custom?: readonly FieldMapping[];
}

/**
 * The mappings in force: defaults minus those turned off, plus enabled custom ones. A custom
 * mapping replaces a default of the same app field. Refuses (SYNC_MAPPING_INVALID) two
 * enabled mappings writing one field on either side.
 */
export function effectiveMappings(defaults: readonly FieldMapping[], changes: MappingChanges = {}): FieldMapping[] {
  const off = new Set(changes.off ?? []);
  const custom = (changes.custom ?? []).map((m) => ({ ...m, custom: true }));
  const replaced = new Set(custom.map((m) => m.app));
  const all = [...defaults.filter((m) => !replaced.has(m.app)), ...custom]
    .map((m) => ({ ...m, enabled: m.enabled !== false && !off.has(mappingKey(m)) }));
  const active = all.filter((m) => m.enabled);
  const seen = new Map<string, string>();
  for (const m of active) {
    for (const field of [...(typeof m.hub === 'string' ? [m.hub] : m.hub).map((h) => `hub field ${h}`), `app field ${m.app}`]) {
      const other = seen.get(field);
      if (other) throw raiseSync('SYNC_MAPPING_INVALID', `${field} is in two mappings: ${other} and ${mappingKey(m)}`);
      seen.set(field, mappingKey(m));
    }
    if (m.type === 'fullName' && typeof m.hub === 'string') throw raiseSync('SYNC_MAPPING_INVALID', `${mappingKey(m)}: a fullName mapping names two hub fields`);
  }
  return active;
}

const reverse = (m: FieldMapping, appValue: HubValue): HubValue => {
  if (!m.values || typeof appValue !== 'string') return appValue;
  const hit = Object.entries(m.values).find(([, a]) => a === appValue);
  return hit ? hit[0] : appValue;
};

/** A hub record's fields onto the mappings (hub terms, normalised). */
export function projectHub(fields: Readonly<Record<string, unknown>>, mappings: readonly FieldMapping[]): Projection {
  const out: Projection = {};
  for (const m of mappings) {
    const raw = typeof m.hub === 'string' ? fields[m.hub] : m.hub.map((h) => fields[h]).filter((v) => typeof v === 'string' && v.trim() !== '').join(' ');
    out[mappingKey(m)] = normalize(raw, m.type);
  }
  return out;
}

/** An app record's properties onto the mappings, decoded by the connector's codec into hub terms. */
export function projectApp(properties: Readonly<Record<string, unknown>>, mappings: readonly FieldMapping[], codec: ValueCodec): Projection {
  const out: Projection = {};
  for (const m of mappings) out[mappingKey(m)] = normalize(reverse(m, codec.toHub(properties[m.app], m.type, properties)), m.type);
  return out;
}

/** A projection as a hub-shaped record (`{ email, firstName, lastName, … }`), for rules and matching. */
export function asHubFields(p: Projection, mappings: readonly FieldMapping[]): Record<string, HubValue> {
  const out: Record<string, HubValue> = {};
  for (const m of mappings) Object.assign(out, hubFieldsOf(m, p[mappingKey(m)] ?? null));
  return out;
}

/** The hub fields one mapping writes: a full name is split at its first space. */
export function hubFieldsOf(m: FieldMapping, value: HubValue): Record<string, HubValue> {
  if (typeof m.hub === 'string') return { [m.hub]: value };
  const text = typeof value === 'string' ? value.trim() : '';
  const cut = text.indexOf(' ');
  const [first, last] = cut < 0 ? [text, ''] : [text.slice(0, cut), text.slice(cut + 1)];
  return { [m.hub[0]]: first === '' ? null : first, [m.hub[1]]: last === '' ? null : last };
}

/** The app properties for these mapping values (hub terms → the app's wire values). */
export function appPropertiesOf(values: Projection, mappings: readonly FieldMapping[], codec: ValueCodec, hubFields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of mappings) {
    const key = mappingKey(m);
    if (!(key in values)) continue;
    const v = values[key] ?? null;
    const mapped = typeof v === 'string' && m.values?.[v] !== undefined ? m.values[v] : v;
    out[m.app] = codec.toApp(mapped, m.type, hubFields);
  }
  return out;
}

/** The hub fields for these mapping values. */
export function hubPropertiesOf(values: Projection, mappings: readonly FieldMapping[]): Record<string, HubValue> {
  const out: Record<string, HubValue> = {};
  for (const m of mappings) {
    const key = mappingKey(m);
    if (key in values) Object.assign(out, hubFieldsOf(m, values[key] ?? null));
  }
  return out;
}

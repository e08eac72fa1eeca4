/**
 * A sync connection as users configure it (seed 003): one account of one app, the objects
 * chosen (in the seed's names: contacts, companies, deals, products, invoices, activities),
 * and per object the direction, the conflict winner, the field mappings (the app's
 * defaults, each of which can be turned off, plus custom ones) and the sync rules. The api
 * checks and stores it and publishes it on `sync.connections`; the reconciler turns it into
 * the `SyncSettings` the pure reconcile logic takes. Secrets are never here, only the names
 * of stored credentials.
 */
import type { FieldMapping, ObjectSupport, SyncObject, ValueType } from './connector.ts';
import { hubspotObjects } from './hubspot/mappings.ts';
import { stripeObjects } from './stripe/mappings.ts';
import { effectiveMappings, mappingKey, type MappingChanges } from './reconcile/mapping.ts';
import type { Direction, ObjectSettings, Side, SyncRules, SyncSettings } from './reconcile/types.ts';
import type { WantedState } from './lifecycle.ts';
import { raise } from '../errors/index.ts';
import { validateRule, type Rule } from '../rules/index.ts';

export const syncApps = ['hubspot', 'stripe'] as const;
export type SyncApp = (typeof syncApps)[number];

export const seedObjects = ['contacts', 'companies', 'deals', 'products', 'invoices', 'activities'] as const;
export type SeedObject = (typeof seedObjects)[number];

/** The hub objects behind each of the seed's objects. */
export const hubObjectsOf: Readonly<Record<SeedObject, readonly SyncObject[]>> = {
  contacts: ['people'], companies: ['companies'], deals: ['opportunities'], products: ['products'], invoices: ['invoices'], activities: ['notes', 'tasks'],
};

export function seedObjectOf(object: SyncObject): SeedObject {
  return (Object.entries(hubObjectsOf) as [SeedObject, readonly SyncObject[]][]).find(([, hub]) => hub.includes(object))![0];
}

export const appObjects: Readonly<Record<SyncApp, Readonly<Partial<Record<SyncObject, ObjectSupport>>>>> = { hubspot: hubspotObjects, stripe: stripeObjects };

/** The objects a new connection syncs until told otherwise (the rest are offered, off). */
const ENABLED_BY_DEFAULT: ReadonlySet<SeedObject> = new Set(['contacts', 'companies']);

export const directions = ['two-way', 'to-app', 'from-app'] as const;

/** One mapping as users see and set it; `hub` is `firstName+lastName` for a full-name pair; `object` for activities (notes | tasks). */
export interface MappingSetting {
  hub: string;
  app: string;
  enabled: boolean;
  type?: ValueType;
  object?: SyncObject;
  custom?: boolean;
}

export interface ObjectConfig {
  enabled: boolean;
  direction: Direction;
  conflictWinner: Side;
  mappings: MappingSetting[];
  rules: SyncRules;
}

export interface SyncConnection {
  connectionId: string;
  workspaceId: string;
  app: SyncApp;
  name: string;
  /** Stored credential (bearer) the connector authenticates with. */
  credential: string;
  /** Stored credential (webhook-secret) the app signs its webhooks with; null: webhooks are refused, polling alone syncs. */
  webhookCredential: string | null;
  baseUrl: string | null;
  /** Polling reconciliation interval of this connection; null: the reconciler's default. */
  pollIntervalMs: number | null;
  state: WantedState;
  revision: number;
  /** Settings the user changed; `objectConfig` fills in the app's defaults for the rest. */
  objects: Partial<Record<SeedObject, ObjectConfig>>;
  createdAt: string;
  updatedAt: string;
}

export function supports(app: SyncApp, seed: SeedObject): boolean {
  return hubObjectsOf[seed].every((o) => appObjects[app][o] !== undefined);
}

const hubName = (m: FieldMapping): string => (typeof m.hub === 'string' ? m.hub : m.hub.join('+'));

/** The app's default mappings of a seed object, as settings. */
export function defaultMappingSettings(app: SyncApp, seed: SeedObject): MappingSetting[] {
  const several = hubObjectsOf[seed].length > 1;
  return hubObjectsOf[seed].flatMap((o) => (appObjects[app][o]?.mappings ?? []).map((m) => ({
    hub: hubName(m), app: m.app, enabled: true, type: m.type, ...(several ? { object: o } : {}),
  })));
}

/** A seed object's settings: what the user set, or the app's defaults. */
export function objectConfig(c: Pick<SyncConnection, 'app' | 'objects'>, seed: SeedObject): ObjectConfig {
  return c.objects[seed] ?? {
    enabled: supports(c.app, seed) && ENABLED_BY_DEFAULT.has(seed), direction: 'two-way', conflictWinner: 'app',
    mappings: defaultMappingSettings(c.app, seed), rules: {},
  };
}

/** The hub objects a connection syncs now. */
export function enabledObjects(c: Pick<SyncConnection, 'app' | 'objects'>): SyncObject[] {
  return seedObjects.filter((s) => supports(c.app, s) && objectConfig(c, s).enabled).flatMap((s) => hubObjectsOf[s]);
}

/** Mapping settings → the changes effectiveMappings applies to the connector's defaults, for one hub object. */
function mappingChanges(defaults: readonly FieldMapping[], settings: readonly MappingSetting[], object: SyncObject): MappingChanges {
  const off: string[] = [];
  const custom: FieldMapping[] = [];
  for (const s of settings) {
    if (s.object !== undefined && s.object !== object) continue;
    const d = defaults.find((m) => m.app === s.app && hubName(m) === s.hub);
    if (d) {
      if (!s.enabled) off.push(mappingKey(d));
      continue;
    }
    const hub = s.hub.includes('+') ? s.hub.split('+', 2) as [string, string] : s.hub;
    custom.push({ hub, app: s.app, type: s.type ?? (Array.isArray(hub) ? 'fullName' : 'string'), enabled: s.enabled });
  }
  // Defaults absent from the settings stay as they are (on).
  return { off, custom };
}

export function mappingsOf(app: SyncApp, object: SyncObject, config: ObjectConfig): FieldMapping[] {
  return effectiveMappings(appObjects[app][object]?.mappings ?? [], mappingChanges(appObjects[app][object]?.mappings ?? [], config.mappings, object));
}

/** The settings the reconcile logic takes: objects of a connection that is active. */
export function settingsOf(c: SyncConnection): SyncSettings {
  const objects: Partial<Record<SyncObject, ObjectSettings>> = {};
  for (const seed of seedObjects) {
    const config = objectConfig(c, seed);
    if (!config.enabled || !supports(c.app, seed)) continue;
    for (const o of hubObjectsOf[seed]) {
      objects[o] = { direction: config.direction, winner: config.conflictWinner, mappings: mappingsOf(c.app, o, config), rules: config.rules };
    }
  }
  return { connectionId: c.connectionId, enabled: c.state === 'active', objects };
}

/** App property names of custom mappings per object (HubSpot reads only the properties it is asked for). */
export function customProperties(c: SyncConnection): Partial<Record<SyncObject, string[]>> {
  const out: Partial<Record<SyncObject, string[]>> = {};
  for (const seed of seedObjects) {
    for (const o of hubObjectsOf[seed]) {
      const extra = objectConfig(c, seed).mappings.filter((m) => (m.object ?? o) === o).map((m) => m.app);
      if (extra.length > 0) out[o] = extra;
    }
  }
  return out;
}

const bad = (path: string, message: string) => raise('BODY_INVALID', message, { path });
const FIELD = /^[A-Za-z_][A-Za-z0-9_.]{0,99}(\+[A-Za-z_][A-Za-z0-9_.]{0,99})?$/;
const valueTypes: readonly ValueType[] = ['string', 'email', 'number', 'boolean', 'date', 'datetime', 'money', 'fullName'];

/**
 * A PUT body (`{"enabled", "direction", "conflictWinner", "mappings"?, "rules"?}`),
 * checked beyond its JSON Schema: the object is one the app has, the mappings write no
 * field twice, the rules are valid JSON Logic. Refusals are BODY_INVALID with the path.
 */
export function parseObjectConfig(app: SyncApp, seed: SeedObject, body: Record<string, unknown>): ObjectConfig {
  const enabled = body.enabled as boolean;
  if (enabled && !supports(app, seed)) throw bad('/enabled', `${app} has no ${seed} to sync`);
  const mappings = body.mappings === undefined ? defaultMappingSettings(app, seed) : (body.mappings as Record<string, unknown>[]).map((m, i) => {
    if (typeof m.hub !== 'string' || !FIELD.test(m.hub)) throw bad(`/mappings/${i}/hub`, 'hub must name a hub field (letters, digits, _ and .), or two joined by + for a full name');
    if (typeof m.app !== 'string' || !FIELD.test(m.app) || m.app.includes('+')) throw bad(`/mappings/${i}/app`, 'app must name one property of the app');
    if (m.type !== undefined && !valueTypes.includes(m.type as ValueType)) throw bad(`/mappings/${i}/type`, `type must be one of ${valueTypes.join(', ')}`);
    if (m.object !== undefined && !hubObjectsOf[seed].includes(m.object as SyncObject)) throw bad(`/mappings/${i}/object`, `object must be one of ${hubObjectsOf[seed].join(', ')}`);
    const several = hubObjectsOf[seed].length > 1;
    if (several && m.object === undefined) throw bad(`/mappings/${i}/object`, `a mapping of ${seed} names its object: ${hubObjectsOf[seed].join(' or ')}`);
    return { hub: m.hub, app: m.app, enabled: m.enabled !== false, ...(m.type ? { type: m.type as ValueType } : {}), ...(m.object ? { object: m.object as SyncObject } : {}) };
  });
  const r = (body.rules ?? {}) as Record<string, unknown>;
  const rules: SyncRules = {};
  if (r.requireEmail !== undefined) rules.requireEmail = r.requireEmail as boolean;
  for (const side of ['toApp', 'fromApp'] as const) {
    if (r[side] === undefined) continue;
    try {
      validateRule(r[side], `/rules/${side}`);
    } catch (err) {
      const e = err as { message?: string; path?: string };
      throw bad(e.path ?? `/rules/${side}`, e.message ?? `rules.${side} is not a valid JSON Logic rule`);
    }
    rules[side] = r[side] as Rule;
  }
  const config: ObjectConfig = { enabled, direction: body.direction as Direction, conflictWinner: body.conflictWinner as Side, mappings, rules };
  for (const o of hubObjectsOf[seed]) {
    try {
      if (supports(app, seed)) mappingsOf(app, o, config);
    } catch (err) {
      throw bad('/mappings', (err as Error).message);
    }
  }
  return config;
}

/** The JSON Schema of a PUT body, for route validation and /docs. */
export const objectConfigSchema = {
  type: 'object', required: ['enabled', 'direction', 'conflictWinner'], additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    direction: { type: 'string', enum: [...directions] },
    conflictWinner: { type: 'string', enum: ['app', 'hub'], description: 'whose value wins when both sides changed a field (an empty winner keeps the other value)' },
    mappings: {
      type: 'array', maxItems: 200,
      items: {
        type: 'object', required: ['hub', 'app'], additionalProperties: false,
        properties: {
          hub: { type: 'string', maxLength: 201 }, app: { type: 'string', maxLength: 100 }, enabled: { type: 'boolean' },
          type: { type: 'string', enum: [...valueTypes] }, object: { type: 'string' }, custom: { type: 'boolean', description: 'shown on answers; ignored' },
        },
      },
    },
    rules: {
      type: 'object', additionalProperties: false,
      properties: {
        requireEmail: { type: 'boolean', description: 'only contacts with a valid email sync (default true for contacts)' },
        toApp: { description: 'JSON Logic over {record} (hub fields): which hub records go to the app' },
        fromApp: { description: 'JSON Logic over {record, app}: which app records come into the hub' },
      },
    },
  },
} as const;

/** The settings of one object as answers show them: defaults marked, custom mappings flagged. */
export function objectView(c: Pick<SyncConnection, 'app' | 'objects'>, seed: SeedObject): ObjectConfig & { object: SeedObject; supported: boolean; hubObjects: readonly SyncObject[] } {
  const config = objectConfig(c, seed);
  const defaults = defaultMappingSettings(c.app, seed);
  const isDefault = (m: MappingSetting) => defaults.some((d) => d.app === m.app && d.hub === m.hub && d.object === m.object);
  const listed = [...config.mappings.map((m) => ({ ...m, custom: !isDefault(m) })), ...defaults.filter((d) => !config.mappings.some((m) => m.app === d.app && m.hub === d.hub && m.object === d.object))];
  return { object: seed, supported: supports(c.app, seed), hubObjects: hubObjectsOf[seed], ...config, mappings: listed };
}

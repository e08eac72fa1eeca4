/**
 * The one formatter of Ajv's errors, for route validation (libs/http-server) and for
 * workflow definitions (libs/workflow): one problem, a JSON pointer to it and a sentence
 * that names the field.
 *
 * The first problem in document order: at a value, first the value itself (wrong type,
 * out of range), then its unknown keys, then its missing ones, then its children in the
 * order they are written. A failed anyOf whose schema says what it wants (`x-message`) is
 * one problem; otherwise the alternative that got furthest is the one the caller meant
 * (a batch whose third event is wrong is not "missing type" as a single event).
 *
 * A schema's `x-message` (compile.ts) replaces the generated sentence, except for missing
 * and unknown keys; `{value}` in it stands for the refused value, `{known}` for a
 * discriminator's known tags.
 */
import type { ErrorObject } from 'ajv';
import { escapePointer, isPlainObject, kindOf, unescapePointer } from '../json/index.ts';
import type { JsonSchema } from './compile.ts';
import { describe, describeType, show } from './describe.ts';

export interface SchemaProblem {
  path: string;
  message: string;
}

export interface ProblemOptions {
  /**
   * Whether a message may quote the refused value: a workflow's author reads `"a b" is not
   * a valid header name` and `…, got 2.5`; a request never has what it sent (nor its kind)
   * repeated, since bodies and headers carry secrets (credentials, keys). Hidden, `{value}`
   * reads "the value" and a bad field name is reported at its object.
   */
  showValues: boolean;
  /**
   * How a broken constraint is worded: what the schema accepts ("must be an integer from
   * 1 to 10", with ", got …" on a wrong type), or the keyword that failed, in Ajv's words
   * ("must be >= 1").
   */
  describe: boolean;
  /** What the whole document is called: "body", "the definition". */
  root: string;
  /** The document, to order problems as written; without it, Ajv's order. */
  data?: unknown;
  /** Prefix of every path ("/query" for a query string); default ''. */
  at?: string;
  /** What an unknown key is called: "field" (default), "query parameter". */
  key?: string;
}

interface Located { tokens: string[]; order: number[]; message: string }

const has = (v: unknown, key: string): boolean => isPlainObject(v) && Object.prototype.hasOwnProperty.call(v, key);

function label(tokens: readonly string[], root: string): string {
  const last = tokens.at(-1);
  if (last === undefined) return root;
  return /^\d+$/.test(last) ? `item ${last} of ${label(tokens.slice(0, -1), root)}` : last;
}

function messageFor(schema: unknown, keyword: string): string | undefined {
  const m = isPlainObject(schema) ? schema['x-message'] : undefined;
  if (typeof m === 'string') return m;
  if (isPlainObject(m)) {
    const specific = m[keyword] ?? m.default;
    return typeof specific === 'string' ? specific : undefined;
  }
  return undefined;
}

/** The tags a discriminated `oneOf` knows, in order. */
function knownTags(schema: unknown, tag: string): string[] {
  const branches = isPlainObject(schema) && Array.isArray(schema.oneOf) ? schema.oneOf : [];
  return branches.flatMap((b: unknown) => {
    const p = isPlainObject(b) && isPlainObject(b.properties) ? b.properties[tag] : undefined;
    if (!isPlainObject(p)) return [];
    return Array.isArray(p.enum) ? p.enum.map(String) : p.const === undefined ? [] : [String(p.const)];
  });
}

/**
 * Where in document order a problem sits: per level, 3 then the child's position; at the
 * level of the problem, 0 (the value itself), 1 (an unknown key), or 2 (a missing key).
 */
function orderOf(data: unknown, tokens: readonly string[]): number[] {
  const order: number[] = [];
  let node = data;
  for (const t of tokens) {
    const position = Array.isArray(node) ? Number(t) : isPlainObject(node) ? Object.keys(node).indexOf(t) : -1;
    order.push(3, position < 0 ? Number.MAX_SAFE_INTEGER : position);
    node = isPlainObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[t] : undefined;
  }
  return order;
}

function locate(e: ErrorObject, o: ProblemOptions): Located | undefined {
  const node = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/').map(unescapePointer);
  const base = orderOf(o.data, node);
  const value: unknown = e.data;
  const schema = e.parentSchema;
  const p = e.params as Record<string, unknown>;
  const child = (key: string): number => (Array.isArray(value) ? Number(key) : isPlainObject(value) ? Object.keys(value).indexOf(key) : -1);
  const fill = (template: string, v: () => unknown, known = ''): string =>
    template.replace(/\{(value|known)\}/g, (_all, k: string) => (k === 'known' ? known : o.showValues ? show(v()) : 'the value'));
  const propertyName = (e as { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    const own = messageFor(schema, e.keyword);
    const message = own ?? (o.describe ? `field names must be ${describe(schema as JsonSchema)}` : `field names ${e.message ?? 'are invalid'}`);
    const tokens = o.showValues ? [...node, propertyName] : node;
    return { tokens, order: [...base, 3, child(propertyName), 0], message: fill(message, () => propertyName) };
  }
  switch (e.keyword) {
    case 'propertyNames':
      return undefined; // reported by the errors of its subschema, which name the key
    case 'required': {
      const key = String(p.missingProperty);
      const required = isPlainObject(schema) && Array.isArray(schema.required) ? schema.required : [];
      return { tokens: [...node, key], order: [...base, 2, required.indexOf(key)], message: `${key} is required` };
    }
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = isPlainObject(schema) && isPlainObject(schema.properties) ? Object.keys(schema.properties) : [];
      const message = `unknown ${o.key ?? 'field'} "${key}"${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`;
      return { tokens: [...node, key], order: [...base, 1, child(key)], message };
    }
    case 'discriminator': {
      const tag = String(p.tag);
      const template = messageFor(schema, 'discriminator') ?? `${tag} must be one of {known}`;
      // A missing tag sorts after the missing keys a schema requires ("type is required" wins).
      const order = has(value, tag) ? [...base, 3, child(tag), 0] : [...base, 2, 1000];
      return { tokens: [...node, tag], order, message: fill(template, () => p.tagValue, knownTags(schema, tag).join(', ')) };
    }
    case 'uniqueItems': {
      // The later of the two equal items is the repetition (Ajv names them either way round).
      const i = String(Math.max(Number(p.i), Number(p.j)));
      const template = messageFor(schema, 'uniqueItems') ?? `${label(node, o.root)} must not repeat {value} (items ${Math.min(Number(p.i), Number(p.j))} and ${i})`;
      return { tokens: [...node, i], order: [...base, 3, Number(i), 0], message: fill(template, () => (value as unknown[])[Number(i)]) };
    }
    default: {
      const onParent = isPlainObject(schema) && schema['x-report-on-parent'] === true && node.length > 0;
      const at = onParent ? node.slice(0, -1) : node;
      const order = [...(onParent ? orderOf(o.data, at) : base), 0];
      const own = messageFor(schema, e.keyword);
      const what = label(at, o.root);
      const root = at.length === 0;
      if (!o.describe && own === undefined) return { tokens: at, order, message: keywordSentence(e, what, root) };
      const template = own ?? `${what} must be ${describe(schema as JsonSchema, root)}`;
      // "got number" would not help when an integer was expected.
      const got = e.keyword !== 'type' || !o.showValues ? '' : p.type === 'integer' && typeof value === 'number' ? `, got ${value}` : `, got ${kindOf(value)}`;
      return { tokens: at, order, message: `${fill(template, () => value)}${got}` };
    }
  }
}

/** The keyword that failed, in Ajv's words (which never quote the value). */
function keywordSentence(e: ErrorObject, what: string, root: boolean): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'type') return `${what} must be ${describeType(String(p.type), root)}`;
  if (e.keyword === 'enum') return `${what} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
  return `${what} ${e.message ?? 'is invalid'}`;
}

const depth = (e: ErrorObject) => (e.instancePath === '' ? 0 : e.instancePath.split('/').length - 1) + (e.keyword === 'required' || e.keyword === 'additionalProperties' ? 1 : 0);
/** Among equally deep errors: one about a field that is there says more than one about a field that is missing. */
const weight: Record<string, number> = { additionalProperties: 3, type: 1, required: 0 };

/** The error that names the deepest field (the first of equals). */
function furthest(errors: readonly ErrorObject[]): ErrorObject {
  return errors.reduce((best, e) => {
    const d = depth(e) - depth(best);
    return d > 0 || (d === 0 && (weight[e.keyword] ?? 2) > (weight[best.keyword] ?? 2)) ? e : best;
  });
}

/**
 * The errors of a failed anyOf/oneOf's alternatives: Ajv lists them just before it. One
 * from a schema referenced by `$id` (`RecordEvent#/…`) has a path outside the group's.
 */
function alternatives(errors: readonly ErrorObject[], g: ErrorObject): ErrorObject[] {
  const inside = (e: ErrorObject) => e.instancePath.startsWith(g.instancePath) && (e.schemaPath.startsWith(`${g.schemaPath}/`) || !e.schemaPath.startsWith('#'));
  let first = errors.indexOf(g);
  while (first > 0 && inside(errors[first - 1]!)) first--;
  return errors.slice(first, errors.indexOf(g));
}

/** Ajv's errors less the alternatives of each failed anyOf/oneOf but one (see the module comment). */
function candidates(errors: readonly ErrorObject[]): ErrorObject[] {
  let kept = errors.filter((e) => e.keyword !== 'if');
  for (const g of errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')) {
    const members = alternatives(errors, g);
    if (members.length === 0) continue;
    const keep = messageFor(g.parentSchema, g.keyword) !== undefined ? g : furthest(members);
    kept = kept.filter((e) => e === keep || (e !== g && !members.includes(e)));
  }
  return kept;
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** The first problem among Ajv's errors (compiled with `verbose`, so each error has its data and schema). */
export function schemaProblem(errors: readonly ErrorObject[], o: ProblemOptions): SchemaProblem {
  let best: Located | undefined;
  for (const e of candidates(errors)) {
    const found = locate(e, o);
    if (found && (!best || compare(found.order, best.order) < 0)) best = found;
  }
  const at = o.at ?? '';
  if (!best) return { path: at, message: `${o.root} does not match its schema` };
  return { path: at + best.tokens.map((t) => `/${escapePointer(t)}`).join(''), message: best.message };
}

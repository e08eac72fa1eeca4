/**
 * JSON Schema for workflow definitions, compiled by Ajv (the Ajv fastify carries), and
 * Ajv's errors turned into ours: one problem, a JSON pointer to it and a sentence that
 * names the field and what it may be.
 *
 * Our schemas carry two annotations (`x-` keywords, kept as extensions in OpenAPI):
 * - `x-message`: what the value must be, as a sentence, used instead of the generated
 *   one; or per keyword `{ default?, pattern?, discriminator?, uniqueItems?, … }`.
 *   `{value}` is replaced by the offending value (JSON), `{known}` by a discriminator's
 *   known tags. A type error adds ", got <kind>".
 * - `x-report-on-parent`: a problem with an item is reported at its list (a list of
 *   statuses is one setting, not many).
 *
 * The first problem in document order: at a value, first the value itself (wrong type,
 * out of range), then its unknown keys, then its missing ones, then its children in the
 * order they are written.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { escapePointer, isPlainObject, kindOf, unescapePointer } from '../json/index.ts';

export type JsonSchema = { [keyword: string]: unknown };

export interface SchemaProblem {
  path: string;
  message: string;
}

const annotations = ['x-message', 'x-report-on-parent'] as const;

/** A fresh Ajv per compiled schema: schemas keep their `$id`, compiled variants never collide. */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, discriminator: true, allowUnionTypes: true, strict: true, strictRequired: false });
  ajv.addVocabulary([...annotations]);
  return ajv.compile(schema);
}

const unesc = unescapePointer;
const pointer = (tokens: readonly string[]): string => tokens.map((t) => `/${escapePointer(t)}`).join('');
const isObject = isPlainObject;
const has = (v: unknown, key: string): boolean => isObject(v) && Object.prototype.hasOwnProperty.call(v, key);

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

const orList = (items: readonly string[]): string => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`);

function range(min: unknown, max: unknown, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (typeof min === 'number' && typeof max === 'number') return ` from ${min} to ${max}${u}`;
  if (typeof min === 'number') return ` of at least ${min}${u}`;
  if (typeof max === 'number') return ` of at most ${max}${u}`;
  return '';
}

/** What a schema accepts, in words: "an integer from 1 to 1000", "a non-empty string of at most 200 characters". */
export function describe(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => (typeof v === 'string' ? v : show(v))).join(', ')}`;
  if (s.const !== undefined) return show(s.const);
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  const words = types.map((type) => {
    switch (type) {
      case 'string': {
        const min = typeof s.minLength === 'number' ? s.minLength : 0;
        const head = min === 1 || s.pattern === '\\S' ? 'a non-empty string' : 'a string';
        const length = min > 1 ? range(min, s.maxLength, 'characters').replace(' from ', ' of ') : range(undefined, s.maxLength, 'characters');
        return `${head}${length}`;
      }
      case 'integer': return `an integer${range(s.minimum, s.maximum)}`;
      case 'number': return `a number${range(s.minimum, s.maximum)}`;
      case 'boolean': return 'true or false';
      case 'array': {
        const min = typeof s.minItems === 'number' && s.minItems > 0 ? s.minItems : undefined;
        return `an array${range(min, s.maxItems, 'items').replace(/^ from (\d+) to/, ' of $1 to')}`;
      }
      case 'object': return 'an object';
      default: return type;
    }
  });
  return words.length > 0 ? orList(words) : 'valid';
}

function label(tokens: readonly string[]): string {
  const last = tokens.at(-1);
  if (last === undefined) return 'the definition';
  return /^\d+$/.test(last) ? `item ${last} of ${label(tokens.slice(0, -1))}` : last;
}

function messageFor(schema: unknown, keyword: string): string | undefined {
  const m = isObject(schema) ? schema['x-message'] : undefined;
  if (typeof m === 'string') return m;
  if (isObject(m)) {
    const specific = m[keyword] ?? m.default;
    return typeof specific === 'string' ? specific : undefined;
  }
  return undefined;
}

const fill = (template: string, values: Record<string, string>): string => template.replace(/\{(value|known)\}/g, (all, k: string) => values[k] ?? all);

/** The tags a discriminated `oneOf` knows, in order. */
function knownTags(schema: unknown, tag: string): string[] {
  const branches = isObject(schema) && Array.isArray(schema.oneOf) ? schema.oneOf : [];
  return branches.flatMap((b: unknown) => {
    const p = isObject(b) && isObject(b.properties) ? b.properties[tag] : undefined;
    if (!isObject(p)) return [];
    return Array.isArray(p.enum) ? p.enum.map(String) : p.const === undefined ? [] : [String(p.const)];
  });
}

interface Located { tokens: string[]; order: number[]; message: string }

/**
 * Where in document order a problem sits: per level, 3 then the child's position; at the
 * level of the problem, 0 (the value itself), 1 (an unknown key), or 2 (a missing key).
 */
function orderOf(data: unknown, tokens: readonly string[]): number[] {
  const order: number[] = [];
  let node = data;
  for (const t of tokens) {
    const position = Array.isArray(node) ? Number(t) : isObject(node) ? Object.keys(node).indexOf(t) : -1;
    order.push(3, position < 0 ? Number.MAX_SAFE_INTEGER : position);
    node = isObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[t] : undefined;
  }
  return order;
}

function valueAt(data: unknown, tokens: readonly string[]): unknown {
  let node = data;
  for (const t of tokens) node = isObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[t] : undefined;
  return node;
}

function locate(e: ErrorObject, data: unknown): Located | undefined {
  const node = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/').map(unesc);
  const base = orderOf(data, node);
  const value = valueAt(data, node);
  const schema = e.parentSchema;
  const p = e.params as Record<string, unknown>;
  const child = (key: string): number => (Array.isArray(value) ? Number(key) : Object.keys(value as object).indexOf(key));
  const propertyName = (e as { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    const message = messageFor(schema, e.keyword) ?? `field names must be ${describe(schema as JsonSchema)}`;
    return { tokens: [...node, propertyName], order: [...base, 3, child(propertyName), 0], message: fill(message, { value: show(propertyName) }) };
  }
  switch (e.keyword) {
    case 'propertyNames':
      return undefined; // reported by the errors of its subschema, which name the key
    case 'required': {
      const key = String(p.missingProperty);
      const required = isObject(schema) && Array.isArray(schema.required) ? schema.required : [];
      return { tokens: [...node, key], order: [...base, 2, required.indexOf(key)], message: `${key} is required` };
    }
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = isObject(schema) && isObject(schema.properties) ? Object.keys(schema.properties) : [];
      return { tokens: [...node, key], order: [...base, 1, child(key)], message: `unknown field "${key}"; allowed: ${allowed.join(', ')}` };
    }
    case 'discriminator': {
      const tag = String(p.tag);
      const known = knownTags(schema, tag).join(', ');
      const template = messageFor(schema, 'discriminator') ?? `${tag} must be one of {known}`;
      // A missing tag sorts after the missing keys a schema requires ("type is required" wins).
      const order = has(value, tag) ? [...base, 3, child(tag), 0] : [...base, 2, 1000];
      return { tokens: [...node, tag], order, message: fill(template, { value: show(p.tagValue), known }) };
    }
    case 'uniqueItems': {
      // The later of the two equal items is the repetition (Ajv names them either way round).
      const i = String(Math.max(Number(p.i), Number(p.j)));
      const template = messageFor(schema, 'uniqueItems') ?? `${label(node)} must not repeat {value} (items ${Math.min(Number(p.i), Number(p.j))} and ${i})`;
      return { tokens: [...node, i], order: [...base, 3, Number(i), 0], message: fill(template, { value: show((value as unknown[])[Number(i)]) }) };
    }
    default: {
      const onParent = isObject(schema) && schema['x-report-on-parent'] === true && node.length > 0;
      const at = onParent ? node.slice(0, -1) : node;
      const template = messageFor(schema, e.keyword) ?? `${label(at)} must be ${describe(schema as JsonSchema)}`;
      // "got number" would not help when an integer was expected.
      const got = e.keyword !== 'type' ? '' : p.type === 'integer' && typeof value === 'number' ? `, got ${value}` : `, got ${kindOf(value)}`;
      return { tokens: at, order: [...(onParent ? orderOf(data, at) : base), 0], message: `${fill(template, { value: show(value) })}${got}` };
    }
  }
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/**
 * The first problem among Ajv's errors (validated with allErrors and verbose). A failed
 * anyOf is one problem: the errors of its alternatives are dropped.
 */
export function firstProblem(errors: readonly ErrorObject[], data: unknown): SchemaProblem {
  const groups = errors.filter((e) => e.keyword === 'anyOf');
  const inGroup = (e: ErrorObject) => groups.some((g) => g !== e && e.schemaPath.startsWith(`${g.schemaPath}/`) && e.instancePath.startsWith(g.instancePath));
  let best: Located | undefined;
  for (const e of errors) {
    if (e.keyword === 'if' || inGroup(e)) continue;
    const found = locate(e, data);
    if (found && (!best || compare(found.order, best.order) < 0)) best = found;
  }
  if (!best) return { path: '', message: 'the definition does not match its schema' };
  return { path: pointer(best.tokens), message: best.message };
}

import { raise } from '../errors/index.ts';
import { escapePointer, isPlainObject } from '../json/index.ts';

/** What a hook (a webhook trigger) says its deliveries' bodies hold: field → type, required, format. */
export type FieldType = 'string' | 'number' | 'boolean' | 'object' | 'array';
export type FieldFormat = 'email' | 'uri' | 'date-time';
export interface ExpectedField { type: FieldType; required?: boolean; format?: FieldFormat }
export type ExpectedBody = Record<string, ExpectedField>;

const FIELD_TYPES: readonly FieldType[] = ['string', 'number', 'boolean', 'object', 'array'];
const FORMATS: readonly FieldFormat[] = ['email', 'uri', 'date-time'];
const METHODS = ['POST', 'GET'] as const;
const MAX_FIELDS = 200;
/**
 * Nesting levels a delivery body may have (as record events): publishing serialises it
 * with JSON.stringify, which recurses, so a body nested thousands of levels deep would
 * otherwise fail there as a 500 instead of being refused.
 */
const MAX_BODY_DEPTH = 64;

export interface HookDefinition {
  name: string;
  methods: ('POST' | 'GET')[];
  expectedBody: ExpectedBody;
  secret: string | null;
}

function refuseUnknown(obj: Record<string, unknown>, allowed: readonly string[], base: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw raise('BODY_INVALID', `unknown field "${key}"; allowed: ${allowed.join(', ')}`, { path: `${base}/${escapePointer(key)}` });
  }
}

function parseExpectedField(value: unknown, path: string): ExpectedField {
  if (!isPlainObject(value)) throw raise('BODY_INVALID', 'each expected field must be an object like {"type": "string"}', { path });
  refuseUnknown(value, ['type', 'required', 'format'], path);
  const { type, required, format } = value;
  if (typeof type !== 'string' || !(FIELD_TYPES as readonly string[]).includes(type)) {
    throw raise('BODY_INVALID', `type must be one of ${FIELD_TYPES.join(', ')}`, { path: `${path}/type` });
  }
  if (required !== undefined && typeof required !== 'boolean') throw raise('BODY_INVALID', 'required must be true or false', { path: `${path}/required` });
  if (format !== undefined) {
    if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format)) {
      throw raise('BODY_INVALID', `format must be one of ${FORMATS.join(', ')}`, { path: `${path}/format` });
    }
    if (type !== 'string') throw raise('BODY_INVALID', 'format applies to string fields only', { path: `${path}/format` });
  }
  return { type: type as FieldType, ...(required ? { required: true } : {}), ...(format ? { format: format as FieldFormat } : {}) };
}

/**
 * JSON Schema of `expectedBody`, for documents and the workflow definition's schema;
 * `parseHookDefinition` stays the judge (it also ties `format` to string fields).
 */
export const expectedBodySchema = {
  type: 'object',
  description: 'Field names of the delivery body to {"type", "required"?, "format"?}; undeclared fields are kept',
  maxProperties: MAX_FIELDS,
  propertyNames: { type: 'string', minLength: 1, maxLength: 100, 'x-message': 'field names must have 1 to 100 characters' },
  additionalProperties: {
    type: 'object',
    required: ['type'],
    additionalProperties: false,
    properties: {
      type: { enum: [...FIELD_TYPES] },
      required: { type: 'boolean' },
      format: { enum: [...FORMATS], description: 'string fields only' },
    },
    'x-message': 'each expected field must be an object like {"type": "string"}',
  },
  'x-message': {
    default: 'expectedBody must map field names to {"type", "required"?, "format"?}',
    maxProperties: `expectedBody may declare at most ${MAX_FIELDS} fields`,
  },
} as const;

/** Validates the body of `POST /v1/hooks` (and the webhook trigger of workflows). */
export function parseHookDefinition(body: unknown): HookDefinition {
  if (!isPlainObject(body)) throw raise('BODY_INVALID', 'body must be a JSON object', { path: '' });
  refuseUnknown(body, ['name', 'methods', 'expectedBody', 'secret'], '');
  const { name, methods, expectedBody, secret } = body;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) throw raise('BODY_INVALID', 'name must be a non-empty string of at most 200 characters', { path: '/name' });
  let methodList: ('POST' | 'GET')[] = ['POST'];
  if (methods !== undefined) {
    if (!Array.isArray(methods) || methods.length === 0 || methods.length > 2) throw raise('BODY_INVALID', 'methods must be ["POST"], ["GET"] or both', { path: '/methods' });
    methodList = methods.map((m, i) => {
      if (typeof m !== 'string' || !(METHODS as readonly string[]).includes(m.toUpperCase())) throw raise('BODY_INVALID', 'each method must be POST or GET', { path: `/methods/${i}` });
      return m.toUpperCase() as 'POST' | 'GET';
    });
    if (new Set(methodList).size !== methodList.length) throw raise('BODY_INVALID', 'methods must not repeat', { path: '/methods' });
  }
  const fields: ExpectedBody = {};
  if (expectedBody !== undefined) {
    if (!isPlainObject(expectedBody)) throw raise('BODY_INVALID', 'expectedBody must map field names to {"type", "required"?, "format"?}', { path: '/expectedBody' });
    const entries = Object.entries(expectedBody);
    if (entries.length > MAX_FIELDS) throw raise('BODY_INVALID', `expectedBody may declare at most ${MAX_FIELDS} fields`, { path: '/expectedBody' });
    for (const [field, spec] of entries) {
      const path = `/expectedBody/${escapePointer(field)}`;
      if (field.length === 0 || field.length > 100) throw raise('BODY_INVALID', 'field names must have 1 to 100 characters', { path });
      fields[field] = parseExpectedField(spec, path);
    }
  }
  if (secret !== undefined && secret !== null && (typeof secret !== 'string' || secret.length < 16 || secret.length > 200)) {
    throw raise('BODY_INVALID', 'secret must be a string of 16 to 200 characters (e.g. whsec_<base64>)', { path: '/secret' });
  }
  return { name: name.trim(), methods: methodList, expectedBody: fields, secret: typeof secret === 'string' ? secret : null };
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function checkFormat(value: string, format: FieldFormat): boolean {
  switch (format) {
    case 'email': return value.length <= 254 && EMAIL.test(value);
    case 'uri': try { return Boolean(new URL(value).protocol); } catch { return false; }
    case 'date-time': return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
  }
}

/** Form and query values are text: read them as the declared type when they say so clearly. */
function coerce(value: unknown, type: FieldType): unknown {
  if (typeof value !== 'string') return value;
  if (type === 'number' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value.trim())) return Number(value);
  if (type === 'boolean') {
    const v = value.trim().toLowerCase();
    if (['true', 'on', '1', 'yes'].includes(v)) return true;
    if (['false', 'off', '0', 'no'].includes(v)) return false;
  }
  if ((type === 'object' || type === 'array') && /^\s*[[{]/.test(value)) {
    try { return JSON.parse(value); } catch { return value; }
  }
  return value;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' && !Number.isFinite(value) ? 'non-finite number' : typeof value;
}

/** Whether `value` has an object or array at `max` levels below it or deeper; iterative, whatever the depth. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [v, depth] = next;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
  return false;
}

/** JSON pointer of the first string or key holding a NUL character, which the store cannot keep. */
export function findNul(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (typeof value !== 'object' || value === null || depth > 100) return null;
  for (const [k, v] of Object.entries(value)) {
    const at = `${path}/${escapePointer(k)}`;
    if (k.includes('\u0000')) return at;
    const found = findNul(v, at, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Checks a delivery's body against the hook's expected structure: declared fields
 * must have their type (and format); required ones must be there. Undeclared fields
 * are kept: forms often send more than a workflow uses.
 */
export function checkHookBody(expected: ExpectedBody, body: Record<string, unknown>, textValues: boolean): Record<string, unknown> {
  const nul = findNul(body, '/body');
  if (nul) throw raise('BODY_INVALID', 'the body holds a NUL character (\\u0000), which the hub cannot store', { path: nul });
  const out: Record<string, unknown> = { ...body };
  for (const [field, spec] of Object.entries(expected)) {
    const path = `/body/${escapePointer(field)}`;
    if (!Object.prototype.hasOwnProperty.call(body, field) || body[field] === undefined || (textValues && body[field] === '' && spec.type !== 'string')) {
      if (spec.required) throw raise('BODY_INVALID', `required field "${field}" is missing`, { path });
      delete out[field];
      continue;
    }
    const value = textValues ? coerce(body[field], spec.type) : body[field];
    const actual = typeOf(value);
    if (actual !== spec.type) throw raise('BODY_INVALID', `field "${field}" must be ${spec.type === 'array' || spec.type === 'object' ? 'an' : 'a'} ${spec.type}, got ${actual}`, { path });
    if (spec.format && !checkFormat(value as string, spec.format)) throw raise('BODY_INVALID', `field "${field}" must be a valid ${spec.format}`, { path });
    out[field] = value;
  }
  if (nestsDeeperThan(out, MAX_BODY_DEPTH)) throw raise('BODY_INVALID', `body nests deeper than ${MAX_BODY_DEPTH} levels`, { path: '/body' });
  return out;
}

/**
 * Route schemas validated by Ajv, failures answered in our shape. Bodies are checked as
 * sent (no type coercion, no defaults, unknown fields refused rather than stripped);
 * query strings and path parameters are text, so they are coerced to the declared types.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import type { HubError } from '../errors/index.ts';
import { raise } from './errors.ts';
import { escapePointer as escape, unescapePointer as unescape } from '../json/index.ts';

type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

/** What fastify hands the error handler when a schema refuses a request part. */
export interface ValidationFailure extends Error { validation: ErrorObject[]; validationContext: HttpPart }

/** Codes a route may choose for its refused bodies (route config `invalidBody`). */
export type BodyErrorCode = 'BODY_INVALID' | 'EVENT_INVALID' | 'WORKFLOW_INVALID';

// A CommonJS module: its function is `default` of what NodeNext imports.
const addFormats = formats.default;

function newAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ coerceTypes: coerce, useDefaults: coerce, removeAdditional: false, allErrors: false, verbose: true, strict: false });
  addFormats(ajv);
  return ajv;
}

/** A fastify validator compiler; `shared` lists the schemas added with addSchema (for `$ref`s). */
export function createValidatorCompiler(shared: () => Record<string, unknown>) {
  const strict = newAjv(false);
  const coercing = newAjv(true);
  const withShared = (ajv: Ajv): Ajv => {
    for (const [id, schema] of Object.entries(shared())) if (!ajv.getSchema(id)) ajv.addSchema(schema as object, id);
    return ajv;
  };
  return ({ schema, httpPart }: { schema: unknown; httpPart?: string }) => {
    if (httpPart !== 'body') return withShared(coercing).compile(schema as object);
    const validate = withShared(strict).compile(schema as object);
    // An absent body is the handler's to accept (bodiless POSTs, optional bodies) or
    // refuse. Fastify hands an absent body over as null (so is a literal `null` body).
    const check = ((data: unknown) => {
      if (data === undefined || data === null) return true;
      const ok = validate(data);
      check.errors = validate.errors;
      return ok;
    }) as ValidateFunction;
    return check;
  };
}

const depth = (e: ErrorObject) => (e.instancePath === '' ? 0 : e.instancePath.split('/').length - 1) + (e.keyword === 'required' || e.keyword === 'additionalProperties' ? 1 : 0);
/** Among equally deep errors: one about a field that is there says more than one about a field that is missing. */
const weight: Record<string, number> = { additionalProperties: 3, type: 1, required: 0 };

/**
 * With `anyOf`/`oneOf` Ajv reports every branch's first error; the one naming the
 * deepest field is the one the caller meant (a batch whose third event is wrong is not
 * "missing type" as a single event).
 */
function pick(errors: ErrorObject[]): ErrorObject {
  const branches = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  if (branches.length === errors.length || branches.length === 0) return errors[0]!;
  return branches.reduce((best, e) => {
    const d = depth(e) - depth(best);
    return d > 0 || (d === 0 && (weight[e.keyword] ?? 2) > (weight[best.keyword] ?? 2)) ? e : best;
  });
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/**
 * A schema's own sentence for a failure (the `x-message` annotation, as the workflow
 * schemas write it: a string, or one per keyword with a default). Placeholders for the
 * value are not filled: a refusal never repeats what was sent.
 */
function annotated(schema: unknown, keyword: string): string | undefined {
  const m = (schema as { 'x-message'?: unknown } | undefined)?.['x-message'];
  const text = typeof m === 'string' ? m : typeof m === 'object' && m !== null ? ((m as Record<string, unknown>)[keyword] ?? (m as Record<string, unknown>).default) : undefined;
  return typeof text === 'string' ? text.replace(/\{value\}/g, 'the value').replace(/\{known\}/g, 'the known ones') : undefined;
}

/** The first schema failure as a 400 naming the field by JSON pointer; never quotes the value. */
export function fromValidation(err: ValidationFailure, bodyCode: BodyErrorCode = 'BODY_INVALID'): HubError {
  const e = pick(err.validation);
  const part = err.validationContext;
  const prefix = { body: '', querystring: '/query', params: '/params', headers: '/headers' }[part] ?? '';
  const code = { body: bodyCode, querystring: 'QUERY_INVALID', params: 'PARAMS_INVALID', headers: 'HEADERS_INVALID' }[part] ?? 'BODY_INVALID';
  const params = e.params as Record<string, unknown>;
  let path = `${prefix}${e.instancePath}`;
  const subject = () => (path === prefix ? (part === 'body' ? 'body' : part) : unescape(path.split('/').pop()!));
  let message: string;
  // Missing and unknown fields have our wording; a wrong value the schema's own, if it has one.
  const own = annotated(e.parentSchema, e.keyword);
  switch (e.keyword) {
    case 'required':
      path += `/${escape(String(params.missingProperty))}`;
      message = `${subject()} is required`;
      break;
    case 'additionalProperties': {
      path += `/${escape(String(params.additionalProperty))}`;
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      message = `unknown ${part === 'querystring' ? 'query parameter' : 'field'} "${unescape(path.split('/').pop()!)}"${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`;
      break;
    }
    case 'type':
      message = `${subject()} must be ${String(params.type).split(',').map((t) => article(t === 'object' && path === prefix ? 'JSON object' : t)).join(' or ')}`;
      break;
    case 'enum':
      message = `${subject()} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
      break;
    default:
      message = `${subject()} ${e.message ?? 'is invalid'}`;
  }
  return raise(code as 'BODY_INVALID', e.keyword === 'required' || e.keyword === 'additionalProperties' ? message : own ?? message, { path });
}

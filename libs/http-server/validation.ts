/**
 * Route schemas validated by Ajv, failures answered in our shape. Bodies are checked as
 * sent (no type coercion, no defaults, unknown fields refused rather than stripped);
 * query strings and path parameters are text, so they are coerced to the declared types.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import type { HubError } from '../errors/index.ts';
import { raise } from './errors.ts';
import { schemaProblem } from '../schema/problem.ts';

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

const parts = {
  body: { at: '', root: 'body', key: 'field', code: 'BODY_INVALID' },
  querystring: { at: '/query', root: 'query string', key: 'query parameter', code: 'QUERY_INVALID' },
  params: { at: '/params', root: 'path parameters', key: 'field', code: 'PARAMS_INVALID' },
  headers: { at: '/headers', root: 'headers', key: 'field', code: 'HEADERS_INVALID' },
} as const;

/**
 * The first schema failure as a 400 naming the field by JSON pointer, in Ajv's words;
 * never quotes the value (credentials routes carry secrets).
 */
export function fromValidation(err: ValidationFailure, bodyCode: BodyErrorCode = 'BODY_INVALID'): HubError {
  const part = parts[err.validationContext] ?? parts.body;
  const { path, message } = schemaProblem(err.validation, { showValues: false, describe: false, at: part.at, root: part.root, key: part.key });
  return raise(part === parts.body ? bodyCode : part.code, message, { path });
}

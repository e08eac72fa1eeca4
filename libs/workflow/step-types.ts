/**
 * The step-type registry: a map from type to the validator of its input. The engine
 * adds an executor per type; a new type is one more entry (and one more member of
 * `Step` in model.ts). Validators check and normalise (defaults filled in) and use
 * the `StepContext` for what depends on the position in the tree: templates, rules,
 * nested steps.
 */
import type { SortKey, Step } from '../contracts/workflow.ts';
import { parseTemplate } from './template.ts';

/** Paths given to and reported by a context are JSON pointers relative to the step's `input`. */
export interface StepContext {
  /** Throws WORKFLOW_INVALID at `path`. */
  fail(path: string, message: string): never;
  /** `value` as an object: refuses unknown keys (naming the allowed ones), then missing required ones. */
  fields(value: unknown, path: string, allowed: readonly string[], required?: readonly string[]): Record<string, unknown>;
  /** Checks the templates inside `value`: syntax, and that they name only steps that precede this one. */
  templates(value: unknown, path: string): void;
  /** Validates a JSON Logic rule whose literal `var` paths may start with `roots` (visibility of steps applies). */
  rule(value: unknown, path: string, roots: readonly string[]): void;
  /** Validates nested steps, which see what this step sees (plus `item`/`index` in an iterator). */
  steps(value: unknown, path: string, options?: { iterator?: boolean; minLength?: number }): { steps: Step[]; visible: ReadonlySet<string> };
  readonly limits: WorkflowLimits;
}

export interface StepTypeSpec {
  /** Returns the normalised input, and ids that steps after this one may also name (a branch's inner steps). */
  validate(input: unknown, ctx: StepContext): { input: unknown; visibleAfter?: Iterable<string> };
}

export type StepRegistry = ReadonlyMap<string, StepTypeSpec>;

export interface WorkflowLimits {
  maxSteps: number;
  maxDepth: number;
  iteratorMaxItems: number;
  iteratorDefaultMaxItems: number;
  branchesMax: number;
  searchLimitMax: number;
  searchDefaultLimit: number;
  codeMaxChars: number;
  httpTimeoutMaxMs: number;
  httpRetryMaxAttempts: number;
  emailRecipientsMax: number;
}

export const defaultLimits: Readonly<WorkflowLimits> = Object.freeze({
  maxSteps: 100,
  maxDepth: 5,
  iteratorMaxItems: 10_000,
  iteratorDefaultMaxItems: 1000,
  branchesMax: 20,
  searchLimitMax: 1000,
  searchDefaultLimit: 100,
  codeMaxChars: 100_000,
  httpTimeoutMaxMs: 60_000,
  httpRetryMaxAttempts: 10,
  emailRecipientsMax: 50,
});

const OBJECT_NAME = /^[A-Za-z0-9_.:-]{1,200}$/;
/** What a search filter, and a branch condition, may read. */
const RUN_ROOTS = ['trigger', 'steps', 'item', 'index'] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

export function objectName(value: unknown, path: string, ctx: StepContext): string {
  if (typeof value !== 'string' || !OBJECT_NAME.test(value)) {
    ctx.fail(path, 'object must be an object name of 1 to 200 letters, digits and _ . : - (e.g. "people"), not a template');
  }
  return value as string;
}

function integer(value: unknown, path: string, min: number, max: number, fallback: number, ctx: StepContext, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) ctx.fail(path, `${name} must be an integer from ${min} to ${max}`);
  return value as number;
}

function text(value: unknown, path: string, ctx: StepContext, name: string, maxChars: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxChars) ctx.fail(path, `${name} must be a non-empty string of at most ${maxChars} characters`);
  ctx.templates(value, path);
  return value as string;
}

function values(value: unknown, path: string, ctx: StepContext): Record<string, unknown> {
  if (!isPlainObject(value)) ctx.fail(path, `values must be an object mapping field names to values or templates, got ${kindOf(value)}`);
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (key.length === 0 || key.length > 200) ctx.fail(`${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, 'field names must have 1 to 200 characters');
  }
  ctx.templates(obj, path);
  return obj;
}

const recordSearch: StepTypeSpec = {
  validate(input, ctx) {
    const at = (k: string) => `/${k}`;
    const v = ctx.fields(input, '', ['object', 'filter', 'sort', 'limit'], ['object']);
    const object = objectName(v.object, at('object'), ctx);
    if (v.filter !== undefined) ctx.rule(v.filter, at('filter'), ['record', ...RUN_ROOTS]);
    const sort: SortKey[] = [];
    if (v.sort !== undefined) {
      if (!Array.isArray(v.sort) || v.sort.length > 5) ctx.fail(at('sort'), 'sort must be an array of at most 5 {"field", "direction"?: "asc" | "desc"}');
      (v.sort as unknown[]).forEach((key, i) => {
        const k = ctx.fields(key, `/sort/${i}`, ['field', 'direction'], ['field']);
        if (typeof k.field !== 'string' || k.field.length === 0 || k.field.length > 200) ctx.fail(`/sort/${i}/field`, 'field must be a field name of 1 to 200 characters');
        if (k.direction !== undefined && k.direction !== 'asc' && k.direction !== 'desc') ctx.fail(`/sort/${i}/direction`, 'direction must be "asc" or "desc"');
        sort.push({ field: k.field as string, direction: (k.direction as 'asc' | 'desc' | undefined) ?? 'asc' });
      });
    }
    const limit = integer(v.limit, at('limit'), 1, ctx.limits.searchLimitMax, ctx.limits.searchDefaultLimit, ctx, 'limit');
    return { input: { object, ...(v.filter === undefined ? {} : { filter: v.filter }), sort, limit } };
  },
};

const recordCreate: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['object', 'values'], ['object', 'values']);
    return { input: { object: objectName(v.object, '/object', ctx), values: values(v.values, '/values', ctx) } };
  },
};

const recordUpdate: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['object', 'recordId', 'values'], ['object', 'recordId', 'values']);
    const object = objectName(v.object, '/object', ctx);
    return { input: { object, recordId: text(v.recordId, '/recordId', ctx, 'recordId', 1000), values: values(v.values, '/values', ctx) } };
  },
};

const recordDelete: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['object', 'recordId'], ['object', 'recordId']);
    const object = objectName(v.object, '/object', ctx);
    return { input: { object, recordId: text(v.recordId, '/recordId', ctx, 'recordId', 1000) } };
  },
};

const branch: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['branches', 'else'], ['branches']);
    if (!Array.isArray(v.branches) || v.branches.length === 0 || v.branches.length > ctx.limits.branchesMax) {
      ctx.fail('/branches', `branches must be an array of 1 to ${ctx.limits.branchesMax} {"if": <JSON Logic>, "steps": [...]}`);
    }
    // Steps after the branch may name steps of any branch (their outputs are absent when that branch did not run).
    const visibleAfter = new Set<string>();
    const branches = (v.branches as unknown[]).map((b, i) => {
      const at = `/branches/${i}`;
      const bv = ctx.fields(b, at, ['if', 'steps'], ['if', 'steps']);
      ctx.rule(bv.if, `${at}/if`, RUN_ROOTS);
      const nested = ctx.steps(bv.steps, `${at}/steps`);
      nested.visible.forEach((id) => visibleAfter.add(id));
      return { if: bv.if, steps: nested.steps };
    });
    const otherwise = v.else === undefined ? { steps: [], visible: new Set<string>() } : ctx.steps(v.else, '/else');
    otherwise.visible.forEach((id) => visibleAfter.add(id));
    return { input: { branches, else: otherwise.steps }, visibleAfter };
  },
};

const iterator: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['items', 'steps', 'maxItems'], ['items', 'steps']);
    const whole = typeof v.items === 'string' && (() => {
      try { return parseTemplate(v.items).whole !== undefined; } catch { return true; /* reported by templates() */ }
    })();
    if (!Array.isArray(v.items) && !whole) ctx.fail('/items', 'items must be one template such as "{{steps.find.records}}", or an array');
    // Items are read before the loop starts: in the scope of the iterator step itself.
    ctx.templates(v.items, '/items');
    const maxItems = integer(v.maxItems, '/maxItems', 1, ctx.limits.iteratorMaxItems, Math.min(ctx.limits.iteratorDefaultMaxItems, ctx.limits.iteratorMaxItems), ctx, 'maxItems');
    if (Array.isArray(v.items) && v.items.length > maxItems) ctx.fail('/items', `items lists more than maxItems (${maxItems}) values`);
    // Steps after the iterator do not see its inner steps: they ran once per item.
    const nested = ctx.steps(v.steps, '/steps', { iterator: true, minLength: 1 });
    return { input: { items: v.items, steps: nested.steps, maxItems } };
  },
};

const code: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['source', 'input'], ['source']);
    const max = ctx.limits.codeMaxChars;
    // Never templated: splicing data into code is how expression sandboxes get escaped.
    if (typeof v.source !== 'string' || v.source.trim().length === 0 || v.source.length > max) ctx.fail('/source', `source must be non-empty JavaScript of at most ${max} characters`);
    if (v.input !== undefined && !isPlainObject(v.input)) ctx.fail('/input', `input must be an object of values or templates handed to the code, got ${kindOf(v.input)}`);
    const data = (v.input ?? {}) as Record<string, unknown>;
    ctx.templates(data, '/input');
    return { input: { source: v.source, input: data } };
  },
};

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** Secrets belong in stored credentials (`auth.credential`), never in workflow text. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'api-key']);
const CREDENTIAL_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

const http: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['method', 'url', 'headers', 'query', 'body', 'auth', 'timeoutMs', 'retry', 'accept'], ['method', 'url']);
    const method = typeof v.method === 'string' ? v.method.toUpperCase() : '';
    if (!(HTTP_METHODS as readonly string[]).includes(method)) ctx.fail('/method', `method must be one of ${HTTP_METHODS.join(', ')}`);
    const url = text(v.url, '/url', ctx, 'url', 8000);
    if (!url.includes('{{')) {
      let ok = false;
      try { ok = ['http:', 'https:'].includes(new URL(url).protocol); } catch { ok = false; }
      if (!ok) ctx.fail('/url', 'url must be an absolute http(s) URL (or a template)');
    }
    const headers: Record<string, unknown> = {};
    if (v.headers !== undefined) {
      if (!isPlainObject(v.headers)) ctx.fail('/headers', 'headers must be an object of header names to strings');
      for (const [name, value] of Object.entries(v.headers as Record<string, unknown>)) {
        const at = `/headers/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (!HEADER_NAME.test(name)) ctx.fail(at, `"${name}" is not a valid header name`);
        if (SECRET_HEADERS.has(name.toLowerCase())) ctx.fail(at, `${name} carries a secret: store it as a credential and name it in auth.credential`);
        if (typeof value !== 'string' || value.length > 8000) ctx.fail(at, 'header values must be strings of at most 8000 characters');
        headers[name] = value;
      }
      ctx.templates(headers, '/headers');
    }
    if (v.query !== undefined) {
      if (!isPlainObject(v.query)) ctx.fail('/query', 'query must be an object of parameter names to strings, numbers or booleans');
      for (const [name, value] of Object.entries(v.query as Record<string, unknown>)) {
        if (!['string', 'number', 'boolean'].includes(typeof value)) ctx.fail(`/query/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`, 'query values must be strings, numbers or booleans');
      }
      ctx.templates(v.query, '/query');
    }
    if (v.body !== undefined) {
      if (method === 'GET' || method === 'HEAD') ctx.fail('/body', `${method} requests have no body`);
      ctx.templates(v.body, '/body');
    }
    let auth: { credential: string } | undefined;
    if (v.auth !== undefined) {
      const a = ctx.fields(v.auth, '/auth', ['credential'], ['credential']);
      if (typeof a.credential !== 'string' || !CREDENTIAL_ID.test(a.credential)) ctx.fail('/auth/credential', 'credential must be the id of a stored credential (letters, digits, _ . : -)');
      auth = { credential: a.credential as string };
    }
    const timeoutMs = integer(v.timeoutMs, '/timeoutMs', 100, ctx.limits.httpTimeoutMaxMs, 10_000, ctx, 'timeoutMs');
    let retry = { maxAttempts: 1, backoffMs: 1000 };
    if (v.retry !== undefined) {
      const r = ctx.fields(v.retry, '/retry', ['maxAttempts', 'backoffMs']);
      retry = {
        maxAttempts: integer(r.maxAttempts, '/retry/maxAttempts', 1, ctx.limits.httpRetryMaxAttempts, 1, ctx, 'maxAttempts'),
        backoffMs: integer(r.backoffMs, '/retry/backoffMs', 0, 60_000, 1000, ctx, 'backoffMs'),
      };
    }
    // Error statuses that are answers, not failures (an enrichment API's 404 "unknown").
    let accept: number[] | undefined;
    if (v.accept !== undefined) {
      if (!Array.isArray(v.accept) || v.accept.length > 20 || !v.accept.every((c) => Number.isInteger(c) && (c as number) >= 400 && (c as number) <= 599)) {
        ctx.fail('/accept', 'accept must be a list of up to 20 HTTP statuses from 400 to 599 that complete the step instead of failing it');
      }
      accept = v.accept as number[];
    }
    return {
      input: {
        method, url, headers, query: (v.query ?? {}) as Record<string, unknown>,
        ...(v.body === undefined ? {} : { body: v.body }), ...(auth ? { auth } : {}), timeoutMs, retry, ...(accept ? { accept } : {}),
      },
    };
  },
};

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;

function recipients(value: unknown, path: string, ctx: StepContext, min: number): string[] {
  const list = typeof value === 'string' ? [value] : value;
  const max = ctx.limits.emailRecipientsMax;
  if (!Array.isArray(list) || list.length < min || list.length > max) ctx.fail(path, `must be an address or an array of ${min} to ${max} addresses (or templates)`);
  (list as unknown[]).forEach((to, i) => {
    const at = typeof value === 'string' ? path : `${path}/${i}`;
    if (typeof to !== 'string' || to.length > 320) ctx.fail(at, 'each recipient must be a string of at most 320 characters');
    if (!(to as string).includes('{{') && !EMAIL.test(to as string)) ctx.fail(at, `"${to as string}" is not an email address`);
  });
  ctx.templates(value, path);
  return list as string[];
}

const email: StepTypeSpec = {
  validate(input, ctx) {
    const v = ctx.fields(input, '', ['to', 'cc', 'subject', 'text', 'html'], ['to', 'subject']);
    const to = recipients(v.to, '/to', ctx, 1);
    const cc = v.cc === undefined ? undefined : recipients(v.cc, '/cc', ctx, 0);
    const subject = text(v.subject, '/subject', ctx, 'subject', 1000);
    if (v.text === undefined && v.html === undefined) ctx.fail('', 'an email needs text, html or both');
    const body = (k: 'text' | 'html') => (v[k] === undefined ? {} : { [k]: text(v[k], `/${k}`, ctx, k, 1_000_000) });
    return { input: { to, ...(cc ? { cc } : {}), subject, ...body('text'), ...body('html') } };
  },
};

/** Every step type the hub knows. Pass another map to parseWorkflowDefinition to narrow or extend it. */
export const stepTypes: StepRegistry = new Map<string, StepTypeSpec>([
  ['record.search', recordSearch],
  ['record.create', recordCreate],
  ['record.update', recordUpdate],
  ['record.delete', recordDelete],
  ['branch', branch],
  ['iterator', iterator],
  ['code', code],
  ['http', http],
  ['email', email],
]);

/**
 * Templates in step inputs: `{{trigger.record.email}}`, `{{steps.find.records.0.id}}`,
 * `{{item.name}}` and `{{index}}` inside an iterator.
 *
 * - Syntax: `{{ root.segment.segment }}`; segments are letters, digits, `_`, `$`, `-`
 *   (array items by index: `records.0`). Roots: trigger, steps (then a step id), item,
 *   index. `\{{` writes a literal `{{`. Parsed once per distinct string (cached).
 * - A string that is exactly one `{{expr}}` renders to the raw value (object, number,
 *   null…); anything else is text, with values interpolated: strings as they are,
 *   numbers and booleans as text, objects and arrays as JSON, null as "".
 * - Missing values (a path that leads nowhere, or through null): interpolated as "";
 *   a whole-value template yields undefined, and `renderValue` then omits the property
 *   (or puts null in an array). With `strict: true` a missing value throws
 *   TEMPLATE_VALUE_MISSING naming the template, the expression and where it stopped.
 *   null is a value, not a missing one.
 * - Only own properties are read: `{{trigger.constructor}}` is missing, never a function.
 */
import { HubError, type ErrorSpec } from '../errors/index.ts';
import { raise, workflowErrors } from './errors.ts';
import { pointer } from '../json/index.ts';

export const templateRoots = ['trigger', 'steps', 'item', 'index'] as const;
export type TemplateRoot = (typeof templateRoots)[number];

export const templateLimits = {
  sourceMaxChars: 100_000,
  expressionsMax: 100,
  expressionMaxChars: 500,
  cacheSize: 1000,
} as const;

export interface TemplateRef {
  /** The expression as written, trimmed: `steps.find.records.0.id`. */
  readonly expr: string;
  readonly root: TemplateRoot;
  /** Segments after the root: `['find', 'records', '0', 'id']`. */
  readonly path: readonly string[];
  /** The step named, for `steps.<id>…`. */
  readonly stepId: string | undefined;
}

export interface Template {
  readonly source: string;
  readonly parts: readonly (string | TemplateRef)[];
  /** Set when the source is exactly one `{{expr}}`: renders to the raw value. */
  readonly whole: TemplateRef | undefined;
  readonly refs: readonly TemplateRef[];
}

/** What templates read: the trigger's data, outputs of steps so far, the iterator's item. */
export interface TemplateScope {
  trigger?: unknown;
  steps?: Readonly<Record<string, unknown>>;
  item?: unknown;
  index?: number;
}

export interface RenderOptions {
  /** Throw TEMPLATE_VALUE_MISSING instead of rendering a missing value as ""/undefined. */
  strict?: boolean;
  /** JSON pointer of the value being rendered, carried by errors (e.g. `/steps/2/input`). */
  path?: string;
}

const SEGMENT = /^[A-Za-z0-9_$-]+$/;
const FORBIDDEN: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

/** Raised by strict rendering; `template`, `expr` and `missing` say what was absent. */
export class TemplateValueError extends HubError {
  readonly template: string;
  readonly expr: string;
  /** The part of the expression that was found missing, e.g. `steps.find.records.0`. */
  readonly missing: string;

  constructor(template: string, expr: string, missing: string, path: string | undefined) {
    const shown = template.length > 200 ? `${template.slice(0, 200)}…` : template;
    super('TEMPLATE_VALUE_MISSING', workflowErrors.TEMPLATE_VALUE_MISSING as ErrorSpec,
      `bad template value: {{${expr}}} in "${shown}": ${missing} is missing`, path === undefined ? {} : { path });
    this.name = 'TemplateValueError';
    this.template = template;
    this.expr = expr;
    this.missing = missing;
  }
}

/** Whether `text` is parsed as a template (it contains `{{`, even escaped). */
export function isTemplate(text: string): boolean {
  return text.includes('{{');
}

function parseRef(expr: string, at: number): TemplateRef {
  const fail = (why: string): never => { throw raise('TEMPLATE_INVALID', `{{${expr}}} at character ${at}: ${why}`); };
  if (expr === '') fail('empty expression');
  if (expr.length > templateLimits.expressionMaxChars) fail(`expressions must be at most ${templateLimits.expressionMaxChars} characters`);
  const segments = expr.split('.');
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) fail(bad === '' ? 'empty path segment' : `"${bad}" is not a path segment (letters, digits, _ $ -)`);
  const forbidden = segments.find((s) => FORBIDDEN.has(s));
  if (forbidden) fail(`paths may not name "${forbidden}"`);
  const [root, ...path] = segments as [string, ...string[]];
  if (!(templateRoots as readonly string[]).includes(root)) fail(`unknown root "${root}"; use ${templateRoots.join(', ')}`);
  if (root === 'steps' && path.length === 0) fail('name a step: steps.<stepId>…');
  if (root === 'index' && path.length > 0) fail('index is a number and has no fields');
  return { expr, root: root as TemplateRoot, path, stepId: root === 'steps' ? path[0] : undefined };
}

const cache = new Map<string, Template>();

/** Parses `source`; throws TEMPLATE_INVALID (without a path: callers add theirs). */
export function parseTemplate(source: string): Template {
  const hit = cache.get(source);
  if (hit) return hit;
  if (source.length > templateLimits.sourceMaxChars) throw raise('TEMPLATE_INVALID', `templates must be at most ${templateLimits.sourceMaxChars} characters`);
  const parts: (string | TemplateRef)[] = [];
  const refs: TemplateRef[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) { literal += source.slice(i); break; }
    if (open > 0 && source[open - 1] === '\\') {
      literal += `${source.slice(i, open - 1)}{{`;
      i = open + 2;
      continue;
    }
    literal += source.slice(i, open);
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw raise('TEMPLATE_INVALID', `unclosed {{ at character ${open}; write \\{{ for a literal {{`);
    const ref = parseRef(source.slice(open + 2, close).trim(), open);
    if (refs.length >= templateLimits.expressionsMax) throw raise('TEMPLATE_INVALID', `a template may hold at most ${templateLimits.expressionsMax} expressions`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push(ref);
    refs.push(ref);
    i = close + 2;
  }
  if (literal) parts.push(literal);
  const only = parts.length === 1 ? parts[0] : undefined;
  const template: Template = Object.freeze({
    source,
    parts: Object.freeze(parts),
    whole: typeof only === 'object' ? only : undefined,
    refs: Object.freeze(refs),
  });
  if (cache.size >= templateLimits.cacheSize) cache.delete(cache.keys().next().value as string);
  cache.set(source, template);
  return template;
}

/**
 * Calls `visit` for every template string inside a JSON value (object values, array
 * items; keys are never templates), with its JSON pointer under `path`.
 */
export function forEachTemplate(value: unknown, path: string, visit: (source: string, path: string) => void): void {
  if (typeof value === 'string') {
    if (isTemplate(value)) visit(value, path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => forEachTemplate(item, `${path}/${i}`, visit));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) forEachTemplate(v, pointer(path, k), visit);
  }
}

/** Every reference made by templates inside `value` (parsing them; throws TEMPLATE_INVALID). */
export function templateRefs(value: unknown): TemplateRef[] {
  const refs: TemplateRef[] = [];
  forEachTemplate(value, '', (source) => refs.push(...parseTemplate(source).refs));
  return refs;
}

/** The step ids that templates inside `value` name. */
export function referencedSteps(value: unknown): Set<string> {
  return new Set(templateRefs(value).flatMap((r) => (r.stepId === undefined ? [] : [r.stepId])));
}

type Lookup = { found: true; value: unknown } | { found: false; missing: string };

function lookup(ref: TemplateRef, scope: TemplateScope): Lookup {
  const own = (obj: unknown, key: string): obj is Record<string, unknown> =>
    typeof obj === 'object' && obj !== null && Object.prototype.hasOwnProperty.call(obj, key);
  let current: unknown = scope[ref.root];
  if (current === undefined) return { found: false, missing: ref.root };
  for (let i = 0; i < ref.path.length; i++) {
    const key = ref.path[i] as string;
    if (!own(current, key) || current[key] === undefined) return { found: false, missing: [ref.root, ...ref.path.slice(0, i + 1)].join('.') };
    current = current[key];
  }
  return { found: true, value: current };
}

function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Renders one template string (see the module comment for the rules). */
export function renderTemplate(source: string | Template, scope: TemplateScope, options: RenderOptions = {}): unknown {
  const template = typeof source === 'string' ? parseTemplate(source) : source;
  const resolve = (ref: TemplateRef): unknown => {
    const hit = lookup(ref, scope);
    if (hit.found) return hit.value;
    if (options.strict) throw new TemplateValueError(template.source, ref.expr, hit.missing, options.path);
    return undefined;
  };
  if (template.whole) return resolve(template.whole);
  let out = '';
  for (const part of template.parts) out += typeof part === 'string' ? part : asText(resolve(part));
  return out;
}

/**
 * Renders every template inside a JSON value; other values are copied. Object
 * properties that render to undefined are omitted, array items become null.
 */
export function renderValue(value: unknown, scope: TemplateScope, options: RenderOptions = {}): unknown {
  const path = options.path ?? '';
  if (typeof value === 'string') return isTemplate(value) ? renderTemplate(value, scope, { ...options, path }) : value;
  if (Array.isArray(value)) {
    return value.map((item, i) => renderValue(item, scope, { ...options, path: `${path}/${i}` }) ?? null);
  }
  if (typeof value === 'object' && value !== null) {
    const entries: [string, unknown][] = [];
    for (const [k, v] of Object.entries(value)) {
      const rendered = renderValue(v, scope, { ...options, path: pointer(path, k) });
      if (rendered !== undefined) entries.push([k, rendered]);
    }
    // fromEntries defines properties, so a "__proto__" key stays data.
    return Object.fromEntries(entries);
  }
  return value;
}

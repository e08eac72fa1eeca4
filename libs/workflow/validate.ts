/**
 * `parseWorkflowDefinition(body)`: the body of `POST /v1/workflows` checked and
 * normalised, or HubError WORKFLOW_INVALID (400) whose `path` points at the first
 * problem, in document order.
 *
 * What a template or a rule's `var` may name (execution order):
 * - `trigger` everywhere; `steps.<id>` only for steps that run before: earlier steps of
 *   the same list, steps before the enclosing branch or iterator (at any level), and
 *   for steps after a branch, the steps inside any of its branches (their output is
 *   absent when that branch did not run; templates then render it as missing);
 * - not the steps inside an iterator from after it (they ran once per item; the
 *   iterator's own output is `steps.<iteratorId>`), not a step from inside itself;
 * - `item` and `index` only inside an iterator (the innermost one's);
 * - trigger filters read `record` and `before` only; search filters also `record`
 *   (each candidate). Rules are not templated: they read the same data with `var`.
 *
 * A definition that embeds what looks like a secret (secrets-scan.ts) is refused at
 * that string: secrets belong in stored credentials, named by `auth.credential`.
 */
import { HubError } from '../errors/index.ts';
import { validateRule } from '../rules/index.ts';
import { parseHookDefinition } from '../contracts/hook-body.ts';
import { canonicalTimeZone, parseCron } from './cron.ts';
import { raise } from './errors.ts';
import type { Step, Trigger, WorkflowDefinition } from '../contracts/workflow.ts';
import { defaultLimits, stepTypes as defaultStepTypes, type StepContext, type StepRegistry, type WorkflowLimits } from './step-types.ts';
import { forEachTemplate, parseTemplate } from './template.ts';
import { findSecret, secretMessage } from './secrets-scan.ts';

export interface ParseOptions {
  stepTypes?: StepRegistry;
  limits?: Partial<WorkflowLimits>;
}

const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const OBJECT_NAME = /^[A-Za-z0-9_.:-]{1,200}$/;
const RECORD_TRIGGERS = ['record.created', 'record.updated', 'record.deleted'] as const;
const TRIGGER_TYPES = [...RECORD_TRIGGERS, 'webhook', 'schedule', 'manual'] as const;
/** Nesting levels of the body; deeper is refused before anything recurses into it. */
const BODY_MAX_DEPTH = 64;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const esc = (key: string | number): string => String(key).replace(/~/g, '~0').replace(/\//g, '~1');

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function fail(path: string, message: string): never {
  throw raise('WORKFLOW_INVALID', message, { path });
}

function fields(value: unknown, path: string, allowed: readonly string[], required: readonly string[] = [], what = 'value'): Record<string, unknown> {
  if (!isPlainObject(value)) fail(path, `${what} must be an object, got ${kindOf(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`${path}/${esc(key)}`, `unknown field "${key}"; allowed: ${allowed.join(', ')}`);
  }
  for (const key of required) if (value[key] === undefined) fail(`${path}/${esc(key)}`, `${key} is required`);
  return value;
}

/**
 * Refuses what JSON cannot carry and bodies nested deeper than `max` levels, before
 * anything recurses into them (iterative: any depth). Returns the problem, if any.
 */
function notJson(value: unknown, max: number): { path: string; message: string } | undefined {
  const pending: [unknown, string, number][] = [[value, '', 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, path, depth] = next;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, message: `numbers must be finite, got ${v}` };
      continue;
    }
    if (!Array.isArray(v) && !isPlainObject(v)) return { path, message: `must be a JSON value, got ${typeof v}` };
    if (depth >= max) return { path, message: `the definition nests deeper than ${max} levels` };
    for (const [k, child] of Object.entries(v)) pending.push([child, `${path}/${esc(k)}`, depth + 1]);
  }
  return undefined;
}

function objectName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !OBJECT_NAME.test(value)) fail(path, 'object must be an object name of 1 to 200 letters, digits and _ . : - (e.g. "people")');
  return value;
}

/** Checks a rule; `roots` are the first `var` segments it may read; `check` vets each literal var path. */
function checkRule(rule: unknown, path: string, roots: readonly string[], check: (segments: readonly string[], at: string) => void): void {
  if (rule === undefined) fail(path, 'a JSON Logic rule is required');
  forEachTemplate(rule, path, (_source, at) => fail(at, 'rules are not templated: read values with {"var": "trigger.body.email"}'));
  try {
    validateRule(rule, path, {
      onVar(segments, at) {
        const root = segments[0] as string;
        if (!roots.includes(root)) fail(at, `var reads ${roots.join(', ')} here (e.g. "${roots[0]}.email"), not "${root}"`);
        check(segments, at);
      },
    });
  } catch (err) {
    if (err instanceof HubError && err.code === 'RULE_INVALID') fail(err.path ?? path, err.message);
    throw err;
  }
}

function parseTrigger(value: unknown): Trigger {
  const at = '/trigger';
  if (!isPlainObject(value)) fail(at, `trigger must be an object with a type, got ${kindOf(value)}`);
  const type = value.type;
  if (typeof type !== 'string' || !(TRIGGER_TYPES as readonly string[]).includes(type)) fail(`${at}/type`, `trigger type must be one of ${TRIGGER_TYPES.join(', ')}`);
  switch (type) {
    case 'webhook': {
      fields(value, at, ['type', 'methods', 'expectedBody', 'secret']);
      // The hook API's own validation, so a workflow's webhook accepts exactly what a hook does.
      const { type: _type, ...hook } = value;
      try {
        const def = parseHookDefinition({ name: 'workflow', ...hook });
        return { type, methods: def.methods, expectedBody: def.expectedBody, secret: def.secret };
      } catch (err) {
        if (err instanceof HubError) fail(`${at}${err.path ?? ''}`, err.message);
        throw err;
      }
    }
    case 'schedule': {
      const v = fields(value, at, ['type', 'cron', 'timezone'], ['cron']);
      try {
        parseCron(v.cron as string);
      } catch (err) {
        if (err instanceof HubError) fail(`${at}/cron`, err.message);
        throw err;
      }
      let timezone = 'UTC';
      if (v.timezone !== undefined) {
        const zone = canonicalTimeZone(v.timezone as string);
        if (!zone) fail(`${at}/timezone`, `timezone must be an IANA name such as Europe/Paris or America/New_York, got ${JSON.stringify(v.timezone)}`);
        timezone = zone;
      }
      return { type, cron: (v.cron as string).trim(), timezone };
    }
    case 'manual': {
      const v = fields(value, at, ['type', 'availability', 'object'], ['availability']);
      const availability = v.availability;
      if (availability !== 'single' && availability !== 'bulk' && availability !== 'global') fail(`${at}/availability`, 'availability must be "single" (one record), "bulk" (a selection) or "global" (no record)');
      if (v.object === undefined && availability !== 'global') fail(`${at}/object`, `object is required for ${availability} availability`);
      return { type, availability, ...(v.object === undefined ? {} : { object: objectName(v.object, `${at}/object`) }) };
    }
    default: {
      const v = fields(value, at, ['type', 'object', 'filter', 'fields'], ['object']);
      const object = objectName(v.object, `${at}/object`);
      if (v.filter !== undefined) checkRule(v.filter, `${at}/filter`, ['record', 'before'], () => {});
      let names: string[] | undefined;
      if (v.fields !== undefined) {
        if (type !== 'record.updated') fail(`${at}/fields`, 'fields applies to record.updated only');
        if (!Array.isArray(v.fields) || v.fields.length === 0 || v.fields.length > 100) fail(`${at}/fields`, 'fields must be an array of 1 to 100 field names');
        (v.fields as unknown[]).forEach((f, i) => {
          if (typeof f !== 'string' || f.length === 0 || f.length > 200) fail(`${at}/fields/${i}`, 'field names must be strings of 1 to 200 characters');
          if ((v.fields as unknown[]).indexOf(f) !== i) fail(`${at}/fields/${i}`, `field "${f}" is listed twice`);
        });
        names = v.fields as string[];
      }
      return { type: type as (typeof RECORD_TRIGGERS)[number], object, ...(v.filter === undefined ? {} : { filter: v.filter }), ...(names ? { fields: names } : {}) };
    }
  }
}

interface Scope { visible: ReadonlySet<string>; iterator: boolean; depth: number }

/** Step ids wherever they are, read leniently: only to tell "defined later" from "not defined". */
function collectIds(value: unknown, out: Map<string, string>, path: string, depth = 0): void {
  if (!Array.isArray(value) || depth > 10) return;
  value.forEach((step, i) => {
    if (!isPlainObject(step)) return;
    const at = `${path}/${i}`;
    if (typeof step.id === 'string' && !out.has(step.id)) out.set(step.id, at);
    const input = step.input;
    if (!isPlainObject(input)) return;
    collectIds(input.steps, out, `${at}/input/steps`, depth + 1);
    collectIds(input.else, out, `${at}/input/else`, depth + 1);
    if (Array.isArray(input.branches)) input.branches.forEach((b, j) => isPlainObject(b) && collectIds(b.steps, out, `${at}/input/branches/${j}/steps`, depth + 1));
  });
}

class StepWalker {
  private readonly seen = new Map<string, string>();
  private count = 0;

  constructor(
    private readonly registry: StepRegistry,
    private readonly limits: WorkflowLimits,
    private readonly allIds: ReadonlyMap<string, string>,
  ) {}

  list(value: unknown, path: string, scope: Scope, minLength: number): { steps: Step[]; visible: ReadonlySet<string> } {
    if (!Array.isArray(value)) fail(path, `steps must be an array of steps, got ${kindOf(value)}`);
    if (value.length < minLength) fail(path, `steps must list at least ${minLength} step${minLength === 1 ? '' : 's'}`);
    const visible = new Set(scope.visible);
    const steps = value.map((raw, i) => {
      const { step, visibleAfter } = this.step(raw, `${path}/${i}`, { ...scope, visible });
      visible.add(step.id);
      for (const id of visibleAfter) visible.add(id);
      return step;
    });
    return { steps, visible };
  }

  private step(raw: unknown, at: string, scope: Scope): { step: Step; visibleAfter: Iterable<string> } {
    if (++this.count > this.limits.maxSteps) fail(at, `a workflow may have at most ${this.limits.maxSteps} steps, counting nested ones`);
    if (scope.depth > this.limits.maxDepth) fail(at, `steps may nest at most ${this.limits.maxDepth} levels deep`);
    const v = fields(raw, at, ['id', 'type', 'input'], ['id', 'type', 'input'], 'a step');
    if (typeof v.id !== 'string' || !STEP_ID.test(v.id)) fail(`${at}/id`, 'id must start with a letter and have 1 to 64 letters, digits, _ or -');
    const id = v.id;
    const first = this.seen.get(id);
    if (first !== undefined) fail(`${at}/id`, `duplicate step id "${id}" (first used at ${first}); ids are unique across the whole workflow`);
    this.seen.set(id, at);
    if (typeof v.type !== 'string' || !this.registry.has(v.type)) fail(`${at}/type`, `unknown step type ${JSON.stringify(v.type)}; known: ${[...this.registry.keys()].join(', ')}`);
    const type = v.type;
    const spec = this.registry.get(type);
    if (!spec) fail(`${at}/type`, `unknown step type "${type}"`);
    const result = spec.validate(v.input, this.context(`${at}/input`, id, scope));
    return { step: { id, type, input: result.input } as Step, visibleAfter: result.visibleAfter ?? [] };
  }

  /** Vets a reference (`trigger.x`, `steps.find.records`, `item.name`) made by the step `self`. */
  private reference(root: string, segments: readonly string[], at: string, self: string, scope: Scope, what: string): void {
    if ((root === 'item' || root === 'index') && !scope.iterator) fail(at, `${what} names ${root}, which exists only inside an iterator`);
    if (root !== 'steps') return;
    const id = segments[1];
    if (id === undefined) return;
    if (scope.visible.has(id)) return;
    const where = this.allIds.get(id);
    const why = id === self ? 'the step itself (it has no output yet)'
      : where === undefined ? 'no step of this workflow'
        : `the step at ${where}, which does not run before this one (a step sees earlier steps, steps before its branch or iterator, and the steps of a branch that precedes it)`;
    fail(at, `${what} names steps.${id}: ${why}`);
  }

  private context(base: string, self: string, scope: Scope): StepContext {
    const full = (p: string): string => `${base}${p}`;
    return {
      limits: this.limits,
      fail: (p, message) => fail(full(p), message),
      fields: (value, p, allowed, required = []) => fields(value, full(p), allowed, required, p === '' ? 'input' : 'value'),
      templates: (value, p) => {
        forEachTemplate(value, full(p), (source, at) => {
          let refs;
          try {
            refs = parseTemplate(source).refs;
          } catch (err) {
            if (err instanceof HubError) fail(at, `bad template: ${err.message}`);
            throw err;
          }
          for (const ref of refs) this.reference(ref.root, [ref.root, ...ref.path], at, self, scope, `template {{${ref.expr}}}`);
        });
      },
      rule: (value, p, roots) => checkRule(value, full(p), roots, (segments, at) => this.reference(segments[0] as string, segments, at, self, scope, `var "${segments.join('.')}"`)),
      steps: (value, p, options = {}) => this.list(value, full(p), {
        visible: scope.visible,
        iterator: scope.iterator || options.iterator === true,
        depth: scope.depth + 1,
      }, options.minLength ?? 0),
    };
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates and normalises a workflow definition (see the module comment); the result is frozen. */
export function parseWorkflowDefinition(body: unknown, options: ParseOptions = {}): WorkflowDefinition {
  const limits: WorkflowLimits = { ...defaultLimits, ...options.limits };
  if (!isPlainObject(body)) fail('', `a workflow definition must be a JSON object {"name", "trigger", "steps"}, got ${kindOf(body)}`);
  const bad = notJson(body, BODY_MAX_DEPTH);
  if (bad) fail(bad.path, bad.message);
  fields(body, '', ['name', 'trigger', 'steps'], ['name', 'trigger', 'steps'], 'a workflow definition');
  const { name } = body;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) fail('/name', 'name must be a non-empty string of at most 200 characters');
  const trigger = parseTrigger(body.trigger);
  const allIds = new Map<string, string>();
  collectIds(body.steps, allIds, '/steps');
  // Copies, so normalising and freezing never touch the caller's object.
  const walker = new StepWalker(options.stepTypes ?? defaultStepTypes, limits, allIds);
  const { steps } = walker.list(structuredClone(body.steps), '/steps', { visible: new Set(), iterator: false, depth: 1 }, 1);
  // Last, once the shape is right: the path then points into a definition that is otherwise valid.
  const secret = findSecret(body);
  if (secret) fail(secret.path, secretMessage(secret));
  return deepFreeze(structuredClone({ name: name.trim(), trigger, steps }));
}

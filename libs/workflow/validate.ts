/**
 * `parseWorkflowDefinition(body)`: the body of `POST /v1/workflows` checked and
 * normalised, or HubError WORKFLOW_INVALID (400) whose `path` points at the first
 * problem, in document order. `workflowDefinitionSchema()` is its JSON Schema, for the
 * API's route and /docs.
 *
 * Three passes: what JSON cannot carry and bodies nested too deep; the JSON Schema
 * (the trigger's, triggers.ts, and each step type's, steps/, compiled by Ajv); then
 * what a schema cannot say, in execution order: the trigger's checks and each step's
 * `check`, with the scope rules below, the limits that count across the tree, and the
 * secret scan.
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
import type { ValidateFunction } from 'ajv';
import { HubError } from '../errors/index.ts';
import type { Step, WorkflowDefinition } from '../contracts/workflow.ts';
import { checkRule, fail } from './checks.ts';
import { compileSchema, type JsonSchema } from '../schema/compile.ts';
import { schemaProblem } from '../schema/problem.ts';
import { defaultLimits, stepTypes as defaultStepTypes, type StepContext, type StepRegistry, type WorkflowLimits } from './step-types.ts';
import { checkTrigger, triggerSchema } from './triggers.ts';
import { forEachTemplate, parseTemplate } from './template.ts';
import { findSecret, secretMessage } from './secrets-scan.ts';
import { isPlainObject, kindOf, pointer } from '../json/index.ts';

export interface ParseOptions {
  stepTypes?: StepRegistry;
  limits?: Partial<WorkflowLimits>;
}

/** Nesting levels of the body; deeper is refused before anything recurses into it. */
const BODY_MAX_DEPTH = 64;

/**
 * The JSON Schema of a workflow definition (with these step types and limits): add it
 * to fastify (`app.addSchema`) and refer to it as `{ $ref: 'WorkflowDefinition#' }`.
 * Triggers and steps are `oneOf`s discriminated by `type`.
 */
export function workflowDefinitionSchema(options: ParseOptions = {}): JsonSchema {
  const limits: WorkflowLimits = { ...defaultLimits, ...options.limits };
  const registry = options.stepTypes ?? defaultStepTypes;
  const step = { $ref: '#/$defs/step' };
  return {
    $id: 'WorkflowDefinition',
    title: 'Workflow definition',
    description: 'A trigger and the steps it runs (README, Workflows)',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'trigger', 'steps'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S', 'x-message': 'name must be a non-empty string of at most 200 characters' },
      trigger: { $ref: '#/$defs/trigger' },
      steps: { type: 'array', minItems: 1, items: step, 'x-message': 'steps must be an array of at least 1 step' },
    },
    $defs: {
      trigger: triggerSchema(),
      step: {
        description: `A step: {id, type, input}; the type (${[...registry.keys()].join(', ')}) decides the input`,
        type: 'object',
        additionalProperties: false,
        required: ['id', 'type', 'input'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$', description: 'Unique across the workflow; later steps read steps.<id>', 'x-message': 'id must start with a letter and have 1 to 64 letters, digits, _ or -' },
          type: { type: 'string' },
          input: { description: 'As the step type says' },
        },
        discriminator: { propertyName: 'type' },
        oneOf: [...registry].map(([type, spec]) => ({
          title: type,
          description: spec.description,
          type: 'object',
          properties: { type: { const: type }, input: spec.inputSchema({ limits, step }) },
        })),
        'x-message': { default: 'a step must be an object', discriminator: 'unknown step type {value}; known: {known}' },
      },
    },
  };
}

/** Compiled once per registry and limits. */
const validators = new WeakMap<StepRegistry, Map<string, ValidateFunction>>();

function validatorFor(registry: StepRegistry, limits: WorkflowLimits): ValidateFunction {
  const byLimits = validators.get(registry) ?? new Map<string, ValidateFunction>();
  validators.set(registry, byLimits);
  const key = JSON.stringify(limits);
  let validate = byLimits.get(key);
  if (!validate) {
    validate = compileSchema(workflowDefinitionSchema({ stepTypes: registry, limits }));
    byLimits.set(key, validate);
  }
  return validate;
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
    for (const [k, child] of Object.entries(v)) pending.push([child, pointer(path, k), depth + 1]);
  }
  return undefined;
}

interface RawStep { id: string; type: string; input: Record<string, unknown> }
interface Scope { visible: ReadonlySet<string>; iterator: boolean; depth: number }

/** Step ids wherever they are (the definition has the schema's shape): to tell "defined later" from "not defined". */
function collectIds(steps: readonly RawStep[], out: Map<string, string>, path: string): void {
  steps.forEach((step, i) => {
    const at = `${path}/${i}`;
    if (!out.has(step.id)) out.set(step.id, at);
    const input = step.input as { steps?: unknown; else?: unknown; branches?: unknown };
    if (Array.isArray(input.steps)) collectIds(input.steps as RawStep[], out, `${at}/input/steps`);
    if (Array.isArray(input.else)) collectIds(input.else as RawStep[], out, `${at}/input/else`);
    if (Array.isArray(input.branches)) {
      input.branches.forEach((b: { steps?: unknown }, j) => Array.isArray(b?.steps) && collectIds(b.steps as RawStep[], out, `${at}/input/branches/${j}/steps`));
    }
  });
}

/** The checks after the schema, step by step in execution order. */
class StepWalker {
  private readonly seen = new Map<string, string>();
  private count = 0;

  constructor(
    private readonly registry: StepRegistry,
    private readonly limits: WorkflowLimits,
    private readonly allIds: ReadonlyMap<string, string>,
  ) {}

  list(value: readonly RawStep[], path: string, scope: Scope): { steps: Step[]; visible: ReadonlySet<string> } {
    const visible = new Set(scope.visible);
    const steps = value.map((raw, i) => {
      const { step, visibleAfter } = this.step(raw, `${path}/${i}`, { ...scope, visible });
      visible.add(step.id);
      for (const id of visibleAfter) visible.add(id);
      return step;
    });
    return { steps, visible };
  }

  private step(raw: RawStep, at: string, scope: Scope): { step: Step; visibleAfter: Iterable<string> } {
    if (++this.count > this.limits.maxSteps) fail(at, `a workflow may have at most ${this.limits.maxSteps} steps, counting nested ones`);
    if (scope.depth > this.limits.maxDepth) fail(at, `steps may nest at most ${this.limits.maxDepth} levels deep`);
    const { id, type } = raw;
    const first = this.seen.get(id);
    if (first !== undefined) fail(`${at}/id`, `duplicate step id "${id}" (first used at ${first}); ids are unique across the whole workflow`);
    this.seen.set(id, at);
    const spec = this.registry.get(type);
    if (!spec) fail(`${at}/type`, `unknown step type "${type}"`);
    const ctx = this.context(`${at}/input`, id, scope);
    const result = spec.check ? spec.check(raw.input, ctx) : (ctx.templates(raw.input, ''), { input: raw.input });
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
      steps: (value, p, options = {}) => {
        if (!Array.isArray(value)) fail(full(p), `steps must be an array of steps, got ${kindOf(value)}`);
        return this.list(value as RawStep[], full(p), { visible: scope.visible, iterator: scope.iterator || options.iterator === true, depth: scope.depth + 1 });
      },
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
  const registry = options.stepTypes ?? defaultStepTypes;
  if (!isPlainObject(body)) fail('', `a workflow definition must be a JSON object {"name", "trigger", "steps"}, got ${kindOf(body)}`);
  const bad = notJson(body, BODY_MAX_DEPTH);
  if (bad) fail(bad.path, bad.message);
  // A copy of own data only, so checking and normalising never touch (or read through) the caller's object.
  const data = structuredClone(body) as { name: string; trigger: Record<string, unknown>; steps: RawStep[] };
  const validate = validatorFor(registry, limits);
  if (!validate(data)) {
    // The author wrote the definition: a message may quote it.
    const problem = schemaProblem(validate.errors ?? [], { data, showValues: true, describe: true, root: 'the definition' });
    fail(problem.path, problem.message);
  }
  const trigger = checkTrigger(data.trigger);
  const allIds = new Map<string, string>();
  collectIds(data.steps, allIds, '/steps');
  const { steps } = new StepWalker(registry, limits, allIds).list(data.steps, '/steps', { visible: new Set(), iterator: false, depth: 1 });
  // Last, once the shape is right: the path then points into a definition that is otherwise valid.
  const secret = findSecret(data);
  if (secret) fail(secret.path, secretMessage(secret));
  return deepFreeze(structuredClone({ name: data.name.trim(), trigger, steps }));
}

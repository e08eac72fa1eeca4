/**
 * What a step type is (Inngest: one `createTool` entry per tool): the JSON Schema of its
 * input, the checks JSON Schema cannot express, and its handler. Each type is one file
 * in steps/ exporting a `StepTypeSpec`; step-types.ts lists them.
 *
 * Validation runs in two passes: the whole definition against its JSON Schema (Ajv),
 * then, on a definition of the right shape, each step's `check` in execution order,
 * with a `StepContext` for what depends on the step's place in the tree: which steps
 * a template or a rule may name, `item`/`index` inside iterators, nested steps.
 */
import type { StepHandler } from './interpreter.ts';
import type { Step } from '../contracts/workflow.ts';
import type { RecordChanged, NotificationRequested } from '../kafka/events.ts';
import type { RecordReader } from '../store/records.ts';
import type { ResolvedCredential } from '../store/credentials.ts';
import type { HttpClient } from '../http/index.ts';
import type { CodeLimits, CodeRunner } from '../sandbox/code-runner.ts';
import type { JsonSchema } from '../schema/compile.ts';
import type { RecordWriteLog } from './steps/record-writes.ts';

export type { JsonSchema } from '../schema/compile.ts';

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

/** What an input schema may depend on. */
export interface SchemaContext {
  readonly limits: WorkflowLimits;
  /** The schema of one step (a `$ref`), for inputs that nest steps. */
  readonly step: JsonSchema;
}

/** Paths given to and reported by a context are JSON pointers relative to the step's `input`. */
export interface StepContext {
  /** Throws WORKFLOW_INVALID at `path`. */
  fail(path: string, message: string): never;
  /** Checks the templates inside `value`: syntax, and that they name only steps that precede this one. */
  templates(value: unknown, path: string): void;
  /** Validates a JSON Logic rule whose literal `var` paths may start with `roots` (visibility of steps applies). */
  rule(value: unknown, path: string, roots: readonly string[]): void;
  /** Checks nested steps, which see what this step sees (plus `item`/`index` in an iterator). */
  steps(value: unknown, path: string, options?: { iterator?: boolean }): { steps: Step[]; visible: ReadonlySet<string> };
  readonly limits: WorkflowLimits;
}

export interface CheckedInput {
  /** The normalised input (defaults filled in). */
  input: unknown;
  /** Ids that steps after this one may also name (a branch's inner steps). */
  visibleAfter?: Iterable<string>;
}

/** A stored credential's secret, resolved when a step executes. */
export interface CredentialResolver {
  resolve(workspaceId: string, name: string): Promise<ResolvedCredential | null>;
}

/** Everything the hub's handlers are built from; each type's `handler` picks what it needs. */
export interface StepHandlerDeps {
  records: RecordReader;
  publishRecords(events: RecordChanged[]): Promise<void>;
  publishNotification(n: NotificationRequested): Promise<void>;
  http: HttpClient;
  credentials: CredentialResolver;
  code: CodeRunner;
  codeLimits?: Partial<CodeLimits>;
  maxDepth: number;
  searchScanMax: number;
  emailDeliveryTimeoutMs: number;
  /** The executor's record writes, serialized per record (none in dry runs). */
  recordWrites?: RecordWriteLog;
}

export interface StepTypeSpec {
  /** The step's `type`. */
  readonly type: string;
  /** One line for the OpenAPI document. */
  readonly description: string;
  /** JSON Schema of `input`, compiled with the whole definition's (bounds may come from the limits). */
  inputSchema(s: SchemaContext): JsonSchema;
  /**
   * Runs once the whole definition matches its schema: what the schema cannot say, and
   * normalisation. Without it, the input's templates are checked and the input kept.
   */
  check?(input: Record<string, unknown>, ctx: StepContext): CheckedInput;
  /** Builds the type's handler; branch and iterator have none (the interpreter runs them). */
  handler?(deps: StepHandlerDeps): StepHandler;
}

/** What a search filter and a branch condition may read. */
export const RUN_ROOTS = ['trigger', 'steps', 'item', 'index'] as const;

/** A step's input: an object of exactly these properties, so a misspelt one is refused, not ignored. */
export const inputObject = (required: string[], properties: Record<string, JsonSchema>, more: JsonSchema = {}): JsonSchema =>
  ({ type: 'object', additionalProperties: false, required, properties, ...more });

/** A record object's name: never a template (the store and the triggers key on it). */
export const objectNameSchema: JsonSchema = {
  type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,200}$',
  'x-message': 'object must be an object name of 1 to 200 letters, digits and _ . : - (e.g. "people"), not a template',
};

/** Templated text: a non-empty string that may hold `{{…}}`. */
export const textSchema = (maxLength: number, description?: string): JsonSchema =>
  ({ type: 'string', minLength: 1, maxLength, ...(description ? { description } : {}) });

/** An integer setting with its bounds and default. */
export const integerSchema = (minimum: number, maximum: number, defaultValue: number, description?: string): JsonSchema =>
  ({ type: 'integer', minimum, maximum, default: defaultValue, ...(description ? { description } : {}) });

/** Field name → value or template, as record steps write them. */
export const valuesSchema: JsonSchema = {
  type: 'object',
  description: 'Field names to values or templates',
  propertyNames: { type: 'string', minLength: 1, maxLength: 200, 'x-message': 'field names must have 1 to 200 characters' },
  'x-message': 'values must be an object mapping field names to values or templates',
};

/** Nested steps, as branches and iterators hold them. */
export const stepList = (step: JsonSchema, name: string, minItems = 0): JsonSchema => ({
  type: 'array', items: step,
  'x-message': minItems > 0 ? `${name} must be an array of at least ${minItems} step${minItems === 1 ? '' : 's'}` : `${name} must be an array of steps`,
  ...(minItems > 0 ? { minItems } : {}),
});

/** A JSON Logic rule (libs/rules); its operators and `var` paths are checked after the schema. */
export const ruleSchema = (description: string): JsonSchema => ({ description });

/**
 * The step-type registry: type → its spec (step-spec.ts), one file per type in steps/.
 * A new type is one file exporting a `StepTypeSpec`, one line below, and one member of
 * `Step` in libs/contracts/workflow.ts. The registry feeds the definition's JSON Schema
 * and checks (validate.ts) and the handlers (steps/index.ts); pass another registry
 * (`createStepRegistry`) to narrow or extend what a service accepts and runs.
 */
import type { StepTypeSpec } from './step-spec.ts';
import { recordSearch } from './steps/record-search.ts';
import { recordCreate } from './steps/record-create.ts';
import { recordUpdate } from './steps/record-update.ts';
import { recordDelete } from './steps/record-delete.ts';
import { branch } from './steps/branch.ts';
import { iterator } from './steps/iterator.ts';
import { code } from './steps/code.ts';
import { http } from './steps/http.ts';
import { email } from './steps/email.ts';
import { chat } from './steps/chat.ts';

export {
  defaultLimits, type CheckedInput, type SchemaContext, type StepContext, type StepHandlerDeps, type StepTypeSpec, type WorkflowLimits,
} from './step-spec.ts';

export type StepRegistry = ReadonlyMap<string, StepTypeSpec>;

/** A registry of these types, in this order (the order error messages list them in); a type given twice is a mistake. */
export function createStepRegistry(specs: Iterable<StepTypeSpec>): StepRegistry {
  const registry = new Map<string, StepTypeSpec>();
  for (const spec of specs) {
    if (registry.has(spec.type)) throw new Error(`step type ${spec.type} is registered twice`);
    registry.set(spec.type, Object.freeze({ ...spec }));
  }
  return registry;
}

/** Every step type the hub knows. */
export const stepTypes: StepRegistry = createStepRegistry([
  recordSearch,
  recordCreate,
  recordUpdate,
  recordDelete,
  branch,
  iterator,
  code,
  http,
  email,
  chat,
]);

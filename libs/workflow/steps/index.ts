/**
 * Every step handler the hub has, built from what they need: one per type of the
 * registry that has a handler (branch and iterator are the interpreter's). The action
 * executor runs them for real; the ingress runs them for dry runs (where effects are
 * shown, not performed: each handler honours `ctx.dryRun`).
 */
import type { StepHandler } from '../interpreter.ts';
import { stepTypes, type StepHandlerDeps, type StepRegistry } from '../step-types.ts';

export type { StepHandlerDeps } from '../step-spec.ts';

export function createStepHandlers(d: StepHandlerDeps, registry: StepRegistry = stepTypes): Map<string, StepHandler> {
  const handlers = new Map<string, StepHandler>();
  for (const [type, spec] of registry) if (spec.handler) handlers.set(type, spec.handler(d));
  return handlers;
}

import { errorFactory } from '../errors/index.ts';

/** Refusals of JSON Logic rules: a bad rule at definition time, a rule that cannot run. */
export const rulesErrors = {
  RULE_INVALID: { status: 400, retriable: false },
  // A user error recorded on the run (a dynamic regex that is unsafe, …): retrying cannot help.
  RULE_FAILED: { status: 422, retriable: false },
} as const;

export const raise = errorFactory(rulesErrors);

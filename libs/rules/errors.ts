import { errorFactory, pickErrors } from '../errors/index.ts';

/** Refusals of JSON Logic rules: a bad rule at definition time, a rule that cannot run. */
export const rulesErrors = pickErrors('RULE_INVALID', 'RULE_FAILED');

export const raise = errorFactory(rulesErrors);

/**
 * JSON Logic for the hub: trigger filters, branch conditions, search filters and lead
 * scoring. `validateRule` checks a rule once, when a definition is saved;
 * `evaluate(rule, data, { now })` is the only way to run one (it validates rules it
 * has not seen, so a rule that skipped validation still cannot reach `log` or an
 * unknown operator).
 *
 * Besides the json-logic-js built-ins (all but `log`), rules may use:
 *
 * ```jsonc
 * {"contains": [{"var": "record.email"}, "@ACME.com"]}      // true for "ada@acme.com": strings case-insensitive; arrays: an item equals
 * {"lower": "Ada"}  {"upper": "ada"}  {"trim": " ada "}     // "ada", "ADA", "ada"; null for objects, arrays, null
 * {"starts_with": ["+33 6 12", "+33"]}                       // true (case-sensitive; wrap in lower for insensitive)
 * {"ends_with": [{"lower": {"var": "record.email"}}, ".fr"]}
 * {"matches": [{"var": "record.phone"}, "^\\+?[0-9 ]{6,20}$", "i"]}  // regex, screened (see regex.ts); flags i, m, s, u
 * {"days_since": {"var": "record.lastContactAt"}}            // whole days from the date to ctx.now, null when not a date
 * {"length": {"var": "record.tags"}}                         // characters, items, keys; 0 for null/missing
 * {"coalesce": [{"var": "record.phone"}, {"var": "record.mobile"}, "none"]}  // first value not null, missing or ""
 * {"score": [[{">": [{"var": "record.employees"}, 500]}, 30], [{"==": [{"var": "record.industry"}, "saas"]}, 20]]}  // 0, 20, 30 or 50
 * ```
 */
import jsonLogic from 'json-logic-js';
import { HubError } from '../errors/index.ts';
import { raise } from './errors.ts';
import { evalState } from './operators.ts';
import { validateRule } from './validate.ts';

export { rulesErrors } from './errors.ts';
export { builtinOperators, customOperators } from './operators.ts';
export { regexLimits, unsafePattern } from './regex.ts';
export { ruleLimits, validateRule, type ValidateRuleOptions } from './validate.ts';

/** A JSON Logic rule: an operation object, or a plain value (which evaluates to itself). */
export type Rule = unknown;

export interface EvaluationContext {
  /** The instant `days_since` counts to; passed in so evaluations are reproducible. */
  now: Date | number;
}

const validated = new WeakSet<object>();

/**
 * Evaluates `rule` over `data`. Throws RULE_INVALID for a rule that fails validation
 * and RULE_FAILED when it cannot run (a computed regex that is refused, …).
 */
export function evaluate(rule: Rule, data: unknown, ctx: EvaluationContext): unknown {
  const nowMs = typeof ctx.now === 'number' ? ctx.now : ctx.now.getTime();
  if (!Number.isFinite(nowMs)) throw new TypeError('evaluate: ctx.now must be a valid instant');
  if (typeof rule === 'object' && rule !== null) {
    if (!validated.has(rule)) {
      validateRule(rule);
      validated.add(rule);
    }
  } else {
    validateRule(rule);
  }
  // Evaluation is synchronous, so one slot per process is enough; restored for nested calls.
  const previous = evalState.nowMs;
  evalState.nowMs = nowMs;
  try {
    return jsonLogic.apply(rule as jsonLogic.RulesLogic, data);
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw raise('RULE_FAILED', `rule failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    evalState.nowMs = previous;
  }
}

/** JSON Logic truthiness: like JavaScript's, except that an empty array is false. */
export function truthy(value: unknown): boolean {
  return jsonLogic.truthy(value);
}

/** `truthy(evaluate(rule, data, ctx))`: whether a condition holds. */
export function holds(rule: Rule, data: unknown, ctx: EvaluationContext): boolean {
  return truthy(evaluate(rule, data, ctx));
}

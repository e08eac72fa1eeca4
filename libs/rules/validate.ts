/**
 * Definition-time checks of a JSON Logic rule: only known operators, argument counts,
 * JSON values only, bounded depth and size, literal regexes screened, `score` pairs
 * well formed. Errors are RULE_INVALID with a JSON pointer to the offending node.
 */
import { raise } from './errors.ts';
import { builtinOperators, customOperators, scopedOperators, type Arity } from './operators.ts';
import { unsafePattern } from './regex.ts';
import { kindOf, pointer } from '../json/index.ts';

export const ruleLimits = {
  maxDepth: 32,
  maxNodes: 2000,
  stringMaxChars: 10_000,
} as const;

/** Segments a `var` path may not name: they lead out of the data into prototypes. */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

export interface ValidateRuleOptions {
  /**
   * Called for each `var` whose path is a literal and reads the rule's own data (not
   * an item inside map/filter/reduce/all/none/some), with the path split on dots and
   * the pointer of the path; lets a caller check that the names exist.
   */
  onVar?: (segments: readonly string[], path: string) => void;
}

const arityOf = (op: string): Arity | undefined =>
  Object.prototype.hasOwnProperty.call(builtinOperators, op) ? builtinOperators[op]
    : Object.prototype.hasOwnProperty.call(customOperators, op) ? customOperators[op] : undefined;

function plural(n: number): string {
  return n === 1 ? '1 argument' : `${n} arguments`;
}

function describeArity([min, max]: Arity): string {
  if (min === max) return `exactly ${plural(min)}`;
  if (max === Infinity) return `at least ${plural(min)}`;
  return `${min} to ${max} arguments`;
}

/** Throws RULE_INVALID naming the first problem of `rule`; `path` is the rule's own pointer. */
export function validateRule(rule: unknown, path = '', options: ValidateRuleOptions = {}): void {
  let nodes = 0;

  const visit = (node: unknown, at: string, depth: number, scoped: boolean): void => {
    if (++nodes > ruleLimits.maxNodes) throw raise('RULE_INVALID', `rule has more than ${ruleLimits.maxNodes} nodes`, { path: at });
    if (depth > ruleLimits.maxDepth) throw raise('RULE_INVALID', `rule nests deeper than ${ruleLimits.maxDepth} levels`, { path: at });
    if (node === null || typeof node === 'boolean') return;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) throw raise('RULE_INVALID', `numbers in a rule must be finite, got ${node}`, { path: at });
      return;
    }
    if (typeof node === 'string') {
      if (node.length > ruleLimits.stringMaxChars) throw raise('RULE_INVALID', `strings in a rule must be at most ${ruleLimits.stringMaxChars} characters`, { path: at });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, pointer(at, i), depth + 1, scoped));
      return;
    }
    if (typeof node !== 'object' || (Object.getPrototypeOf(node) !== Object.prototype && Object.getPrototypeOf(node) !== null)) {
      throw raise('RULE_INVALID', `a rule is made of JSON values, got ${kindOf(node)}`, { path: at });
    }
    const keys = Object.keys(node);
    if (keys.length !== 1) {
      throw raise('RULE_INVALID', `an operation is an object with exactly one key, the operator (e.g. {"==": [a, b]}); got ${keys.length} keys`, { path: at });
    }
    const op = keys[0] as string;
    const opAt = pointer(at, op);
    const arity = arityOf(op);
    if (!arity) {
      const hint = op === 'log' ? ' (log is disabled: rules must not write to the server log)' : '';
      throw raise('RULE_INVALID', `unknown operator "${op}"${hint}; see libs/rules/README.md for the operators`, { path: opAt });
    }
    const raw = (node as Record<string, unknown>)[op];
    // json-logic-js reads a non-array as the single argument: {"var": "a"} is {"var": ["a"]}.
    const args = Array.isArray(raw) ? raw : [raw];
    const argAt = (i: number): string => (Array.isArray(raw) ? pointer(opAt, i) : opAt);
    if (args.length < arity[0] || args.length > arity[1]) {
      throw raise('RULE_INVALID', `"${op}" takes ${describeArity(arity)}, got ${args.length}`, { path: opAt });
    }

    if (op === 'var') checkVar(args, argAt, scoped);
    if (op === 'score') {
      args.forEach((pair, i) => {
        const at2 = argAt(i);
        if (!Array.isArray(pair) || pair.length !== 2) throw raise('RULE_INVALID', 'each score item must be [rule, weight]', { path: at2 });
        if (typeof pair[1] !== 'number' || !Number.isFinite(pair[1])) throw raise('RULE_INVALID', 'a score weight must be a finite number', { path: pointer(at2, 1) });
      });
    }
    if (op === 'matches') {
      const [, pattern, flags] = args;
      if (flags !== undefined && typeof flags !== 'string' && !isOperation(flags)) throw raise('RULE_INVALID', 'matches flags must be a string such as "i"', { path: argAt(2) });
      if (typeof pattern !== 'string' && !isOperation(pattern)) throw raise('RULE_INVALID', 'matches pattern must be a string', { path: argAt(1) });
      // Literal patterns are screened now; computed ones when the rule runs.
      const why = unsafePattern(typeof pattern === 'string' ? pattern : '', typeof flags === 'string' ? flags : '');
      if (why) throw raise('RULE_INVALID', `matches: ${why}`, { path: argAt(why.startsWith('flags') ? 2 : 1) });
    }
    args.forEach((arg, i) => visit(arg, argAt(i), depth + 1, scoped || (scopedOperators.has(op) && i === 1)));
  };

  const checkVar = (args: unknown[], argAt: (i: number) => string, scoped: boolean): void => {
    const name = args[0];
    if (name === undefined || name === null || isOperation(name)) return;
    if (typeof name !== 'string' && typeof name !== 'number') throw raise('RULE_INVALID', `var takes a path such as "record.email", got ${kindOf(name)}`, { path: argAt(0) });
    const segments = name === '' ? [] : String(name).split('.');
    const bad = segments.find((s) => FORBIDDEN_SEGMENTS.has(s));
    if (bad) throw raise('RULE_INVALID', `var paths may not name "${bad}"`, { path: argAt(0) });
    if (!scoped && segments.length > 0) options.onVar?.(segments, argAt(0));
  };

  visit(rule, path, 0, false);
}

function isOperation(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

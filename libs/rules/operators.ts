/**
 * The hub's own JSON Logic operators (text, dates, scoring) and the arity of every
 * operator a rule may use. json-logic-js keeps one operator table per process and
 * offers no private instance, so ours are added to it once, under names it does not
 * define; `evaluate` in index.ts is the only entry point that runs them.
 */
import jsonLogic from 'json-logic-js';
import { safeRegExp } from './regex.ts';

/** Min and max argument counts. */
export type Arity = readonly [number, number];

/**
 * Built-ins of json-logic-js 2.x that rules may use. `log` is left out on purpose: it
 * writes to the server's console, which rule authors must not reach.
 */
export const builtinOperators: Readonly<Record<string, Arity>> = {
  var: [0, 2], missing: [0, Infinity], missing_some: [2, 2],
  if: [1, Infinity], '?:': [1, Infinity], and: [1, Infinity], or: [1, Infinity], '!': [1, 1], '!!': [1, 1],
  '==': [2, 2], '===': [2, 2], '!=': [2, 2], '!==': [2, 2], '>': [2, 2], '>=': [2, 2], '<': [2, 3], '<=': [2, 3],
  '+': [0, Infinity], '-': [1, 2], '*': [1, Infinity], '/': [2, 2], '%': [2, 2], min: [1, Infinity], max: [1, Infinity],
  map: [2, 2], filter: [2, 2], reduce: [2, 3], all: [2, 2], none: [2, 2], some: [2, 2],
  merge: [0, Infinity], in: [2, 2], cat: [0, Infinity], substr: [2, 3],
};

export const customOperators: Readonly<Record<string, Arity>> = {
  contains: [2, 2], lower: [1, 1], upper: [1, 1], trim: [1, 1], starts_with: [2, 2], ends_with: [2, 2],
  matches: [2, 3], days_since: [1, 1], length: [1, 1], coalesce: [1, Infinity], score: [1, Infinity],
};

/** Operators whose second argument runs once per array item, with the item (or {current, accumulator}) as data. */
export const scopedOperators: ReadonlySet<string> = new Set(['map', 'filter', 'reduce', 'all', 'none', 'some']);

/**
 * The evaluation context of the rule being evaluated. Kept on globalThis under a
 * registered symbol: should two copies of this module load, both sets of operators
 * read the same slot, and json-logic-js holds whichever registered last.
 */
interface EvalState { nowMs: number | undefined }
const STATE_KEY = Symbol.for('crm-hub.rules.state');
const slot = globalThis as unknown as Record<symbol, EvalState | undefined>;
export const evalState: EvalState = (slot[STATE_KEY] ??= { nowMs: undefined });

/** Strings as they are, numbers and booleans as text, anything else null. */
function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

const DAY_MS = 86_400_000;
// A date, or a date and time with an explicit zone: a zoneless time would be read in
// the server's zone.
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function parseDate(value: unknown): number | null {
  if (typeof value !== 'string' || !(DATE.test(value) || DATE_TIME.test(value))) return null;
  const ms = Date.parse(DATE.test(value) ? `${value}T00:00:00Z` : value);
  return Number.isNaN(ms) ? null : ms;
}

function sameItem(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

const implementations: Record<string, (...args: unknown[]) => unknown> = {
  contains(haystack, needle) {
    if (Array.isArray(haystack)) return haystack.some((item) => sameItem(item, needle));
    const h = text(haystack);
    const n = text(needle);
    return h !== null && n !== null && h.toLowerCase().includes(n.toLowerCase());
  },
  lower: (v) => text(v)?.toLowerCase() ?? null,
  upper: (v) => text(v)?.toUpperCase() ?? null,
  trim: (v) => text(v)?.trim() ?? null,
  starts_with(s, prefix) {
    const [a, b] = [text(s), text(prefix)];
    return a !== null && b !== null && a.startsWith(b);
  },
  ends_with(s, suffix) {
    const [a, b] = [text(s), text(suffix)];
    return a !== null && b !== null && a.endsWith(b);
  },
  matches(s, pattern, flags) {
    const input = text(s);
    if (typeof pattern !== 'string') throw new Error('matches: the pattern must be a string');
    if (flags !== undefined && typeof flags !== 'string') throw new Error('matches: flags must be a string');
    const { re, inputMaxChars } = safeRegExp(pattern, flags ?? '');
    if (input === null || input.length > inputMaxChars) return false;
    return re.test(input);
  },
  days_since(date) {
    const nowMs = evalState.nowMs;
    if (nowMs === undefined) throw new Error('days_since runs only through evaluate(rule, data, { now })');
    const ms = parseDate(date);
    // Rounded toward zero: 23 hours ago is 0 days, a date 36 hours ahead is -1.
    return ms === null ? null : Math.trunc((nowMs - ms) / DAY_MS) + 0;
  },
  length(v) {
    if (typeof v === 'string') return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (v === null || v === undefined) return 0;
    if (typeof v === 'object') return Object.keys(v).length;
    return null;
  },
  coalesce: (...values) => values.find((v) => v !== null && v !== undefined && v !== '') ?? null,
  score(...pairs) {
    let total = 0;
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== 'number') throw new Error('score: each item must be [rule, weight]');
      if (jsonLogic.truthy(pair[0])) total += pair[1];
    }
    return total;
  },
};

for (const name of Object.keys(customOperators)) {
  if (name in builtinOperators || name === 'log') throw new Error(`custom operator ${name} would shadow a built-in`);
  jsonLogic.add_operation(name, implementations[name] as (...args: unknown[]) => unknown);
}

/**
 * Guards for the `matches` operator. JavaScript's backtracking engine takes
 * exponential time on patterns like `(a+)+$` and polynomial time on `.*.*X` (n³:
 * minutes on 10 000 characters), and rules run on data from webhooks, so patterns
 * are capped and screened before they are compiled: no nested repeated quantifiers,
 * no backreferences, no unbounded repetition of an alternation, at most three
 * unbounded quantifiers, and inputs capped, tighter with each unbounded quantifier.
 * A heuristic: measured worst cases stay near 100 ms. Processes that evaluate rules
 * may add `--enable-experimental-regexp-engine-on-excessive-backtracks` to node's
 * flags, which moves a runaway match to V8's linear-time engine.
 */
export const regexLimits = {
  patternMaxChars: 200,
  /** Longer inputs never match (documented): truncating would change what `$` means. */
  inputMaxChars: 10_000,
  /**
   * The input cap by number of unbounded quantifiers: a match may take n^(k+1) steps.
   * Measured worst cases: `.*X` 36 ms on 10 000, `.*.*X` 134 ms on 1 000, `.*.*.*X` 23 ms on 100.
   */
  inputMaxCharsByUnbounded: [10_000, 10_000, 1_000, 100] as readonly number[],
  unboundedQuantifiersMax: 3,
  repeatMax: 1000,
  cacheSize: 500,
} as const;

/** Flags that change neither state (g, y) nor the engine (v, d): case, multiline, dotAll, unicode. */
const SAFE_FLAGS = /^(?!.*(.).*\1)[imsu]*$/;

interface Group { hasQuantifier: boolean; hasAlternation: boolean }

/** Returns why `pattern`/`flags` are refused, or undefined when they are acceptable. */
export function unsafePattern(pattern: string, flags = ''): string | undefined {
  const screened = screen(pattern, flags);
  return typeof screened === 'string' ? screened : undefined;
}

/** The reason for refusing, or the number of unbounded quantifiers. */
function screen(pattern: string, flags: string): string | number {
  if (pattern.length > regexLimits.patternMaxChars) return `pattern must be at most ${regexLimits.patternMaxChars} characters, got ${pattern.length}`;
  if (!SAFE_FLAGS.test(flags)) return 'flags may only combine i, m, s and u, each once';
  try {
    new RegExp(pattern, flags);
  } catch (err) {
    return `pattern is not a valid regular expression: ${(err as Error).message}`;
  }
  const stack: Group[] = [{ hasQuantifier: false, hasAlternation: false }];
  let unbounded = 0;
  let inClass = false;
  // The group or atom that a quantifier just after position i applies to.
  let lastGroup: Group | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    const top = stack[stack.length - 1] as Group;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) return 'backreferences are not allowed';
      i++;
      lastGroup = undefined;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') { inClass = true; lastGroup = undefined; continue; }
    if (c === '(') { stack.push({ hasQuantifier: false, hasAlternation: false }); lastGroup = undefined; continue; }
    if (c === ')') {
      lastGroup = stack.pop();
      const parent = stack[stack.length - 1] as Group;
      if (lastGroup?.hasQuantifier) parent.hasQuantifier = true;
      continue;
    }
    if (c === '|') { top.hasAlternation = true; lastGroup = undefined; continue; }
    // The most repetitions the quantifier allows (Infinity when unbounded).
    let max: number | undefined;
    let width = 1;
    if (c === '*' || c === '+') max = Infinity;
    else if (c === '?') {
      // A `?` after another quantifier makes it lazy, after `(` it opens a special group.
      const prev = pattern[i - 1];
      if (prev === '*' || prev === '+' || prev === '?' || prev === '}' || prev === '(') continue;
      max = 1;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (m) {
        width = m[0].length;
        max = m[2] !== undefined && m[3] === '' ? Infinity : Number(m[3] ?? m[1]);
        if (Number.isFinite(max) && max > regexLimits.repeatMax) return `repetition counts must be at most ${regexLimits.repeatMax}`;
      }
    }
    if (max === undefined) { lastGroup = undefined; continue; }
    if (max === Infinity) unbounded++;
    if (lastGroup && max > 1) {
      // (https?://)? is fine: the group runs at most once.
      if (lastGroup.hasQuantifier) return 'nested quantifiers such as (a+)+ are not allowed (they can take exponential time)';
      if (lastGroup.hasAlternation && max === Infinity) return 'an alternation repeated without bound such as (a|b)* is not allowed; use a character class';
    }
    top.hasQuantifier = true;
    lastGroup = undefined;
    i += width - 1;
  }
  if (unbounded > regexLimits.unboundedQuantifiersMax) return `at most ${regexLimits.unboundedQuantifiersMax} unbounded quantifiers (*, +, {n,}) are allowed`;
  return unbounded;
}

export interface SafeRegExp {
  readonly re: RegExp;
  /** Longer inputs must not be matched against `re`. */
  readonly inputMaxChars: number;
}

const cache = new Map<string, SafeRegExp>();

/** A compiled, screened regex and its input cap; throws an Error with the reason when it is refused. */
export function safeRegExp(pattern: string, flags = ''): SafeRegExp {
  const key = `${flags}/${pattern}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const screened = screen(pattern, flags);
  if (typeof screened === 'string') throw new Error(screened);
  const compiled = Object.freeze({
    re: new RegExp(pattern, flags),
    inputMaxChars: regexLimits.inputMaxCharsByUnbounded[screened] ?? 0,
  });
  if (cache.size >= regexLimits.cacheSize) cache.delete(cache.keys().next().value as string);
  cache.set(key, compiled);
  return compiled;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsonLogic from 'json-logic-js';
import { HubError } from '../../libs/errors/index.ts';
import { builtinOperators, customOperators, evaluate, holds, regexLimits, truthy, unsafePattern, validateRule } from '../../libs/rules/index.ts';
import { assertRefused } from '../support/errors.ts';

const NOW = Date.UTC(2024, 4, 10, 12, 0, 0);
const ctx = { now: NOW };
const run = (rule: unknown, data: unknown = {}) => evaluate(rule, data, ctx);

function refused(rule: unknown, path: string, message: RegExp, at = '/rule'): void {
  assertRefused(() => validateRule(rule, at), 'RULE_INVALID', path, message);
}

test('contains: strings case-insensitively, arrays by item', () => {
  assert.equal(run({ contains: [{ var: 'e' }, '@ACME.com'] }, { e: 'ada@acme.COM' }), true);
  assert.equal(run({ contains: ['ada', 'bob'] }), false);
  assert.equal(run({ contains: [['VIP', 'partner'], 'vip'] }), true);
  assert.equal(run({ contains: [[1, 2, 3], 2] }), true);
  assert.equal(run({ contains: [[1, 2, 3], '2'] }), false);
  assert.equal(run({ contains: [{ var: 'missing' }, 'x'] }), false);
  assert.equal(run({ contains: [12345, 234] }), true);
});

test('lower, upper, trim', () => {
  assert.equal(run({ lower: 'AdA' }), 'ada');
  assert.equal(run({ upper: 'ada' }), 'ADA');
  assert.equal(run({ trim: '  ada \n' }), 'ada');
  assert.equal(run({ lower: { var: 'n' } }, { n: 42 }), '42');
  assert.equal(run({ upper: { var: 'missing' } }), null);
  assert.equal(run({ trim: [[1]] }), null);
});

test('starts_with and ends_with are case-sensitive', () => {
  assert.equal(run({ starts_with: ['+33 6 12', '+33'] }), true);
  assert.equal(run({ starts_with: ['Ada', 'ada'] }), false);
  assert.equal(run({ ends_with: [{ lower: 'ADA@EXAMPLE.FR' }, '.fr'] }), true);
  assert.equal(run({ ends_with: [null, ''] }), false);
});

test('matches: regex with safe flags', () => {
  assert.equal(run({ matches: ['ABC-123', '^abc-\\d+$', 'i'] }), true);
  assert.equal(run({ matches: ['ABC-123', '^abc-\\d+$'] }), false);
  assert.equal(run({ matches: [{ var: 'x' }, '.*'] }), false, 'a missing input never matches');
  assert.equal(run({ matches: [{ var: 's' }, 'a'] }, { s: 'a'.repeat(regexLimits.inputMaxChars + 1) }), false, 'inputs over the cap never match');
  assert.equal(run({ matches: [{ var: 's' }, 'a$'] }, { s: 'a'.repeat(regexLimits.inputMaxChars) }), true);
  assert.equal(run({ matches: ['(https://x)', '^\\(https?://x\\)$'] }), true);
});

test('matches: catastrophic and unsafe patterns are refused', () => {
  for (const [pattern, why] of [
    ['(a+)+$', /nested quantifiers/],
    ['(a*)*b', /nested quantifiers/],
    ['(x+x+)+y', /nested quantifiers/],
    ['((ab)*c){2,}', /nested quantifiers/],
    ['(a|aa)+$', /alternation/],
    ['(\\w+\\s?)*$', /nested quantifiers/],
    ['(a)\\1', /backreferences/],
    ['(?<n>a)\\k<n>', /backreferences/],
    ['a{1,5000}', /at most 1000/],
    ['a*b*c*d+', /at most 3 unbounded/],
    ['(?=.*\\d)(?=.*[a-z])(?=.*[A-Z]).{8,}', /at most 3 unbounded/],
    ['x'.repeat(201), /at most 200 characters/],
    ['(', /not a valid regular expression/],
  ] as const) {
    assert.match(unsafePattern(pattern) ?? 'accepted', why, pattern);
  }
  for (const ok of ['^(https?://)?[a-z.]+$', '^[^@]+@[^@]+\\.[a-z]{2,}$', '(foo|bar)', '(foo|bar){1,3}', '\\(a+\\)+', '[(a+)+]', 'a+?b*?']) {
    assert.equal(unsafePattern(ok), undefined, ok);
  }
  assert.match(unsafePattern('a', 'g') ?? '', /flags/);
  assert.match(unsafePattern('a', 'ii') ?? '', /flags/);
  assert.equal(unsafePattern('a', 'imsu'), undefined);
});

test('matches: the worst accepted patterns stay fast on hostile input', () => {
  const started = performance.now();
  assert.equal(run({ matches: [{ var: 's' }, '.*.*X'] }, { s: 'a'.repeat(1000) }), false);
  assert.equal(run({ matches: [{ var: 's' }, '.*.*X'] }, { s: 'a'.repeat(1001) }), false, 'over the cap of two unbounded quantifiers');
  assert.equal(run({ matches: [{ var: 's' }, '.*.*.*X'] }, { s: 'a'.repeat(100) }), false);
  assert.equal(run({ matches: [{ var: 's' }, '.*.*.*X'] }, { s: `${'a'.repeat(100)}X` }), false, 'over the cap of three');
  assert.equal(run({ matches: [{ var: 's' }, '.*.*.*X'] }, { s: `${'a'.repeat(99)}X` }), true);
  assert.equal(run({ matches: [{ var: 's' }, '.*X'] }, { s: 'a'.repeat(10_000) }), false);
  assert.equal(run({ matches: [{ var: 's' }, '^(https?://)?[a-z0-9.-]+$'] }, { s: `${'a'.repeat(9999)}!` }), false);
  assert.equal(run({ matches: [{ var: 's' }, '[a-z]+@[a-z]+\\.com$'] }, { s: `${'a'.repeat(500)}@${'a'.repeat(499)}` }), false);
  assert.match(unsafePattern('(\\w\\d?){1,1000}$') ?? '', /nested quantifiers/);
  assert.ok(performance.now() - started < 3000, `took ${performance.now() - started} ms`);
});

test('matches: a computed unsafe pattern fails the evaluation with RULE_FAILED', () => {
  assert.throws(() => run({ matches: ['aaaa', { var: 'p' }] }, { p: '(a+)+$' }), (err: unknown) => {
    assert.ok(err instanceof HubError);
    assert.equal(err.code, 'RULE_FAILED');
    assert.equal(err.status, 422);
    assert.equal(err.retriable, false);
    assert.match(err.message, /nested quantifiers/);
    return true;
  });
  assert.equal(run({ matches: ['abc', { var: 'p' }] }, { p: '^a' }), true);
});

test('days_since counts whole days to ctx.now', () => {
  assert.equal(run({ days_since: '2024-05-01' }), 9);
  assert.equal(run({ days_since: '2024-05-10T11:00:00Z' }), 0);
  assert.equal(run({ days_since: '2024-05-09T12:00:00+00:00' }), 1);
  assert.equal(run({ days_since: '2024-05-12T00:00:00Z' }), -1);
  assert.equal(run({ days_since: '2024-05-10T13:00:00Z' }), 0);
  assert.equal(run({ days_since: '2024-05-10T12:00' }), null, 'a time without a zone is refused');
  assert.equal(run({ days_since: 'yesterday' }), null);
  assert.equal(run({ days_since: { var: 'missing' } }), null);
  assert.equal(evaluate({ days_since: '2024-01-01' }, {}, { now: new Date('2024-01-31T00:00:00Z') }), 30);
  assert.equal(run({ '>': [{ days_since: { var: 'last' } }, 7] }, { last: '2024-04-01' }), true);
});

test('days_since needs evaluate: called through json-logic-js directly it throws', () => {
  assert.throws(() => jsonLogic.apply({ days_since: '2024-01-01' } as never, {}), /evaluate/);
});

test('length and coalesce', () => {
  assert.equal(run({ length: 'héllo' }), 5);
  assert.equal(run({ length: '👍🏽' }), 2);
  assert.equal(run({ length: { var: 'tags' } }, { tags: ['a', 'b'] }), 2);
  assert.equal(run({ length: { var: 'o' } }, { o: { a: 1, b: 2, c: 3 } }), 3);
  assert.equal(run({ length: { var: 'missing' } }), 0);
  assert.equal(run({ length: true }), null);
  assert.equal(run({ coalesce: [{ var: 'a' }, '', null, { var: 'b' }, 'x'] }, { b: 0 }), 0);
  assert.equal(run({ coalesce: [{ var: 'a' }, ''] }), null);
  assert.equal(run({ coalesce: [false, 'x'] }), false);
});

test('score sums the weights of the rules that hold', () => {
  const rule = {
    score: [
      [{ '>': [{ var: 'record.employees' }, 500] }, 30],
      [{ in: [{ var: 'record.industry' }, ['saas', 'fintech']] }, 20],
      // null <= 7 holds in JavaScript, so a missing date is guarded first.
      [{ and: [{ var: 'record.lastVisitAt' }, { '<=': [{ days_since: { var: 'record.lastVisitAt' } }, 7] }] }, 15],
      [{ contains: [{ var: 'record.tags' }, 'churned'] }, -40],
    ],
  };
  assert.equal(run(rule, { record: { employees: 800, industry: 'saas', lastVisitAt: '2024-05-08', tags: [] } }), 65);
  assert.equal(run(rule, { record: { employees: 10, industry: 'retail', tags: ['Churned'] } }), -40);
  assert.equal(run(rule, { record: {} }), 0);
  assert.equal(run({ '>=': [rule, 50] }, { record: { employees: 900, industry: 'fintech' } }), true);
  assert.equal(run({ score: [[{ var: 'list' }, 5]] }, { list: [] }), 0, 'JSON Logic truthiness: [] is false');
});

test('built-ins still work, and truthy / holds follow JSON Logic', () => {
  assert.equal(run({ if: [{ '==': [{ var: 'stage' }, 'Closed Won'] }, 'bill', 'wait'] }, { stage: 'Closed Won' }), 'bill');
  assert.deepEqual(run({ filter: [{ var: 'xs' }, { '>': [{ var: '' }, 1] }] }, { xs: [1, 2, 3] }), [2, 3]);
  assert.equal(run({ reduce: [{ var: 'xs' }, { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] }, { xs: [1, 2, 3] }), 6);
  assert.equal(truthy([]), false);
  assert.equal(truthy('0'), true);
  assert.equal(truthy(0), false);
  assert.equal(holds({ some: [{ var: 'tags' }, { contains: [{ var: '' }, 'vip'] }] }, { tags: ['x', 'VIP'] }, ctx), true);
  assert.equal(run(42), 42, 'a plain value is a rule that evaluates to itself');
});

test('every custom operator is documented and none shadows a built-in', () => {
  const readme = new URL('../../libs/rules/README.md', import.meta.url);
  return import('node:fs/promises').then(async ({ readFile }) => {
    const text = await readFile(readme, 'utf8');
    for (const op of Object.keys(customOperators)) {
      assert.ok(!(op in builtinOperators), op);
      assert.ok(text.includes(`\`${op}\``), `${op} documented`);
    }
  });
});

test('validateRule: the path of the first problem', () => {
  refused({ foo: [1] }, '/rule/foo', /^unknown operator "foo"/);
  refused({ log: 'x' }, '/rule/log', /log is disabled/);
  refused({ and: [true, { 'Math.max': [1, 2] }] }, '/rule/and/1/Math.max', /unknown operator/);
  refused({ '==': [1] }, '/rule/==', /"==" takes exactly 2 arguments, got 1/);
  refused({ '!': [1, 2] }, '/rule/!', /exactly 1 argument, got 2/);
  refused({ and: [] }, '/rule/and', /at least 1 argument, got 0/);
  refused({ substr: ['a'] }, '/rule/substr', /2 to 3 arguments/);
  refused({ '==': [1, 2], '!=': [1, 2] }, '/rule', /exactly one key/);
  refused({ '==': [{}, 1] }, '/rule/==/0', /exactly one key/);
  refused({ var: 'record.__proto__.x' }, '/rule/var', /may not name "__proto__"/);
  refused({ var: ['record.constructor'] }, '/rule/var/0', /constructor/);
  refused({ var: [true] }, '/rule/var/0', /var takes a path/);
  refused({ '==': [Number.NaN, 1] }, '/rule/==/0', /finite/);
  refused({ '==': [() => 1, 1] }, '/rule/==/0', /JSON values/);
  refused({ '==': [new Date(0), 1] }, '/rule/==/0', /JSON values/);
  refused({ score: [[true]] }, '/rule/score/0', /\[rule, weight\]/);
  refused({ score: [true, 5] }, '/rule/score/0', /\[rule, weight\]/);
  refused({ score: [[true, '5']] }, '/rule/score/0/1', /weight must be a finite number/);
  refused({ matches: ['x', '(a+)+'] }, '/rule/matches/1', /nested quantifiers/);
  refused({ matches: ['x', 'a', 'g'] }, '/rule/matches/2', /flags/);
  refused({ matches: ['x', 5] }, '/rule/matches/1', /pattern must be a string/);
  refused({ matches: ['x', 'a', 5] }, '/rule/matches/2', /flags must be a string/);
  refused({ '==': ['x'.repeat(10_001), 1] }, '/rule/==/0', /at most 10000 characters/);
  let deep: unknown = true;
  for (let i = 0; i < 40; i++) deep = { '!': [deep] };
  refused(deep, `/rule${'/!/0'.repeat(33)}`, /deeper than 32/);
  refused({ cat: Array.from({ length: 2100 }, () => 'x') }, '/rule/cat/1999', /more than 2000 nodes/);
  refused({ 'a/b': 1 }, '/rule/a~1b', /unknown operator/);
});

test('validateRule: accepts every operator in its documented form and reports literal vars', () => {
  const seen: string[] = [];
  validateRule({
    and: [
      { '==': [{ var: 'record.stage' }, 'Closed Won'] },
      { some: [{ var: 'record.tags' }, { '==': [{ var: 'name' }, 'x'] }] },
      { missing_some: [1, ['a', 'b']] },
      { '<': [1, { var: ['record.n', 0] }, 10] },
      { coalesce: [{ var: { cat: ['record.', 'x'] } }, 1] },
      { score: [[{ '!': { var: 'before.stage' } }, 10]] },
      { var: '' },
    ],
  }, '', { onVar: (segments, path) => seen.push(`${segments.join('.')}@${path}`) });
  assert.deepEqual(seen, ['record.stage@/and/0/==/0/var', 'record.tags@/and/1/some/0/var', 'record.n@/and/3/</1/var/0', 'before.stage@/and/5/score/0/0/!/var']);
});

test('evaluate refuses an unvalidated bad rule, and wraps runtime failures', () => {
  assert.throws(() => run({ log: 'secret' }), (err: unknown) => err instanceof HubError && err.code === 'RULE_INVALID');
  assert.throws(() => evaluate(true, {}, { now: Number.NaN }), TypeError);
});

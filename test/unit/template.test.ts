import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import {
  TemplateValueError, forEachTemplate, isTemplate, parseTemplate, referencedSteps, renderTemplate, renderValue, templateRefs,
} from '../../libs/workflow/template.ts';

const scope = {
  trigger: { record: { email: 'ada@example.com', employees: 120, tags: ['vip'], manager: null, address: { city: 'Paris' } } },
  steps: { find: { records: [{ id: 'p1', name: 'Ada' }], count: 1 }, empty: { records: [], count: 0 } },
  item: { name: 'Widget', price: 9.5 },
  index: 3,
};

function invalid(source: string, message: RegExp): void {
  assert.throws(() => parseTemplate(source), (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, 'TEMPLATE_INVALID');
    assert.equal(err.status, 400);
    assert.match(err.message, message);
    return true;
  });
}

test('parseTemplate: parts, whole-value templates and references', () => {
  const t = parseTemplate('Hello {{ trigger.record.email }}, #{{index}}');
  assert.deepEqual(t.parts.map((p) => (typeof p === 'string' ? p : `<${p.expr}>`)), ['Hello ', '<trigger.record.email>', ', #', '<index>']);
  assert.equal(t.whole, undefined);
  const w = parseTemplate('{{steps.find.records.0.id}}');
  assert.deepEqual(w.whole, { expr: 'steps.find.records.0.id', root: 'steps', path: ['find', 'records', '0', 'id'], stepId: 'find' });
  assert.equal(parseTemplate(' {{item}}').whole, undefined, 'text around the braces makes it a string');
  assert.ok(parseTemplate('{{  item.name  }}').whole, 'spaces inside the braces are allowed');
  assert.equal(parseTemplate('{{trigger}}').refs[0]?.root, 'trigger');
  assert.equal(parseTemplate('{{steps.my-step_2.x}}').refs[0]?.stepId, 'my-step_2');
  assert.strictEqual(parseTemplate('{{item.name}}'), parseTemplate('{{item.name}}'), 'parsed once, cached');
  assert.ok(Object.isFrozen(t) && Object.isFrozen(t.parts));
});

test('parseTemplate: refusals', () => {
  invalid('Hi {{trigger.name', /unclosed \{\{ at character 3/);
  invalid('{{}}', /empty expression/);
  invalid('{{ }}', /empty expression/);
  invalid('{{record.email}}', /unknown root "record"; use trigger, steps, item, index/);
  invalid('{{steps}}', /name a step/);
  invalid('{{index.x}}', /index is a number/);
  invalid('{{trigger..x}}', /empty path segment/);
  invalid('{{trigger.a b}}', /"a b" is not a path segment/);
  invalid('{{trigger["x"]}}', /is not a path segment/);
  invalid('{{trigger.__proto__}}', /may not name "__proto__"/);
  invalid('{{item.constructor.name}}', /constructor/);
  invalid(`{{trigger.${'x'.repeat(500)}}}`, /at most 500 characters/);
  invalid('{{index}}'.repeat(101), /at most 100 expressions/);
  invalid('x'.repeat(100_001) + '{{', /at most 100000 characters/);
});

test('escapes: \\{{ writes a literal {{', () => {
  assert.equal(renderTemplate('a \\{{b}} {{item.name}}', scope), 'a {{b}} Widget');
  assert.equal(renderTemplate('\\{{item.name}}', scope), '{{item.name}}');
  assert.equal(parseTemplate('\\{{x').refs.length, 0);
  assert.equal(isTemplate('plain }} text'), false);
});

test('whole-value templates yield raw values', () => {
  assert.deepEqual(renderTemplate('{{steps.find.records}}', scope), [{ id: 'p1', name: 'Ada' }]);
  assert.equal(renderTemplate('{{trigger.record.employees}}', scope), 120);
  assert.equal(renderTemplate('{{trigger.record.manager}}', scope), null);
  assert.equal(renderTemplate('{{index}}', scope), 3);
  assert.equal(renderTemplate('{{item.price}}', scope), 9.5);
  assert.deepEqual(renderTemplate('{{trigger.record.address}}', scope), { city: 'Paris' });
});

test('interpolation: strings, numbers, JSON for objects, "" for null and missing', () => {
  assert.equal(renderTemplate('{{item.name}} costs {{item.price}}', scope), 'Widget costs 9.5');
  assert.equal(renderTemplate('tags={{trigger.record.tags}} at {{trigger.record.address}}', scope), 'tags=["vip"] at {"city":"Paris"}');
  assert.equal(renderTemplate('manager: {{trigger.record.manager}}.', scope), 'manager: .');
  assert.equal(renderTemplate('id: {{steps.empty.records.0.id}}.', scope), 'id: .');
  assert.equal(renderTemplate('{{item.name}}!', {}), '!');
  assert.equal(renderTemplate('plain', scope), 'plain');
});

test('missing values: lenient rendering omits or nulls them', () => {
  assert.equal(renderTemplate('{{steps.empty.records.0.id}}', scope), undefined);
  assert.equal(renderTemplate('{{steps.nope.x}}', scope), undefined);
  assert.equal(renderTemplate('{{item.name}}', { trigger: {} }), undefined);
  assert.equal(renderTemplate('{{trigger.record.email.length}}', scope), undefined, 'only own properties of objects');
  assert.equal(renderTemplate('{{trigger.record.tags.length}}', scope), 1, 'an array\'s length is its own property');
  assert.equal(renderTemplate('{{trigger.record.manager.name}}', scope), undefined, 'through null is missing');
  assert.deepEqual(renderValue({
    id: '{{steps.find.records.0.id}}',
    owner: '{{steps.empty.records.0.id}}',
    list: ['{{item.name}}', '{{item.nope}}'],
    nested: { n: '{{index}}', s: 'n={{index}}', keep: 5, no: null, yes: true },
  }, scope), { id: 'p1', list: ['Widget', null], nested: { n: 3, s: 'n=3', keep: 5, no: null, yes: true } });
});

test('strict rendering throws TEMPLATE_VALUE_MISSING naming the template, expression and path', () => {
  assert.throws(() => renderTemplate('Owner {{steps.empty.records.0.id}}', scope, { strict: true, path: '/steps/2/input/recordId' }), (err: unknown) => {
    assert.ok(err instanceof TemplateValueError);
    assert.ok(err instanceof HubError);
    assert.equal(err.code, 'TEMPLATE_VALUE_MISSING');
    assert.equal(err.status, 422);
    assert.equal(err.retriable, false);
    assert.equal(err.path, '/steps/2/input/recordId');
    assert.equal(err.template, 'Owner {{steps.empty.records.0.id}}');
    assert.equal(err.expr, 'steps.empty.records.0.id');
    assert.equal(err.missing, 'steps.empty.records.0');
    assert.match(err.message, /^bad template value: \{\{steps\.empty\.records\.0\.id\}\} in "Owner \{\{steps\.empty\.records\.0\.id\}\}": steps\.empty\.records\.0 is missing$/);
    return true;
  });
  assert.throws(() => renderValue({ a: { b: ['x', '{{item.missing}}'] } }, scope, { strict: true, path: '/input' }),
    (err: unknown) => err instanceof TemplateValueError && err.path === '/input/a/b/1' && err.missing === 'item.missing');
  assert.throws(() => renderTemplate('{{index}}', { trigger: {} }, { strict: true }), (err: unknown) => err instanceof TemplateValueError && err.missing === 'index' && err.path === undefined);
  assert.equal(renderTemplate('{{trigger.record.manager}}', scope, { strict: true }), null, 'null is a value');
  assert.equal(renderTemplate('{{item.name}}', scope, { strict: true }), 'Widget');
});

test('renderValue keeps data as data', () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": "{{item.name}}"}, "a/b": "{{index}}"}') as unknown;
  const out = renderValue(hostile, scope) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: 'Widget' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(out['a/b'], 3);
  const rendered = renderValue('{{trigger.record}}', scope) as Record<string, unknown>;
  assert.equal(rendered, scope.trigger.record, 'whole values are the data itself (not copied)');
  assert.equal(renderTemplate('{{trigger.record.email}}', { trigger: { record: Object.create({ email: 'inherited' }) } }), undefined);
});

test('forEachTemplate, templateRefs and referencedSteps walk values', () => {
  const input = { values: { a: '{{steps.find.records.0.id}}', b: ['x', 'to {{steps.lookup.email}} {{item.x}}'], 'c/d': { e: '{{trigger.x}}' } }, n: 1 };
  const seen: string[] = [];
  forEachTemplate(input, '/input', (source, path) => seen.push(`${path}=${source}`));
  assert.deepEqual(seen, ['/input/values/a={{steps.find.records.0.id}}', '/input/values/b/1=to {{steps.lookup.email}} {{item.x}}', '/input/values/c~1d/e={{trigger.x}}']);
  assert.deepEqual(templateRefs(input).map((r) => r.expr), ['steps.find.records.0.id', 'steps.lookup.email', 'item.x', 'trigger.x']);
  assert.deepEqual([...referencedSteps(input)], ['find', 'lookup']);
});

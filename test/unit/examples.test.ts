/** The shipped examples stay importable: each parses, declares what it uses, and is a valid workflow once filled in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { ExampleError, instantiate, parseExample } from '../../libs/workflow/examples.ts';
import { parseWorkflowDefinition } from '../../libs/workflow/validate.ts';

const files = readdirSync('examples').filter((f) => f.endsWith('.json')).sort();

test('there is an example per use case of the mission (1 to 10)', () => {
  const numbers = new Set(files.map((f) => Number(f.slice(0, 2))));
  for (let n = 1; n <= 10; n++) assert.ok(numbers.has(n), `examples/${String(n).padStart(2, '0')}-*.json`);
});

for (const file of files) {
  test(`${file}: a valid workflow once its variables are set`, () => {
    const example = parseExample(readFileSync(`examples/${file}`, 'utf8'));
    assert.ok(example.title.length > 0 && example.description.length > 0, 'title and description');
    const values = Object.fromEntries(Object.entries(example.variables).map(([name, v]) => [name, v.default ?? (name.endsWith('_URL') ? 'https://api.example.com' : 'value@example.com')]));
    const definition = parseWorkflowDefinition(instantiate(example, values));
    assert.ok(definition.steps.length > 0);
    const text = JSON.stringify(definition);
    assert.ok(!/\$\{[A-Z]/.test(text), 'no placeholder left');
    for (const c of example.credentials) assert.ok(text.includes(`"credential":"${c.name}"`), `credential ${c.name} is used by a step`);
  });
}

test('instantiate names every missing and every undeclared variable', () => {
  const example = parseExample(JSON.stringify({ title: 't', description: 'd', variables: { A_URL: { description: 'the A API' }, B: { description: 'b', default: 'x' } }, credentials: [], workflow: { url: '${A_URL}/v1', b: '${B}', c: '${C}' } }));
  assert.throws(() => instantiate(example, {}), (err: unknown) => err instanceof ExampleError && /undeclared variables: C/.test(err.message));
  const declared = parseExample(JSON.stringify({ title: 't', description: 'd', variables: { A_URL: { description: 'the A API' } }, credentials: [], workflow: { url: '${A_URL}/v1' } }));
  assert.throws(() => instantiate(declared, {}), /set A_URL \(the A API\) with --var NAME=value/);
  assert.deepEqual(instantiate(declared, { A_URL: 'https://a.test' }), { url: 'https://a.test/v1' });
  assert.throws(() => parseExample('{'), ExampleError);
});

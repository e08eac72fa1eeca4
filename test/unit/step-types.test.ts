/**
 * Step types as files of the registry: each type's JSON Schema refuses unknown keys and
 * wrong types at the right path; the whole definition's schema is JSON Schema Ajv
 * compiles, which /docs can show and every shipped example matches; and a new type is
 * one spec, validated and executed with no other change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import { HubError } from '../../libs/errors/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { createStepRegistry, defaultLimits, stepTypes, type StepHandlerDeps, type StepTypeSpec } from '../../libs/workflow/step-types.ts';
import { createStepHandlers } from '../../libs/workflow/steps/index.ts';
import { executeRun } from '../../libs/workflow/interpreter.ts';
import { parseWorkflowDefinition, workflowDefinitionSchema, type ParseOptions } from '../../libs/workflow/validate.ts';
import { instantiate, parseExample } from '../../libs/workflow/examples.ts';
import type { StepRecord } from '../../libs/contracts/run.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const note: Json = { id: 'note', type: 'record.create', input: { object: 'notes', values: { body: 'hi' } } };
const withStep = (type: string, input: Json): Record<string, Json> =>
  ({ name: 'w', trigger: { type: 'record.created', object: 'people' }, steps: [{ id: 's', type, input }] });

/** A valid input of each type: a new type adds one here (the first test says so). */
const samples: Record<string, Record<string, Json>> = {
  'record.search': { object: 'people', filter: { '==': [{ var: 'record.email' }, { var: 'trigger.record.email' }] }, sort: [{ field: 'name' }], limit: 5 },
  'record.create': { object: 'people', values: { name: '{{trigger.record.name}}' } },
  'record.update': { object: 'people', recordId: '{{trigger.recordId}}', values: { seen: true } },
  'record.delete': { object: 'people', recordId: '{{trigger.recordId}}' },
  branch: { branches: [{ if: { var: 'trigger.record.vip' }, steps: [note] }], else: [] },
  iterator: { items: '{{trigger.record.tags}}', steps: [note], maxItems: 10 },
  code: { source: 'return input.a;', input: { a: '{{trigger.record.a}}' } },
  http: { method: 'POST', url: 'https://api.example.com/x', headers: { 'x-trace': '1' }, query: { q: 'a' }, body: { a: 1 }, auth: { credential: 'api' }, timeoutMs: 1000, retry: { maxAttempts: 2, backoffMs: 10 }, accept: [404] },
  email: { to: ['a@example.com'], cc: [], subject: 'Hi', text: 't', html: '<p>t</p>' },
  chat: { credential: 'team-chat', text: 'New lead {{trigger.record.name}}' },
};

function refused(body: unknown, path: string, message: RegExp, options?: ParseOptions): void {
  assert.throws(() => parseWorkflowDefinition(body, options), (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, 'WORKFLOW_INVALID');
    assert.equal(err.status, 400);
    assert.equal(err.path, path, err.message);
    assert.match(err.message, message);
    return true;
  });
}

const schemaOf = (type: string) => stepTypes.get(type)!.inputSchema({ limits: defaultLimits, step: { $ref: '#/$defs/step' } }) as { properties: Record<string, { type?: string | string[] }> };

/** A value of none of `types` (JSON Schema type names). */
function wrongFor(types: string[]): Json {
  const candidates: [string[], Json][] = [[['object'], 7], [['string'], {}], [['array'], 'x'], [['integer', 'number'], 'x'], [['boolean'], 'x']];
  for (const [kinds, value] of candidates) if (types.some((t) => kinds.includes(t)) && !types.some((t) => typeOfJson(value).includes(t))) return value;
  return types.includes('object') ? [] : {};
}
const typeOfJson = (v: Json): string[] => (v === null ? ['null'] : Array.isArray(v) ? ['array'] : typeof v === 'number' ? (Number.isInteger(v) ? ['integer', 'number'] : ['number']) : [typeof v]);

test('every registered type has a sample here, and every sample is valid', () => {
  assert.deepEqual(Object.keys(samples).sort(), [...stepTypes.keys()].sort());
  for (const [type, input] of Object.entries(samples)) assert.ok(parseWorkflowDefinition(withStep(type, input)), type);
});

test('each type\'s schema refuses an unknown key, naming the allowed ones, at its path', () => {
  for (const [type, input] of Object.entries(samples)) {
    const allowed = Object.keys(schemaOf(type).properties);
    refused(withStep(type, { ...input, bogus: 1 }), '/steps/0/input/bogus', new RegExp(`^unknown field "bogus"; allowed: ${allowed.join(', ').replace(/\./g, '\\.')}$`));
    // The same inside a branch: the path follows the nesting.
    const nested = withStep('branch', { branches: [{ if: true, steps: [{ id: 'inner', type, input: { ...input, bogus: 1 } }] }] });
    refused(nested, '/steps/0/input/branches/0/steps/0/input/bogus', /unknown field "bogus"/);
  }
});

test('each type\'s schema refuses a wrong type for every typed field and for the input itself, naming the field', () => {
  let checked = 0;
  for (const [type, input] of Object.entries(samples)) {
    refused(withStep(type, 'text'), '/steps/0/input', /^input must be an object, got string$/);
    for (const [field, schema] of Object.entries(schemaOf(type).properties)) {
      if (schema.type === undefined) continue; // JSON Logic, bodies: any JSON
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      const value = wrongFor(types);
      refused(withStep(type, { ...input, [field]: value }), `/steps/0/input/${field}`, new RegExp(`^${field} must .*, got ${Array.isArray(value) ? 'array' : typeof value}$`));
      checked++;
    }
  }
  assert.ok(checked >= 25, `${checked} fields checked`);
});

test('enum values, missing required fields and bounds are named', () => {
  refused(withStep('http', { ...samples.http, method: 'FETCH' }), '/steps/0/input/method', /one of GET, POST, PUT, PATCH, DELETE, HEAD/);
  refused(withStep('record.search', { object: 'people', sort: [{ field: 'a', direction: 'sideways' }] }), '/steps/0/input/sort/0/direction', /"asc" or "desc"/);
  refused(withStep('http', { url: 'https://x.example' }), '/steps/0/input/method', /^method is required$/);
  refused(withStep('http', { ...samples.http, retry: { maxAttempts: 0 } }), '/steps/0/input/retry/maxAttempts', /^maxAttempts must be an integer from 1 to 10$/);
  refused(withStep('http', { ...samples.http, accept: [404, 302] }), '/steps/0/input/accept', /400 to 599/);
  refused(withStep('iterator', { ...samples.iterator, maxItems: 2.5 }), '/steps/0/input/maxItems', /^maxItems must be an integer from 1 to 10000, got 2\.5$/);
  refused({ name: 'w', trigger: { type: 'webhook', expectedBody: { e: { type: 'text' } } }, steps: [note] }, '/trigger/expectedBody/e/type', /^type must be one of string, number, boolean, object, array$/);
  // The first problem in document order: the earlier step, then within a value its own type, unknown keys, missing keys, children.
  const two = { name: 'w', trigger: { type: 'record.created', object: 'people' }, steps: [{ id: 'a', type: 'code', input: { source: 5 } }, { id: 'b', type: 'code', input: {} }] };
  refused(two, '/steps/0/input/source', /source must be non-empty JavaScript/);
  refused({ ...two, steps: [{ id: 'a', type: 'code', input: { extra: 1, source: 5 } }] }, '/steps/0/input/extra', /unknown field/);
  refused({ ...two, steps: [{ id: 'a', type: 'code', input: { input: 5 } }] }, '/steps/0/input/source', /source is required/);
});

test('the definition schema is JSON Schema: Ajv validates it against the meta-schema and compiles it; every example matches it', () => {
  const schema = workflowDefinitionSchema();
  assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema, 'plain JSON');
  const ajv = new Ajv({ discriminator: true, allowUnionTypes: true, strictRequired: false });
  ajv.addVocabulary(['x-message', 'x-report-on-parent']);
  assert.equal(ajv.validateSchema(schema), true, JSON.stringify(ajv.errors));
  const validate = ajv.compile(schema);
  const files = readdirSync('examples').filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 10);
  for (const file of files) {
    const example = parseExample(readFileSync(`examples/${file}`, 'utf8'));
    const values = Object.fromEntries(Object.entries(example.variables).map(([name, v]) => [name, v.default ?? (name.endsWith('_URL') ? 'https://api.example.com' : 'value@example.com')]));
    const body = instantiate(example, values);
    assert.equal(validate(body), true, `${file}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
  assert.equal(validate(withStep('http', { method: 'GET' })), false);
  // Limits shape the schema.
  const narrow = workflowDefinitionSchema({ limits: { branchesMax: 3 } });
  assert.match(JSON.stringify(narrow), /"maxItems":3/);
});

test('/docs: fastify and @fastify/swagger render the schema as OpenAPI components, steps recursive', async () => {
  const app = Fastify();
  app.setValidatorCompiler(() => () => true);
  await app.register(swagger, { openapi: { openapi: '3.0.3', info: { title: 't', version: '1' } } });
  app.addSchema(workflowDefinitionSchema());
  app.post('/v1/workflows', { schema: { body: { $ref: 'WorkflowDefinition#' } } }, async () => ({}));
  await app.ready();
  const doc = app.swagger() as { components: { schemas: Record<string, { title?: string; oneOf?: unknown[] }> }; paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { $ref: string } }> } } }> };
  const text = JSON.stringify(doc);
  const ref = doc.paths['/v1/workflows']!.post.requestBody.content['application/json']!.schema.$ref;
  const name = ref.split('/').at(-1)!;
  assert.equal(doc.components.schemas[name]?.title, 'Workflow definition');
  const step = Object.values(doc.components.schemas).find((s) => Array.isArray(s.oneOf) && s.oneOf.length === stepTypes.size);
  assert.ok(step, 'the step union is a component');
  assert.ok(!text.includes('#/$defs/'), 'no reference left to $defs');
  await app.close();
});

test('a new step type is one spec: registered, validated (schema and templates) and executed', async () => {
  // What steps/<type>.ts would hold: schema, (no) checks, handler.
  const upper: StepTypeSpec = {
    type: 'text.upper',
    description: 'Upper-cases text; output {text}',
    inputSchema: () => ({ type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', minLength: 1, maxLength: 1000 } } }),
    handler: () => ({ execute: async (input) => ({ text: String((input as { text: unknown }).text).toUpperCase() }) }),
  };
  const registry = createStepRegistry([...stepTypes.values(), upper]);
  assert.throws(() => createStepRegistry([upper, upper]), /registered twice/);
  const body = {
    name: 'shout', trigger: { type: 'manual', availability: 'global' },
    steps: [{ id: 'up', type: 'text.upper', input: { text: '{{trigger.name}}' } }, { id: 'again', type: 'text.upper', input: { text: '{{steps.up.text}}!' } }],
  };
  refused(body, '/steps/0/type', /unknown step type "text\.upper"; known: .*email, chat$/);
  const definition = parseWorkflowDefinition(body, { stepTypes: registry });
  refused({ ...body, steps: [{ id: 'up', type: 'text.upper', input: { text: 'x', loud: true } }] }, '/steps/0/input/loud', /^unknown field "loud"; allowed: text$/, { stepTypes: registry });
  refused({ ...body, steps: [{ id: 'up', type: 'text.upper', input: { text: 5 } }] }, '/steps/0/input/text', /^text must be a non-empty string of at most 1000 characters, got number$/, { stepTypes: registry });
  refused({ ...body, steps: [{ id: 'up', type: 'text.upper', input: { text: '{{steps.up.text}}' } }] }, '/steps/0/input/text', /the step itself/, { stepTypes: registry });
  assert.match(JSON.stringify(workflowDefinitionSchema({ stepTypes: registry })), /"const":"text\.upper"/);

  const handlers = createStepHandlers({} as StepHandlerDeps, new Map([['text.upper', upper]]));
  assert.deepEqual([...handlers.keys()], ['text.upper']);
  const records: StepRecord[] = [];
  const outcome = await executeRun({
    runId: 'run_1', workspaceId: 'ws', workflowId: 'wf', version: 1, definition, trigger: { name: 'vera' }, triggerEventId: 'ev', correlationId: 'c', depth: 0, dryRun: false,
    recorded: {}, onStep: async (r) => { records.push(r); }, signal: new AbortController().signal,
  }, { handlers, stepTimeoutMs: 1000, stepMaxAttempts: 1, retryBackoffMs: 1, retryBackoffMaxMs: 1, now: Date.now, log: createLogger({ service: 'step-types-test', level: 'silent' }) });
  assert.deepEqual(outcome, { status: 'completed' });
  assert.deepEqual(records.map((r) => [r.id, r.status, r.output]), [['up', 'completed', { text: 'VERA' }], ['again', 'completed', { text: 'VERA!' }]]);
});

test('the hub\'s handlers come from the registry: every type but branch and iterator has one', () => {
  const handlers = createStepHandlers({} as StepHandlerDeps);
  assert.deepEqual([...handlers.keys()].sort(), [...stepTypes.keys()].filter((t) => t !== 'branch' && t !== 'iterator').sort());
});

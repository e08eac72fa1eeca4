/** The code step: results, logs, errors with line and column, dry runs, limits, and what is never templated. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { createCodeRunner, type CodeRunner } from '../../libs/sandbox/code-runner.ts';
import { createCodeStepHandler } from '../../libs/workflow/steps/code.ts';
import { executeRun, type StepHandler, type StepRunContext } from '../../libs/workflow/interpreter.ts';
import type { CodeInput, Step } from '../../libs/contracts/workflow.ts';
import type { StepRecord } from '../../libs/contracts/run.ts';

let runner: CodeRunner;
let handler: StepHandler;
before(async () => {
  runner = await createCodeRunner();
  handler = createCodeStepHandler({ runner, limits: { timeoutMs: 500 } });
});
after(() => runner.close());

const log = createLogger({ service: 'code-step-test', level: 'silent' });

function context(over: Partial<StepRunContext> = {}): StepRunContext {
  return {
    runId: 'run_1', workspaceId: 'ws', workflowId: 'wf', version: 1, stepKey: 'c', effectId: 'e', correlationId: 'corr', causationId: 'cause', depth: 0,
    memory: new Map(), dryRun: false, attempt: 1, signal: new AbortController().signal, scope: { trigger: {}, steps: {} }, now: Date.now, log,
    awaitResult: () => Promise.reject(new Error('no results here')),
    ...over,
  };
}
const step = (input: CodeInput): Step => ({ id: 'c', type: 'code', input });
const exec = (source: string, input: Record<string, unknown> = {}, over: Partial<StepRunContext> = {}) =>
  handler.execute({ source, input }, step({ source, input }), context(over));

test('the result of the code, without logs when it wrote none', async () => {
  assert.deepEqual(await exec('const words = input.text.split(" "); return { count: words.length };', { text: 'a b c' }), { result: { count: 3 } });
  assert.deepEqual(await exec('return;'), { result: null });
  assert.deepEqual(await exec('return await Promise.resolve([1, "two", { three: 3 }]);'), { result: [1, 'two', { three: 3 }] });
});

test('console output comes back as logs', async () => {
  assert.deepEqual(await exec('console.log("seen", input.n); console.warn({ a: 1 }); return input.n * 2;', { n: 21 }), { result: 42, logs: ['seen 21', '{"a":1}'] });
});

test('a thrown error or a syntax error is a non-retriable step error at /source, with line and column', async () => {
  for (const [source, pattern] of [
    ['const a = 1;\nconst b = 2;\nnull.x;', /TypeError.*\(line 3, column \d+\)/],
    ['const a = 1;\n  throw new Error("bad input");', /Error: bad input \(line 2, column \d+\)/],
    ['return {;', /SyntaxError.*\(line 1, column \d+\)/],
  ] as const) {
    await assert.rejects(exec(source), (err: unknown) => {
      assert.ok(err instanceof HubError, String(err));
      assert.equal(err.code, 'CODE_ERROR');
      assert.equal(err.retriable, false);
      assert.equal(err.path, '/source');
      assert.match(err.message, pattern);
      return true;
    });
  }
});

test('the step\'s limits apply to every call', async () => {
  await assert.rejects(exec('for (;;) {}'), (err: unknown) => err instanceof HubError && err.code === 'CODE_TIMEOUT' && !err.retriable && err.path === '/source');
  assert.equal(handler.timeoutMs!({ source: '', input: {} }), 500 + 250 + 10_000);
  assert.throws(() => createCodeStepHandler({ runner, limits: { timeoutMs: 0 } }), RangeError);
});

test('dry runs run the code too (it has no effects)', async () => {
  assert.deepEqual(await exec('return input.a + input.b;', { a: 1, b: 2 }, { dryRun: true }), { result: 3 });
});

test('a "__proto__" key in the result stays data: no prototype is set, nothing is polluted', async () => {
  const out = await exec('return JSON.parse(\'{"__proto__": {"polluted": true}, "ok": 1}\');') as { result: Record<string, unknown> };
  assert.equal(Object.getPrototypeOf(out.result), Object.prototype);
  assert.ok(Object.prototype.hasOwnProperty.call(out.result, '__proto__'));
  assert.deepEqual(Object.keys(out.result), ['__proto__', 'ok']);
  assert.equal((out.result as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
});

test('a failure of the sandbox itself is retriable, unlike the code\'s', async () => {
  const broken = createCodeStepHandler({ runner: { run: () => Promise.reject(new Error('code sandbox thread exited with code 1')), close() {} } });
  await assert.rejects(broken.execute({ source: 'return 1', input: {} }, step({ source: 'return 1', input: {} }), context()), (err: unknown) => err instanceof HubError && err.code === 'CODE_SANDBOX_FAILED' && err.retriable);
});

test('through the engine: only input is rendered; the source is never a template', async () => {
  const records: StepRecord[] = [];
  const source = 'return { text: "{{trigger.name}}", name: input.name };';
  const outcome = await executeRun({
    runId: 'run_2', workspaceId: 'ws', workflowId: 'wf', version: 1, definition: { name: 'w', trigger: { type: 'manual', availability: 'global' }, steps: [step({ source, input: { name: '{{trigger.name}}' } })] },
    trigger: { name: '"; globalThis.x = 1; "' }, triggerEventId: 'ev', correlationId: 'corr', depth: 0, dryRun: false, recorded: {},
    onStep: async (r) => { records.push(r); }, signal: new AbortController().signal,
  }, { handlers: new Map([['code', handler]]), stepTimeoutMs: 10_000, stepMaxAttempts: 1, retryBackoffMs: 1, retryBackoffMaxMs: 1, now: Date.now, log });
  assert.deepEqual(outcome, { status: 'completed' });
  assert.deepEqual(records[0]!.output, { result: { text: '{{trigger.name}}', name: '"; globalThis.x = 1; "' } });
  assert.equal((records[0]!.input as CodeInput).source, source);
});

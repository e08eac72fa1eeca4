import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import { createCodeRunner, type CodeLimits, type CodeRunner } from '../../libs/sandbox/code-runner.ts';
import { CodeError } from '../../libs/sandbox/errors.ts';

let runner: CodeRunner;
before(async () => { runner = await createCodeRunner(); });
after(() => runner.close());

/** Runs code expected to fail with `code`; returns the error for more checks. */
async function fails(source: string, code: string, limits?: Partial<CodeLimits>, input: unknown = {}): Promise<HubError> {
  let caught: unknown;
  await assert.rejects(runner.run(source, input, limits), (err: unknown) => {
    caught = err;
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, 422);
    assert.equal(err.retriable, false);
    return true;
  });
  return caught as HubError;
}

async function codeError(source: string, input: unknown = {}, limits?: Partial<CodeLimits>): Promise<CodeError> {
  const err = await fails(source, 'CODE_ERROR', limits, input);
  assert.ok(err instanceof CodeError);
  return err;
}

/** The host and the runner are fine: a normal call works, the host's globals are intact. */
async function unharmed(): Promise<void> {
  const { result } = await runner.run('return input.n + 1', { n: 41 });
  assert.equal(result, 42);
  assert.equal(typeof process.exit, 'function');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).x, undefined);
  assert.deepEqual(Object.keys(Object.prototype), []);
}

/** Either a typed step error or a result that shows nothing of the host. */
async function contained(source: string, harmless: (result: unknown) => void): Promise<void> {
  try {
    const { result } = await runner.run(source, {});
    harmless(result);
  } catch (err) {
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    assert.match(err.code, /^CODE_/);
  }
  await unharmed();
}

test('a normal computation: result, logs, duration', async () => {
  const out = await runner.run("const words = input.text.split(' '); return { count: words.length };", { text: 'to be or not to be' });
  assert.deepEqual(out.result, { count: 6 });
  assert.deepEqual(out.logs, []);
  assert.ok(out.durationMs >= 0 && out.durationMs < 5000);
  assert.deepEqual((await runner.run('return [1, "a", null, true, { b: [2.5] }]', null)).result, [1, 'a', null, true, { b: [2.5] }]);
  assert.equal((await runner.run('const x = 1;', {})).result, null, 'undefined becomes null');
  assert.equal((await runner.run('return new Date(0)', {})).result, '1970-01-01T00:00:00.000Z', 'through JSON');
});

test('async code: return await, promise chains, rejections', async () => {
  assert.equal((await runner.run('return await Promise.resolve(input.n * 2)', { n: 21 })).result, 42);
  const chain = 'let total = 0;\nfor (const n of input.ns) total += await Promise.resolve(n);\nreturn Promise.all([total, (async () => total * 2)()]);';
  assert.deepEqual((await runner.run(chain, { ns: [1, 2, 3] })).result, [6, 12]);
  const err = await fails("await null;\nthrow new TypeError('late');", 'CODE_ERROR');
  assert.match(err.message, /TypeError: late \(line 2, column \d+\)/);
  await fails('return new Promise(() => {})', 'CODE_ERROR');
});

test('input is a deep JSON copy: changes inside never reach the host', async () => {
  const host = { list: [1, 2], nested: { name: 'Ada' }, when: new Date(0) };
  const source = 'input.list.push(3); input.nested.name = "Eve"; delete input.when; input.added = true; return input;';
  const { result } = await runner.run(source, host);
  assert.deepEqual(result, { list: [1, 2, 3], nested: { name: 'Eve' }, added: true });
  assert.deepEqual(host, { list: [1, 2], nested: { name: 'Ada' }, when: new Date(0) });
  assert.equal((await runner.run('return typeof input.when', host)).result, 'string', 'a Date arrives as its JSON text');
  assert.equal((await runner.run('return input', undefined)).result, null);
  await assert.rejects(runner.run('return 1', { big: 1n }), (err: unknown) => err instanceof HubError && err.code === 'CODE_INPUT_INVALID');
});

test('syntax errors: message, line and column in the user\'s source', async () => {
  const err = await codeError('const a = 1;\nconst b = ;\nreturn a;');
  assert.equal(err.errorName, 'SyntaxError');
  assert.equal(err.line, 2);
  assert.equal(err.column, 11);
  assert.match(err.message, /^code failed: SyntaxError: unexpected token in expression: ';' \(line 2, column 11\)$/);
  assert.deepEqual(err.toJSON(), { code: 'CODE_ERROR', message: err.message, line: 2, column: 11 });
  // An unclosed block is reported at the end of the source, not on the wrapper's line.
  const unclosed = await codeError('if (input) {\n  return 1;');
  assert.deepEqual([unclosed.errorName, unclosed.line, unclosed.column], ['SyntaxError', 2, 12]);
  await unharmed();
});

test('thrown errors: message, line and column in the user\'s source', async () => {
  const thrown = await codeError("const x = 1;\nif (input.text) {\n  throw new Error('bad input: ' + input.text);\n}", { text: 'oops' });
  assert.match(thrown.message, /Error: bad input: oops \(line 3, column 18\)/);
  assert.deepEqual([thrown.line, thrown.column], [3, 18]);
  const typeError = await fails("const parts = input.text.split(' ');\nawait null;\nreturn parts[5].length;", 'CODE_ERROR', undefined, { text: 'a b' });
  assert.match(typeError.message, /TypeError: cannot read property 'length' of undefined \(line 3, column 16\)/);
  // Columns count UTF-16 units, as editors and JS strings do.
  const astral = await codeError('// é😀\nconst s = "😀"; null.x');
  assert.deepEqual([astral.line, astral.column], [2, 21]);
  const nested = await codeError('function f() {\n  return g();\n}\nfunction g() {\n    throw new RangeError("deep");\n}\nreturn f();');
  assert.deepEqual([nested.line, nested.errorName, nested.detail], [5, 'RangeError', 'deep']);
  const str = await fails('throw "just a string"', 'CODE_ERROR');
  assert.equal(str.message, 'code failed: threw just a string');
  await fails('throw { get message() { throw new Error("no"); } }', 'CODE_ERROR');
  await unharmed();
});

test('escape: constructor chains reach no host object', async () => {
  await contained("return this.constructor.constructor('return process')()", (r) => assert.equal(r, null));
  await contained("const g = (() => {}).constructor('return globalThis')(); return [typeof g.process, typeof g.require, typeof g.fetch, typeof g.Buffer, typeof g.module]",
    (r) => assert.deepEqual(r, ['undefined', 'undefined', 'undefined', 'undefined', 'undefined']));
  await contained("const g = Function('return this')(); return { process: typeof g.process, require: typeof g.require, fetch: typeof g.fetch, importScripts: typeof g.importScripts }",
    (r) => assert.deepEqual(r, { process: 'undefined', require: 'undefined', fetch: 'undefined', importScripts: 'undefined' }));
  await contained("return (async function(){}).constructor('return typeof process + typeof require')()", (r) => assert.equal(r, 'undefinedundefined'));
  await contained('return input.constructor.constructor("return typeof process")()', (r) => assert.equal(r, 'undefined'));
  const names = (await runner.run('return Object.getOwnPropertyNames(globalThis)', {})).result as string[];
  for (const hostName of ['process', 'require', 'module', 'fetch', 'Buffer', 'setTimeout', 'setInterval', 'queueMicrotask', 'WebAssembly', 'std', 'os']) {
    assert.ok(!names.includes(hostName), `${hostName} is visible in the sandbox`);
  }
});

test('escape: process, require and dynamic import fail inside the sandbox', async () => {
  assert.match((await fails('process.exit(1)', 'CODE_ERROR')).message, /'process' is not defined/);
  assert.match((await fails("return require('fs').readFileSync('/etc/passwd', 'utf8')", 'CODE_ERROR')).message, /'require' is not defined/);
  assert.match((await fails("return await import('fs')", 'CODE_ERROR')).message, /could not load module 'fs'/);
  assert.match((await fails("return import('node:child_process').then((cp) => cp.execSync('id'))", 'CODE_ERROR')).message, /could not load module/);
  await fails("import fs from 'fs';\nreturn fs", 'CODE_ERROR');
  await fails("return fetch('http://169.254.169.254/')", 'CODE_ERROR');
  await unharmed();
});

test('escape: prototype pollution stays inside one call', async () => {
  const { result } = await runner.run("Object.prototype.polluted = 1; Array.prototype.evil = 2; input.__proto__.x = 1; return JSON.parse('{\"__proto__\":{\"x\":1}}')", {});
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.equal((result as Record<string, unknown>).x, undefined);
  await unharmed();
  assert.equal(([] as unknown as Record<string, unknown>).evil, undefined);
  // Nor into the next call: each call has a fresh context.
  assert.deepEqual((await runner.run('globalThis.leak = 1; return 0', {})).result, 0);
  assert.deepEqual((await runner.run('return [({}).polluted, ({}).x, typeof leak, typeof [].evil]', {})).result, [null, null, 'undefined', 'undefined']);
  // Tampering with the built-ins the harness uses spoils only the caller's own result.
  assert.equal((await runner.run('JSON.stringify = () => "garbage"; Array.prototype.push = null; String.prototype.slice = null; console.log("x"); return 5', {})).result, 5);
});

test('an infinite loop stops at the deadline (CODE_TIMEOUT)', async () => {
  const started = performance.now();
  await fails('while (true) {}', 'CODE_TIMEOUT', { timeoutMs: 200 });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 1000, `took ${elapsed} ms`);
  await fails('try { while (true) {} } catch { return "caught" }', 'CODE_TIMEOUT', { timeoutMs: 100 });
  await fails('async function f() { for (;;) await null; }\nreturn f();', 'CODE_TIMEOUT', { timeoutMs: 100 });
  await fails('return /(a+)+$/.test("a".repeat(40) + "b")', 'CODE_TIMEOUT', { timeoutMs: 100 });
  await unharmed();
});

test('a loop of long built-in calls is stopped by ending the thread', async () => {
  // QuickJS consults the deadline only every few thousand operations: here that is seconds.
  const started = performance.now();
  const err = await fails('const s = "x".repeat(1e6); for (;;) s.split("");', 'CODE_TIMEOUT', { timeoutMs: 200 });
  const elapsed = performance.now() - started;
  assert.match(err.message, /stopped by ending its thread/);
  assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  await unharmed();
});

test('a memory bomb hits the memory limit (CODE_MEMORY_LIMIT)', async () => {
  // Time enough that the memory limit, not the clock, stops them on a loaded machine.
  const slow = { timeoutMs: 20_000 };
  await fails("const a = []; while (true) a.push('x'.repeat(1e6));", 'CODE_MEMORY_LIMIT', slow);
  await unharmed();
  await fails('let o = {}; for (let i = 0; i < 1e7; i++) o = { o }; return 1', 'CODE_MEMORY_LIMIT', { ...slow, memoryBytes: 8 * 1024 * 1024 });
  await fails("return 'x'.repeat(2 ** 29).length", 'CODE_MEMORY_LIMIT', slow);
  await unharmed();
});

test('deep recursion is a contained error', async () => {
  const err = await fails('function down(n) { return down(n + 1) + 1; }\nreturn down(0);', 'CODE_ERROR');
  assert.match(err.message, /stack overflow/);
  await fails('const r = (n) => [n].map((m) => r(m + 1)); return r(0);', 'CODE_ERROR');
  await unharmed();
});

test('a built-in that exhausts the native stack is contained; the engine is replaced', async () => {
  // QuickJS's JSON.stringify recurses without checking its stack limit: with the largest
  // limit allowed, 35,000 levels overflow the sandbox thread's native stack first.
  const err = await fails('let o = {}; for (let i = 0; i < 35000; i++) o = { o };\ntry { JSON.stringify(o); } catch (e) { return String(e); }\nreturn "no overflow";',
    'CODE_ERROR', { timeoutMs: 20_000, maxStackBytes: 1024 * 1024 });
  assert.match(err.message, /the sandbox engine stopped: Maximum call stack size exceeded/);
  await unharmed();
});

test('huge output is refused before it is copied out (CODE_OUTPUT_TOO_LARGE)', async () => {
  await fails("return 'x'.repeat(5e6)", 'CODE_OUTPUT_TOO_LARGE');
  await fails("return 'é'.repeat(600)", 'CODE_OUTPUT_TOO_LARGE', { maxOutputBytes: 1000 });
  assert.equal(((await runner.run("return 'é'.repeat(400)", {}, { maxOutputBytes: 1000 })).result as string).length, 400);
  await unharmed();
});

test('results that are not JSON (CODE_RESULT_INVALID)', async () => {
  assert.match((await fails('return () => 1', 'CODE_RESULT_INVALID')).message, /a function is not JSON/);
  assert.match((await fails('return { ok: 1, f() {} }', 'CODE_RESULT_INVALID')).message, /a function at key "f"/);
  await fails('return 10n', 'CODE_RESULT_INVALID');
  await fails('return [Symbol("s")]', 'CODE_RESULT_INVALID');
  await fails('const o = {}; o.self = o; return o', 'CODE_RESULT_INVALID');
  await fails('return { toJSON() { throw new Error("no") } }', 'CODE_RESULT_INVALID');
  // Deep nesting would recurse on the engine's native stack: refused at 200 levels.
  assert.match((await fails('let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; return o', 'CODE_RESULT_INVALID')).message, /nested deeper than 200/);
  assert.ok((await runner.run('let o = {}; for (let i = 0; i < 150; i++) o = { o }; return o', {})).result);
  await unharmed();
});

test('console.log is collected, at most 100 lines', async () => {
  const { result, logs } = await runner.run('console.log("n =", input.n, { a: [1] }); console.warn(undefined, null); for (let i = 0; i < 500; i++) console.log(i); return 1', { n: 2 });
  assert.equal(result, 1);
  assert.equal(logs.length, 100);
  assert.deepEqual(logs.slice(0, 3), ['n = 2 {"a":[1]}', 'undefined null', '0']);
});

test('calls queue up; limits are checked; a closed runner refuses calls', async () => {
  const results = await Promise.all([1, 2, 3, 4].map((n) => runner.run('return input * 10', n)));
  assert.deepEqual(results.map((r) => r.result), [10, 20, 30, 40]);
  await assert.rejects(runner.run('return 1', {}, { timeoutMs: 0 }), /timeoutMs must be an integer/);
  await assert.rejects(runner.run('return 1', {}, { memoryBytes: 10 }), /memoryBytes/);
  await assert.rejects(createCodeRunner({ maxStackBytes: 1.5 }), /maxStackBytes/);
  const other = await createCodeRunner({ timeoutMs: 500 });
  assert.equal((await other.run('return 7', {})).result, 7);
  other.close();
  await assert.rejects(other.run('return 1', {}), /closed/);
});

test('200 sequential calls: no leak, the runner stays usable', async () => {
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < 200; i++) {
    const { result } = await runner.run('const xs = Array.from({ length: 1000 }, (_, k) => k * input.i); return xs.reduce((a, b) => a + b, 0);', { i });
    assert.equal(result, i * 499_500);
  }
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMiB < 200, `rss grew ${grownMiB.toFixed(1)} MiB`);
  await unharmed();
});

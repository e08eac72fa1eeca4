/**
 * npm run bench -- code
 *
 * Cost of one workflow "code" step call in the sandbox (libs/sandbox): cold (the
 * process's first call, compiling the WebAssembly engine and starting a sandbox thread;
 * then a fresh runner's first call, with the compiled engine cached), warm (median and
 * p99 over 2,000 calls of a small script, and over 500 calls of a 100-record transform),
 * the engine alone without the thread hop, and the price of a call stopped by ending its
 * thread (the next call starts a new one). Needs no stack; takes about 15 s.
 */
import { createCodeRunner, loadEngineWasm, type CodeRunner } from '../../libs/sandbox/code-runner.ts';
import { createEngine, runCode } from '../../libs/sandbox/quickjs.ts';
import { HARNESS_FILE, HARNESS_SOURCE } from '../../libs/sandbox/harness.ts';
import { defaultCodeLimits } from '../../libs/sandbox/limits.ts';
import { percentile, recordBenchmark } from './support.ts';

const SMALL = "const words = input.text.split(' '); return { count: words.length };";
const SMALL_INPUT = { text: 'the quick brown fox jumps over the lazy dog' };
const TRANSFORM = `return input.records
  .filter((r) => r.employees > 50)
  .map((r) => ({ id: r.id, domain: r.email.split('@')[1], size: r.employees > 500 ? 'large' : 'mid', tags: r.tags.map((t) => t.toUpperCase()) }));`;
const TRANSFORM_INPUT = {
  records: Array.from({ length: 100 }, (_, i) => ({ id: `rec-${i}`, email: `person${i}@company${i % 7}.com`, employees: (i * 37) % 1000, tags: ['crm', `t${i % 5}`] })),
};
const WARM_CALLS = 2000;
const TRANSFORM_CALLS = 500;
const FRESH_RUNNERS = 5;

const say = (text: string) => console.log(`· ${text}`);
const ms = (n: number, digits = 2) => n.toFixed(digits);

interface Stats { median: number; p99: number; mean: number; perSec: number }

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = samples.reduce((a, b) => a + b, 0);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99), mean: total / samples.length, perSec: samples.length / (total / 1000) };
}

async function timeCalls(runner: CodeRunner, source: string, input: unknown, calls: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await runner.run(source, input);
    samples.push(performance.now() - t);
  }
  return samples;
}

// ---- cold: the process's first call ----
let t = performance.now();
await loadEngineWasm();
const compileMs = performance.now() - t;
t = performance.now();
const runner = await createCodeRunner();
const startMs = performance.now() - t;
t = performance.now();
await runner.run(SMALL, SMALL_INPUT);
const firstCallMs = performance.now() - t;
const coldMs = compileMs + startMs + firstCallMs;
say(`cold: compile ${ms(compileMs)} ms + runner start ${ms(startMs)} ms + first call ${ms(firstCallMs)} ms = ${ms(coldMs)} ms`);

// ---- a fresh runner (compiled engine cached): start + first call ----
const freshStart: number[] = [];
const freshFirst: number[] = [];
for (let i = 0; i < FRESH_RUNNERS; i++) {
  t = performance.now();
  const fresh = await createCodeRunner();
  freshStart.push(performance.now() - t);
  t = performance.now();
  await fresh.run(SMALL, SMALL_INPUT);
  freshFirst.push(performance.now() - t);
  fresh.close();
}
const startStats = stats(freshStart);
const firstStats = stats(freshFirst);
say(`fresh runner: start ${ms(startStats.median)} ms + first call ${ms(firstStats.median)} ms (medians of ${FRESH_RUNNERS})`);

// ---- warm ----
await timeCalls(runner, SMALL, SMALL_INPUT, 200);
const warm = stats(await timeCalls(runner, SMALL, SMALL_INPUT, WARM_CALLS));
say(`warm, small script: median ${ms(warm.median, 3)} ms, p99 ${ms(warm.p99, 3)} ms, ${warm.perSec.toFixed(0)} calls/s`);
await timeCalls(runner, TRANSFORM, TRANSFORM_INPUT, 50);
const transform = stats(await timeCalls(runner, TRANSFORM, TRANSFORM_INPUT, TRANSFORM_CALLS));
const transformInputBytes = JSON.stringify(TRANSFORM_INPUT).length;
say(`warm, 100-record transform (${transformInputBytes} B in): median ${ms(transform.median, 3)} ms, p99 ${ms(transform.p99, 3)} ms`);

// ---- the engine alone, on this thread: what the thread hop adds ----
const engine = await createEngine(await loadEngineWasm(), defaultCodeLimits.memoryBytes);
const inputJson = JSON.stringify(SMALL_INPUT);
for (let i = 0; i < 200; i++) runCode(engine, SMALL, inputJson, defaultCodeLimits);
const alone: number[] = [];
for (let i = 0; i < WARM_CALLS; i++) {
  const s = performance.now();
  runCode(engine, SMALL, inputJson, defaultCodeLimits);
  alone.push(performance.now() - s);
}
const engineOnly = stats(alone);
say(`engine alone, small script: median ${ms(engineOnly.median, 3)} ms, p99 ${ms(engineOnly.p99, 3)} ms`);

/** Median ms of a step of the engine's per-call work, alone. */
function step(work: () => void): number {
  for (let i = 0; i < 200; i++) work();
  const samples: number[] = [];
  for (let i = 0; i < WARM_CALLS; i++) {
    const s = performance.now();
    work();
    samples.push(performance.now() - s);
  }
  return stats(samples).median;
}
const freshRuntime = step(() => {
  const rt = engine.module.newRuntime();
  rt.newContext().dispose();
  rt.dispose();
});
const withHarness = step(() => {
  const rt = engine.module.newRuntime();
  const ctx = rt.newContext();
  const h = ctx.evalCode(HARNESS_SOURCE, HARNESS_FILE);
  (h.error ?? h.value).dispose();
  ctx.dispose();
  rt.dispose();
});
say(`engine steps: runtime + context ${ms(freshRuntime, 3)} ms; with the harness evaluated ${ms(withHarness, 3)} ms`);

// ---- a call stopped by ending its thread, and the call after it ----
t = performance.now();
await runner.run('const s = "x".repeat(1e6); for (;;) s.split("");', {}, { timeoutMs: 200 }).catch((err: { code?: string }) => {
  if (err.code !== 'CODE_TIMEOUT') throw err;
});
const killedMs = performance.now() - t;
t = performance.now();
await runner.run(SMALL, SMALL_INPUT);
const afterKillMs = performance.now() - t;
say(`killed at deadline 200 ms: answered in ${ms(killedMs, 0)} ms; next call (new thread) ${ms(afterKillMs, 1)} ms`);
runner.close();

await recordBenchmark('code', `
The workflow "code" step's sandbox (libs/sandbox: QuickJS in WebAssembly via quickjs-emscripten 0.32.0, one sandbox thread per runner, a fresh QuickJS runtime and context per call). Small script: \`${SMALL}\`; transform: filter and map 100 CRM-like records (${transformInputBytes} B of JSON in). Times as the caller sees them (\`await runner.run(...)\`), sequential calls.

| what | ms |
|---|---:|
| **cold**: the process's first call, all included | **${ms(coldMs, 1)}** |
| · compile the engine's WebAssembly (once per process, cached; V8 compiles lazily, so part lands on the first call) | ${ms(compileMs, 1)} |
| · start the runner: sandbox thread (with tsx's loader), engine instance | ${ms(startMs, 1)} |
| · the first call | ${ms(firstCallMs, 1)} |
| fresh runner, engine compiled: start + first call (median of ${FRESH_RUNNERS}) | ${ms(startStats.median + firstStats.median, 1)} (${ms(startStats.median, 1)} + ${ms(firstStats.median, 1)}) |
| **warm**, small script: median / p99 (${WARM_CALLS} calls) | **${ms(warm.median, 3)} / ${ms(warm.p99, 3)}** |
| warm, 100-record transform: median / p99 (${TRANSFORM_CALLS} calls) | ${ms(transform.median, 3)} / ${ms(transform.p99, 3)} |
| engine alone on the caller's thread, small script: median / p99 | ${ms(engineOnly.median, 3)} / ${ms(engineOnly.p99, 3)} |
| · of which a fresh QuickJS runtime + context, created and freed (median) | ${ms(freshRuntime, 3)} |
| · of which evaluating the harness in it (median) | ${ms(withHarness - freshRuntime, 3)} |
| a call stopped by ending its thread (timeoutMs 200, hard stop 250 ms later) | ${ms(killedMs, 0)} |
| the call right after it (waits for the new thread, started at the kill) | ${ms(afterKillMs, 1)} |

Warm throughput of one runner: ${warm.perSec.toFixed(0)} small calls/s (one thread, calls queue); the thread hop costs ${ms(warm.median - engineOnly.median, 3)} ms a call at the median. Of the engine's own time, the fresh runtime and context and the harness (the JavaScript that captures JSON and sets up console, evaluated in every fresh context) take ${ms(withHarness, 3)} ms; the user's code the rest.
`);
say('recorded in BENCHMARKS.md (## code)');

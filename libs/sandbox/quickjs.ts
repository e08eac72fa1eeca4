/**
 * One call of user code in QuickJS (WebAssembly), on the sandbox thread. Each call gets
 * its own QuickJS runtime (heap, stack limit, deadline) and context (fresh globals),
 * disposed afterwards; an engine (one WebAssembly instance) serves calls one at a time.
 * Only JSON text crosses: the input goes in as a string parsed inside, the result comes
 * out as a string that the host parses.
 */
import { RELEASE_SYNC, newQuickJSWASMModuleFromVariant, newVariant, type QuickJSContext, type QuickJSHandle, type QuickJSWASMModule } from 'quickjs-emscripten';
import { HubError } from '../errors/index.ts';
import { CodeError, raiseSandbox, type SourceLocation } from './errors.ts';
import { HARNESS_FILE, HARNESS_SOURCE, USER_FILE, WRAPPER_LINES, WRAPPER_PREFIX, WRAPPER_SUFFIX } from './harness.ts';
import type { ResolvedCodeLimits } from './limits.ts';

const PAGE_BYTES = 65_536;
/** The engine's module asks for 16 MiB at start: its data, C stack and first heap. */
const BASE_PAGES = 256;

export interface Engine {
  readonly module: QuickJSWASMModule;
  readonly memoryBytes: number;
  /** How many times the WebAssembly memory refused to grow past its cap. */
  readonly refusedGrowths: number;
  /** Size of the WebAssembly memory now: it grows with the largest call so far and never shrinks. */
  readonly wasmBytes: number;
}

/**
 * An engine whose WebAssembly memory cannot grow past memoryBytes + 16 MiB: an allocation
 * beyond fails inside QuickJS as "out of memory". This is the real memory limit, since
 * QuickJS's own counter sees almost nothing of large strings and buffers in this build
 * (it has no malloc_usable_size; justjake/quickjs-emscripten#255, #271).
 */
export async function createEngine(wasm: WebAssembly.Module, memoryBytes: number): Promise<Engine> {
  const wasmMemory = new WebAssembly.Memory({ initial: BASE_PAGES, maximum: BASE_PAGES + Math.ceil(memoryBytes / PAGE_BYTES) });
  let refusedGrowths = 0;
  // Counted because QuickJS does not always manage to throw "out of memory" when the
  // allocator fails (a bare `null` is thrown instead): a refusal during a failed call names the cause.
  const grow = wasmMemory.grow.bind(wasmMemory);
  wasmMemory.grow = (pages: number): number => {
    try {
      return grow(pages);
    } catch (err) {
      refusedGrowths++;
      throw err;
    }
  };
  const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmModule: wasm, wasmMemory }));
  return {
    module,
    memoryBytes,
    get refusedGrowths() { return refusedGrowths; },
    get wasmBytes() { return wasmMemory.buffer.byteLength; },
  };
}

type Phase = 'compile' | 'input' | 'run' | 'output';
type Fail = (errHandle: QuickJSHandle, phase: Phase) => HubError;

/**
 * Runs `source` as the body of `async function (input)` and returns the JSON text
 * `{"result":…,"logs":[…]}`. Throws a HubError for everything that is the code's doing;
 * anything else thrown means the engine itself failed and must not be used again.
 */
export function runCode(engine: Engine, source: string, inputJson: string, l: ResolvedCodeLimits): string {
  const runtime = engine.module.newRuntime();
  runtime.setMemoryLimit(l.memoryBytes);
  runtime.setMaxStackSize(l.maxStackBytes);
  const deadline = performance.now() + l.timeoutMs;
  let timedOut = false;
  // Consulted by QuickJS every few thousand operations (loops, calls, regex steps, jobs); its interruption cannot be caught.
  runtime.setInterruptHandler(() => {
    if (!timedOut && performance.now() >= deadline) timedOut = true;
    return timedOut;
  });
  const ctx = runtime.newContext();
  const refusedBefore = engine.refusedGrowths;
  const owned: QuickJSHandle[] = [];
  const own = (h: QuickJSHandle): QuickJSHandle => {
    owned.push(h);
    return h;
  };
  let engineIntact = true;
  try {
    const harness = own(started(ctx, ctx.evalCode(HARNESS_SOURCE, HARNESS_FILE)));
    const parse = own(ctx.getProp(harness, 'input'));
    const output = own(ctx.getProp(harness, 'output'));
    const describe = own(ctx.getProp(harness, 'describe'));

    const timeout = (): HubError => raiseSandbox('CODE_TIMEOUT', `code ran longer than ${l.timeoutMs} ms`);
    const fail: Fail = (errHandle, phase) => {
      own(errHandle);
      if (timedOut) return timeout();
      const [name, message, stack] = describeError(ctx, describe, errHandle);
      if (timedOut) return timeout();
      if ((name === 'InternalError' && message === 'out of memory') || engine.refusedGrowths > refusedBefore) return raiseSandbox('CODE_MEMORY_LIMIT', `code used more than its ${l.memoryBytes} bytes of memory`);
      const what = name === '' ? message : `${name}: ${message}`;
      if (phase === 'output') return raiseSandbox('CODE_RESULT_INVALID', `code result is not JSON: ${what}`);
      if (phase === 'input') return raiseSandbox('CODE_INPUT_INVALID', `code input could not be read: ${what}`);
      return new CodeError(name, message, locate(stack, source));
    };

    const fn = ctx.evalCode(`${WRAPPER_PREFIX}${source}${WRAPPER_SUFFIX}`, USER_FILE);
    if (fn.error) throw fail(fn.error, 'compile');
    own(fn.value);

    const input = ctx.callFunction(parse, ctx.undefined, own(ctx.newString(inputJson)));
    if (input.error) throw fail(input.error, 'input');
    own(input.value);

    const called = ctx.callFunction(fn.value, ctx.undefined, input.value);
    if (called.error) throw fail(called.error, 'run');
    const value = settle(ctx, own(called.value), fail, own);
    if (value === undefined) throw timedOut ? timeout() : new CodeError('Error', 'the returned promise never settles (the sandbox has no timers, network or I/O)', undefined);

    const out = ctx.callFunction(output, ctx.undefined, value);
    if (out.error) throw fail(out.error, 'output');
    return readBoundedString(ctx, own(out.value), l.maxOutputBytes);
  } catch (err) {
    if (!(err instanceof HubError)) engineIntact = false;
    throw err;
  } finally {
    // A failed engine is abandoned whole: freeing into it could abort or corrupt it further.
    if (engineIntact) {
      for (const h of owned.reverse()) if (h.alive) h.dispose();
      ctx.dispose();
      runtime.dispose();
    }
  }
}

function started(ctx: QuickJSContext, r: ReturnType<QuickJSContext['evalCode']>): QuickJSHandle {
  if (!r.error) return r.value;
  const detail = JSON.stringify(ctx.dump(r.error));
  r.error.dispose();
  throw new Error(`the sandbox harness failed to start: ${detail}`);
}

/**
 * Runs the jobs a returned promise waits on. Undefined when it is still pending after
 * them: with no timers or I/O it never settles (or the deadline stopped the jobs).
 */
function settle(ctx: QuickJSContext, handle: QuickJSHandle, fail: Fail, own: (h: QuickJSHandle) => QuickJSHandle): QuickJSHandle | undefined {
  let state = ctx.getPromiseState(handle);
  if (state.type === 'fulfilled' && state.notAPromise) return handle;
  if (state.type === 'pending') {
    const jobs = ctx.runtime.executePendingJobs(-1);
    if (jobs.error) throw fail(jobs.error, 'run');
    state = ctx.getPromiseState(handle);
  }
  if (state.type === 'rejected') throw fail(state.error, 'run');
  return state.type === 'pending' ? undefined : own(state.value);
}

const UNDESCRIBABLE: [string, string, string] = ['', 'a value that cannot be described', ''];

/** [name, message, stack] of a thrown value, read inside the sandbox under the same deadline. */
function describeError(ctx: QuickJSContext, describe: QuickJSHandle, errHandle: QuickJSHandle): [string, string, string] {
  const r = ctx.callFunction(describe, ctx.undefined, errHandle);
  if (r.error) {
    r.error.dispose();
    return UNDESCRIBABLE;
  }
  try {
    const parts = JSON.parse(ctx.typeof(r.value) === 'string' ? readBoundedString(ctx, r.value, 64 * 1024) : '') as unknown;
    return Array.isArray(parts) && parts.length === 3 && parts.every((p) => typeof p === 'string') ? (parts as [string, string, string]) : UNDESCRIBABLE;
  } catch {
    return UNDESCRIBABLE;
  } finally {
    r.value.dispose();
  }
}

/** Copies a string out only if it fits: its length is read inside first (a UTF-16 unit is at least one UTF-8 byte), then its UTF-8 size. */
function readBoundedString(ctx: QuickJSContext, handle: QuickJSHandle, maxBytes: number): string {
  const lengthHandle = ctx.getProp(handle, 'length');
  const length = ctx.getNumber(lengthHandle);
  lengthHandle.dispose();
  if (length > maxBytes) throw raiseSandbox('CODE_OUTPUT_TOO_LARGE', `code output is over ${maxBytes} bytes (${length} characters)`);
  const text = ctx.getString(handle);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw raiseSandbox('CODE_OUTPUT_TOO_LARGE', `code output is ${bytes} bytes, over ${maxBytes}`);
  return text;
}

/**
 * Line and column in the user's source from a QuickJS stack (`at f (code.js:3:9)`): the
 * first frame in the user's file, shifted past the wrapper's line. QuickJS counts lines
 * by \n and columns in code points; columns are reported in UTF-16 units, as editors do.
 */
export function locate(stack: string, source: string): SourceLocation | undefined {
  const m = new RegExp(`${USER_FILE.replace('.', '\\.')}:(\\d+):(\\d+)`).exec(stack);
  if (!m) return undefined;
  const line = Number(m[1]) - WRAPPER_LINES;
  const codePoints = Number(m[2]);
  if (line < 1) return undefined;
  const lines = source.split('\n');
  if (line > lines.length) {
    // An unclosed block is reported on the wrapper's closing line: point just past the source.
    return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
  }
  let units = 0;
  let seen = 1;
  for (const ch of lines[line - 1] ?? '') {
    if (seen >= codePoints) break;
    units += ch.length;
    seen++;
  }
  return { line, column: units + 1 + Math.max(0, codePoints - seen) };
}

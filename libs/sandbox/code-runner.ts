/**
 * The workflow "code" step's sandbox: user JavaScript in QuickJS compiled to WebAssembly
 * (quickjs-emscripten), never node:vm or vm2. A runner owns one sandbox thread that runs
 * its calls one at a time, each in a fresh QuickJS runtime and context; the compiled
 * WebAssembly is shared by the whole process. See README.md for the limits and why.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { raiseSandbox } from './errors.ts';
import { compileCodeLimits, hardKillGraceMs, type CodeLimits, type ResolvedCodeLimits } from './limits.ts';
import { fromFailure, type RunRequest, type ThreadData, type ThreadMessage } from './protocol.ts';

export { compileCodeLimits, defaultCodeLimits, type CodeLimits } from './limits.ts';

export interface CodeRunResult {
  /** What the code returned, through JSON (`undefined` becomes null). */
  result: unknown;
  durationMs: number;
  /** What the code passed to console.log (or info/warn/error/debug): ≤ 100 lines of ≤ 2000 characters. */
  logs: string[];
}

export interface CodeRunner {
  /** Runs `source` as the body of `async function (input)`; `input` goes in as a JSON copy. Calls queue up. */
  run(source: string, input: unknown, limits?: Partial<CodeLimits>): Promise<CodeRunResult>;
  /** Stops the sandbox thread; calls still queued fail. */
  close(): void;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** The engine's WebAssembly, compiled once per process (the "cold" cost) and handed to every sandbox thread. */
export function loadEngineWasm(): Promise<WebAssembly.Module> {
  if (compiled === undefined) {
    const loading = (async () => {
      const fromQuickjs = createRequire(createRequire(import.meta.url).resolve('quickjs-emscripten'));
      return WebAssembly.compile(await readFile(fromQuickjs.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
    })();
    compiled = loading;
    loading.catch(() => { if (compiled === loading) compiled = undefined; });
  }
  return compiled;
}

export async function createCodeRunner(defaults: Partial<CodeLimits> = {}): Promise<CodeRunner> {
  const base = compileCodeLimits(defaults);
  const wasm = await loadEngineWasm();
  let thread: Promise<SandboxThread> | undefined;
  const currentThread = (): Promise<SandboxThread> => {
    if (thread === undefined) {
      const starting = startThread({ wasm, memoryBytes: base.memoryBytes });
      thread = starting;
      starting.catch(() => { if (thread === starting) thread = undefined; });
    }
    return thread;
  };
  await currentThread();
  let closed = false;
  let nextId = 1;
  let queue: Promise<unknown> = Promise.resolve();

  async function call(source: string, inputJson: string, l: ResolvedCodeLimits): Promise<CodeRunResult> {
    if (closed) throw new Error('code runner is closed');
    let t = await currentThread();
    if (t.dead) {
      thread = undefined;
      t = await currentThread();
    }
    const started = performance.now();
    let reply: ThreadMessage;
    try {
      reply = await t.call({ id: nextId++, source, inputJson, limits: l }, l.timeoutMs + hardKillGraceMs);
    } catch (err) {
      thread = undefined;
      // The thread is gone: start its successor now, while the caller handles this error.
      if (!closed) void currentThread().catch(() => undefined);
      if (err instanceof HardTimeout) throw raiseSandbox('CODE_TIMEOUT', `code ran longer than ${l.timeoutMs} ms (stopped by ending its thread)`);
      if (closed) throw new Error('code runner was closed during the call');
      if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') throw raiseSandbox('CODE_MEMORY_LIMIT', 'code output exhausted the sandbox thread\'s memory');
      throw err;
    }
    const durationMs = performance.now() - started;
    if (reply.type === 'failed') throw fromFailure(reply.failure);
    if (reply.type !== 'done') throw new Error(`code sandbox failed: ${reply.type === 'crashed' ? reply.error : reply.type}`);
    const { result, logs } = JSON.parse(reply.text) as { result: unknown; logs: string[] };
    return { result, logs, durationMs };
  }

  return {
    async run(source, input, limits) {
      if (closed) throw new Error('code runner is closed');
      if (typeof source !== 'string') throw new TypeError('code source must be a string');
      const l = limits === undefined ? base : compileCodeLimits(limits, base);
      const inputJson = inputText(input);
      const done = queue.then(() => call(source, inputJson, l));
      queue = done.catch(() => undefined);
      return done;
    },
    close() {
      closed = true;
      void thread?.then((t) => t.stop(), () => undefined);
      thread = undefined;
    },
  };
}

function inputText(input: unknown): string {
  try {
    return JSON.stringify(input) ?? 'null';
  } catch (err) {
    throw raiseSandbox('CODE_INPUT_INVALID', `code input is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

class HardTimeout extends Error {}

interface SandboxThread {
  readonly dead: boolean;
  /** Rejects with HardTimeout (and ends the thread) when no answer comes within `hardTimeoutMs`. */
  call(req: RunRequest, hardTimeoutMs: number): Promise<ThreadMessage>;
  stop(): void;
}

const THREAD_ENTRY = new URL('./worker-entry.mjs', import.meta.url);

async function startThread(data: ThreadData): Promise<SandboxThread> {
  // A 4 MiB native stack leaves QuickJS's stack limit (≤ 1 MiB) the first to trip.
  const worker = new Worker(THREAD_ENTRY, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 256, stackSizeMb: 4 } });
  let dead = false;
  let pending: { id: number; resolve: (m: ThreadMessage) => void; reject: (e: unknown) => void } | undefined;
  let ready!: { resolve: () => void; reject: (e: unknown) => void };
  const readyPromise = new Promise<void>((resolve, reject) => { ready = { resolve, reject }; });
  const stopped = (err: unknown): void => {
    dead = true;
    ready.reject(err);
    const p = pending;
    pending = undefined;
    p?.reject(err);
  };
  worker.on('message', (m: ThreadMessage) => {
    if (m.type === 'ready') return ready.resolve();
    if (pending === undefined || m.id !== pending.id) return;
    const p = pending;
    pending = undefined;
    worker.unref();
    p.resolve(m);
  });
  worker.on('error', stopped);
  worker.on('exit', (code) => stopped(new Error(`code sandbox thread exited with code ${code}`)));
  try {
    await readyPromise;
  } catch (err) {
    void worker.terminate();
    throw err;
  }
  // Idle, the thread does not keep the process alive; a call in flight does.
  worker.unref();
  return {
    get dead() {
      return dead;
    },
    call(req, hardTimeoutMs) {
      return new Promise<ThreadMessage>((resolve, reject) => {
        if (dead) return reject(new Error('code sandbox thread has stopped'));
        const timer = setTimeout(() => {
          const p = pending;
          pending = undefined;
          dead = true;
          void worker.terminate();
          p?.reject(new HardTimeout());
        }, hardTimeoutMs);
        pending = {
          id: req.id,
          resolve: (m) => { clearTimeout(timer); resolve(m); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        };
        worker.ref();
        worker.postMessage(req);
      });
    },
    stop() {
      dead = true;
      void worker.terminate();
    },
  };
}

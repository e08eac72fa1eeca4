/**
 * The sandbox thread: runs calls one at a time on engines kept per memory size. It is a
 * thread so that the runner can kill it when a call outlives its deadline, and so that
 * user code never blocks the service's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HubError } from '../errors/index.ts';
import { createEngine, runCode, type Engine } from './quickjs.ts';
import { CodeError } from './errors.ts';
import { toFailure, type RunRequest, type ThreadData, type ThreadMessage } from './protocol.ts';

const port = parentPort;
if (port === null) throw new Error('libs/sandbox/worker.ts runs as a worker thread');
const { wasm, memoryBytes } = workerData as ThreadData;

/** Engines by memory size; few sizes are ever used, the oldest beyond 4 is dropped. */
const engines = new Map<number, Promise<Engine>>();

function engineFor(bytes: number): Promise<Engine> {
  let engine = engines.get(bytes);
  if (engine === undefined) {
    engine = createEngine(wasm, bytes);
    engines.set(bytes, engine);
    if (engines.size > 4) engines.delete(engines.keys().next().value as number);
  }
  return engine;
}

function drop(engine: Engine): void {
  void engines.get(engine.memoryBytes)?.then((e) => { if (e === engine) engines.delete(engine.memoryBytes); });
}

/** An engine whose memory grew past this is replaced after the call (~5 ms), returning the memory. */
const RECYCLE_ABOVE_BYTES = 32 * 1024 * 1024;

async function handle(req: RunRequest): Promise<ThreadMessage> {
  let engine: Engine;
  try {
    engine = await engineFor(req.limits.memoryBytes);
  } catch (err) {
    engines.delete(req.limits.memoryBytes);
    return { type: 'crashed', id: req.id, error: `cannot start the engine: ${err instanceof Error ? err.message : String(err)}` };
  }
  try {
    const text = runCode(engine, req.source, req.inputJson, req.limits);
    if (engine.wasmBytes > RECYCLE_ABOVE_BYTES) drop(engine);
    return { type: 'done', id: req.id, text };
  } catch (err) {
    if (err instanceof HubError) {
      if (engine.wasmBytes > RECYCLE_ABOVE_BYTES) drop(engine);
      return { type: 'failed', id: req.id, failure: toFailure(err) };
    }
    drop(engine);
    // Node's native stack ran out under deep recursion in a built-in: the code's doing, contained.
    if (err instanceof RangeError || err instanceof WebAssembly.RuntimeError) {
      return { type: 'failed', id: req.id, failure: toFailure(new CodeError('InternalError', `the sandbox engine stopped: ${err.message} (recursion or nesting too deep?)`, undefined)) };
    }
    return { type: 'crashed', id: req.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: RunRequest) => {
  queue = queue.then(async () => port.postMessage(await handle(req)));
});

await engineFor(memoryBytes);
port.postMessage({ type: 'ready' } satisfies ThreadMessage);

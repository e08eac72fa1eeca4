/** Messages between the runner (main thread) and its sandbox thread; plain data only. */
import { HubError } from '../errors/index.ts';
import { CodeError, raiseSandbox, type SandboxErrorCode } from './errors.ts';
import type { ResolvedCodeLimits } from './limits.ts';

export interface ThreadData {
  /** The compiled engine, shared by every thread: compiling it is the "cold" cost. */
  wasm: WebAssembly.Module;
  /** Memory size of the engine made ready before the thread says it is ready. */
  memoryBytes: number;
}

export interface RunRequest {
  id: number;
  source: string;
  inputJson: string;
  limits: ResolvedCodeLimits;
}

/** A user-facing failure, rebuilt as the same HubError on the other side. */
export interface Failure {
  code: SandboxErrorCode;
  message: string;
  errorName?: string;
  detail?: string;
  line?: number;
  column?: number;
}

export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'done'; id: number; text: string }
  | { type: 'failed'; id: number; failure: Failure }
  /** A bug or an engine fault that is not the user's: surfaces as a plain Error. */
  | { type: 'crashed'; id: number; error: string };

export function toFailure(err: HubError): Failure {
  if (err instanceof CodeError) {
    const f: Failure = { code: 'CODE_ERROR', message: err.message, errorName: err.errorName, detail: err.detail };
    if (err.line !== undefined && err.column !== undefined) Object.assign(f, { line: err.line, column: err.column });
    return f;
  }
  return { code: err.code as SandboxErrorCode, message: err.message };
}

export function fromFailure(f: Failure): HubError {
  if (f.code === 'CODE_ERROR') {
    const location = f.line !== undefined && f.column !== undefined ? { line: f.line, column: f.column } : undefined;
    return new CodeError(f.errorName ?? '', f.detail ?? f.message, location);
  }
  return raiseSandbox(f.code, f.message);
}

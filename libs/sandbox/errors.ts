import { HubError, errorFactory, type ErrorSpec } from '../errors/index.ts';

/**
 * Failures of user code in a workflow "code" step. All are the user's to fix: recorded
 * on the run, never retried (the same code on the same input fails the same way).
 */
export const sandboxErrors = {
  /** The code threw, or does not parse. Carries `line`/`column` in the user's source when known. */
  CODE_ERROR: { status: 422, retriable: false },
  CODE_TIMEOUT: { status: 422, retriable: false },
  CODE_MEMORY_LIMIT: { status: 422, retriable: false },
  CODE_OUTPUT_TOO_LARGE: { status: 422, retriable: false },
  /** The returned value is not JSON: a function, a symbol, a BigInt, a cycle, too deeply nested. */
  CODE_RESULT_INVALID: { status: 422, retriable: false },
  /** The host handed in an input that is not JSON (a BigInt, a cycle): a bug upstream of the step. */
  CODE_INPUT_INVALID: { status: 422, retriable: false },
} as const;

export type SandboxErrorCode = keyof typeof sandboxErrors;

export const raiseSandbox = errorFactory(sandboxErrors);

/** Where in the user's source an error happened, 1-based, relative to the source as written. */
export interface SourceLocation {
  line: number;
  column: number;
}

/** CODE_ERROR: the user's code threw or does not parse. */
export class CodeError extends HubError {
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** The error's name inside the sandbox (`TypeError`, `SyntaxError`, …); '' for a thrown non-error. */
  readonly errorName: string;
  /** The error's own message, as the code threw it. */
  readonly detail: string;

  constructor(errorName: string, detail: string, location: SourceLocation | undefined, options: { cause?: unknown } = {}) {
    const where = location === undefined ? '' : ` (line ${location.line}, column ${location.column})`;
    const what = errorName === '' ? `threw ${detail}` : `${errorName}: ${detail}`;
    super('CODE_ERROR', sandboxErrors.CODE_ERROR as ErrorSpec, `code failed: ${what}${where}`, options);
    this.name = 'CodeError';
    this.errorName = errorName;
    this.detail = detail;
    this.line = location?.line;
    this.column = location?.column;
  }

  override toJSON(): { code: string; message: string; line?: number; column?: number } {
    return this.line === undefined ? super.toJSON() : { ...super.toJSON(), line: this.line, column: this.column as number };
  }
}

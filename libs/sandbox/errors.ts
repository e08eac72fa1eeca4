import { HubError, errorFactory, type ErrorSpec, pickErrors } from '../errors/index.ts';

/**
 * Failures of user code in a workflow "code" step. All are the user's to fix: recorded
 * on the run, never retried (the same code on the same input fails the same way).
 */
export const sandboxErrors = pickErrors('CODE_ERROR', 'CODE_TIMEOUT', 'CODE_MEMORY_LIMIT', 'CODE_OUTPUT_TOO_LARGE', 'CODE_RESULT_INVALID', 'CODE_INPUT_INVALID');

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

/**
 * The code step (`{source, input}`: schema, checks and handler): the user's JavaScript
 * in the QuickJS sandbox (libs/sandbox), with the rendered `input`. It has no effects,
 * so it runs in dry runs too. Output: `{ result, logs? }` (logs only when the code
 * wrote some).
 *
 * `source` is never rendered as a template (splicing data into code is how expression
 * sandboxes get escaped): only `input` is, and the code reads it as data.
 *
 * The result comes from JSON.parse, where a "__proto__" key is an own data property.
 * It is handed on as parsed, never copied by assignment (`out[k] = v` or Object.assign
 * would make such a key the copy's prototype instead); the engine and templates read it
 * with own-property lookups.
 */
import { HubError, errorFactory, pickErrors } from '../../errors/index.ts';
import { compileCodeLimits, type CodeLimits, type CodeRunner } from '../../sandbox/code-runner.ts';
import { hardKillGraceMs } from '../../sandbox/limits.ts';
import type { StepHandler } from '../interpreter.ts';
import type { CodeInput } from '../../contracts/workflow.ts';
import { renderValue } from '../template.ts';
import { inputObject, type StepTypeSpec } from '../step-spec.ts';

export const codeStepErrors = pickErrors('CODE_SANDBOX_FAILED');

const raise = errorFactory(codeStepErrors);

export interface CodeStepDeps {
  runner: CodeRunner;
  /** Limits of every call (the sandbox's defaults otherwise: 1 s, 64 MiB, 1 MiB of output). */
  limits?: Partial<CodeLimits>;
}

/**
 * Beyond the code's own time limit and the sandbox's hard kill: a call may wait behind
 * others on the same runner (calls queue) or for a replacement thread (~0.2 s).
 */
const QUEUE_MARGIN_MS = 10_000;

/** Sandbox errors are the code's (never retriable) and keep their message (line, column); they get a path. */
function stepError(err: unknown): HubError {
  if (err instanceof HubError) {
    const path = err.code === 'CODE_INPUT_INVALID' ? '/input' : '/source';
    return new HubError(err.code, { status: err.status, retriable: err.retriable }, err.message, { path: err.path ?? path, cause: err });
  }
  return raise('CODE_SANDBOX_FAILED', `the code sandbox failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export function createCodeStepHandler(d: CodeStepDeps): StepHandler {
  // Checked once (a bad value is a RangeError at startup), then passed whole to every call.
  const limits = compileCodeLimits(d.limits ?? {});
  return {
    render(step, scope, path) {
      const input = step.input as CodeInput;
      return { source: input.source, input: renderValue(input.input, scope, { strict: true, path: `${path}/input` }) };
    },
    timeoutMs() {
      return limits.timeoutMs + hardKillGraceMs + QUEUE_MARGIN_MS;
    },
    async execute(raw) {
      const input = raw as CodeInput;
      let out;
      try {
        out = await d.runner.run(input.source, input.input, limits);
      } catch (err) {
        throw stepError(err);
      }
      return { result: out.result, ...(out.logs.length > 0 ? { logs: out.logs } : {}) };
    },
  };
}

export const code: StepTypeSpec = {
  type: 'code',
  description: 'Runs JavaScript in a QuickJS isolate (no network, files or host objects) with `input`; output {result, logs?}',
  inputSchema: ({ limits }) => inputObject(['source'], {
    // Never templated: splicing data into code is how expression sandboxes get escaped.
    source: {
      type: 'string', maxLength: limits.codeMaxChars, pattern: '\\S', description: 'The body of `async function (input)`; never templated',
      'x-message': `source must be non-empty JavaScript of at most ${limits.codeMaxChars} characters`,
    },
    input: { type: 'object', default: {}, description: 'Values or templates handed to the code', 'x-message': 'input must be an object of values or templates handed to the code' },
  }),
  check(input, ctx) {
    const data = (input.input ?? {}) as Record<string, unknown>;
    ctx.templates(data, '/input');
    return { input: { source: input.source, input: data } };
  },
  handler: (d) => createCodeStepHandler({ runner: d.code, ...(d.codeLimits ? { limits: d.codeLimits } : {}) }),
};

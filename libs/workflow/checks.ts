/**
 * The checks of a definition that come after its JSON Schema, shared by triggers and
 * steps: a refusal at a path, and JSON Logic rules (libs/rules) whose `var` paths may
 * read only some roots.
 */
import { HubError } from '../errors/index.ts';
import { validateRule } from '../rules/index.ts';
import { raise } from './errors.ts';
import { forEachTemplate } from './template.ts';

/** Refuses the definition: WORKFLOW_INVALID (400) at `path`, a JSON pointer into it. */
export function fail(path: string, message: string): never {
  throw raise('WORKFLOW_INVALID', message, { path });
}

/** Checks a rule; `roots` are the first `var` segments it may read; `check` vets each literal var path. */
export function checkRule(rule: unknown, path: string, roots: readonly string[], check: (segments: readonly string[], at: string) => void): void {
  if (rule === undefined) fail(path, 'a JSON Logic rule is required');
  forEachTemplate(rule, path, (_source, at) => fail(at, 'rules are not templated: read values with {"var": "trigger.body.email"}'));
  try {
    validateRule(rule, path, {
      onVar(segments, at) {
        const root = segments[0] as string;
        if (!roots.includes(root)) fail(at, `var reads ${roots.join(', ')} here (e.g. "${roots[0]}.email"), not "${root}"`);
        check(segments, at);
      },
    });
  } catch (err) {
    if (err instanceof HubError && err.code === 'RULE_INVALID') fail(err.path ?? path, err.message);
    throw err;
  }
}

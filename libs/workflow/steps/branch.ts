/**
 * The branch step: `{branches: [{if, steps}], else}`. The first branch whose `if`
 * (JSON Logic over {trigger, steps, item, index}) holds runs, else `else`. No handler:
 * the interpreter runs it and records the decision (output `{branch}`).
 *
 * Steps after a branch may name the steps of any of its branches (their outputs are
 * absent, read as null, when that branch did not run).
 */
import { inputObject, RUN_ROOTS, ruleSchema, stepList, type StepTypeSpec } from '../step-spec.ts';

export const branch: StepTypeSpec = {
  type: 'branch',
  description: 'Runs the steps of the first branch whose `if` holds, else `else`; output {branch}',
  inputSchema: ({ limits, step }) => inputObject(['branches'], {
    branches: {
      type: 'array', minItems: 1, maxItems: limits.branchesMax,
      'x-message': `branches must be an array of 1 to ${limits.branchesMax} {"if": <JSON Logic>, "steps": [...]}`,
      items: {
        type: 'object', additionalProperties: false, required: ['if', 'steps'],
        properties: { if: ruleSchema('JSON Logic over {trigger, steps, item, index}'), steps: stepList(step, 'steps') },
      },
    },
    else: { ...stepList(step, 'else'), default: [] },
  }),
  check(input, ctx) {
    const visibleAfter = new Set<string>();
    const branches = (input.branches as { if: unknown; steps: unknown }[]).map((b, i) => {
      const at = `/branches/${i}`;
      ctx.rule(b.if, `${at}/if`, RUN_ROOTS);
      const nested = ctx.steps(b.steps, `${at}/steps`);
      nested.visible.forEach((id) => visibleAfter.add(id));
      return { if: b.if, steps: nested.steps };
    });
    const otherwise = input.else === undefined ? { steps: [], visible: new Set<string>() } : ctx.steps(input.else, '/else');
    otherwise.visible.forEach((id) => visibleAfter.add(id));
    return { input: { branches, else: otherwise.steps }, visibleAfter };
  },
};

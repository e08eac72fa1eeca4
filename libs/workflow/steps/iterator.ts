/**
 * The iterator step: `{items, steps, maxItems}` runs `steps` once per item, in order,
 * with `{{item}}` and `{{index}}`. No handler: the interpreter runs it (output
 * `{count}`). Steps after the iterator do not see its inner steps (they ran once per
 * item); more items than `maxItems` fail the run rather than being cut silently.
 */
import { parseTemplate } from '../template.ts';
import { inputObject, integerSchema, stepList, type StepTypeSpec } from '../step-spec.ts';

const ITEMS_MESSAGE = 'items must be one template such as "{{steps.find.records}}", or an array';

/** Whether `text` is one whole template; a bad one counts as one (templates() reports it). */
function wholeTemplate(text: string): boolean {
  try {
    return parseTemplate(text).whole !== undefined;
  } catch {
    return true;
  }
}

export const iterator: StepTypeSpec = {
  type: 'iterator',
  description: 'Runs `steps` once per item of `items`, with {{item}} and {{index}}; output {count}',
  inputSchema: ({ limits, step }) => inputObject(['items', 'steps'], {
    items: { type: ['string', 'array'], description: 'A whole-value template ("{{steps.find.records}}") or a literal array', 'x-message': ITEMS_MESSAGE },
    steps: stepList(step, 'steps', 1),
    maxItems: integerSchema(1, limits.iteratorMaxItems, Math.min(limits.iteratorDefaultMaxItems, limits.iteratorMaxItems), 'More items fail the run'),
  }),
  check(input, ctx) {
    const items = input.items as string | unknown[];
    if (typeof items === 'string' && !wholeTemplate(items)) ctx.fail('/items', ITEMS_MESSAGE);
    // Items are read before the loop starts: in the scope of the iterator step itself.
    ctx.templates(items, '/items');
    const maxItems = (input.maxItems as number | undefined) ?? Math.min(ctx.limits.iteratorDefaultMaxItems, ctx.limits.iteratorMaxItems);
    if (Array.isArray(items) && items.length > maxItems) ctx.fail('/items', `items lists more than maxItems (${maxItems}) values`);
    const nested = ctx.steps(input.steps, '/steps', { iterator: true });
    return { input: { items, steps: nested.steps, maxItems } };
  },
};

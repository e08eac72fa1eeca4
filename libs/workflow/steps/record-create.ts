/**
 * The record.create step: `{object, values}` (values may be templates; `values.id`
 * names the record, else its id is derived from the step's effect id, so a repeated
 * execution creates the same record). Output: `{record}`.
 */
import { createHash } from 'node:crypto';
import type { RecordCreateInput } from '../../contracts/workflow.ts';
import type { StepHandler } from '../interpreter.ts';
import { raiseRun } from '../run-errors.ts';
import { inputObject, objectNameSchema, valuesSchema, type StepTypeSpec } from '../step-spec.ts';
import { current, guardDepth, oneWriterAtATime, plainValues, recordDeps, recordIdOf, recordView, write, type RecordStepDeps } from './record-store.ts';

export function createRecordCreateHandler(d: RecordStepDeps): StepHandler {
  return {
    async execute(raw, _step, ctx) {
      const input = raw as RecordCreateInput;
      const values = { ...plainValues(input.values, '/values') };
      let recordId: string;
      if (values.id !== undefined) {
        recordId = recordIdOf(values.id, '/values/id');
        delete values.id;
      } else {
        recordId = `rec_${createHash('sha256').update(ctx.effectId).digest('hex').slice(0, 20)}`;
      }
      guardDepth(d, ctx);
      return oneWriterAtATime(d, ctx, input.object, recordId, async () => {
        const existing = await current(d, ctx, input.object, recordId);
        if (existing && existing.eventId === ctx.effectId) return { record: recordView(recordId, existing.fields) };
        if (existing && !existing.deleted) throw raiseRun('RECORD_VALUES_INVALID', `${input.object} ${recordId} already exists`, { path: '/values/id' });
        const event = await write(d, ctx, 'record.created', input.object, recordId, values, null, Object.keys(values));
        return { record: recordView(recordId, values), ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
      });
    },
  };
}

export const recordCreate: StepTypeSpec = {
  type: 'record.create',
  description: 'Creates a record of `object` with `values`; output {record}',
  inputSchema: () => inputObject(['object', 'values'], { object: objectNameSchema, values: valuesSchema }),
  check(input, ctx) {
    ctx.templates(input.values, '/values');
    return { input: { object: input.object, values: input.values } };
  },
  handler: (d) => createRecordCreateHandler(recordDeps(d)),
};

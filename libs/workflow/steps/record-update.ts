/**
 * The record.update step: `{object, recordId, values}`; the values are merged into the
 * record. Output: `{record, updatedFields}` (the fields whose value changed).
 */
import type { RecordUpdateInput } from '../../contracts/workflow.ts';
import type { StepHandler } from '../interpreter.ts';
import { raiseRun } from '../run-errors.ts';
import { inputObject, objectNameSchema, textSchema, valuesSchema, type StepTypeSpec } from '../step-spec.ts';
import { current, guardDepth, oneWriterAtATime, plainValues, recordDeps, recordIdOf, recordView, write, type RecordStepDeps } from './record-store.ts';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function createRecordUpdateHandler(d: RecordStepDeps): StepHandler {
  return {
    async execute(raw, _step, ctx) {
      const input = raw as RecordUpdateInput;
      const recordId = recordIdOf(input.recordId, '/recordId');
      const values = plainValues(input.values, '/values');
      guardDepth(d, ctx);
      return oneWriterAtATime(d, ctx, input.object, recordId, async () => {
        const existing = await current(d, ctx, input.object, recordId);
        // Already done by an earlier execution of this very step (crash before its record).
        if (existing && existing.eventId === ctx.effectId) return { record: recordView(recordId, existing.fields), updatedFields: [] };
        if (!existing || existing.deleted) throw raiseRun('RECORD_NOT_FOUND', `no ${input.object} record ${recordId} to update`, { path: '/recordId' });
        const after = { ...existing.fields, ...values };
        delete after.id;
        const updatedFields = Object.keys(values).filter((k) => k !== 'id' && !same(existing.fields[k], values[k]));
        const event = await write(d, ctx, 'record.updated', input.object, recordId, after, existing, updatedFields);
        return { record: recordView(recordId, after), updatedFields, ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
      });
    },
  };
}

export const recordUpdate: StepTypeSpec = {
  type: 'record.update',
  description: 'Merges `values` into the record `recordId` of `object`; output {record, updatedFields}',
  inputSchema: () => inputObject(['object', 'recordId', 'values'], { object: objectNameSchema, recordId: textSchema(1000, 'The record\'s id, usually a template'), values: valuesSchema }),
  check(input, ctx) {
    ctx.templates(input.recordId, '/recordId');
    ctx.templates(input.values, '/values');
    return { input: { object: input.object, recordId: input.recordId, values: input.values } };
  },
  handler: (d) => createRecordUpdateHandler(recordDeps(d)),
};

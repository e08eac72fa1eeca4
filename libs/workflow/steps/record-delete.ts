/** The record.delete step: `{object, recordId}`. Output: `{recordId}`. */
import type { RecordDeleteInput } from '../../contracts/workflow.ts';
import type { StepHandler } from '../interpreter.ts';
import { raiseRun } from '../run-errors.ts';
import { inputObject, objectNameSchema, textSchema, type StepTypeSpec } from '../step-spec.ts';
import { current, guardDepth, oneWriterAtATime, recordDeps, recordIdOf, write, type RecordStepDeps } from './record-store.ts';

export function createRecordDeleteHandler(d: RecordStepDeps): StepHandler {
  return {
    async execute(raw, _step, ctx) {
      const input = raw as RecordDeleteInput;
      const recordId = recordIdOf(input.recordId, '/recordId');
      guardDepth(d, ctx);
      return oneWriterAtATime(d, ctx, input.object, recordId, async () => {
        const existing = await current(d, ctx, input.object, recordId);
        if (existing && existing.eventId === ctx.effectId) return { recordId };
        if (!existing || existing.deleted) throw raiseRun('RECORD_NOT_FOUND', `no ${input.object} record ${recordId} to delete`, { path: '/recordId' });
        const event = await write(d, ctx, 'record.deleted', input.object, recordId, null, existing, []);
        return { recordId, ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
      });
    },
  };
}

export const recordDelete: StepTypeSpec = {
  type: 'record.delete',
  description: 'Deletes the record `recordId` of `object`; output {recordId}',
  inputSchema: () => inputObject(['object', 'recordId'], { object: objectNameSchema, recordId: textSchema(1000, 'The record\'s id, usually a template') }),
  check(input, ctx) {
    ctx.templates(input.recordId, '/recordId');
    return { input: { object: input.object, recordId: input.recordId } };
  },
  handler: (d) => createRecordDeleteHandler(recordDeps(d)),
};

/** The record.delete step: `{object, recordId}`. Output: `{recordId}`. */
import type { RecordDeleteInput } from '../../contracts/workflow.ts';
import type { StepHandler } from '../interpreter.ts';
import { raiseRun } from '../run-errors.ts';
import { current, guardDepth, recordIdOf, write, type RecordStepDeps } from './record-store.ts';

export function createRecordDeleteHandler(d: RecordStepDeps): StepHandler {
  return {
    async execute(raw, _step, ctx) {
      const input = raw as RecordDeleteInput;
      const recordId = recordIdOf(input.recordId, '/recordId');
      guardDepth(d, ctx);
      const existing = await current(d, ctx, input.object, recordId);
      if (existing && existing.eventId === ctx.effectId) return { recordId };
      if (!existing || existing.deleted) throw raiseRun('RECORD_NOT_FOUND', `no ${input.object} record ${recordId} to delete`, { path: '/recordId' });
      const event = await write(d, ctx, 'record.deleted', input.object, recordId, null, existing, []);
      return { recordId, ...(ctx.dryRun ? { dryRun: { wouldPublish: event } } : {}) };
    },
  };
}

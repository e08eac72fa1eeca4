/**
 * The four record steps together (one file each: record-search.ts, record-create.ts,
 * record-update.ts, record-delete.ts; what they share: record-store.ts), for an
 * executor that runs only them.
 */
import type { StepHandler } from '../interpreter.ts';
import type { RecordStepDeps } from './record-store.ts';
import { createRecordSearchHandler } from './record-search.ts';
import { createRecordCreateHandler } from './record-create.ts';
import { createRecordUpdateHandler } from './record-update.ts';
import { createRecordDeleteHandler } from './record-delete.ts';

export { recordView, type RecordStepDeps, type RecordView } from './record-store.ts';
export { pushdown } from './record-search.ts';

export function createRecordStepHandlers(d: RecordStepDeps): Map<string, StepHandler> {
  return new Map([
    ['record.create', createRecordCreateHandler(d)],
    ['record.update', createRecordUpdateHandler(d)],
    ['record.delete', createRecordDeleteHandler(d)],
    ['record.search', createRecordSearchHandler(d)],
  ]);
}

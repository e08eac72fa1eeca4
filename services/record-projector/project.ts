import type { RecordChanged } from '../../libs/kafka/events.ts';
import type { RecordStore, ApplyResult } from '../../libs/store/records.ts';
import type { Logger } from '../../libs/log/index.ts';
import { recordChangeOf, recordProjectionErrors } from '../../libs/projections/records.ts';

export const projectorErrors = recordProjectionErrors;

export interface ProjectorDeps {
  records: RecordStore;
  log: Logger;
}

/** Materializes one record change; replays and older versions change nothing. */
export async function onRecordChanged(event: RecordChanged, d: ProjectorDeps): Promise<ApplyResult> {
  const result = await d.records.apply(recordChangeOf(event));
  if (result === 'stale') d.log.debug({ eventId: event.eventId, workspaceId: event.workspaceId }, 'stale or repeated change skipped');
  return result;
}

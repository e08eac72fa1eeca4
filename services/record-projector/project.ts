import type { RecordChanged } from '../../libs/kafka/events.ts';
import type { RecordStore, ApplyResult } from '../../libs/store/records.ts';
import type { Logger } from '../../libs/log/index.ts';
import { errorFactory, pickErrors } from '../../libs/errors/index.ts';

export const projectorErrors = pickErrors('RECORD_EVENT_INVALID');
const raise = errorFactory(projectorErrors);

export interface ProjectorDeps {
  records: RecordStore;
  log: Logger;
}

function parseFields(json: string | null, event: RecordChanged): Record<string, unknown> | null {
  if (json === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw raise('RECORD_EVENT_INVALID', `event ${event.eventId}: record is not JSON`, { path: '/record' });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw raise('RECORD_EVENT_INVALID', `event ${event.eventId}: record must be a JSON object`, { path: '/record' });
  }
  return value as Record<string, unknown>;
}

/** Materializes one record change; replays and older versions change nothing. */
export async function onRecordChanged(event: RecordChanged, d: ProjectorDeps): Promise<ApplyResult> {
  const deleted = event.type === 'record.deleted';
  const fields = parseFields(event.record, event);
  if (!deleted && fields === null) {
    throw raise('RECORD_EVENT_INVALID', `event ${event.eventId}: ${event.type} carries no record`, { path: '/record' });
  }
  const result = await d.records.apply({
    workspaceId: event.workspaceId,
    object: event.object,
    recordId: event.recordId,
    eventId: event.eventId,
    version: event.version,
    occurredAt: new Date(event.occurredAt),
    deleted,
    fields,
  });
  if (result === 'stale') d.log.debug({ eventId: event.eventId, workspaceId: event.workspaceId }, 'stale or repeated change skipped');
  return result;
}

import { randomUUID } from 'node:crypto';
import type { RecordChanged, RecordEventType } from '../../libs/kafka/events.ts';
import { seededRandom } from './random.ts';

export { seededRandom };

export function recordEvent(workspaceId: string, object: string, recordId: string, type: RecordEventType, version: number, fields: Record<string, unknown> | null): RecordChanged {
  const eventId = randomUUID();
  return {
    eventId, type, workspaceId, occurredAt: 1_700_000_000_000 + version, correlationId: eventId, causationId: null, causationDepth: 0,
    source: 'producer', object, recordId, version,
    record: fields === null ? null : JSON.stringify(fields), before: null, updatedFields: fields ? Object.keys(fields) : [],
  };
}

/**
 * A stream of record events over `records` records of three objects: creates, updates,
 * deletes, plus exact redeliveries of earlier events and stale (older-version) events.
 */
export function recordStream(workspaceId: string, total: number, records: number, seed = 42): RecordChanged[] {
  const rnd = seededRandom(seed);
  const objects = ['people', 'companies', 'opportunities'];
  const version = new Map<string, number>();
  const events: RecordChanged[] = [];
  while (events.length < total) {
    const roll = rnd();
    if (events.length > 10 && roll < 0.1) {
      // An exact redelivery of an earlier event (same eventId).
      events.push({ ...events[Math.floor(rnd() * events.length)]! });
      continue;
    }
    const n = Math.floor(rnd() * records);
    const object = objects[n % objects.length]!;
    const recordId = `r${n}`;
    const key = `${object}:${recordId}`;
    const current = version.get(key);
    if (current !== undefined && roll < 0.15) {
      // A stale change: an older version arriving late.
      events.push(recordEvent(workspaceId, object, recordId, 'record.updated', current - 1, { name: `stale ${n}`, stale: true }));
      continue;
    }
    const next = (current ?? 0) + 1 + Math.floor(rnd() * 3);
    version.set(key, next);
    const type: RecordEventType = current === undefined ? 'record.created' : roll > 0.95 ? 'record.deleted' : 'record.updated';
    const fields = type === 'record.deleted' ? null : { name: `${object} ${n}`, email: `u${n}@example.com`, score: Math.floor(rnd() * 100), tags: ['a', { nested: n }] };
    events.push(recordEvent(workspaceId, object, recordId, type, next, fields));
  }
  return events;
}

export interface ExpectedRecord { fields: Record<string, unknown>; deleted: boolean; version: number; eventId: string }

/** The projection's expected result: the change with the greatest (version, eventId) wins. */
export function expectedProjection(events: readonly RecordChanged[]): Map<string, ExpectedRecord> {
  const out = new Map<string, ExpectedRecord>();
  for (const e of events) {
    const key = `${e.workspaceId}:${e.object}:${e.recordId}`;
    const cur = out.get(key);
    if (cur && (cur.version > e.version || (cur.version === e.version && cur.eventId >= e.eventId))) continue;
    const deleted = e.type === 'record.deleted';
    out.set(key, {
      fields: deleted ? (cur?.fields ?? {}) : (JSON.parse(e.record ?? '{}') as Record<string, unknown>),
      deleted, version: e.version, eventId: e.eventId,
    });
  }
  return out;
}

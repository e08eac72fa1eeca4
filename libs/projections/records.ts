/**
 * The records projection as the projector, a replay and a rebuild share it: a
 * RecordChanged event as a change of the store (checked the same way everywhere), and
 * a content hash of a collection that does not depend on document or key order.
 */
import { createHash } from 'node:crypto';
import type { Collection, Document } from 'mongodb';
import type { RecordChanged } from '../kafka/events.ts';
import type { RecordChange } from '../store/records.ts';
import { errorFactory, pickErrors } from '../errors/index.ts';

export const recordProjectionErrors = pickErrors('RECORD_EVENT_INVALID');
const raise = errorFactory(recordProjectionErrors);

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

/** The store change an event asks for; RECORD_EVENT_INVALID (parked, never retried) when it carries no usable record. */
export function recordChangeOf(event: RecordChanged): RecordChange {
  const deleted = event.type === 'record.deleted';
  const fields = parseFields(event.record, event);
  if (!deleted && fields === null) {
    throw raise('RECORD_EVENT_INVALID', `event ${event.eventId}: ${event.type} carries no record`, { path: '/record' });
  }
  return {
    workspaceId: event.workspaceId, object: event.object, recordId: event.recordId, eventId: event.eventId,
    version: event.version, occurredAt: new Date(event.occurredAt), deleted, fields,
  };
}

/** JSON with keys sorted at every level and dates as ISO text: the same document always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const MOD = 1n << 256n;

/** Order-independent hash of documents: the sum (mod 2^256) of each one's SHA-256, with the count. */
export class ContentHash {
  private sum = 0n;
  count = 0;
  add(doc: unknown): void {
    this.sum = (this.sum + BigInt(`0x${createHash('sha256').update(canonicalJson(doc)).digest('hex')}`)) % MOD;
    this.count++;
  }
  get value(): string {
    return `${this.count}:${this.sum.toString(16).padStart(64, '0')}`;
  }
}

/** Reads a whole collection (in no particular order: FerretDB sorts in Go memory) and hashes it. */
export async function hashCollection(collection: Collection<Document>, batchSize = 5000): Promise<string> {
  const h = new ContentHash();
  for await (const doc of collection.find({}, { batchSize })) h.add(doc);
  return h.value;
}

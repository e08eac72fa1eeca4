/**
 * A record event as producers write it (ingress body, SDKs, direct producers) and its
 * conversion into the `RecordChanged` value of `crm.records`. Pure: no I/O, so the
 * ingress and the direct producer validate and convert with exactly this code.
 */
import { errorFactory, pickErrors } from '../errors/index.ts';
import { envelopeHeaders, externalEnvelope } from './envelope.ts';
import { recordEventKey, recordEventTypes, type RecordChanged, type RecordEventType } from './events.ts';
import type { OutgoingEvent } from './producer.ts';
import { isPlainObject, pointer } from '../json/index.ts';

export const recordEventErrors = pickErrors('EVENT_INVALID');

const raise = errorFactory(recordEventErrors);

export interface RecordEventInput {
  /** UUID; the idempotency key. Assigned when absent (a retry then is a new event). */
  id?: string;
  type: RecordEventType;
  object: string;
  recordId: string;
  /** ISO-8601 with a timezone; defaults to the time of conversion. */
  occurredAt?: string;
  record?: Record<string, unknown>;
  before?: Record<string, unknown>;
  updatedFields?: string[];
  /** Orders changes of one record; defaults to occurredAt in ms. */
  version?: number;
}

export const recordEventLimits = {
  objectMaxChars: 200,
  recordIdMaxChars: 200,
  updatedFieldsMax: 1000,
  /**
   * Nesting levels inside `record`/`before`. The projector stores them under a
   * document field and MongoDB refuses documents nested deeper than 100 levels, so a
   * deeper record would only fail later, on the DLQ; this also stops cyclic objects.
   */
  jsonMaxDepth: 64,
} as const;

const knownFields: ReadonlySet<string> = new Set(['id', 'type', 'object', 'recordId', 'occurredAt', 'record', 'before', 'updatedFields', 'version']);
const objectPattern = /^[A-Za-z0-9_.:-]+$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Date and time to at least the minute, and an explicit zone: a local time would be
// read in the server's zone, which differs between producers and the hub.
const isoPattern = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/i;

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (isPlainObject(value)) return 'object';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/**
 * Checks that `value` is what JSON can carry, so the text produced for the wire says
 * exactly what the producer meant (JSON.stringify would silently turn NaN into null,
 * a Date into a string, a Map into {}). Properties set to undefined are skipped, as
 * JSON.stringify skips them: the same event sent over HTTP arrives without them.
 */
function checkJsonValue(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw raise('EVENT_INVALID', `${path} contains a NUL character (\\u0000), which the store cannot keep`, { path });
    return;
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw raise('EVENT_INVALID', `${path} must be a finite number, got ${value}`, { path });
    return;
  }
  if (depth >= recordEventLimits.jsonMaxDepth) {
    throw raise('EVENT_INVALID', `${path} nests deeper than ${recordEventLimits.jsonMaxDepth} levels (or is cyclic)`, { path });
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonValue(item, pointer(path, i), depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\u0000')) throw raise('EVENT_INVALID', `${path} has a field name with a NUL character (\\u0000)`, { path: pointer(path, k) });
      if (v !== undefined) checkJsonValue(v, pointer(path, k), depth + 1);
    }
    return;
  }
  throw raise('EVENT_INVALID', `${path} must be a JSON value (object, array, string, number, boolean or null), got ${kindOf(value)}`, { path });
}

function checkName(input: Record<string, unknown>, field: 'object' | 'recordId', max: number, path: string): void {
  const value = input[field];
  const at = pointer(path, field);
  if (value === undefined) throw raise('EVENT_INVALID', `${field} is required`, { path: at });
  if (typeof value !== 'string') throw raise('EVENT_INVALID', `${field} must be a string, got ${kindOf(value)}`, { path: at });
  if (value.length === 0) throw raise('EVENT_INVALID', `${field} must not be empty`, { path: at });
  if (value.length > max) throw raise('EVENT_INVALID', `${field} must be at most ${max} characters, got ${value.length}`, { path: at });
  // Control characters make ids unreadable in logs and URLs, and NUL cannot be stored.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) throw raise('EVENT_INVALID', `${field} must not contain control characters`, { path: at });
}

function checkFields(input: Record<string, unknown>, field: 'record' | 'before', path: string): void {
  const value = input[field];
  const at = pointer(path, field);
  if (!isPlainObject(value)) {
    throw raise('EVENT_INVALID', `${field} must be a JSON object, got ${kindOf(value)}${value === null ? ' (omit the field when there is none)' : ''}`, { path: at });
  }
  checkJsonValue(value, at, 0);
}

/** Milliseconds since the epoch of a valid ISO-8601 timestamp with zone, else undefined. */
function parseIsoInstant(text: string): number | undefined {
  const m = isoPattern.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Date.parse rolls 2024-02-30 over to March 1st; a calendar check refuses it.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || calendar.getUTCDate() !== day || calendar.getUTCMonth() !== month - 1) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Throws EVENT_INVALID with a JSON pointer (`path` is the event's own pointer, e.g.
 * `/events/3`, or '' for a single event) naming the first offending field; returns
 * the input typed. Fields set to undefined count as absent (JSON cannot carry them).
 */
export function validateRecordEventInput(input: unknown, path = ''): RecordEventInput {
  if (!isPlainObject(input)) throw raise('EVENT_INVALID', `event must be a JSON object, got ${kindOf(input)}`, { path });
  // Unknown fields are refused, not ignored: a misspelt `updated_fields` or `recordID`
  // would otherwise lose data silently, and a strict contract can grow new optional
  // fields later without old producers' stray fields suddenly meaning something.
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && !knownFields.has(key)) {
      throw raise('EVENT_INVALID', `unknown field "${key}"; an event has only ${[...knownFields].join(', ')}`, { path: pointer(path, key) });
    }
  }

  const { id, type, occurredAt, record, before, updatedFields, version } = input;
  if (id !== undefined && (typeof id !== 'string' || !uuidPattern.test(id))) {
    throw raise('EVENT_INVALID', 'id must be a UUID (8-4-4-4-12 hexadecimal digits)', { path: pointer(path, 'id') });
  }
  if (typeof type !== 'string' || !(recordEventTypes as readonly string[]).includes(type)) {
    throw raise('EVENT_INVALID', `type must be one of ${recordEventTypes.join(', ')}`, { path: pointer(path, 'type') });
  }
  checkName(input, 'object', recordEventLimits.objectMaxChars, path);
  if (!objectPattern.test(input.object as string)) {
    throw raise('EVENT_INVALID', 'object must contain only letters, digits and _ . : -', { path: pointer(path, 'object') });
  }
  checkName(input, 'recordId', recordEventLimits.recordIdMaxChars, path);
  if (occurredAt !== undefined) {
    const at = pointer(path, 'occurredAt');
    const ms = typeof occurredAt === 'string' ? parseIsoInstant(occurredAt) : undefined;
    if (ms === undefined) {
      throw raise('EVENT_INVALID', 'occurredAt must be an ISO-8601 date and time with a timezone, e.g. 2024-05-01T12:30:00Z or 2024-05-01T14:30:00.250+02:00', { path: at });
    }
    // Versions default to occurredAt and are non-negative: nothing happened in a CRM before 1970.
    if (ms < 0) throw raise('EVENT_INVALID', 'occurredAt must not be before 1970-01-01T00:00:00Z', { path: at });
  }
  if (version !== undefined && (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0)) {
    throw raise('EVENT_INVALID', `version must be a non-negative safe integer (at most ${Number.MAX_SAFE_INTEGER})`, { path: pointer(path, 'version') });
  }
  if (record === undefined) {
    if (type !== 'record.deleted') throw raise('EVENT_INVALID', `record is required for ${type}`, { path: pointer(path, 'record') });
  } else {
    checkFields(input, 'record', path);
  }
  if (before !== undefined) checkFields(input, 'before', path);
  if (updatedFields !== undefined) {
    const at = pointer(path, 'updatedFields');
    if (!Array.isArray(updatedFields)) throw raise('EVENT_INVALID', `updatedFields must be an array of field names, got ${kindOf(updatedFields)}`, { path: at });
    if (updatedFields.length > recordEventLimits.updatedFieldsMax) {
      throw raise('EVENT_INVALID', `updatedFields must list at most ${recordEventLimits.updatedFieldsMax} names, got ${updatedFields.length}`, { path: at });
    }
    updatedFields.forEach((name: unknown, i) => {
      if (typeof name !== 'string') throw raise('EVENT_INVALID', `updatedFields items must be strings, got ${kindOf(name)}`, { path: pointer(at, i) });
    });
  }
  return input as unknown as RecordEventInput;
}

/**
 * Validates `input` (see validateRecordEventInput; `path` names it in errors) and
 * builds the value published on `crm.records`: an external envelope (the event starts
 * its own causal chain), `version` defaulting to occurredAt, the fields as JSON text.
 * `nowMs` is the occurredAt of events without one; the only impure step is the
 * random eventId of an event without `id`.
 */
export function toRecordChanged(workspaceId: string, input: unknown, nowMs: number, path = ''): RecordChanged {
  const e = validateRecordEventInput(input, path);
  const occurredAt = e.occurredAt === undefined ? nowMs : Date.parse(e.occurredAt);
  return {
    ...externalEnvelope(e.type, workspaceId, occurredAt, e.id),
    type: e.type,
    source: 'producer',
    object: e.object,
    recordId: e.recordId,
    version: e.version ?? occurredAt,
    record: e.record === undefined ? null : JSON.stringify(e.record),
    before: e.before === undefined ? null : JSON.stringify(e.before),
    updatedFields: e.updatedFields ? [...e.updatedFields] : [],
  };
}

/** The Kafka message of a record change: keyed by record (order per record), envelope mirrored in headers. */
export function recordEventMessage(value: RecordChanged): OutgoingEvent {
  return { key: recordEventKey(value), value, headers: envelopeHeaders(value) };
}

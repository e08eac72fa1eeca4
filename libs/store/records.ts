import type { Collection, Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { isDuplicateKey, storeError } from './errors.ts';
import { decodeFromStore, encodeForStore } from './encoding.ts';
import { activeCollection } from './active-collection.ts';

/** Materialized current state of one CRM record, owned by the record-projector. */
export interface RecordDocument {
  _id: string;
  workspaceId: string;
  object: string;
  recordId: string;
  fields: Record<string, unknown>;
  deleted: boolean;
  /** (version, eventId) of the change that produced this state; greater wins. */
  version: number;
  eventId: string;
  createdAt: Date;
  updatedAt: Date;
  /** searchTerms(fields): what record.search matches by index. */
  terms?: string[];
}

export interface RecordChange {
  workspaceId: string;
  object: string;
  recordId: string;
  eventId: string;
  version: number;
  occurredAt: Date;
  deleted: boolean;
  /** Fields after the change; ignored for deletes (the last known fields are kept). */
  fields: Record<string, unknown> | null;
}

export type ApplyResult = 'applied' | 'stale';

export interface RecordStore {
  /** Applies a change unless the stored state came from a greater (version, eventId). */
  apply(change: RecordChange): Promise<ApplyResult>;
  get(workspaceId: string, object: string, recordId: string): Promise<RecordDocument | null>;
  count(workspaceId: string, object?: string): Promise<number>;
}

/** Read side of the projection, for the records API and the workflow steps. */
export interface RecordReader {
  get(workspaceId: string, object: string, recordId: string): Promise<RecordDocument | null>;
  /** Live (not deleted) records of an object in recordId order, after `afterRecordId`. */
  list(workspaceId: string, object: string, options: { afterRecordId: string | null; limit: number }): Promise<RecordDocument[]>;
  /**
   * Live records of an object whose fields equal `equals` (a pre-filter pushed to the
   * store), at most `limit`: searches evaluate their full rule over what this returns.
   */
  scan(workspaceId: string, object: string, options: { equals: Readonly<Record<string, string | number | boolean>>; limit: number }): Promise<RecordDocument[]>;
}

export const recordsCollection: CollectionSpec = {
  name: 'records',
  indexes: [{ name: 'by_object_record', key: { workspaceId: 1, object: 1, recordId: 1 }, unique: true }],
};

export function recordKey(workspaceId: string, object: string, recordId: string): string {
  return `${workspaceId}:${object}:${recordId}`;
}

const TERM_VALUE_MAX = 200;
const TERMS_MAX = 100;

/**
 * A search term: "this record's field has this scalar value". Each record document
 * carries the terms of its scalar fields in a top-level `terms` array, which the store
 * can match by index (FerretDB filters nested paths like `fields.email` only by
 * reading every document; see stack/postgres/ferretdb-setup.sql). Workspace and object
 * are part of the term, so a term is selective across tenants; the type is too, so
 * "5" and 5 differ.
 */
export function searchTerm(workspaceId: string, object: string, field: string, value: string | number | boolean): string {
  const typed = typeof value === 'string' ? `s:${value}` : typeof value === 'number' ? `n:${value}` : `b:${value}`;
  return `${workspaceId}|${object}|${field}|${typed}`;
}

export function searchTerms(workspaceId: string, object: string, fields: Record<string, unknown>): string[] {
  const terms: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (terms.length >= TERMS_MAX) break;
    if ((typeof value === 'string' && value.length <= TERM_VALUE_MAX) || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      terms.push(searchTerm(workspaceId, object, field, value));
    }
  }
  return terms;
}

function readDoc(doc: RecordDocument | null): RecordDocument | null {
  return doc ? { ...doc, fields: decodeFromStore(doc.fields) } : null;
}

/** The collection the records projection is served from (a rebuild may have switched it; see active-collection.ts). */
function servedRecords(db: Db): () => Promise<Collection<RecordDocument>> {
  const active = activeCollection(db, recordsCollection.name);
  return async () => db.collection<RecordDocument>(await active.name());
}

export function createRecordReader(db: Db): RecordReader {
  const served = servedRecords(db);
  return {
    async get(workspaceId, object, recordId) {
      try {
        const records = await served();
        return readDoc(await records.findOne({ _id: recordKey(workspaceId, object, recordId) }));
      } catch (err) {
        throw storeError(err, 'reading a record');
      }
    },
    async list(workspaceId, object, { afterRecordId, limit }) {
      const filter = afterRecordId === null
        ? { workspaceId, object, deleted: false }
        : { workspaceId, object, deleted: false, recordId: { $gt: afterRecordId } };
      try {
        const records = await served();
        return (await records.find(filter).sort({ recordId: 1 }).limit(limit).toArray()).map((d) => readDoc(d)!);
      } catch (err) {
        throw storeError(err, 'listing records');
      }
    },
    async scan(workspaceId, object, { equals, limit }) {
      const filter: Record<string, unknown> = { workspaceId, object, deleted: false };
      const entries = Object.entries(equals);
      // One term is matched by index; the search's rule checks the rest on what it finds.
      if (entries.length > 0) filter.terms = searchTerm(workspaceId, object, entries[0]![0], entries[0]![1]);
      try {
        const records = await served();
        return (await records.find(filter).limit(limit).toArray()).map((d) => readDoc(d)!);
      } catch (err) {
        throw storeError(err, 'searching records');
      }
    },
  };
}

/**
 * The projector's state change as a pure function: the document after `c` is applied
 * to `state` (null: no document yet), or null when `c` is stale (the stored state came
 * from a greater or equal (version, eventId)). The conditional upsert of
 * `createRecordStore` does the same in the store; a rebuild folds in memory with this.
 */
export function foldRecord(state: RecordDocument | null, c: RecordChange): RecordDocument | null {
  if (state && !(state.version < c.version || (state.version === c.version && state.eventId < c.eventId))) return null;
  const next: RecordDocument = state
    ? { ...state }
    : { _id: recordKey(c.workspaceId, c.object, c.recordId), createdAt: c.occurredAt, fields: {} } as RecordDocument;
  Object.assign(next, { workspaceId: c.workspaceId, object: c.object, recordId: c.recordId, deleted: c.deleted, version: c.version, eventId: c.eventId, updatedAt: c.occurredAt });
  if (!c.deleted) {
    next.terms = searchTerms(c.workspaceId, c.object, c.fields ?? {});
    next.fields = encodeForStore(c.fields ?? {}) as Record<string, unknown>;
  }
  return next;
}

/**
 * The projection's writer. By default it writes to the collection the pointer names
 * (waiting while a rebuild switches it); `collection` pins one (a rebuild's shadow).
 */
export function createRecordStore(db: Db, o: { collection?: string } = {}): RecordStore {
  const active = activeCollection(db, recordsCollection.name);
  const writable = async () => db.collection<RecordDocument>(o.collection ?? await active.writable());
  const readable = async () => db.collection<RecordDocument>(o.collection ?? await active.name());
  return {
    async apply(c) {
      const _id = recordKey(c.workspaceId, c.object, c.recordId);
      const set: Partial<RecordDocument> = {
        workspaceId: c.workspaceId, object: c.object, recordId: c.recordId,
        deleted: c.deleted, version: c.version, eventId: c.eventId, updatedAt: c.occurredAt,
      };
      if (!c.deleted) {
        set.terms = searchTerms(c.workspaceId, c.object, c.fields ?? {});
        set.fields = encodeForStore(c.fields ?? {});
      }
      try {
        const records = await writable();
        // Matches only an older state; when the stored state is newer or the same, the
        // upsert's insert collides on _id, which is how "stale" is detected atomically.
        await records.updateOne(
          { _id, $or: [{ version: { $lt: c.version } }, { version: c.version, eventId: { $lt: c.eventId } }] },
          { $set: set, $setOnInsert: { createdAt: c.occurredAt, ...(c.deleted ? { fields: {} } : {}) } },
          { upsert: true },
        );
        return 'applied';
      } catch (err) {
        if (isDuplicateKey(err)) return 'stale';
        throw storeError(err, `projecting ${_id}`);
      }
    },
    async get(workspaceId, object, recordId) {
      try {
        const records = await readable();
        return readDoc(await records.findOne({ _id: recordKey(workspaceId, object, recordId) }));
      } catch (err) {
        throw storeError(err, 'reading a record');
      }
    },
    async count(workspaceId, object) {
      try {
        const records = await readable();
        return await records.countDocuments(object === undefined ? { workspaceId } : { workspaceId, object });
      } catch (err) {
        throw storeError(err, 'counting records');
      }
    },
  };
}

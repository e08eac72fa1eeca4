import type { Collection, Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { isDuplicateKey, storeError } from './errors.ts';

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

export function createRecordReader(db: Db): RecordReader {
  const records: Collection<RecordDocument> = db.collection<RecordDocument>(recordsCollection.name);
  return {
    async get(workspaceId, object, recordId) {
      try {
        return await records.findOne({ _id: recordKey(workspaceId, object, recordId) });
      } catch (err) {
        throw storeError(err, 'reading a record');
      }
    },
    async list(workspaceId, object, { afterRecordId, limit }) {
      const filter = afterRecordId === null
        ? { workspaceId, object, deleted: false }
        : { workspaceId, object, deleted: false, recordId: { $gt: afterRecordId } };
      try {
        return await records.find(filter).sort({ recordId: 1 }).limit(limit).toArray();
      } catch (err) {
        throw storeError(err, 'listing records');
      }
    },
    async scan(workspaceId, object, { equals, limit }) {
      const filter: Record<string, unknown> = { workspaceId, object, deleted: false };
      for (const [field, value] of Object.entries(equals)) filter[`fields.${field}`] = value;
      try {
        return await records.find(filter).limit(limit).toArray();
      } catch (err) {
        throw storeError(err, 'searching records');
      }
    },
  };
}

export function createRecordStore(db: Db): RecordStore {
  const records: Collection<RecordDocument> = db.collection<RecordDocument>(recordsCollection.name);
  return {
    async apply(c) {
      const _id = recordKey(c.workspaceId, c.object, c.recordId);
      const set: Partial<RecordDocument> = {
        workspaceId: c.workspaceId, object: c.object, recordId: c.recordId,
        deleted: c.deleted, version: c.version, eventId: c.eventId, updatedAt: c.occurredAt,
      };
      if (!c.deleted) set.fields = c.fields ?? {};
      try {
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
        return await records.findOne({ _id: recordKey(workspaceId, object, recordId) });
      } catch (err) {
        throw storeError(err, 'reading a record');
      }
    },
    async count(workspaceId, object) {
      try {
        return await records.countDocuments(object === undefined ? { workspaceId } : { workspaceId, object });
      } catch (err) {
        throw storeError(err, 'counting records');
      }
    },
  };
}

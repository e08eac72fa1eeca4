import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { CollectionSpec } from '../../../libs/store/mongo.ts';
import { isDuplicateKey, storeError } from '../../../libs/store/errors.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { sleep } from '../../../libs/time/sleep.ts';

/**
 * Remembers which ids were accepted (published to Kafka), so a producer's retry is
 * answered "duplicate" instead of being published again.
 *
 * The order matters: ids are *reserved* (bulk insert, the unique _id decides who is
 * first) under a publish request, the events are published, then the request is
 * marked published. An id reserved by a request that failed, or that never finished
 * (the process died before answering), is taken over by the next request carrying it,
 * so a crash between reserve and publish never turns a retry into a lost event.
 * Per request: one insertOne, one insertMany, one updateOne, whatever the batch size.
 */
interface AcceptedId { _id: string; requestId: string; at: Date }
interface PublishRequest { _id: string; state: 'pending' | 'published' | 'failed'; at: Date }

export const ledgerCollections: CollectionSpec[] = [
  { name: 'accepted_ids', indexes: [{ name: 'by_time', key: { at: 1 } }] },
  { name: 'publish_requests', indexes: [{ name: 'by_time', key: { at: 1 } }] },
  { name: 'id_takeovers', indexes: [{ name: 'by_time', key: { at: 1 } }] },
];

export interface Reservation {
  requestId: string;
  /** Ids this request must publish. */
  fresh: string[];
  /** Ids another request already published. */
  duplicates: string[];
}

export interface AcceptedIdLedger {
  /** `namespace` scopes ids (a workspace, a hook); ids must be unique within the call. */
  reserve(namespace: string, ids: readonly string[]): Promise<Reservation>;
  /** The same for already-namespaced keys (`<namespace>:<id>`), several namespaces at once. */
  reserveKeys(keys: readonly string[]): Promise<Reservation>;
  published(requestId: string): Promise<void>;
  failed(requestId: string): Promise<void>;
  /** Forgets ids older than the retention; returns how many. */
  prune(olderThan: Date): Promise<number>;
}

export interface LedgerOptions {
  /** A pending request older than this is presumed dead (longer than any publish can take). */
  abandonAfterMs: number;
  /** How long a request waits for another in-flight request carrying the same id. */
  waitForInFlightMs: number;
}

export function createAcceptedIdLedger(db: Db, options: LedgerOptions): AcceptedIdLedger {
  const ids = db.collection<AcceptedId>('accepted_ids');
  const requests = db.collection<PublishRequest>('publish_requests');
  /**
   * One document per (id, abandoned holder): whoever inserts it takes the id over. A
   * conditional update is not enough: FerretDB reads, changes and writes a document
   * without a lock, so two simultaneous takeovers would both see "modified"; the unique
   * `_id` of an insert is enforced by the database itself.
   */
  const takeovers = db.collection<{ _id: string; requestId: string; at: Date }>('id_takeovers');

  /** Decides for one already-reserved id: duplicate, or taken over by `requestId`. */
  async function settle(key: string, requestId: string): Promise<'duplicate' | 'fresh'> {
    const deadline = Date.now() + options.waitForInFlightMs;
    for (;;) {
      const holder = await ids.findOne({ _id: key });
      if (!holder) {
        // Pruned in between: reserve it again.
        try {
          await ids.insertOne({ _id: key, requestId, at: new Date() });
          return 'fresh';
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          continue;
        }
      }
      if (holder.requestId === requestId) return 'fresh';
      const request = await requests.findOne({ _id: holder.requestId });
      if (!request || request.state === 'published') return 'duplicate';
      const abandoned = request.state === 'failed' || Date.now() - request.at.getTime() > options.abandonAfterMs;
      if (abandoned) {
        try {
          await takeovers.insertOne({ _id: `${key} taken from ${holder.requestId}`, requestId, at: new Date() });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          // Another request took it over first: look at the new holder.
          await sleep(20);
          continue;
        }
        // The claim is ours alone, so this is the only writer of the id's document now.
        await ids.updateOne({ _id: key }, { $set: { requestId, at: new Date() } });
        return 'fresh';
      }
      if (Date.now() > deadline) {
        throw raise('DUPLICATE_IN_FLIGHT', `event id ${key.slice(key.indexOf(':') + 1)} is being accepted by another request; retry shortly`);
      }
      await sleep(50);
    }
  }

  /**
   * Of ids already reserved, those whose holder published: answered in two queries for
   * the whole request. A retry storm (clients resending what was accepted while their
   * answers were lost) is all such ids; settling them one by one, two round trips each,
   * made a group's commit outlast the ack timeout, so every answer was a 503 and every
   * client retried again.
   */
  async function alreadyPublished(keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const holders = await ids.find({ _id: { $in: [...keys] } }).toArray();
    const done = new Set((await requests.find({ _id: { $in: [...new Set(holders.map((h) => h.requestId))] }, state: 'published' }).toArray()).map((r) => r._id));
    return new Set(holders.filter((h) => done.has(h.requestId)).map((h) => h._id));
  }

  async function reserveKeys(keys: readonly string[]): Promise<Reservation> {
    const requestId = randomUUID();
    const now = new Date();
    try {
      await requests.insertOne({ _id: requestId, state: 'pending', at: now });
      const taken = new Set<number>();
      if (keys.length > 0) {
        try {
          await ids.insertMany(keys.map((key) => ({ _id: key, requestId, at: now })), { ordered: false });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          for (const w of (err as { writeErrors?: { index: number; code?: number }[] }).writeErrors ?? []) {
            if (w.code === 11000) taken.add(w.index);
          }
        }
      }
      const fresh: string[] = [];
      const duplicates: string[] = [];
      const published = await alreadyPublished(keys.filter((_, i) => taken.has(i)));
      for (const [i, key] of keys.entries()) {
        if (!taken.has(i)) fresh.push(key);
        else if (published.has(key) || (await settle(key, requestId)) === 'duplicate') duplicates.push(key);
        else fresh.push(key);
      }
      return { requestId, fresh, duplicates };
    } catch (err) {
      if ((err as { code?: string }).code === 'DUPLICATE_IN_FLIGHT') throw err;
      throw storeError(err, 'reserving event ids');
    }
  }

  return {
    async reserve(namespace, list) {
      const r = await reserveKeys(list.map((id) => `${namespace}:${id}`));
      const cut = namespace.length + 1;
      return { requestId: r.requestId, fresh: r.fresh.map((k) => k.slice(cut)), duplicates: r.duplicates.map((k) => k.slice(cut)) };
    },
    reserveKeys,
    async published(requestId) {
      try {
        await requests.updateOne({ _id: requestId }, { $set: { state: 'published' } });
      } catch (err) {
        throw storeError(err, 'confirming a publish');
      }
    },
    async failed(requestId) {
      // Best effort: a request left pending is presumed dead after abandonAfterMs anyway.
      await requests.updateOne({ _id: requestId }, { $set: { state: 'failed' } }).catch(() => undefined);
    },
    async prune(olderThan) {
      try {
        const removed = await ids.deleteMany({ at: { $lt: olderThan } });
        await requests.deleteMany({ at: { $lt: olderThan } });
        await takeovers.deleteMany({ at: { $lt: olderThan } });
        return removed.deletedCount;
      } catch (err) {
        throw storeError(err, 'pruning accepted ids');
      }
    },
  };
}

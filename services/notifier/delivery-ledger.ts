/**
 * The notifier's ledger: one document per notification (`_id` = notificationId), the
 * idempotency record that makes a redelivered notification harmless. A delivery starts
 * by inserting a 'sending' claim (the unique `_id` is the only atomic primitive we rely
 * on, see README "Store compatibility"); it ends with 'sent' or 'failed' and the result,
 * written before the result is published. A redelivery that finds sent/failed only
 * publishes the recorded result again.
 *
 * Documents are written by the consumer of the notification's partition (the topic is
 * keyed by notificationId), so there is one writer per document, as FerretDB needs.
 */
import type { Collection, Db } from 'mongodb';
import type { CollectionSpec } from '../../libs/store/mongo.ts';
import { isDuplicateKey, storeError } from '../../libs/store/errors.ts';

export type NotificationStatus = 'sending' | 'sent' | 'failed';

export interface RecordedError {
  code: string;
  /** Includes the server's reply text. */
  message: string;
  retriable: false;
}

export interface NotificationEntry {
  _id: string;
  workspaceId: string;
  runId: string;
  workflowId: string;
  version: number;
  stepKey: string;
  channel: string;
  status: NotificationStatus;
  /** Delivery attempts made so far, counted before each one. */
  attempts: number;
  /** Which notifier instance holds the claim, and when it last renewed it (before each attempt). */
  claimedBy: string;
  claimedAt: Date;
  messageId: string | null;
  accepted: string[];
  rejected: string[];
  /** The server's final reply (SMTP "250 …", or the chat webhook's HTTP status and body start). */
  response: string | null;
  /** Chat deliveries: the webhook's HTTP status. */
  httpStatus: number | null;
  sentAt: Date | null;
  error: RecordedError | null;
  createdAt: Date;
  /** When it became sent or failed; the result event's time. */
  finishedAt: Date | null;
}

export type Outcome =
  | { status: 'sent'; messageId: string | null; accepted: string[]; rejected: string[]; response: string; httpStatus: number | null }
  | { status: 'failed'; error: RecordedError };

export const notificationsCollection: CollectionSpec = {
  name: 'notifications',
  // Reads and writes go by _id; this one serves "what did this run send".
  indexes: [{ name: 'by_run', key: { workspaceId: 1, runId: 1 } }],
};

export interface NotificationLedger {
  /** Inserts the claim; null when it was inserted, else the entry that already exists. */
  claim(entry: NotificationEntry): Promise<NotificationEntry | null>;
  get(notificationId: string): Promise<NotificationEntry | null>;
  /** Takes over `seen` (a stale claim); false when the entry changed since it was read. */
  takeOver(seen: NotificationEntry, by: string, at: Date): Promise<boolean>;
  /** Before an attempt: counts it and renews the claim, so a live sender's claim never looks stale. */
  beginAttempt(notificationId: string, attempts: number, by: string, at: Date): Promise<void>;
  finish(notificationId: string, outcome: Outcome, at: Date): Promise<void>;
}

export function createNotificationLedger(db: Db): NotificationLedger {
  const entries: Collection<NotificationEntry> = db.collection<NotificationEntry>(notificationsCollection.name);
  const wrap = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw storeError(err, what);
    }
  };
  return {
    async claim(entry) {
      try {
        await entries.insertOne(entry);
        return null;
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError(err, 'claiming a notification');
      }
      const existing = await wrap('reading a notification', () => entries.findOne({ _id: entry._id }));
      // Deleted between the insert and the read (by hand): claim again through a redelivery.
      if (!existing) throw storeError(new Error('the notification entry vanished'), 'claiming a notification');
      return existing;
    },
    get: (id) => wrap('reading a notification', () => entries.findOne({ _id: id })),
    async takeOver(seen, by, at) {
      const r = await wrap('taking over a notification', () => entries.updateOne(
        { _id: seen._id, status: 'sending', claimedBy: seen.claimedBy, claimedAt: seen.claimedAt },
        { $set: { claimedBy: by, claimedAt: at } },
      ));
      return r.matchedCount === 1;
    },
    async beginAttempt(id, attempts, by, at) {
      await wrap('counting a delivery attempt', () => entries.updateOne({ _id: id }, { $set: { attempts, claimedBy: by, claimedAt: at } }));
    },
    async finish(id, outcome, at) {
      const set = outcome.status === 'sent'
        ? { status: 'sent' as const, messageId: outcome.messageId, accepted: outcome.accepted, rejected: outcome.rejected, response: outcome.response, httpStatus: outcome.httpStatus, sentAt: at, error: null, finishedAt: at }
        : { status: 'failed' as const, error: outcome.error, finishedAt: at };
      await wrap('recording a delivery', () => entries.updateOne({ _id: id }, { $set: set }));
    },
  };
}

/** The recorded outcome of a finished entry. */
export function outcomeOf(e: NotificationEntry): Outcome {
  if (e.status === 'failed') return { status: 'failed', error: e.error ?? { code: 'NOTIFICATION_FAILED', message: 'the delivery failed', retriable: false } };
  return { status: 'sent', messageId: e.messageId, accepted: e.accepted, rejected: e.rejected, response: e.response ?? '', httpStatus: e.httpStatus };
}

import type { EventBus, OutgoingEvent } from '../../libs/kafka/producer.ts';
import { raiseKafka } from '../../libs/kafka/errors.ts';
import type { AcceptedIdLedger } from './store/accepted-ids.ts';

export interface AcceptItem {
  /** `<namespace>:<id>` when the event's id is to be remembered; null to publish without dedupe. */
  key: string | null;
  message: OutgoingEvent;
}

export interface Acceptor {
  /** Resolves once every fresh item is acknowledged by Kafka; `duplicate[i]` tells which were not published again. */
  accept(items: readonly AcceptItem[]): Promise<{ duplicate: boolean[] }>;
}

interface Pending { items: readonly AcceptItem[]; settled: boolean; resolve(r: { duplicate: boolean[] }): void; reject(err: unknown): void }

/**
 * Group commit: requests that arrive while a commit is under way are accepted
 * together, with one ledger reservation, one Kafka send and one confirmation for the
 * whole group. Under load this turns many small requests into few round trips;
 * alone, a request waits for nothing but its own commit. A failure fails every
 * request of the group (none of them was told "accepted").
 *
 * A request not acknowledged within `ackTimeoutMs` (the broker away) is answered
 * KAFKA_UNAVAILABLE (503, Retry-After) instead of hanging: if it was still queued it
 * is dropped unsent; if its commit was under way, the sender's retry is either
 * published then or reported as the duplicate it is, never lost.
 */
export function createAcceptor(o: { ledger: AcceptedIdLedger; bus: EventBus; topic: string; maxInFlight?: number; maxGroupItems?: number; ackTimeoutMs?: number; onCommitError?: (err: unknown) => void }): Acceptor {
  const maxInFlight = o.maxInFlight ?? 2;
  const ackTimeoutMs = o.ackTimeoutMs ?? 5000;
  const maxGroupItems = o.maxGroupItems ?? 5000;
  const queue: Pending[] = [];
  let inFlight = 0;

  function pump(): void {
    while (inFlight < maxInFlight && queue.length > 0) {
      const group: Pending[] = [];
      let size = 0;
      while (queue.length > 0 && (group.length === 0 || size + queue[0]!.items.length <= maxGroupItems)) {
        const p = queue.shift()!;
        if (p.settled) continue;
        group.push(p);
        size += p.items.length;
      }
      if (group.length === 0) continue;
      inFlight += 1;
      void commit(group).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  }

  async function commit(group: Pending[]): Promise<void> {
    try {
      // The first occurrence of a key in the group is the one reserved and published.
      const seen = new Set<string>();
      const keys: string[] = [];
      for (const p of group) for (const item of p.items) {
        if (item.key !== null && !seen.has(item.key)) { seen.add(item.key); keys.push(item.key); }
      }
      // Nothing to remember (e.g. deliveries without a webhook-id): no ledger round trips.
      const reservation = keys.length > 0 ? await o.ledger.reserveKeys(keys) : null;
      const fresh = new Set(reservation?.fresh ?? []);
      const claimed = new Set<string>();
      const results = group.map((p) => p.items.map((item) => {
        if (item.key === null) return false;
        if (!fresh.has(item.key) || claimed.has(item.key)) return true;
        claimed.add(item.key);
        return false;
      }));
      const messages = group.flatMap((p, g) => p.items.filter((_, i) => !results[g]![i]).map((item) => item.message));
      if (messages.length > 0) {
        try {
          await o.bus.publish(o.topic, messages);
        } catch (err) {
          if (reservation) await o.ledger.failed(reservation.requestId);
          throw err;
        }
      }
      if (reservation) await o.ledger.published(reservation.requestId).catch((err: unknown) => o.onCommitError?.(err));
      group.forEach((p, g) => p.resolve({ duplicate: results[g]! }));
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  }

  return {
    accept(items) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          if (pending.settled) return;
          pending.settled = true;
          reject(raiseKafka('KAFKA_UNAVAILABLE', `kafka did not acknowledge within ${ackTimeoutMs} ms; retry later`));
        }, ackTimeoutMs);
        const pending: Pending = {
          items,
          settled: false,
          resolve: (r) => { clearTimeout(timer); if (!pending.settled) { pending.settled = true; resolve(r); } },
          reject: (err) => { clearTimeout(timer); if (!pending.settled) { pending.settled = true; reject(err); } },
        };
        queue.push(pending);
        pump();
      });
    },
  };
}

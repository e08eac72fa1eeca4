import type { EventBus, OutgoingEvent } from './producer.ts';
import { publishIsolating } from './publish-isolating.ts';

interface Pending { events: readonly OutgoingEvent[]; resolve(): void; reject(err: unknown): void }

/**
 * Group commit for many concurrent publishers (one per running workflow run): calls
 * that arrive while a send to the same topic is under way go out together in the
 * next send. Each call still resolves only once its own events are acknowledged
 * (acks=all). A retriable failure fails every call in the send (none was told
 * "done"); a refusal no retry fixes (a message too large) fails only the calls whose
 * own events are refused.
 */
export function createBatchingBus(bus: EventBus, options: { maxInFlightPerTopic?: number; maxBatchEvents?: number } = {}): EventBus {
  const maxInFlight = options.maxInFlightPerTopic ?? 1;
  const maxBatch = options.maxBatchEvents ?? 2000;
  const topics = new Map<string, { queue: Pending[]; inFlight: number }>();

  function pump(topic: string): void {
    const t = topics.get(topic)!;
    while (t.inFlight < maxInFlight && t.queue.length > 0) {
      const group: Pending[] = [];
      let size = 0;
      while (t.queue.length > 0 && (group.length === 0 || size + t.queue[0]!.events.length <= maxBatch)) {
        const p = t.queue.shift()!;
        group.push(p);
        size += p.events.length;
      }
      t.inFlight += 1;
      publishIsolating(bus, topic, group.map((p) => ({ source: p, events: p.events }))).then(
        (refused) => {
          const errors = new Map(refused.map((r) => [r.source, r.error]));
          for (const p of group) {
            const err = errors.get(p);
            if (err) p.reject(err);
            else p.resolve();
          }
        },
        (err: unknown) => group.forEach((p) => p.reject(err)),
      ).finally(() => {
        t.inFlight -= 1;
        pump(topic);
      });
    }
  }

  return {
    publish(topic, events) {
      if (events.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let t = topics.get(topic);
        if (!t) { t = { queue: [], inFlight: 0 }; topics.set(topic, t); }
        t.queue.push({ events, resolve, reject });
        pump(topic);
      });
    },
    publishRaw: (topic, messages) => bus.publishRaw(topic, messages),
  };
}

import type { EventBus, OutgoingEvent } from './producer.ts';
import { HubError, isRetriable } from '../errors/index.ts';

export interface SourcedEvents<S> {
  /** What the events came from (a consumed message): what is parked when they cannot be published. */
  source: S;
  events: readonly OutgoingEvent[];
}

/**
 * Publishes the events of many sources together; when the broker refuses them for a
 * reason no retry fixes (too large, invalid), publishes source by source, in order,
 * so one bad source never holds the others back. Returns the sources whose events
 * cannot be published even alone, with the reason (the caller parks them). Retriable
 * failures are thrown: the caller sends the whole lot again.
 */
export async function publishIsolating<S>(bus: EventBus, topic: string, groups: readonly SourcedEvents<S>[]): Promise<{ source: S; error: HubError }[]> {
  const all = groups.flatMap((g) => g.events);
  if (all.length === 0) return [];
  try {
    await bus.publish(topic, all);
    return [];
  } catch (err) {
    if (isRetriable(err) || !(err instanceof HubError)) throw err;
  }
  const refused: { source: S; error: HubError }[] = [];
  for (const g of groups) {
    if (g.events.length === 0) continue;
    try {
      await bus.publish(topic, g.events);
    } catch (err) {
      if (isRetriable(err) || !(err instanceof HubError)) throw err;
      refused.push({ source: g.source, error: err });
    }
  }
  return refused;
}

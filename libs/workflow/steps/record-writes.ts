/**
 * The record writes of one executor's runs, serialized per record. One executor owns all
 * of a workspace's runs (hub.runs is keyed by workspace), so every workflow write to a
 * record passes through it: two runs updating different fields of one record at once
 * take turns, and the second starts from the first's write (remembered here), not from
 * a projection that has not caught up yet. Without it each would write the whole record
 * as it read it, and the later version would drop the other's field.
 */
import type { Known } from './record-store.ts';

export interface RecordWriteLog {
  /** Runs `fn` alone for this record: reads and the write inside it see no other run's write in between. */
  serialize<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** The newest state this executor wrote for the record, if it still remembers it. */
  latest(key: string): Known | undefined;
  remember(key: string, state: Known): void;
}

export function createRecordWriteLog(options: { maxRecords?: number } = {}): RecordWriteLog {
  const maxRecords = options.maxRecords ?? 50_000;
  const queues = new Map<string, Promise<unknown>>();
  // Insertion order is recency order: a record written again moves to the end.
  const states = new Map<string, Known>();
  return {
    serialize(key, fn) {
      const previous = queues.get(key) ?? Promise.resolve();
      const mine = previous.then(fn, fn);
      const tail = mine.catch(() => undefined);
      queues.set(key, tail);
      void tail.then(() => { if (queues.get(key) === tail) queues.delete(key); });
      return mine;
    },
    latest: (key) => states.get(key),
    remember(key, state) {
      const known = states.get(key);
      if (known && known.version > state.version) return;
      states.delete(key);
      states.set(key, state);
      if (states.size > maxRecords) states.delete(states.keys().next().value as string);
    },
  };
}

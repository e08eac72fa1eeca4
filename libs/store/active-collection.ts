/**
 * Which collection holds a projection now: a pointer document in `projections`
 * (`{_id: <projection>, active, state}`), so a rebuild can fill a shadow collection
 * while the live one serves and then switch with one `_id` update (FerretDB has no
 * transactions, no `$out` and no atomic rename-over; MongoDB would not need more).
 *
 * Readers follow `active`, cached for `ttlMs`. The projection's writer asks
 * `writable()`: while a switch is under way (`state: 'switching'`) it waits, so the
 * rebuild's last catch-up is the only writer of the shadow; readers never wait.
 */
import type { Db } from 'mongodb';
import type { CollectionSpec } from './mongo.ts';
import { storeError } from './errors.ts';

export interface ProjectionPointer {
  _id: string;
  active: string;
  state: 'active' | 'switching';
  /** The collection being switched to while `state` is switching. */
  next: string | null;
  /** The collection served before the last switch (kept for a rollback by hand). */
  previous: string | null;
  switchedAt: Date;
  replayId: string | null;
}

export const projectionsCollection: CollectionSpec = { name: 'projections', indexes: [] };

/** Longest a writer waits for a switch before it writes to the collection still active (the rebuild then fails: see services/ops). */
export const SWITCH_WAIT_MAX_MS = 30_000;

export interface ActiveCollection {
  /** The collection readers use (cached up to ttlMs). */
  name(): Promise<string>;
  /** The collection the projection's writer writes to: waits while a switch is under way. */
  writable(): Promise<string>;
}

export function activeCollection(db: Db, projection: string, o: { ttlMs?: number; sleep?: (ms: number) => Promise<void> } = {}): ActiveCollection {
  const ttlMs = o.ttlMs ?? 1000;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pointers = db.collection<ProjectionPointer>(projectionsCollection.name);
  let cached: { at: number; pointer: Pick<ProjectionPointer, 'active' | 'state'> } | null = null;
  let loading: Promise<Pick<ProjectionPointer, 'active' | 'state'>> | null = null;

  const load = async (maxAgeMs: number) => {
    if (cached && Date.now() - cached.at < maxAgeMs) return cached.pointer;
    loading ??= (async () => {
      try {
        const doc = await pointers.findOne({ _id: projection });
        const pointer = doc ? { active: doc.active, state: doc.state } : { active: projection, state: 'active' as const };
        cached = { at: Date.now(), pointer };
        return pointer;
      } catch (err) {
        throw storeError(err, `reading which collection holds ${projection}`);
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  return {
    name: async () => (await load(ttlMs)).active,
    async writable() {
      let p = await load(ttlMs);
      const deadline = Date.now() + SWITCH_WAIT_MAX_MS;
      while (p.state === 'switching' && Date.now() < deadline) {
        await sleep(100);
        p = await load(100);
      }
      return p.active;
    },
  };
}

/**
 * The app snapshots this process knows are already synced: per linked app record, the
 * `appSeenAt` of its in-sync link as last saved or read from the store. A poll sweep re-reads
 * every change of its window plus an overlap (the app's search is eventually consistent),
 * nearly all of them already synced by webhooks or our own writes; with this it skips
 * those without reading their links (two store reads a record on FerretDB).
 *
 * Only a hint, safe when stale: appSeenAt only grows, and a link saved by another owner
 * (after a rebalance) is newer than what this process holds, so a snapshot is skipped only
 * if it is no newer than one a durable link already accounts for.
 */
import type { LinkDocument } from '../../libs/store/sync.ts';
import type { SyncState } from './state.ts';

const DEFAULT_LIMIT = 100_000;

export interface SeenSnapshots {
  /**
   * Is this app snapshot (by its modification time) one an in-sync link already accounts
   * for? A snapshot as old as the one seen counts only where stamps are exact (see
   * Connector.modifiedAt); with coarse ones it may be a later change in the same second.
   */
  has(connectionId: string, object: string, appId: string, modifiedAt: number, stamps?: 'exact' | 'coarse'): boolean;
  note(link: LinkDocument): void;
  drop(link: Pick<LinkDocument, 'connectionId' | 'object' | 'appId'>): void;
  dropPair(connectionId: string, object: string): void;
}

export function createSeenSnapshots(limit = DEFAULT_LIMIT): SeenSnapshots {
  // Insertion order is recency (a note moves the key to the end), so the oldest go first.
  const seenAt = new Map<string, number>();
  const key = (c: string, o: string, appId: string) => `${c}\u0000${o}\u0000${appId}`;
  return {
    has(c, o, appId, modifiedAt, stamps = 'exact') {
      const at = seenAt.get(key(c, o, appId));
      return at !== undefined && (stamps === 'exact' ? modifiedAt <= at : modifiedAt < at);
    },
    note(link) {
      const k = key(link.connectionId, link.object, link.appId);
      seenAt.delete(k);
      // A failing, excluded or deleted link is not settled: its snapshots go through the whole path.
      if (link.state !== 'in-sync' || link.deletedOn || !(link.appSeenAt > 0)) return;
      seenAt.set(k, link.appSeenAt);
      if (seenAt.size > limit) seenAt.delete(seenAt.keys().next().value!);
    },
    drop: (link) => { seenAt.delete(key(link.connectionId, link.object, link.appId)); },
    dropPair(c, o) {
      const prefix = `${c}\u0000${o}\u0000`;
      for (const k of seenAt.keys()) if (k.startsWith(prefix)) seenAt.delete(k);
    },
  };
}

/** The state, noting every link it saves or reads (their appSeenAt is durable then) and dropping those it removes. */
export function notingSeen(state: SyncState, seen: SeenSnapshots): SyncState {
  const noteAll = <T extends LinkDocument[]>(links: T): T => { for (const l of links) seen.note(l); return links; };
  return {
    ...state,
    linksOf: async (c, o, hubIds) => noteAll(await state.linksOf(c, o, hubIds)),
    linksOfApp: async (c, o, appIds) => noteAll(await state.linksOfApp(c, o, appIds)),
    async insertLink(doc) {
      const inserted = await state.insertLink(doc);
      if (inserted) seen.note(doc);
      return inserted;
    },
    async insertLinks(docs) {
      const inserted = await state.insertLinks(docs);
      docs.forEach((doc, i) => { if (inserted[i]) seen.note(doc); });
      return inserted;
    },
    async putLink(doc) { await state.putLink(doc); seen.note(doc); },
    async putLinks(docs) { await state.putLinks(docs); for (const doc of docs) seen.note(doc); },
    async removeLink(doc) { seen.drop(doc); await state.removeLink(doc); },
    async forget(c, o) { seen.dropPair(c, o); await state.forget(c, o); },
  };
}

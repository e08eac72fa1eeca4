/**
 * The reconciler's changelog: every link, unlinked record state and object state it saves
 * or removes also goes onto the compacted `sync.state` topic (key collection|docId, the
 * whole document), so the latest value per key is its state and `npm run sync:rebuild`
 * can write it back after the store is lost.
 *
 * Unconditional writes (replace, remove) are published before the store write: if the
 * write then fails, the batch fails and runs again, writing that state or a newer one.
 * Inserts are conditional (a link is refused when either side is linked already), so
 * they are published after the store answered, only for the links it took; a batch run
 * again after a crash in between inserts the same link again, which answers taken.
 *
 * Scratch work is not journaled: the initial sync's staged records and plan, and the hub
 * changes kept while paused.
 */
import { BSON } from 'mongodb';
import { envelopeHeaders, externalEnvelope } from '../../libs/kafka/envelope.ts';
import type { SyncStateCollection, SyncStateSaved } from '../../libs/kafka/events.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import { unlinkedId, type ObjectStateDocument, type UnlinkedDocument } from '../../libs/store/sync.ts';
import type { SyncState } from './state.ts';

export type PublishState = (messages: OutgoingEvent[]) => Promise<void>;

type Journaled = { _id: string; connectionId: string; object: string };

export function stateMessage(collection: SyncStateCollection, doc: Journaled, removed: boolean, workspaceId: string, now: number): OutgoingEvent {
  const value: SyncStateSaved = {
    ...externalEnvelope(removed ? 'sync.state.removed' : 'sync.state.saved', workspaceId, now),
    connectionId: doc.connectionId, object: doc.object, collection, docId: doc._id,
    doc: removed ? null : BSON.EJSON.stringify(doc, { relaxed: true }),
  };
  return { key: `${collection}|${doc._id}`, value, headers: envelopeHeaders(value) };
}

/** The state, with every save and removal of links, unlinked states and object states also published to sync.state. */
export function journaling(state: SyncState, publish: PublishState, workspaceOf: (connectionId: string) => string, now: () => number = Date.now): SyncState {
  const messages = (collection: SyncStateCollection, docs: readonly Journaled[], removal: boolean) => docs.map((d) => stateMessage(collection, d, removal, workspaceOf(d.connectionId), now()));
  const saved = (collection: SyncStateCollection, docs: readonly Journaled[]) => (docs.length === 0 ? Promise.resolve() : publish(messages(collection, docs, false)));
  const removed = (collection: SyncStateCollection, docs: readonly Journaled[]) => (docs.length === 0 ? Promise.resolve() : publish(messages(collection, docs, true)));
  const unlinkedKey = (c: string, o: string, side: 'hub' | 'app', id: string): Journaled => ({ _id: unlinkedId(c, o, side, id), connectionId: c, object: o });
  return {
    ...state,
    async insertLink(doc) {
      const taken = await state.insertLink(doc);
      if (taken) await saved('sync_links', [doc]);
      return taken;
    },
    async insertLinks(docs) {
      const taken = await state.insertLinks(docs);
      await saved('sync_links', docs.filter((_, i) => taken[i]));
      return taken;
    },
    async putLink(doc) { await saved('sync_links', [doc]); await state.putLink(doc); },
    async putLinks(docs) { await saved('sync_links', docs); await state.putLinks(docs); },
    async removeLink(doc) { await removed('sync_links', [doc]); await state.removeLink(doc); },
    async putUnlinked(doc, at) {
      const full: UnlinkedDocument = { ...doc, _id: unlinkedId(doc.connectionId, doc.object, doc.side, doc.id), updatedAt: new Date(at) };
      await saved('sync_unlinked', [full]);
      await state.putUnlinked(doc, at);
    },
    async removeUnlinked(c, o, side, id) { await removed('sync_unlinked', [unlinkedKey(c, o, side, id)]); await state.removeUnlinked(c, o, side, id); },
    async removeUnlinkedMany(c, o, ids) { await removed('sync_unlinked', ids.map((x) => unlinkedKey(c, o, x.side, x.id))); await state.removeUnlinkedMany(c, o, ids); },
    async putObjectState(doc: ObjectStateDocument) {
      const full: ObjectStateDocument = { ...doc, updatedAt: new Date(now()) };
      await saved('sync_objects', [full]);
      await state.putObjectState(doc);
    },
  };
}

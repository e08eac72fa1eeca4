/** The reconciler's memory of app snapshots in-sync links already account for: what a poll sweep may skip without reading links. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSeenSnapshots } from '../../services/sync-reconciler/seen.ts';
import type { LinkDocument } from '../../libs/store/sync.ts';

const link = (appId: string, appSeenAt: number, extra: Partial<LinkDocument> = {}): LinkDocument => ({
  _id: `c1|people|h-${appId}`, connectionId: 'c1', object: 'people', hubId: `h-${appId}`, appId, state: 'in-sync', reason: null,
  base: '{}', written: {}, appSeenAt, deletedOn: null, hubFields: '{}', hubVersion: 1, syncedAt: new Date(0), ...extra,
} as LinkDocument);

test('a snapshot no newer than an in-sync link\'s appSeenAt is known; a newer one, or one of another connection or object, is not', () => {
  const seen = createSeenSnapshots();
  seen.note(link('a1', 1000));
  assert.equal(seen.has('c1', 'people', 'a1', 999), true);
  assert.equal(seen.has('c1', 'people', 'a1', 1000), true, 'the very snapshot the link accounts for');
  assert.equal(seen.has('c1', 'people', 'a1', 1001), false, 'a change since');
  assert.equal(seen.has('c2', 'people', 'a1', 999), false);
  assert.equal(seen.has('c1', 'companies', 'a1', 999), false);
  assert.equal(seen.has('c1', 'people', 'a2', 0), false, 'never seen');
  // Coarse stamps (Stripe: seconds; an invoice only its creation time): the same stamp may be a later change.
  assert.equal(seen.has('c1', 'people', 'a1', 1000, 'coarse'), false);
  assert.equal(seen.has('c1', 'people', 'a1', 999, 'coarse'), true);
});

test('a link that is failing, excluded or deleted is forgotten: its snapshots take the whole path again', () => {
  const seen = createSeenSnapshots();
  for (const extra of [{ state: 'failing' }, { state: 'excluded' }, { state: 'deleted', deletedOn: 'app' }] as Partial<LinkDocument>[]) {
    seen.note(link('a1', 1000));
    seen.note(link('a1', 1000, extra));
    assert.equal(seen.has('c1', 'people', 'a1', 500), false, JSON.stringify(extra));
  }
  seen.note(link('a1', 1000));
  seen.drop(link('a1', 1000));
  assert.equal(seen.has('c1', 'people', 'a1', 500), false, 'a removed link');
  seen.note(link('a1', 1000));
  seen.note(link('a2', 1000, { object: 'companies' }));
  seen.dropPair('c1', 'people');
  assert.equal(seen.has('c1', 'people', 'a1', 500), false, 'a forgotten pair');
  assert.equal(seen.has('c1', 'companies', 'a2', 500), true, 'another pair stays');
});

test('bounded: past its limit the least recently noted go first', () => {
  const seen = createSeenSnapshots(3);
  for (const id of ['a1', 'a2', 'a3']) seen.note(link(id, 1000));
  seen.note(link('a1', 1000)); // a1 noted again: now the most recent
  seen.note(link('a4', 1000));
  assert.equal(seen.has('c1', 'people', 'a2', 1000), false, 'the oldest went');
  for (const id of ['a1', 'a3', 'a4']) assert.equal(seen.has('c1', 'people', id, 1000), true, id);
});

/**
 * findByIds / deleteByIds on the real MongoDB-wire store: the documents asked for and
 * found, once each, filtered by `also`; missing ids left out.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectStore, type Store } from '../../libs/store/mongo.ts';
import { deleteByIds, findByIds } from '../../libs/store/by-ids.ts';
import { isolatedConfig } from '../support/env.ts';

let store: Store;
before(async () => {
  const config = isolatedConfig('byids');
  store = await connectStore(config.mongodbUri, config.mongodbDatabase);
});
after(async () => {
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close();
});

test('findByIds returns each document found once, leaves missing ids out and applies the extra filter; deleteByIds removes only those ids', async () => {
  const col = store.db.collection<{ _id: string; state: string }>('things');
  await col.insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: `t${i}`, state: i % 2 === 0 ? 'published' : 'pending' })));
  const asked = [...Array.from({ length: 20 }, (_, i) => `t${i}`), 't3', 'missing-1', 'missing-2'];
  const found = await findByIds(col, asked);
  assert.deepEqual(found.map((d) => d._id).sort(), Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
  const published = await findByIds(col, asked, { state: 'published' });
  assert.deepEqual(published.map((d) => d._id).sort(), Array.from({ length: 10 }, (_, i) => `t${i * 2}`).sort());
  assert.deepEqual(await findByIds(col, []), []);
  await deleteByIds(col, ['t0', 't1', 't1', 'missing-1']);
  assert.equal(await col.countDocuments({}), 38);
  assert.equal(await col.countDocuments({ _id: { $in: ['t0', 't1'] } }), 0);
});

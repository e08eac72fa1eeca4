/**
 * The id ledger's takeover of an id held by a failed request, raced: many retries of one
 * failed request at once, each through its own connection to the store (as several
 * ingress replicas would be), must give the id to exactly one of them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectStore, ensureCollections, type Store } from '../../libs/store/mongo.ts';
import { createAcceptedIdLedger, ledgerCollections } from '../../services/ingress/store/accepted-ids.ts';
import { MongoClient } from 'mongodb';
import { sleep } from '../../libs/time/sleep.ts';
import { isolatedConfig } from '../support/env.ts';

const config = isolatedConfig('ledger_race');
const stores: Store[] = [];
after(async () => {
  await stores[0]?.db.dropDatabase().catch(() => undefined);
  await Promise.all(stores.map((s) => s.close()));
});

test('simultaneous retries of a failed request: exactly one takes the id over, the others are told it is taken', async () => {
  const replicas = 8;
  for (let i = 0; i < replicas; i++) stores.push(await connectStore(config.mongodbUri, config.mongodbDatabase));
  await ensureCollections(stores[0]!.db, ledgerCollections);
  const ledgers = stores.map((s) => createAcceptedIdLedger(s.db, { abandonAfterMs: 60_000, waitForInFlightMs: 20_000 }));
  const rounds = 25;
  const winners: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const id = `event-${round}`;
    // A first request reserved the id, and its publish failed.
    const first = await ledgers[0]!.reserve('ws', [id]);
    assert.deepEqual(first.fresh, [id]);
    await ledgers[0]!.failed(first.requestId);
    // Its retries arrive at every replica at once; the winner publishes, the rest wait and see it.
    const outcomes = await Promise.all(ledgers.map(async (ledger) => {
      const r = await ledger.reserve('ws', [id]);
      if (r.fresh.length > 0) {
        await sleep(20);
        await ledger.published(r.requestId);
      }
      return r.fresh.length;
    }));
    winners.push(outcomes.reduce((a, b) => a + b, 0));
  }
  assert.deepEqual(winners, Array.from({ length: rounds }, () => 1), 'one winner per round');
});

test('a retry of a whole accepted batch is answered in a fixed number of store commands, not two per id', async () => {
  // A client resending what was accepted while its answer was lost (a retry storm is all
  // such batches): settled one id at a time, a group's commit outlasted the ack timeout.
  const client = new MongoClient(config.mongodbUri, { monitorCommands: true });
  await client.connect();
  try {
    const db = client.db(config.mongodbDatabase);
    await ensureCollections(db, ledgerCollections);
    const ledger = createAcceptedIdLedger(db, { abandonAfterMs: 60_000, waitForInFlightMs: 10_000 });
    const ids = Array.from({ length: 500 }, (_, i) => `batch-${i}`);
    const first = await ledger.reserve('ws', ids);
    assert.equal(first.fresh.length, 500);
    await ledger.published(first.requestId);
    let commands = 0;
    client.on('commandStarted', () => { commands += 1; });
    const retry = await ledger.reserve('ws', ids);
    assert.deepEqual(retry.duplicates, ids, 'every id reported as the duplicate it is');
    assert.deepEqual(retry.fresh, []);
    assert.ok(commands <= 6, `${commands} store commands for a retried batch of 500`);
  } finally {
    await client.close();
  }
});

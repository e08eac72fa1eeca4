import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRecordWriteLog } from '../../libs/workflow/steps/record-writes.ts';

const state = (version: number, fields: Record<string, unknown> = {}) => ({ fields, deleted: false, version, eventId: `e${version}` });

test('writes to one record take turns; other records do not wait', async () => {
  const log = createRecordWriteLog();
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const first = log.serialize('ws:deals:1', async () => { order.push('a start'); await gate; order.push('a end'); });
  const second = log.serialize('ws:deals:1', async () => { order.push('b'); });
  const other = log.serialize('ws:deals:2', async () => { order.push('other'); });
  await other;
  assert.deepEqual(order, ['a start', 'other']);
  release();
  await Promise.all([first, second]);
  assert.deepEqual(order, ['a start', 'other', 'a end', 'b']);
});

test('a failed turn does not block the next one', async () => {
  const log = createRecordWriteLog();
  await assert.rejects(log.serialize('k', async () => { throw new Error('boom'); }));
  assert.equal(await log.serialize('k', async () => 'next'), 'next');
});

test('latest keeps the newest version and forgets the least recently written past its size', () => {
  const log = createRecordWriteLog({ maxRecords: 2 });
  log.remember('a', state(5));
  log.remember('a', state(3));
  assert.equal(log.latest('a')?.version, 5, 'an older write does not replace a newer one');
  log.remember('b', state(1));
  log.remember('a', state(6));
  log.remember('c', state(1));
  assert.equal(log.latest('b'), undefined, 'b was the least recently written');
  assert.equal(log.latest('a')?.version, 6);
  assert.equal(log.latest('c')?.version, 1);
});

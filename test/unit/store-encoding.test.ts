import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFromStore, encodeForStore } from '../../libs/store/encoding.ts';

test('values with arrays inside arrays are wrapped for the store and come back as they were; others are untouched', () => {
  const plain = { a: 1, list: [1, 'x', { deep: [2, 3] }], when: new Date(0) };
  assert.equal(encodeForStore(plain), plain, 'no copy when nothing needs wrapping');
  const nested = { grid: [[1, 2], [3, 4]], rule: { in: [{ var: 'record.stage' }, ['lead', 'customer']] }, ok: [1, 2], inner: { pairs: [['a', 1]] } };
  const stored = encodeForStore(nested) as Record<string, unknown>;
  assert.deepEqual(stored.grid, { __hubJson: '[[1,2],[3,4]]' });
  assert.deepEqual(stored.ok, [1, 2]);
  const nestedLeft = (v: unknown, inArray: boolean): boolean => Array.isArray(v) ? inArray || v.some((x) => nestedLeft(x, true)) : v !== null && typeof v === 'object' ? Object.values(v).some((x) => nestedLeft(x, false)) : false;
  assert.equal(nestedLeft(stored, false), false, 'no array is left inside an array');
  assert.deepEqual(decodeFromStore(stored), nested);
  assert.deepEqual(decodeFromStore(plain), plain);
});

/**
 * Runs updating different fields of one record at the same moment both land: the
 * executor serializes writes to one record (one executor owns a workspace's runs) and
 * each write starts from the newest state, its own, another run's or the projection's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkflowHub, type WorkflowHub } from '../support/workflow-hub.ts';
import { eventually } from '../support/env.ts';

const hubs: WorkflowHub[] = [];
after(async () => { await Promise.all(hubs.map((h) => h.close())); });

test('pairs of runs updating different fields of the same record at once: no update is lost', { timeout: 300_000 }, async () => {
  const hub = await startWorkflowHub('record_race');
  hubs.push(hub);
  const onCreated = (field: string) => ({
    name: `set ${field}`, trigger: { type: 'record.created', object: 'deals' },
    steps: [{ id: 'set', type: 'record.update', input: { object: 'deals', recordId: '{{trigger.recordId}}', values: { [field]: `{{trigger.record.name}}-${field}` } } }],
  });
  const wfA = await hub.activate(onCreated('a'));
  const wfB = await hub.activate(onCreated('b'));
  const n = 200;
  await hub.sendRecords(Array.from({ length: n }, (_, i) => ({ type: 'record.created', object: 'deals', recordId: `d${i}`, record: { name: `deal${i}` } })));
  for (const wf of [wfA, wfB]) {
    await eventually(`${n} runs of ${wf}`, async () => {
      const runs = await hub.runsOf(wf);
      return runs.length === n && runs.every((r) => r.status === 'completed');
    }, 180_000, 500);
  }
  const records = hub.t.store.db.collection<{ recordId: string; fields: Record<string, unknown> }>('records');
  const missing = async () => (await records.find({ workspaceId: hub.workspaceId, object: 'deals' }).toArray())
    .filter((d) => d.fields.a !== `${d.fields.name}-a` || d.fields.b !== `${d.fields.name}-b`).map((d) => d.recordId);
  // The projection catches up with the last writes; a lost update never comes back.
  await eventually('every record projected with both fields', async () => (await missing()).length === 0, 60_000, 500).catch(() => undefined);
  assert.deepEqual(await missing(), [], 'no update lost');
  assert.equal(await records.countDocuments({ workspaceId: hub.workspaceId, object: 'deals' }), n);
});

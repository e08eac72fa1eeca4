/**
 * The workflow engine end to end on the real stack: every trigger type starts runs
 * through the matcher (or the API), the executor runs the record, branch and
 * iterator steps, and runs are read back through the API.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkflowHub, type WorkflowHub } from '../support/workflow-hub.ts';
import { eventually } from '../support/env.ts';
import { readTopic } from '../support/topic.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import { createRecordReader } from '../../libs/store/records.ts';

let hub: WorkflowHub;
before(async () => { hub = await startWorkflowHub('wfruns'); });
after(async () => { await hub?.close(); });

const person = (recordId: string, fields: Record<string, unknown>, type = 'record.created', extra: Record<string, unknown> = {}) =>
  ({ type, object: 'people', recordId, record: fields, ...extra });

async function record(object: string, recordId: string) {
  return createRecordReader(hub.t.store.db).get(hub.workspaceId, object, recordId);
}

async function onlyRun(workflowId: string, count = 1) {
  const runs = await eventually(`${count} run(s) of ${workflowId}`, async () => {
    const list = await hub.runsOf(workflowId);
    return list.length >= count ? list : null;
  });
  assert.equal(runs.length, count, `exactly ${count} run(s)`);
  return Promise.all(runs.map((r) => hub.waitForRun(r.runId)));
}

test('record.created with a filter → search → branch → update: the run completes and its write is a caused record event', async () => {
  const workflowId = await hub.activate({
    name: 'Tag VIP companies of new people',
    trigger: { type: 'record.created', object: 'people', filter: { '==': [{ var: 'record.tier' }, 'vip'] } },
    steps: [
      { id: 'find', type: 'record.search', input: { object: 'companies', filter: { '==': [{ var: 'record.domain' }, { var: 'trigger.record.domain' }] }, limit: 1 } },
      { id: 'check', type: 'branch', input: {
        branches: [{ if: { '>': [{ var: 'steps.find.count' }, 0] }, steps: [
          { id: 'tag', type: 'record.update', input: { object: 'companies', recordId: '{{steps.find.records.0.id}}', values: { hasVip: true, vipName: '{{trigger.record.name}}' } } },
        ] }],
        else: [{ id: 'make', type: 'record.create', input: { object: 'companies', values: { domain: '{{trigger.record.domain}}', hasVip: true } } }],
      } },
    ],
  });
  await hub.sendRecords([{ type: 'record.created', object: 'companies', recordId: 'c1', record: { domain: 'acme.test', name: 'Acme' } }]);
  await eventually('company projected', () => record('companies', 'c1'));
  await hub.sendRecords([person('p-regular', { name: 'Reg', domain: 'acme.test', tier: 'std' }), person('p-vip', { name: 'Vera', domain: 'acme.test', tier: 'vip' })]);

  const [run] = await onlyRun(workflowId);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  assert.equal((run!.trigger as { recordId: string }).recordId, 'p-vip', 'the filter let only the vip through');
  assert.deepEqual(Object.keys(run!.steps).sort(), ['check', 'find', 'tag']);
  assert.deepEqual(run!.steps.check!.output, { branch: 0 });
  assert.deepEqual(run!.steps.tag!.input, { object: 'companies', recordId: 'c1', values: { hasVip: true, vipName: 'Vera' } });

  const company = await eventually('company updated', async () => {
    const c = await record('companies', 'c1');
    return c?.fields.hasVip === true ? c : null;
  });
  assert.deepEqual(company.fields, { domain: 'acme.test', name: 'Acme', hasVip: true, vipName: 'Vera' });
  const events = (await readTopic<RecordChanged>(hub.runtime, hub.runtime.topic(topics.records))).map((m) => m.value);
  const write = events.find((e) => e.object === 'companies' && e.type === 'record.updated')!;
  const cause = events.find((e) => e.recordId === 'p-vip')!;
  assert.equal(write.causationId, cause.eventId);
  assert.equal(write.correlationId, cause.correlationId);
  assert.equal(write.causationDepth, 1);
  assert.deepEqual(write.updatedFields.sort(), ['hasVip', 'vipName']);
  assert.equal(write.source, `workflow:${workflowId}:${run!.runId}`);

  const api = (await hub.call('GET', `/v1/runs/${run!.runId}`)).json() as { status: string; version: number; steps: { id: string; status: string; attempts: number; startedAt: string; endedAt: string }[] };
  assert.equal(api.status, 'completed');
  assert.equal(api.version, 1);
  assert.deepEqual(api.steps.map((s) => [s.id, s.status, s.attempts]), [['find', 'completed', 1], ['check', 'completed', 1], ['tag', 'completed', 1]]);
  assert.ok(api.steps.every((s) => Date.parse(s.endedAt) >= Date.parse(s.startedAt)));
});

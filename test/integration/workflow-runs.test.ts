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
import { sleep } from '../../libs/time/sleep.ts';

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

test('record.updated with fields fires only when one of them changed; record.deleted fires on deletes', async () => {
  const onEmail = await hub.activate({
    name: 'Email changed', trigger: { type: 'record.updated', object: 'contacts', fields: ['email'] },
    steps: [{ id: 'log', type: 'record.create', input: { object: 'audit', values: { what: 'email changed to {{trigger.record.email}}', was: '{{trigger.before.email}}' } } }],
  });
  const onDelete = await hub.activate({
    name: 'Contact deleted', trigger: { type: 'record.deleted', object: 'contacts' },
    steps: [{ id: 'log', type: 'record.create', input: { object: 'audit', values: { what: 'deleted {{trigger.recordId}}' } } }],
  });
  await hub.sendRecords([
    { type: 'record.updated', object: 'contacts', recordId: 'k1', record: { email: 'a@x.test', phone: '2' }, before: { email: 'a@x.test', phone: '1' }, updatedFields: ['phone'] },
    { type: 'record.updated', object: 'contacts', recordId: 'k2', record: { email: 'new@x.test' }, before: { email: 'old@x.test' } },
    { type: 'record.deleted', object: 'contacts', recordId: 'k3' },
  ]);
  const [emailRun] = await onlyRun(onEmail);
  assert.equal((emailRun!.trigger as { recordId: string }).recordId, 'k2', 'only the email change fired');
  assert.deepEqual((emailRun!.steps.log!.output as { record: Record<string, unknown> }).record.what, 'email changed to new@x.test');
  assert.deepEqual((emailRun!.steps.log!.output as { record: Record<string, unknown> }).record.was, 'old@x.test');
  const [deleteRun] = await onlyRun(onDelete);
  assert.equal(deleteRun!.status, 'completed');
  assert.equal((deleteRun!.trigger as { recordId: string }).recordId, 'k3');
});

test('webhook trigger: activation reports the hook URL and a delivery\'s body is the run\'s input', async () => {
  const created = await hub.call('POST', '/v1/workflows', {
    name: 'Form to lead', trigger: { type: 'webhook', methods: ['POST'], expectedBody: { email: { type: 'string', required: true, format: 'email' }, name: { type: 'string' } } },
    steps: [{ id: 'lead', type: 'record.create', input: { object: 'leads', values: { email: '{{trigger.body.email}}', name: '{{trigger.body.name}}' } } }],
  });
  const workflowId = (created.json() as { workflowId: string }).workflowId;
  const activated = (await hub.call('POST', `/v1/workflows/${workflowId}/activate`)).json() as { hook: { url: string; hookId: string } };
  assert.match(activated.hook.url, /\/hooks\/hk_[A-Za-z0-9_-]+$/);
  const delivery = await hub.t.app.inject({ method: 'POST', url: new URL(activated.hook.url).pathname, payload: { email: 'form@x.test', name: 'Formy' } });
  assert.equal(delivery.statusCode, 202, delivery.body);
  const [run] = await onlyRun(workflowId);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  assert.equal(run!.triggerType, 'webhook');
  assert.deepEqual((run!.trigger as { body: unknown }).body, { email: 'form@x.test', name: 'Formy' });
  const leadId = ((run!.steps.lead!.output as { record: { id: string } }).record.id);
  const lead = await eventually('lead projected', () => record('leads', leadId));
  assert.deepEqual(lead.fields, { email: 'form@x.test', name: 'Formy' });
});

test('manual runs: single, bulk (one run per record) and global; Idempotency-Key repeats give the same runs; bad input starts nothing', async () => {
  await hub.sendRecords([1, 2, 3].map((i) => ({ type: 'record.created', object: 'accounts', recordId: `a${i}`, record: { name: `Account ${i}` } })));
  await eventually('accounts projected', async () => (await record('accounts', 'a3')) !== null);
  const single = await hub.activate({ name: 'Single', trigger: { type: 'manual', availability: 'single', object: 'accounts' }, steps: [
    { id: 'touch', type: 'record.update', input: { object: 'accounts', recordId: '{{trigger.record.id}}', values: { touchedBy: '{{trigger.input.who}}' } } },
  ] });
  const bulk = await hub.activate({ name: 'Bulk', trigger: { type: 'manual', availability: 'bulk', object: 'accounts' }, steps: [
    { id: 'mark', type: 'record.update', input: { object: 'accounts', recordId: '{{trigger.record.id}}', values: { marked: true } } },
  ] });
  const global = await hub.activate({ name: 'Global', trigger: { type: 'manual', availability: 'global' }, steps: [
    { id: 'note', type: 'record.create', input: { object: 'notes', values: { text: 'hello {{trigger.input.name}}' } } },
  ] });

  const one = await hub.call('POST', `/v1/workflows/${single}/runs`, { recordIds: ['a1'], input: { who: 'ops' } });
  assert.equal(one.statusCode, 202, one.body);
  const [oneRun] = (one.json() as { runIds: string[] }).runIds;
  assert.equal((await hub.waitForRun(oneRun!)).status, 'completed');
  assert.equal((await eventually('a1 touched', async () => { const r = await record('accounts', 'a1'); return r?.fields.touchedBy ? r : null; })).fields.touchedBy, 'ops');

  const many = await hub.call('POST', `/v1/workflows/${bulk}/runs`, { recordIds: ['a1', 'a2', 'a3'] });
  assert.equal(many.statusCode, 202, many.body);
  const ids = (many.json() as { runIds: string[] }).runIds;
  assert.equal(new Set(ids).size, 3);
  for (const id of ids) assert.equal((await hub.waitForRun(id)).status, 'completed');

  const headers = { authorization: `Bearer ${hub.apiKey}`, 'idempotency-key': 'newsletter-2026-11' };
  const first = await hub.t.app.inject({ method: 'POST', url: `/v1/workflows/${global}/runs`, headers, payload: { input: { name: 'world' } } });
  const again = await hub.t.app.inject({ method: 'POST', url: `/v1/workflows/${global}/runs`, headers, payload: { input: { name: 'world' } } });
  assert.equal(first.statusCode, 202, first.body);
  assert.deepEqual(again.json(), first.json(), 'the same key asks for the same run');
  const globalRun = await hub.waitForRun((first.json() as { runIds: string[] }).runIds[0]!);
  assert.equal(((globalRun.steps.note!.output as { record: { text: string } }).record.text), 'hello world');
  await eventually('one global run', async () => (await hub.runsOf(global)).length === 1);

  for (const [workflowId, body, status, path] of [
    [bulk, { recordIds: ['a1', 'missing', 'a2'] }, 404, '/recordIds/1'],
    [bulk, { recordIds: ['a1', 'a1'] }, 400, '/recordIds/1'],
    [bulk, { recordIds: [] }, 400, '/recordIds'],
    [single, { recordIds: ['a1', 'a2'] }, 400, '/recordIds'],
    [global, { recordIds: ['a1'] }, 400, '/recordIds'],
    [global, { input: 'text' }, 400, '/input'],
    [global, { inputs: {} }, 400, '/inputs'],
  ] as const) {
    const res = await hub.call('POST', `/v1/workflows/${workflowId}/runs`, body);
    assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
    assert.equal((res.json() as { error: { path: string } }).error.path, path);
  }
  await sleep(500);
  assert.equal((await hub.runsOf(bulk)).length, 3, 'refused requests started no run');
  const notManual = await hub.activate({ name: 'Not manual', trigger: { type: 'record.created', object: 'zzz' }, steps: [{ id: 'x', type: 'record.create', input: { object: 'zzz2', values: { a: 1 } } }] });
  const refused = await hub.call('POST', `/v1/workflows/${notManual}/runs`, {});
  assert.equal(refused.statusCode, 409);
  assert.equal((refused.json() as { error: { code: string } }).error.code, 'WORKFLOW_NOT_MANUAL');
});

test('iterator inside a branch, branch inside an iterator; more items than maxItems fails the run clearly', async () => {
  await hub.sendRecords([['l1', 9], ['l2', 3], ['l3', 7]].map(([id, score]) => ({ type: 'record.created', object: 'leads2', recordId: id, record: { team: 'north', score } })));
  await eventually('leads projected', async () => (await record('leads2', 'l3')) !== null);
  const workflowId = await hub.activate({
    name: 'Heat', trigger: { type: 'manual', availability: 'global' },
    steps: [
      { id: 'find', type: 'record.search', input: { object: 'leads2', filter: { '==': [{ var: 'record.team' }, 'north'] }, sort: [{ field: 'score', direction: 'desc' }] } },
      { id: 'any', type: 'branch', input: { branches: [{ if: { '>': [{ var: 'steps.find.count' }, 0] }, steps: [
        { id: 'each', type: 'iterator', input: { items: '{{steps.find.records}}', steps: [
          { id: 'hot', type: 'branch', input: {
            branches: [{ if: { '>': [{ var: 'item.score' }, 5] }, steps: [{ id: 'warm', type: 'record.update', input: { object: 'leads2', recordId: '{{item.id}}', values: { heat: 'hot', rank: '{{index}}' } } }] }],
            else: [{ id: 'cool', type: 'record.update', input: { object: 'leads2', recordId: '{{item.id}}', values: { heat: 'cold', rank: '{{index}}' } } }],
          } },
        ] } },
      ] }] } },
    ],
  });
  const res = await hub.call('POST', `/v1/workflows/${workflowId}/runs`, {});
  const run = await hub.waitForRun((res.json() as { runIds: string[] }).runIds[0]!);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual((run.steps.find!.output as { records: { id: string }[] }).records.map((r) => r.id), ['l1', 'l3', 'l2'], 'sorted by score desc');
  assert.deepEqual(run.steps.each!.output, { count: 3 });
  assert.deepEqual(Object.keys(run.steps).sort(), ['any', 'cool[2]', 'each', 'find', 'hot[0]', 'hot[1]', 'hot[2]', 'warm[0]', 'warm[1]'].sort());
  const heat = await eventually('heat written', async () => {
    const all = await Promise.all(['l1', 'l2', 'l3'].map((id) => record('leads2', id)));
    return all.every((r) => r?.fields.heat) ? all.map((r) => [r!.recordId, r!.fields.heat, r!.fields.rank]) : null;
  });
  assert.deepEqual(heat, [['l1', 'hot', 0], ['l2', 'cold', 2], ['l3', 'hot', 1]], 'a whole-value template keeps the number');

  const capped = await hub.activate({ name: 'Capped', trigger: { type: 'manual', availability: 'global' }, steps: [
    { id: 'find', type: 'record.search', input: { object: 'leads2', filter: { '==': [{ var: 'record.team' }, 'north'] } } },
    { id: 'each', type: 'iterator', input: { items: '{{steps.find.records}}', maxItems: 2, steps: [{ id: 'u', type: 'record.update', input: { object: 'leads2', recordId: '{{item.id}}', values: { x: 1 } } }] } },
  ] });
  const failed = await hub.waitForRun(((await hub.call('POST', `/v1/workflows/${capped}/runs`, {})).json() as { runIds: string[] }).runIds[0]!);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'ITERATOR_TOO_MANY_ITEMS');
  assert.equal(failed.error?.stepKey, 'each');
  assert.match(failed.error!.message, /3 values, more than maxItems \(2\)/);
});

test('a run keeps the version it started with; activating a new version changes later runs', async () => {
  const def = (v: number) => ({ name: `Versioned v${v}`, trigger: { type: 'record.created', object: 'tickets' }, steps: [{ id: 'mark', type: 'record.create', input: { object: 'ticket_marks', values: { ticket: '{{trigger.recordId}}', by: `v${v}` } } }] });
  const workflowId = await hub.activate(def(1));
  assert.equal((await hub.call('PUT', `/v1/workflows/${workflowId}`, def(2))).statusCode, 200);
  await hub.sendRecords([{ type: 'record.created', object: 'tickets', recordId: 't1', record: { s: 1 } }]);
  const [first] = await onlyRun(workflowId);
  assert.equal(first!.version, 1, 'v2 is saved but not active');
  assert.equal((first!.steps.mark!.output as { record: { by: string } }).record.by, 'v1');
  assert.equal((await hub.call('POST', `/v1/workflows/${workflowId}/activate`)).statusCode, 200);
  await hub.sendRecords([{ type: 'record.created', object: 'tickets', recordId: 't2', record: { s: 2 } }]);
  const runs = await onlyRun(workflowId, 2);
  const second = runs.find((r) => (r.trigger as { recordId: string }).recordId === 't2')!;
  assert.equal(second.version, 2);
  assert.equal((second.steps.mark!.output as { record: { by: string } }).record.by, 'v2');
});

test('dry run of the draft: record writes are computed and shown, not performed', async () => {
  const created = await hub.call('POST', '/v1/workflows', {
    name: 'Dry', trigger: { type: 'record.created', object: 'people' },
    steps: [
      { id: 'find', type: 'record.search', input: { object: 'companies', filter: { '==': [{ var: 'record.domain' }, { var: 'trigger.record.domain' }] } } },
      { id: 'make', type: 'record.create', input: { object: 'dry_things', values: { owner: '{{trigger.record.name}}', companies: '{{steps.find.count}}' } } },
    ],
  });
  const workflowId = (created.json() as { workflowId: string }).workflowId;
  await hub.sendRecords([{ type: 'record.created', object: 'companies', recordId: 'dry-co', record: { domain: 'dry.test' } }]);
  await eventually('company projected', () => record('companies', 'dry-co'));
  const before = (await readTopic<RecordChanged>(hub.runtime, hub.runtime.topic(topics.records))).length;
  const res = await hub.call('POST', `/v1/workflows/${workflowId}/test`, { trigger: { record: { name: 'Sam', domain: 'dry.test' } } });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { dryRun: boolean; status: string; steps: { id: string; output: { count?: number; record?: Record<string, unknown>; dryRun?: { wouldPublish: RecordChanged } } }[] };
  assert.equal(body.dryRun, true);
  assert.equal(body.status, 'completed');
  assert.equal(body.steps[0]!.output.count, 1, 'reads are real');
  const wouldPublish = body.steps[1]!.output.dryRun!.wouldPublish;
  assert.equal(wouldPublish.type, 'record.created');
  assert.deepEqual(JSON.parse(wouldPublish.record!), { owner: 'Sam', companies: 1 });
  await sleep(300);
  assert.equal((await readTopic<RecordChanged>(hub.runtime, hub.runtime.topic(topics.records))).length, before, 'nothing was published');
  assert.equal(await hub.t.store.db.collection('records').countDocuments({ object: 'dry_things' }), 0);

  const bad = await hub.call('POST', `/v1/workflows/${workflowId}/test`, { trigger: 'nope' });
  assert.equal(bad.statusCode, 400);
  assert.equal((bad.json() as { error: { path: string } }).error.path, '/trigger');
});

test('a failed run records the step\'s error; retry resumes from the failed step without repeating completed ones', async () => {
  const workflowId = await hub.activate({ name: 'Needs person', trigger: { type: 'manual', availability: 'global' }, steps: [
    { id: 'note', type: 'record.create', input: { object: 'retry_notes', values: { text: 'before the update' } } },
    { id: 'update', type: 'record.update', input: { object: 'people', recordId: '{{trigger.input.personId}}', values: { contacted: true } } },
  ] });
  const runId = ((await hub.call('POST', `/v1/workflows/${workflowId}/runs`, { input: { personId: 'late-person' } })).json() as { runIds: string[] }).runIds[0]!;
  const failed = await hub.waitForRun(runId);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'RECORD_NOT_FOUND');
  assert.equal(failed.error?.stepKey, 'update');
  assert.equal(failed.steps.update!.status, 'failed');
  assert.equal(failed.steps.update!.error?.path, '/recordId');
  const noteAt = failed.steps.note!.endedAt;

  const early = await hub.call('POST', `/v1/runs/${runId}/cancel`);
  assert.equal(early.statusCode, 409, 'a failed run has ended');
  await hub.sendRecords([person('late-person', { name: 'Late' })]);
  await eventually('person projected', () => record('people', 'late-person'));
  const retry = await hub.call('POST', `/v1/runs/${runId}/retry`);
  assert.equal(retry.statusCode, 202, retry.body);
  const done = await hub.waitForRun(runId, ['completed']);
  assert.equal(done.attempt, 2);
  assert.equal(done.error, null);
  assert.equal(done.steps.note!.endedAt, noteAt, 'the completed step was not run again');
  assert.equal(done.steps.update!.status, 'completed');
  await eventually('contacted', async () => (await record('people', 'late-person'))?.fields.contacted === true);
  assert.equal(await hub.t.store.db.collection('records').countDocuments({ object: 'retry_notes' }), 1);
  const again = await hub.call('POST', `/v1/runs/${runId}/retry`);
  assert.equal(again.statusCode, 409);
  assert.equal((again.json() as { error: { code: string } }).error.code, 'RUN_NOT_RETRIABLE');
});

test('the loop guard stops a workflow that keeps triggering itself at the configured depth, with a clear run error', async () => {
  const workflowId = await hub.activate({ name: 'Echo', trigger: { type: 'record.updated', object: 'loops', fields: ['n'] }, steps: [
    { id: 'again', type: 'record.update', input: { object: 'loops', recordId: '{{trigger.recordId}}', values: { n: '{{trigger.record.n}}+' } } },
  ] });
  await hub.sendRecords([{ type: 'record.updated', object: 'loops', recordId: 'o1', record: { n: '0' }, updatedFields: ['n'] }]);
  const runs = await eventually('the chain to stop', async () => {
    const list = await hub.runsOf(workflowId);
    return list.some((r) => r.status === 'failed') ? list : null;
  }, 60_000);
  await sleep(1000);
  const all = await hub.runsOf(workflowId);
  assert.equal(all.length, 6, 'depths 0 to 5, then nothing more');
  assert.deepEqual(all.map((r) => r.depth).sort(), [0, 1, 2, 3, 4, 5]);
  const stopped = runs.find((r) => r.status === 'failed')!;
  assert.equal(stopped.depth, 5);
  assert.equal(stopped.error?.code, 'WORKFLOW_LOOP_DEPTH');
  assert.match(stopped.error!.message, /over the limit of 5/);
  assert.equal((await record('loops', 'o1'))?.fields.n, '0+++++');
});

test('runs API: bad input is refused with the field named', async () => {
  const workflowId = await hub.activate({ name: 'Listed', trigger: { type: 'manual', availability: 'global' }, steps: [{ id: 'n', type: 'record.create', input: { object: 'listed', values: { a: 1 } } }] });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(((await hub.call('POST', `/v1/workflows/${workflowId}/runs`, {})).json() as { runIds: string[] }).runIds[0]!);
  for (const id of ids) await hub.waitForRun(id);
  const page = (await hub.call('GET', `/v1/workflows/${workflowId}/runs?status=completed&limit=2`)).json() as { runs: { runId: string }[]; next: string };
  assert.equal(page.runs.length, 2);
  const rest = (await hub.call('GET', `/v1/workflows/${workflowId}/runs?status=completed&limit=2&before=${encodeURIComponent(page.next)}`)).json() as { runs: { runId: string }[] };
  assert.deepEqual([...page.runs, ...rest.runs].map((r) => r.runId).sort(), [...ids].sort());
  for (const [url, status, path] of [
    [`/v1/workflows/${workflowId}/runs?status=done`, 400, '/query/status'],
    [`/v1/workflows/${workflowId}/runs?limit=0`, 400, '/query/limit'],
    [`/v1/workflows/${workflowId}/runs?before=yesterday`, 400, '/query/before'],
    [`/v1/workflows/${workflowId}/runs?sort=asc`, 400, '/query/sort'],
    ['/v1/runs/run_000000000000000000000000', 404, '/params/runId'],
    ['/v1/runs/nonsense', 404, '/params/runId'],
    ['/v1/workflows/wf_00000000000000000000/runs', 404, '/params/workflowId'],
  ] as const) {
    const res = await hub.call('GET', url);
    assert.equal(res.statusCode, status, `${url}: ${res.body}`);
    assert.equal((res.json() as { error: { path: string } }).error.path, path);
  }
  const other = await hub.t.createWorkspace('other');
  assert.equal((await hub.call('GET', `/v1/runs/${ids[0]}`, undefined, other.apiKey)).statusCode, 404, 'another workspace cannot read the run');
  assert.equal((await hub.call('POST', `/v1/runs/${ids[0]}/cancel`, undefined, other.apiKey)).statusCode, 404);
  const ended = await hub.call('POST', `/v1/runs/${ids[0]}/cancel`);
  assert.equal(ended.statusCode, 409);
  assert.equal((ended.json() as { error: { code: string } }).error.code, 'RUN_ALREADY_ENDED');
});

test('record.delete step: the record becomes a tombstone through a caused record.deleted event; deleting it again is a clear run error', async () => {
  await hub.sendRecords([{ type: 'record.created', object: 'leads3', recordId: 'gone', record: { name: 'Old lead' } }]);
  await eventually('lead projected', () => record('leads3', 'gone'));
  const workflowId = await hub.activate({ name: 'Purge', trigger: { type: 'manual', availability: 'single', object: 'leads3' }, steps: [
    { id: 'purge', type: 'record.delete', input: { object: 'leads3', recordId: '{{trigger.record.id}}' } },
  ] });
  const runId = ((await hub.call('POST', `/v1/workflows/${workflowId}/runs`, { recordIds: ['gone'] })).json() as { runIds: string[] }).runIds[0]!;
  const run = await hub.waitForRun(runId);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.deepEqual(run.steps.purge!.output, { recordId: 'gone' });
  const tomb = await eventually('tombstone', async () => { const r = await record('leads3', 'gone'); return r?.deleted ? r : null; });
  assert.deepEqual(tomb.fields, { name: 'Old lead' }, 'a tombstone keeps the last fields');
  const events = (await readTopic<RecordChanged>(hub.runtime, hub.runtime.topic(topics.records))).map((m) => m.value).filter((e) => e.object === 'leads3' && e.type === 'record.deleted');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.causationDepth, 1);

  const again = await hub.activate({ name: 'Purge twice', trigger: { type: 'manual', availability: 'global' }, steps: [
    { id: 'purge', type: 'record.delete', input: { object: 'leads3', recordId: 'gone' } },
  ] });
  const failed = await hub.waitForRun(((await hub.call('POST', `/v1/workflows/${again}/runs`, {})).json() as { runIds: string[] }).runIds[0]!);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'RECORD_NOT_FOUND');
});

test('nested arrays: a rule with an "in" list is saved and runs, and records holding arrays of arrays are projected and read back', async () => {
  const workflowId = await hub.activate({ name: 'Stages', trigger: { type: 'record.created', object: 'deals', filter: { in: [{ var: 'record.stage' }, ['won', 'signed']] } }, steps: [
    { id: 'copy', type: 'record.create', input: { object: 'deal_copies', values: { grid: '{{trigger.record.grid}}', stage: '{{trigger.record.stage}}' } } },
  ] });
  const read = (await hub.call('GET', `/v1/workflows/${workflowId}`)).json() as { versions: { definition: { trigger: { filter: unknown } } }[] };
  assert.deepEqual(read.versions[0]!.definition.trigger.filter, { in: [{ var: 'record.stage' }, ['won', 'signed']] });
  await hub.sendRecords([
    { type: 'record.created', object: 'deals', recordId: 'd1', record: { stage: 'open', grid: [[0]] } },
    { type: 'record.created', object: 'deals', recordId: 'd2', record: { stage: 'won', grid: [[1, 2], [3, 4]] } },
  ]);
  const [run] = await onlyRun(workflowId);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));
  const copyId = (run!.steps.copy!.output as { record: { id: string } }).record.id;
  const copy = await eventually('copy projected', () => record('deal_copies', copyId));
  assert.deepEqual(copy.fields, { grid: [[1, 2], [3, 4]], stage: 'won' });
  const api = await hub.call('GET', '/v1/records/deals/d2');
  assert.deepEqual((api.json() as { record: unknown }).record, { stage: 'won', grid: [[1, 2], [3, 4]] });
});

test('dry run with code, http and email steps: code runs, the request and the email are shown, nothing is sent', async () => {
  const { createServer } = await import('node:http');
  let calls = 0;
  const server = createServer((_req, res) => { calls += 1; res.end('{}'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/customers`;
  try {
    assert.equal((await hub.call('POST', '/v1/credentials', { name: 'dry-billing', type: 'bearer', token: 'sk_test_dryrun_0123456789abcdef' })).statusCode, 201);
    const created = await hub.call('POST', '/v1/workflows', {
      name: 'Dry integrations', trigger: { type: 'manual', availability: 'global' },
      steps: [
        { id: 'shape', type: 'code', input: { source: 'return { name: input.name.toUpperCase(), cents: Math.round(input.amount * 100) };', input: { name: '{{trigger.input.name}}', amount: '{{trigger.input.amount}}' } } },
        { id: 'bill', type: 'http', input: { method: 'POST', url, body: { name: '{{steps.shape.result.name}}', amount: '{{steps.shape.result.cents}}' }, auth: { credential: 'dry-billing' } } },
        { id: 'tell', type: 'email', input: { to: 'finance@acme.test', subject: 'Billed {{steps.shape.result.name}}', text: 'Amount: {{steps.shape.result.cents}}' } },
      ],
    });
    const workflowId = (created.json() as { workflowId: string }).workflowId;
    const res = await hub.call('POST', `/v1/workflows/${workflowId}/test`, { trigger: { input: { name: 'acme', amount: 12.5 } } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { status: string; steps: { id: string; output: Record<string, unknown> }[] };
    assert.equal(body.status, 'completed');
    const [shape, bill, tell] = body.steps;
    assert.deepEqual(shape!.output.result, { name: 'ACME', cents: 1250 });
    const wouldRequest = (bill!.output.dryRun as { wouldRequest: { method: string; url: string; headers: Record<string, string>; body: unknown } }).wouldRequest;
    assert.equal(wouldRequest.method, 'POST');
    assert.equal(wouldRequest.url, url);
    assert.deepEqual(wouldRequest.body, { name: 'ACME', amount: 1250 });
    assert.equal(wouldRequest.headers.authorization, '[credential dry-billing]');
    assert.doesNotMatch(res.body, /sk_test_dryrun/, 'the secret is never shown');
    assert.deepEqual((tell!.output.dryRun as { wouldSend: Record<string, unknown> }).wouldSend, { to: ['finance@acme.test'], cc: [], subject: 'Billed ACME', text: 'Amount: 1250', html: null });
    assert.equal(calls, 0, 'no request was sent');
  } finally {
    server.close();
  }
});

test('runs pages never skip or repeat a run, even when many share a queuedAt', async () => {
  const workflowId = await hub.activate({ name: 'Bulk listed', trigger: { type: 'manual', availability: 'bulk', object: 'bulked' }, steps: [{ id: 'n', type: 'record.create', input: { object: 'bulked_log', values: { of: '{{trigger.record.id}}' } } }] });
  const recordIds = Array.from({ length: 25 }, (_, i) => `b${i}`);
  await hub.sendRecords(recordIds.map((id) => ({ type: 'record.created', object: 'bulked', recordId: id, record: { n: id } })));
  await eventually('records projected', async () => (await Promise.all(recordIds.map((id) => hub.t.store.db.collection('records').findOne({ workspaceId: hub.workspaceId, object: 'bulked', recordId: id })))).every(Boolean), 30_000);
  // One request: every run is queued at the same instant.
  const started = (await hub.call('POST', `/v1/workflows/${workflowId}/runs`, { recordIds })).json() as { runIds: string[] };
  assert.equal(started.runIds.length, 25);
  const listed: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await hub.call('GET', `/v1/workflows/${workflowId}/runs?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json() as { runs: { runId: string; queuedAt: string }[]; nextCursor: string | null };
    listed.push(...page.runs.map((r) => r.runId));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null && pages < 20);
  assert.equal(listed.length, 25, 'no run repeated or skipped');
  assert.deepEqual([...listed].sort(), [...started.runIds].sort());
  const bad = await hub.call('GET', `/v1/workflows/${workflowId}/runs?cursor=not-ours`);
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.path, '/query/cursor');
});

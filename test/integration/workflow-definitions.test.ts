/** Workflow definitions: versions, activation (with the webhook trigger's hook), the hub.workflows topic. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { readTopic, topicSize } from '../support/topic.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { WorkflowChanged, WebhookReceived } from '../../libs/kafka/events.ts';
import { generateSecret, sign } from '../../libs/webhooks/standard.ts';

let t: TestIngress;
let auth: Record<string, string>;
before(async () => {
  t = await startTestIngress('workflows');
  auth = { authorization: `Bearer ${(await t.createWorkspace()).apiKey}` };
});
after(async () => { await t?.close(); });

const webForm = (secret?: string) => ({
  name: 'Web form submission',
  trigger: { type: 'webhook', methods: ['POST'], expectedBody: { name: { type: 'string', required: true }, email: { type: 'string', required: true, format: 'email' } }, ...(secret ? { secret } : {}) },
  steps: [
    { id: 'find', type: 'record.search', input: { object: 'people', filter: { '==': [{ var: 'record.email' }, { var: 'trigger.body.email' }] }, limit: 1 } },
    { id: 'upsert', type: 'branch', input: {
      branches: [{ if: { '>': [{ var: 'steps.find.count' }, 0] }, steps: [{ id: 'update', type: 'record.update', input: { object: 'people', recordId: '{{steps.find.records.0.id}}', values: { name: '{{trigger.body.name}}' } } }] }],
      else: [{ id: 'create', type: 'record.create', input: { object: 'people', values: { name: '{{trigger.body.name}}', email: '{{trigger.body.email}}' } } }],
    } },
  ],
});
const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
  t.app.inject({ method, url, headers: auth, ...(payload === undefined ? {} : { payload: payload as object }) });

test('create (version 1, draft), save versions, read them back, and every change is on hub.workflows', async () => {
  const created = await call('POST', '/v1/workflows', webForm());
  assert.equal(created.statusCode, 201, created.body);
  const { workflowId, version, status } = created.json() as { workflowId: string; version: number; status: string };
  assert.deepEqual({ version, status }, { version: 1, status: 'draft' });
  const v2 = await call('PUT', `/v1/workflows/${workflowId}`, { ...webForm(), name: 'Web form v2' });
  assert.equal(v2.statusCode, 200, v2.body);
  assert.equal(v2.json().version, 2);
  const read = (await call('GET', `/v1/workflows/${workflowId}`)).json() as { name: string; version: number; versions: { version: number; definition: { name: string } }[] };
  assert.equal(read.name, 'Web form v2');
  assert.deepEqual(read.versions.map((v) => [v.version, v.definition.name]), [[1, 'Web form submission'], [2, 'Web form v2']]);
  const list = (await call('GET', '/v1/workflows')).json() as { workflows: { workflowId: string }[] };
  assert.ok(list.workflows.some((w) => w.workflowId === workflowId));

  const records = (await readTopic<WorkflowChanged>(t.runtime, t.runtime.topic(topics.workflows))).filter((m) => m.value.workflowId === workflowId);
  assert.deepEqual(records.map((m) => m.key).sort(), [workflowId, workflowId, `${workflowId}#v1`, `${workflowId}#v2`].sort());
  const v1 = records.find((m) => m.key === `${workflowId}#v1`)!.value;
  assert.equal(v1.kind, 'version');
  assert.equal(JSON.parse(v1.definition!).steps[0].id, 'find');
});

test('an invalid definition is a 400 naming the path of the first problem, and nothing is saved', async () => {
  const size = await topicSize(t.runtime, t.runtime.topic(topics.workflows));
  const dup = webForm() as Omit<ReturnType<typeof webForm>, 'steps'> & { steps: unknown[] };
  dup.steps.push({ id: 'find', type: 'record.search', input: { object: 'people', filter: { '==': [1, 1] }, limit: 1 } });
  for (const [body, path] of [
    [{ ...webForm(), steps: [{ id: 'x', type: 'teleport', input: {} }] }, '/steps/0/type'],
    [dup, '/steps/2/id'],
    [{ ...webForm(), trigger: { type: 'schedule', cron: '61 * * * *' } }, '/trigger/cron'],
  ] as const) {
    const res = await call('POST', '/v1/workflows', body);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, 'WORKFLOW_INVALID');
    assert.ok(String(res.json().error.path).startsWith(path), `${res.json().error.path} should start with ${path}`);
  }
  assert.equal(await topicSize(t.runtime, t.runtime.topic(topics.workflows)), size);
  assert.equal((await call('PUT', '/v1/workflows/wf_00000000000000000000', webForm())).statusCode, 404);
});

test('activating a webhook workflow creates its signed hook; deliveries carry the workflow id; deactivating answers 410', async () => {
  const secret = generateSecret();
  const { workflowId } = (await call('POST', '/v1/workflows', webForm(secret))).json() as { workflowId: string };
  const shown = (await call('GET', `/v1/workflows/${workflowId}`)).body;
  assert.ok(!shown.includes(secret.slice(6)), 'the secret is never shown');
  const active = await call('POST', `/v1/workflows/${workflowId}/activate`);
  assert.equal(active.statusCode, 200, active.body);
  const { status, activeVersion, hook } = active.json() as { status: string; activeVersion: number; hook: { hookId: string; url: string } };
  assert.deepEqual({ status, activeVersion }, { status: 'active', activeVersion: 1 });
  assert.match(hook.url, /\/hooks\/hk_/);

  const body = JSON.stringify({ name: 'Ada', email: 'ada@example.com' });
  const now = Math.floor(Date.now() / 1000);
  const unsigned = await t.app.inject({ method: 'POST', url: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json' }, payload: body });
  assert.equal(unsigned.statusCode, 401);
  const signed = await t.app.inject({ method: 'POST', url: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json', 'webhook-id': 'w1', 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, 'w1', now, body) }, payload: body });
  assert.equal(signed.statusCode, 202, signed.body);
  const delivered = (await readTopic<WebhookReceived>(t.runtime, t.runtime.topic(topics.webhooks))).find((m) => m.value.hookId === hook.hookId);
  assert.equal(delivered?.value.workflowId, workflowId);

  // A new version does not change what runs until it is activated.
  await call('PUT', `/v1/workflows/${workflowId}`, { ...webForm(secret), name: 'edited' });
  const after = (await call('GET', `/v1/workflows/${workflowId}`)).json() as { version: number; activeVersion: number; status: string };
  assert.deepEqual([after.version, after.activeVersion, after.status], [2, 1, 'active']);

  const off = await call('POST', `/v1/workflows/${workflowId}/deactivate`);
  assert.equal(off.json().status, 'inactive');
  const refused = await t.app.inject({ method: 'POST', url: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json' }, payload: body });
  assert.equal(refused.statusCode, 410);
});

test('another workspace cannot see, change or activate a workflow', async () => {
  const { workflowId } = (await call('POST', '/v1/workflows', webForm())).json() as { workflowId: string };
  const other = { authorization: `Bearer ${(await t.createWorkspace('other')).apiKey}` };
  for (const [method, url, payload] of [
    ['GET', `/v1/workflows/${workflowId}`, undefined],
    ['PUT', `/v1/workflows/${workflowId}`, webForm()],
    ['POST', `/v1/workflows/${workflowId}/activate`, undefined],
    ['POST', `/v1/workflows/${workflowId}/deactivate`, undefined],
  ] as const) {
    const res = await t.app.inject({ method, url, headers: other, ...(payload ? { payload } : {}) });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
  }
  assert.ok(!(await t.app.inject({ method: 'GET', url: '/v1/workflows', headers: other })).body.includes(workflowId));
});

/**
 * The action executor as a process, killed (SIGKILL) between a step's effect and the
 * step's record, then restarted: every run completes, and no step is done twice.
 * The matcher and the projector run as processes too; the API is in-process.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { envFor, startService, type ServiceProcess } from '../support/process.ts';
import { eventually } from '../support/env.ts';
import { readTopic } from '../support/topic.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import { createRunStore } from '../../libs/store/runs.ts';
import { sleep } from '../../libs/time/sleep.ts';

const ingresses: TestIngress[] = [];
const processes: ServiceProcess[] = [];
after(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  await Promise.all(ingresses.map((t) => t.close()));
});

/**
 * Invoices → a ledger entry (record.create) → the invoice posted (record.update); the
 * executor process kills itself right after the effect of step `crashAfter` in the
 * first run that reaches it, and is restarted.
 */
async function crashScenario(label: string, crashAfter: 'entry' | 'post') {
  const t = await startTestIngress(label);
  ingresses.push(t);
  const ws = await t.createWorkspace();
  const call = (method: 'POST' | 'GET', url: string, payload?: unknown) => t.app.inject({ method, url, headers: { authorization: `Bearer ${ws.apiKey}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const marker = path.join(mkdtempSync(path.join(tmpdir(), 'hub-failpoint-')), 'fired');
  const env = envFor(t.config, { HUB_FAILPOINTS: `after-step-effect:${crashAfter}`, HUB_FAILPOINT_MARKER: marker });

  const created = await call('POST', '/v1/workflows', {
    name: 'Post invoices', trigger: { type: 'record.created', object: 'invoices' },
    steps: [
      { id: 'entry', type: 'record.create', input: { object: 'ledger', values: { invoice: '{{trigger.recordId}}', amount: '{{trigger.record.amount}}' } } },
      { id: 'post', type: 'record.update', input: { object: 'invoices', recordId: '{{trigger.recordId}}', values: { posted: true, entry: '{{steps.entry.record.id}}' } } },
    ],
  });
  const workflowId = (created.json() as { workflowId: string }).workflowId;
  assert.equal((await call('POST', `/v1/workflows/${workflowId}/activate`)).statusCode, 200);

  for (const name of ['record-projector', 'trigger-matcher']) {
    const p = startService(name, env);
    processes.push(p);
    await p.started;
  }
  const first = startService('action-executor', env);
  processes.push(first);
  await first.started;

  const n = 30;
  const sent = await call('POST', '/v1/events', { events: Array.from({ length: n }, (_, i) => ({ type: 'record.created', object: 'invoices', recordId: `inv${i}`, record: { amount: 100 + i } })) });
  assert.equal(sent.statusCode, 202, sent.body);

  const code = await Promise.race([first.exited, sleep(60_000).then(() => 'still running')]);
  assert.notEqual(code, 'still running', 'the failpoint killed the executor');
  assert.ok(existsSync(marker), 'killed at the failpoint');
  assert.match(readFileSync(marker, 'utf8'), new RegExp(`after-step-effect:${crashAfter}`));

  const second = startService('action-executor', env);
  processes.push(second);
  await second.started;

  const runs = createRunStore(t.store.db);
  const all = await eventually(`${n} runs completed`, async () => {
    const list = await runs.list(ws.workspaceId, workflowId, { limit: 1000 });
    return list.length === n && list.every((r) => r.status === 'completed') ? list : null;
  }, 120_000, 250);
  assert.ok(all.every((r) => r.steps.entry!.status === 'completed' && r.steps.post!.status === 'completed'));

  // One ledger entry per invoice: the repeated effect was the same event (same id), applied once.
  const records = t.store.db.collection('records');
  await eventually('every invoice posted', async () => (await records.countDocuments({ object: 'invoices', 'fields.posted': true })) === n, 60_000, 250);
  assert.equal(await records.countDocuments({ object: 'ledger' }), n);
  const ledgerEvents = (await readTopic<RecordChanged>(t.runtime, t.runtime.topic(topics.records))).map((m) => m.value).filter((e) => e.object === 'ledger');
  const distinct = new Set(ledgerEvents.map((e) => e.eventId));
  assert.equal(distinct.size, n, 'one ledger event id per run');
  assert.ok(ledgerEvents.length <= n + 1, `at most the interrupted effect was published again (${ledgerEvents.length} messages)`);
  for (const r of all) {
    const entryId = (r.steps.entry!.output as { record: { id: string } }).record.id;
    const invoice = await records.findOne({ object: 'invoices', recordId: (r.trigger as { recordId: string }).recordId });
    assert.equal((invoice!.fields as { entry: string }).entry, entryId, 'the post step used the entry the run recorded');
  }
  // The interrupted run (if its effect reached Kafka before the kill) published the same event again on restart.
  const repeatedSources = [...distinct].map((id) => ledgerEvents.filter((e) => e.eventId === id)).filter((same) => same.length > 1).map((same) => same[0]!.source);
  assert.ok(repeatedSources.length <= 1);
  for (const source of repeatedSources) {
    const run = all.find((r) => source.endsWith(r.runId))!;
    assert.equal(run.steps.entry!.attempts, 1, 'the re-executed step was one attempt: it found its own effect');
  }
  return { ledgerEvents, n, t };
}

test('killed between a step\'s effect and its record, the restarted executor completes every run without doing a step twice', async () => {
  await crashScenario('execcrash1', 'entry');
});

test('killed after a later step\'s effect, the restarted executor resumes from hub.runs: recorded steps are not run again', async () => {
  // The entry step's record was on hub.runs (perhaps not yet in the projection, which
  // is written behind): the restore reads it from the log, so no entry is published twice.
  const { ledgerEvents, n, t } = await crashScenario('execcrash2', 'post');
  assert.equal(ledgerEvents.length, n, 'every ledger event published exactly once');
  const posted = (await readTopic<RecordChanged>(t.runtime, t.runtime.topic(topics.records))).map((m) => m.value).filter((e) => e.object === 'invoices' && e.type === 'record.updated');
  assert.equal(new Set(posted.map((e) => e.eventId)).size, n);
});

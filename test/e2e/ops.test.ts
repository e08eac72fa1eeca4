/**
 * Operating the hub, on the real stack with every service as a process (ops included):
 * topics and consumer groups with lag in messages and seconds, lag that rises while a
 * consumer is stopped and falls after, alerts by email and chat (fired and resolved),
 * the DLQ listed decoded and masked and redriven once, replays planned and run, a
 * projection rebuilt and verified, a workflow backfilled without starting a run twice,
 * Prometheus series at the hub's address; bad input and another workspace's key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startE2EHub, type E2EHub } from '../support/e2e-hub.ts';
import { seededRandom } from '../support/random.ts';
import { eventually, testLogger } from '../support/env.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';

let hub: E2EHub;
let runtime: KafkaRuntime;
let adminToken: string;
let other: { workspaceId: string; apiKey: string };
const chat: { body: string }[] = [];
let chatServer: http.Server;
let chatUrl: string;
const startedAt = Date.now();

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${hub.url}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Json : {} };
}
const asAdmin = (method: string, path: string, body?: unknown) => call(method, path, adminToken, body);

before(async () => {
  chatServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += String(c); });
    req.on('end', () => { chat.push({ body }); res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'); });
  });
  await new Promise<void>((r) => chatServer.listen(0, '127.0.0.1', r));
  chatUrl = `http://127.0.0.1:${(chatServer.address() as { port: number }).port}/hooks/T0/B0/secret`;
  hub = await startE2EHub('ops', { HUB_OPS_ALERT_EVERY_MS: '500', HUB_OPS_STALL_AFTER_MS: '2000' });
  adminToken = hub.adminToken;
  runtime = await startKafkaRuntime(hub.config, testLogger('ops-test'));
  other = (await asAdmin('POST', '/v1/admin/workspaces', { name: 'someone else' })).body as { workspaceId: string; apiKey: string };
});

after(async () => {
  // The services' logs, for whoever reads a failure.
  mkdirSync('test-output/logs', { recursive: true });
  for (const [name, s] of hub?.services ?? []) writeFileSync(`test-output/logs/ops-${name}.log`, s.output());
  await runtime?.close();
  await hub?.close();
  chatServer?.close();
});

test('topics: every hub topic with partitions, offsets, rates, retention and compaction; the admin token is required', async () => {
  await hub.sendRecords([{ type: 'record.created', object: 'people', recordId: 'p0', record: { name: 'Ada' } }]);
  const res = await eventually('topics with crm.records written', async () => {
    const r = await asAdmin('GET', '/v1/admin/topics');
    const t = (r.body.topics as Json[] | undefined)?.find((x) => x.topic === 'crm.records');
    return t && t.endOffset > 0 ? r : null;
  });
  assert.equal(res.status, 200);
  const names = (res.body.topics as Json[]).map((t) => t.topic);
  for (const t of Object.values(topics)) assert.ok(names.includes(t.name), `${t.name} listed`);
  const records = (res.body.topics as Json[]).find((t) => t.topic === 'crm.records')!;
  assert.equal(records.partitions.length, hub.config.topicPartitions);
  assert.equal(records.retentionMs, 30 * 24 * 3600 * 1000);
  assert.equal(records.compacted, false);
  assert.ok('1m' in records.messagesInPerSec && '5m' in records.bytesInPerSec);
  assert.equal((res.body.topics as Json[]).find((t) => t.topic === 'hub.workflows')!.compacted, true);
  assert.equal((await call('GET', '/v1/admin/topics', hub.apiKey)).status, 401);
});

test('consumers: lag in messages and seconds rises while a consumer is stopped and falls after; alerts fire and resolve by email and chat', async () => {
  const put = await asAdmin('PUT', '/v1/admin/alerts', {
    rules: [
      { id: 'projector-behind', when: 'lag_seconds_above', group: 'record-projector', seconds: 0, forMinutes: 0 },
      { id: 'projector-gone', when: 'group_no_members', group: 'record-projector' },
    ],
    channels: { email: ['oncall@example.test'], chat: [chatUrl] },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body.channels.chat, [{ host: new URL(chatUrl).host, credential: 'ops-alerts-chat-0' }], 'the webhook URL is not shown back');
  // Idle first: nothing waits, and an idle group is never lagging.
  await eventually('record-projector idle', async () => {
    const g = (await asAdmin('GET', '/v1/admin/consumers')).body.groups?.find((x: Json) => x.group === 'record-projector');
    return g && g.status === 'idle' && g.members.length > 0 ? g : null;
  });

  await hub.stop('record-projector');
  await hub.sendRecords(Array.from({ length: 20 }, (_, i) => ({ type: 'record.created', object: 'people', recordId: `lag${i}`, record: { name: `P${i}` } })));
  const lagging = await eventually('record-projector behind by 20 messages, in seconds too', async () => {
    const g = (await asAdmin('GET', '/v1/admin/consumers')).body.groups?.find((x: Json) => x.group === 'record-projector');
    return g && g.lagMessages >= 20 && g.lagSeconds > 0 ? g : null;
  }, 60_000, 500);
  assert.equal(lagging.members.length, 0);
  const p = (lagging.partitions as Json[]).find((x) => x.lagMessages > 0)!;
  for (const k of ['partition', 'committedOffset', 'endOffset', 'lagMessages', 'lagSeconds', 'status']) assert.ok(k in p, k);
  assert.equal(p.status, 'stalled', 'messages wait and nobody consumes');
  const mails = await hub.smtp.waitForMessages(1, 30_000);
  assert.match(mails[0]!.subject, /\[hub ALERT\] projector-(behind|gone) on record-projector/);
  await eventually('the chat webhook was posted', async () => chat.length > 0, 30_000);
  assert.match(chat[0]!.body, /ALERT/);
  const metrics = await (await fetch(`${hub.url}/metrics`)).text();
  assert.match(metrics, /^hub_consumer_lag_messages\{group="record-projector",topic="crm\.records",partition="\d+"\} [1-9]\d*$/m);
  assert.match(metrics, /^hub_consumer_lag_seconds\{group="record-projector",topic="crm\.records",partition="\d+"\} [\d.]+$/m);
  assert.match(metrics, /^hub_topic_messages_in_total\{topic="crm\.records",partition="\d+"\} \d+$/m);
  assert.match(metrics, /^hub_alerts_firing [1-9]/m);

  await hub.restart('record-projector');
  await eventually('record-projector caught up', async () => {
    const g = (await asAdmin('GET', '/v1/admin/consumers')).body.groups?.find((x: Json) => x.group === 'record-projector');
    return g && g.lagMessages === 0 && g.status === 'idle' ? g : null;
  }, 60_000, 500);
  const resolved = await eventually('resolved messages', async () => {
    const all = hub.smtp.messages.filter((m) => m.subject.startsWith('[hub resolved]'));
    return all.length >= 2 ? all : null;
  }, 30_000, 200);
  assert.ok(resolved.some((m) => m.subject.includes('projector-behind')));
  assert.ok(chat.some((c) => c.body.includes('resolved')));
  const history = await asAdmin('GET', '/v1/admin/consumers/record-projector');
  assert.equal(history.status, 200);
  assert.ok((history.body.history as Json[]).some((h) => h.lagMessages >= 20), 'the hour of history shows the rise');
  await asAdmin('PUT', '/v1/admin/alerts', { rules: [] });
});

test('alerts, consumers: bad input is a 400 naming the field', async () => {
  const unknown = await asAdmin('GET', '/v1/admin/consumers/no-such-group');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.code, 'GROUP_UNKNOWN');
  assert.equal(unknown.body.error.path, '/params/group');
  const badRule = await asAdmin('PUT', '/v1/admin/alerts', { rules: [{ id: 'x', when: 'lag_seconds_above' }] });
  assert.equal(badRule.status, 400);
  assert.equal(badRule.body.error.path, '/rules/0/seconds');
  const badKind = await asAdmin('PUT', '/v1/admin/alerts', { rules: [{ id: 'x', when: 'sometimes' }] });
  assert.equal(badKind.status, 400);
  assert.equal(badKind.body.error.path, '/rules/0/when');
  const badGroup = await asAdmin('PUT', '/v1/admin/alerts', { rules: [{ id: 'x', when: 'group_stalled', group: 'nope' }] });
  assert.equal(badGroup.status, 400);
  assert.equal(badGroup.body.error.path, '/rules/0/group');
});

test('DLQ: a parked message is listed decoded and masked, redriven once; a workspace sees and redrives only its own', async () => {
  const eventId = randomUUID();
  const poison: RecordChanged = {
    eventId, type: 'record.created', workspaceId: hub.workspaceId, occurredAt: Date.now(), correlationId: eventId, causationId: null, causationDepth: 0,
    source: 'test', object: 'people', recordId: 'poison', version: 1, record: null,
    before: JSON.stringify({ name: 'Eve', password: 'hunter2', note: 'token sk_live_4eC39HqLyjWDarjtT1zdp7dc' }), updatedFields: [],
  };
  // Header names with dots, as the hub's own carry: the store takes no such field names, the index must.
  await runtime.bus.publish(runtime.topic(topics.records), [{ key: `${hub.workspaceId}:people:poison`, value: poison, headers: { 'hub.event-id': eventId, 'x.trace.id': 't-1' } }]);
  const listed = await eventually('the parked message listed', async () => {
    const r = await asAdmin('GET', '/v1/admin/dlq/record-projector');
    return (r.body.messages as Json[] | undefined)?.find((m) => m.value?.eventId === eventId) ?? null;
  }, 60_000, 500);
  assert.equal(listed.topic, 'crm.records');
  assert.equal(listed.error.code, 'RECORD_EVENT_INVALID');
  assert.equal(listed.workspaceId, hub.workspaceId);
  assert.equal(listed.key, `${hub.workspaceId}:people:poison`);
  assert.equal(listed.headers['hub.event-id'], eventId);
  assert.equal(listed.headers['x.trace.id'], 't-1');
  assert.ok(Number.isInteger(listed.partition) && Number.isInteger(listed.offset) && listed.parkedAt);
  const before = JSON.parse(listed.value.before as string) as Json;
  assert.equal(before.password, '[masked]');
  assert.equal(before.note, '[masked]');
  assert.equal(before.name, 'Eve');
  // Masked in the stored copy, not only on screen.
  const stored = await hub.store.db.collection('dlq_messages').findOne({ _id: listed.id });
  assert.doesNotMatch(JSON.stringify(stored), /hunter2|sk_live/);

  // Another workspace sees none of it and cannot redrive it.
  assert.deepEqual((await call('GET', '/v1/dlq', other.apiKey)).body.messages, []);
  const foreign = await call('POST', '/v1/dlq/redrive', other.apiKey, { ids: [listed.id] });
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.error.path, '/ids/0');
  const mine = await call('GET', '/v1/dlq', hub.apiKey);
  assert.ok((mine.body.messages as Json[]).some((m) => m.id === listed.id));

  const dry = await call('POST', '/v1/dlq/redrive', hub.apiKey, { ids: [listed.id], dryRun: true });
  assert.equal(dry.status, 200);
  assert.deepEqual(dry.body.redriven.map((r: Json) => r.id), [listed.id]);
  assert.equal((await asAdmin('GET', `/v1/admin/dlq/record-projector/${encodeURIComponent(listed.id as string)}`)).body.status, 'parked', 'a dry run changes nothing');
  const done = await asAdmin('POST', '/v1/admin/dlq/record-projector/redrive', { ids: [listed.id] });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.deepEqual(done.body.redriven.map((r: Json) => r.id), [listed.id]);
  const again = await asAdmin('POST', '/v1/admin/dlq/record-projector/redrive', { ids: [listed.id] });
  assert.deepEqual(again.body.redriven, []);
  assert.match(again.body.skipped[0].reason, /already redriven/);
  // The redriven message is consumed again (and, still invalid, parked again as a new entry).
  await eventually('parked again after the redrive', async () => {
    const r = await asAdmin('GET', '/v1/admin/dlq/record-projector');
    return (r.body.messages as Json[]).filter((m) => m.value?.eventId === eventId).length >= 2;
  }, 60_000, 500);
  const metrics = await (await fetch(`${hub.url}/metrics`)).text();
  assert.match(metrics, /^hub_dlq_messages\{group="record-projector",topic="crm\.records",partition="\d+"\} [1-9]/m);

  const unknownGroup = await asAdmin('GET', '/v1/admin/dlq/nobody');
  assert.equal(unknownGroup.status, 400);
  assert.equal(unknownGroup.body.error.path, '/params/group');
  const unknownId = await asAdmin('POST', '/v1/admin/dlq/record-projector/redrive', { ids: ['record-projector:0:999999'] });
  assert.equal(unknownId.status, 400);
  assert.equal(unknownId.body.error.code, 'DLQ_MESSAGE_UNKNOWN');
  assert.equal(unknownId.body.error.path, '/ids/0');
  const badBody = await asAdmin('POST', '/v1/admin/dlq/record-projector/redrive', { ids: 'all' });
  assert.equal(badBody.status, 400);
  assert.equal(badBody.body.error.path, '/ids');
});

test('replays: a dry run answers the plan; a real replay reads with its own group and changes nothing; bad windows and offsets are 400s with their path', async () => {
  const plan = await asAdmin('POST', '/v1/admin/replays', { group: 'record-projector', from: { timestamp: new Date(startedAt - 60_000).toISOString() }, dryRun: true });
  assert.equal(plan.status, 200, JSON.stringify(plan.body));
  assert.ok(plan.body.messages >= 21);
  for (const e of plan.body.plan as Json[]) {
    assert.equal(e.topic, 'crm.records');
    assert.equal(e.messages, e.toOffset - e.fromOffset);
  }
  const before = await hub.records('people');
  const started = await asAdmin('POST', '/v1/admin/replays', { group: 'record-projector', from: { timestamp: startedAt - 60_000 } });
  assert.equal(started.status, 202);
  const done = await eventually('the replay done', async () => {
    const r = await asAdmin('GET', `/v1/admin/replays/${started.body.id as string}`);
    return r.body.status === 'done' ? r.body : null;
  }, 60_000, 300);
  assert.equal(done.progress.done, done.progress.total);
  assert.equal(done.result.applied, 0, 'every change was already applied: replaying changes nothing');
  assert.deepEqual(await hub.records('people'), before);
  const groups = (await asAdmin('GET', '/v1/admin/consumers')).body.groups as Json[];
  assert.ok(!groups.some((g) => String(g.group).startsWith('ops.')), 'the replay\'s own group is not listed as a hub group');

  const unknown = await asAdmin('POST', '/v1/admin/replays', { group: 'nobody', from: { timestamp: 0 }, dryRun: true });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.code, 'GROUP_UNKNOWN');
  assert.equal(unknown.body.error.path, '/group');
  const future = await asAdmin('POST', '/v1/admin/replays', { group: 'record-projector', from: { timestamp: new Date(Date.now() + 3_600_000).toISOString() }, dryRun: true });
  assert.equal(future.status, 400);
  assert.equal(future.body.error.code, 'REPLAY_WINDOW_INVALID');
  assert.equal(future.body.error.path, '/from/timestamp');
  const outOfRange = await asAdmin('POST', '/v1/admin/replays', { group: 'record-projector', from: { offsets: { 'crm.records': { 0: 10_000_000 } } }, dryRun: true });
  assert.equal(outOfRange.status, 400);
  assert.equal(outOfRange.body.error.code, 'OFFSETS_OUT_OF_RANGE');
  assert.equal(outOfRange.body.error.path, '/from/offsets/crm.records/0');
  const noPartition = await asAdmin('POST', '/v1/admin/replays', { group: 'record-projector', from: { offsets: { 'crm.records': { 99: 0 } } }, dryRun: true });
  assert.equal(noPartition.body.error.path, '/from/offsets/crm.records/99');
  const external = await asAdmin('POST', '/v1/admin/replays', { group: 'notifier', from: { timestamp: 0 }, dryRun: true });
  assert.equal(external.body.error.code, 'REPLAY_UNSUPPORTED');
  const badFrom = await asAdmin('POST', '/v1/admin/replays', { group: 'record-projector', from: { when: 'yesterday' } });
  assert.equal(badFrom.status, 400);
  assert.match(String(badFrom.body.error.path), /^\/from/);
  assert.equal((await asAdmin('GET', '/v1/admin/replays/rp_nope')).status, 404);
  assert.equal((await call('POST', '/v1/admin/replays', hub.apiKey, { group: 'record-projector', from: { timestamp: 0 }, dryRun: true })).status, 401);
});

test('projection rebuild: into a shadow collection, switched while the live one serves; two rebuilds hash the same', async () => {
  const before = await hub.records('people');
  const started = await asAdmin('POST', '/v1/admin/replays', { projection: 'records' });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const done = await eventually('the rebuild done', async () => {
    const r = await asAdmin('GET', `/v1/admin/replays/${started.body.id as string}`);
    if (r.body.status === 'failed') throw new Error(JSON.stringify(r.body.error));
    return r.body.status === 'done' ? r.body : null;
  }, 90_000, 500);
  assert.match(done.result.collection, /^records__rp_/);
  const pointer = await hub.store.db.collection('projections').findOne({ _id: 'records' as never });
  assert.equal(pointer?.active, done.result.collection);
  // Readers follow the pointer (cached about a second).
  await eventually('records read from the rebuilt collection', async () => isDeepStrictEqual(await hub.records('people'), before), 10_000, 200);
  const verify = await asAdmin('POST', '/v1/admin/projections/records/verify');
  assert.equal(verify.status, 202);
  const v = await eventually('the verification done', async () => {
    const r = await asAdmin('GET', `/v1/admin/replays/${verify.body.id as string}`);
    return r.body.status === 'done' ? r.body : null;
  }, 90_000, 500);
  assert.equal(v.result.identical, true);
  assert.equal(v.result.hashes[0], v.result.hashes[1]);
  const unknown = await asAdmin('POST', '/v1/admin/replays', { projection: 'runs-by-color', dryRun: true });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.path, '/projection');
});

test('workflow backfill: runs an active workflow over past events; repeated, it starts no run twice; another workspace gets 404', async () => {
  const object = `deals_${randomUUID().slice(0, 6)}`;
  const windowStart = Date.now() - 1000;
  await hub.sendRecords(Array.from({ length: 3 }, (_, i) => ({ type: 'record.created', object, recordId: `d${i}`, record: { amount: i } })));
  const created = await hub.api('POST', '/v1/workflows', {
    name: 'Tag deals', trigger: { type: 'record.created', object },
    steps: [{ id: 'tag', type: 'record.update', input: { object, recordId: '{{trigger.recordId}}', values: { tagged: true } } }],
  });
  const workflowId = (created.body as Json).workflowId as string;
  const draft = await hub.api('POST', `/v1/workflows/${workflowId}/replay`, { from: { timestamp: windowStart }, dryRun: true });
  assert.equal(draft.status, 400);
  assert.equal((draft.body as Json).error.code, 'REPLAY_UNSUPPORTED');
  assert.equal((await hub.api('POST', `/v1/workflows/${workflowId}/activate`)).status, 200);
  await eventually('the 3 records projected', async () => (await hub.records(object)).length === 3);

  const dry = await hub.api('POST', `/v1/workflows/${workflowId}/replay`, { from: { timestamp: windowStart }, dryRun: true });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.equal((dry.body as Json).runs, 3);
  assert.equal((await hub.runsOf(workflowId)).length, 0, 'a dry run starts nothing');

  const start = async () => {
    const r = await hub.api('POST', `/v1/workflows/${workflowId}/replay`, { from: { timestamp: windowStart } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = (r.body as Json).id as string;
    return eventually('the backfill done', async () => {
      const p = await hub.api('GET', `/v1/workflows/${workflowId}/replays/${id}`);
      return (p.body as Json).status === 'done' ? p.body as Json : null;
    }, 60_000, 300);
  };
  const first = await start();
  assert.equal(first.result.runsRequested, 3);
  assert.equal(first.progress.done, first.progress.total);
  await hub.endedRuns(workflowId, 3);
  const second = await start();
  assert.equal(second.result.runsRequested, 3);
  // The same derived run ids: requested again, started once.
  await new Promise((r) => setTimeout(r, 2000));
  const runs = await hub.runsOf(workflowId);
  assert.equal(runs.length, 3);
  assert.ok(runs.every((r) => r.status === 'completed'));

  const foreign = await call('POST', `/v1/workflows/${workflowId}/replay`, other.apiKey, { from: { timestamp: windowStart }, dryRun: true });
  assert.equal(foreign.status, 404);
  assert.equal((await call('GET', `/v1/workflows/${workflowId}/replays/${first.id as string}`, other.apiKey)).status, 404);
  const future = await hub.api('POST', `/v1/workflows/${workflowId}/replay`, { from: { timestamp: Date.now() + 600_000 }, dryRun: true });
  assert.equal(future.status, 400);
  assert.equal((future.body as Json).error.path, '/from/timestamp');
  const missing = await hub.api('POST', `/v1/workflows/${workflowId}/replay`, { dryRun: true });
  assert.equal(missing.status, 400);
  assert.equal((missing.body as Json).error.path, '/from');
});

test('the hub CLI: topics, lag, dlq, replay plan and start with a progress bar, runs and workflows; tables by default, --json for scripts', () => {
  const cli = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/hub.ts', ...args], {
    encoding: 'utf8', env: { ...process.env, HUB_URL: hub.url, HUB_ADMIN_TOKEN: adminToken, ...env }, timeout: 120_000,
  });
  const topicsTable = cli({}, 'topics');
  assert.equal(topicsTable.status, 0, topicsTable.stderr);
  assert.match(topicsTable.stdout, /^TOPIC\s+PARTITIONS\s+MESSAGES/m);
  assert.match(topicsTable.stdout, /^crm\.records\s+3\s+\d+/m);
  const lag = JSON.parse(cli({}, 'lag', '--json').stdout) as Json;
  assert.ok((lag.groups as Json[]).some((g) => g.group === 'record-projector'));
  assert.match(cli({}, 'lag', '--group', 'notifier').stdout, /^notifier\s+Stable\s+1\s+hub\.notifications/m);
  const parked = cli({}, 'dlq', 'list', 'record-projector');
  assert.match(parked.stdout, /RECORD_EVENT_INVALID/);
  assert.match(cli({ HUB_API_KEY: hub.apiKey }, 'dlq', 'list').stdout, /RECORD_EVENT_INVALID/);
  assert.match(cli({}, 'dlq', 'redrive', 'record-projector', '--dry-run').stdout, /^would redrive: \d+/m);
  const plan = cli({}, 'replay', 'plan', '--group', 'record-projector', '--from', new Date(startedAt - 60_000).toISOString());
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /^TOPIC\s+PARTITION\s+FROM\s+TO\s+MESSAGES/m);
  assert.match(plan.stdout, /^\d+ message\(s\)$/m);
  const started = cli({}, 'replay', 'start', '--group', 'record-projector', '--from', String(startedAt - 60_000));
  assert.equal(started.status, 0, started.stderr);
  assert.match(started.stderr, /\[#+\]\s+100%/, 'a progress bar');
  assert.match(started.stdout, / done /);
  const future = cli({}, 'replay', 'plan', '--group', 'record-projector', '--from', '2999-01-01T00:00:00Z');
  assert.equal(future.status, 1);
  assert.match(future.stderr, /400 REPLAY_WINDOW_INVALID/);
  const listed = cli({ HUB_API_KEY: hub.apiKey }, 'workflow', 'list');
  assert.match(listed.stdout, /^ID\s+NAME\s+STATUS/m);
  const wf = /^(wf_\w+)\s+Tag deals\s+active/m.exec(listed.stdout)?.[1];
  assert.ok(wf, listed.stdout);
  const runsList = cli({ HUB_API_KEY: hub.apiKey }, 'runs', 'list', wf, '--status', 'completed');
  assert.match(runsList.stdout, /^run_\w+\s+completed/m);
  const runId = /^(run_\w+)/m.exec(runsList.stdout)![1]!;
  assert.match(cli({ HUB_API_KEY: hub.apiKey }, 'runs', 'show', runId).stdout, /^tag\s+record\.update\s+completed\s+1/m);
  const backfillPlan = cli({ HUB_API_KEY: hub.apiKey }, 'workflow', 'replay', wf, '--from', String(startedAt), '--dry-run');
  assert.match(backfillPlan.stdout, /3 run\(s\) would start/);
  assert.equal(cli({ HUB_API_KEY: hub.apiKey }, 'workflow', 'deactivate', wf).status, 0);
  assert.match(cli({ HUB_API_KEY: hub.apiKey }, 'workflow', 'activate', wf).stdout, /active\s+v1/);
});

test('fuzz: random and mutated bodies of the operate routes are answered 2xx or 4xx with a path, never 5xx', async () => {
  const rnd = seededRandom(1313);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const values = [null, true, 0, -1, 1.5, 2 ** 60, '', 'x', '2999-01-01T00:00:00Z', '1970-01-01T00:00:00Z', [], {}, { timestamp: 0 }, { offsets: {} }, { offsets: { 'crm.records': { 0: 0 } } }, { offsets: { 'crm.records': { x: 1 } } }, { timestamp: 'soon' }, 'record-projector', 'records', ['a'], { ids: [] }];
  const keys = ['group', 'projection', 'from', 'to', 'dryRun', 'ids', 'rules', 'channels', 'extra'];
  const body = () => Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, () => [pick(keys), pick(values)]));
  const routes: [string, string][] = [['POST', '/v1/admin/replays'], ['PUT', '/v1/admin/alerts'], ['POST', '/v1/admin/dlq/record-projector/redrive']];
  for (let i = 0; i < 60; i++) {
    const [method, path] = pick(routes);
    const b = body();
    // Never start anything real: a replay or a redrive fuzzed without dryRun would run.
    if (path !== '/v1/admin/alerts') b.dryRun = true;
    const r = await asAdmin(method, path, b);
    assert.ok(r.status < 500, `${method} ${path} ${JSON.stringify(b)} → ${r.status} ${JSON.stringify(r.body)}`);
    if (r.status >= 400) assert.equal(typeof r.body.error?.path, 'string', `${JSON.stringify(b)} → ${JSON.stringify(r.body)}`);
  }
  for (let i = 0; i < 20; i++) {
    const b = { ...body(), dryRun: true };
    const r = await hub.api('POST', '/v1/dlq/redrive', b);
    assert.ok(r.status < 500, `${JSON.stringify(b)} → ${r.status}`);
  }
  await asAdmin('PUT', '/v1/admin/alerts', { rules: [] });
});

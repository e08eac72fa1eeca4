/**
 * Liveness after a backlog (issue 10), every service a process: a webhook workflow with a
 * large definition (over 8 KB) whose http step posts `{n}` to a counting server, under
 * thousands of deliveries, while services are killed or the broker goes away. Every
 * accepted delivery must run exactly once, with one effect each (repeats only with the
 * same Idempotency-Key), and the backlog must drain.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startE2EHub, type E2EHub } from '../support/e2e-hub.ts';
import { postDeliveries, startEffectCounter, type EffectCounter, type LoadResult } from '../support/delivery-load.ts';
import { startPrivateKafka, type PrivateKafka } from '../support/private-kafka.ts';
import { eventually, testLogger } from '../support/env.ts';
import { readTopic } from '../support/topic.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { dlqTopic, topics } from '../../libs/kafka/topics.ts';
import type { RunEvent } from '../../libs/kafka/events.ts';
import { createRunStore } from '../../libs/store/runs.ts';
import type { BaseConfig } from '../../libs/config/index.ts';
import { sleep } from '../../libs/time/sleep.ts';

const DELIVERIES = Number(process.env.LIVENESS_DELIVERIES ?? 3000);

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

/** A routing table of 600 regions (a realistic way for a definition to grow), then the effect. */
function largeWorkflow(effectUrl: string) {
  const regions = Array.from({ length: 600 }, (_, i) => `region-${String(i).padStart(4, '0')}`);
  return {
    name: 'Count deliveries',
    trigger: { type: 'webhook', methods: ['POST'], expectedBody: { n: { type: 'number', required: true } } },
    steps: [
      { id: 'route', type: 'branch', input: { branches: [{ if: { in: [{ var: 'trigger.body.region' }, regions] }, steps: [] }], else: [] } },
      { id: 'effect', type: 'http', input: { method: 'POST', url: effectUrl, body: { n: '{{trigger.body.n}}' } } },
    ],
  };
}

async function setUp(hub: E2EHub, counter: EffectCounter): Promise<{ workflowId: string; hookUrl: string }> {
  const definition = largeWorkflow(counter.url);
  assert.ok(JSON.stringify(definition).length >= 8 * 1024, 'the definition is at least 8 KB');
  const created = await hub.api('POST', '/v1/workflows', definition);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { workflowId } = created.body as { workflowId: string };
  const activated = await hub.api('POST', `/v1/workflows/${workflowId}/activate`);
  assert.equal(activated.status, 200, JSON.stringify(activated.body));
  return { workflowId, hookUrl: (activated.body as { hook: { url: string } }).hook.url };
}

/** Waits until `count` runs of the workflow completed; the time it took. */
async function drain(hub: E2EHub, workflowId: string, count: number, timeoutMs: number): Promise<number> {
  const runs = createRunStore(hub.store.db);
  const started = Date.now();
  let completed = 0;
  try {
    await eventually(`${count} completed runs`, async () => {
      const list = await runs.list(hub.workspaceId, workflowId, { limit: count + 100 });
      completed = list.filter((r) => r.status === 'completed').length;
      return completed >= count;
    }, timeoutMs, 1000);
  } catch (err) {
    // What the services said last: the reason a backlog does not drain is in their logs.
    for (const [name, p] of hub.services) {
      const lines = p.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-15);
      console.error(`--- ${name} (last warnings and errors)\n${lines.join('\n')}`);
    }
    throw new Error(`${completed} of ${count} runs completed: ${(err as Error).message}`);
  }
  return Date.now() - started;
}

/** Every accepted delivery: one run, completed once on the log, one effect (or repeats with one key). */
async function assertExactlyOnce(hub: E2EHub, config: BaseConfig, workflowId: string, accepted: Set<number>, counter: EffectCounter): Promise<{ effects: number; repeats: number }> {
  const runs = await createRunStore(hub.store.db).list(hub.workspaceId, workflowId, { limit: accepted.size + 100 });
  assert.equal(runs.length, accepted.size, 'one run per accepted delivery');
  assert.ok(runs.every((r) => r.status === 'completed'), 'every run completed');
  const runtime = await startKafkaRuntime(config, testLogger('liveness-reader'));
  try {
    const log = await readTopic<RunEvent>(runtime, runtime.topic(topics.runs));
    const completions = new Map<string, number>();
    for (const m of log) if (m.value.type === 'run.completed') completions.set(m.value.runId, (completions.get(m.value.runId) ?? 0) + 1);
    assert.equal(completions.size, accepted.size, 'a run.completed for every run');
    assert.deepEqual([...completions.values()].filter((c) => c !== 1), [], 'each run completed once');
  } finally {
    await runtime.close();
  }
  let repeats = 0;
  for (const n of accepted) {
    const keys = counter.effects.get(n);
    assert.ok(keys && keys.length > 0, `delivery ${n} has its effect`);
    assert.equal(new Set(keys).size, 1, `repeats of delivery ${n}'s effect carry the same Idempotency-Key`);
    repeats += keys.length - 1;
  }
  assert.deepEqual([...counter.effects.keys()].filter((n) => !accepted.has(n)), [], 'no effect for a delivery that was not accepted');
  return { effects: counter.effects.size, repeats };
}

function row(t: { diagnostic(m: string): void }, fault: string, load: LoadResult, effects: number, stuck: number, drainMs: number): void {
  t.diagnostic(`| ${fault} | accepted ${load.accepted} | effects ${effects} | stuck ${stuck} | drain ${(drainMs / 1000).toFixed(1)} s | 503s ${load.unavailable} |`);
}

test(`matcher and executor killed (SIGKILL) under a backlog of ${DELIVERIES} deliveries: every delivery runs exactly once`, { timeout: 600_000 }, async (t) => {
  const counter = await startEffectCounter();
  cleanups.push(() => counter.close());
  const hub = await startE2EHub('liveness_kill', {}, { supervise: true });
  cleanups.push(() => hub.close());
  const { workflowId, hookUrl } = await setUp(hub, counter);

  // The matcher is down while the deliveries arrive: all of them wait on hub.webhooks.
  await hub.crash('trigger-matcher');
  const accepted = new Set<number>();
  const loading = postDeliveries(hookUrl, DELIVERIES, { onAccepted: (n) => accepted.add(n) });
  await sleep(1000);
  await hub.crash('action-executor');
  const load = await loading;
  assert.equal(load.accepted, DELIVERIES);
  // The matcher (restarted by the supervision) now meets the whole backlog; kill both again mid-way.
  await eventually('the matcher is back', async () => hub.services.get('trigger-matcher')!.child.exitCode === null && (hub.restarts.get('trigger-matcher') ?? 0) >= 1, 30_000);
  await sleep(3000);
  await hub.crash('trigger-matcher');
  await sleep(4000);
  await hub.crash('action-executor');
  const drainMs = await drain(hub, workflowId, DELIVERIES, 300_000);
  const { effects, repeats } = await assertExactlyOnce(hub, hub.config, workflowId, accepted, counter);
  row(t, 'SIGKILL matcher, executor, matcher, executor', load, effects, DELIVERIES - effects, drainMs);
  t.diagnostic(`effect repeats (same key): ${repeats}; restarts: ${JSON.stringify(Object.fromEntries(hub.restarts))}`);
});

test(`the broker stopped for 30 s under load: 503 with Retry-After meanwhile, every accepted delivery runs once`, { timeout: 600_000 }, async (t) => {
  const kafka: PrivateKafka = await startPrivateKafka();
  cleanups.push(() => kafka.close());
  const counter = await startEffectCounter();
  cleanups.push(() => counter.close());
  const hub = await startE2EHub('liveness_broker', { KAFKA_BROKERS: kafka.brokers }, { supervise: true });
  cleanups.push(() => hub.close());
  const { workflowId, hookUrl } = await setUp(hub, counter);

  const accepted = new Set<number>();
  const loading = postDeliveries(hookUrl, DELIVERIES, { onAccepted: (n) => accepted.add(n) });
  await sleep(1500);
  kafka.stop();
  const stoppedAt = Date.now();
  await sleep(30_000);
  kafka.start();
  const restartedAt = Date.now();
  t.diagnostic(`broker away ${((restartedAt - stoppedAt) / 1000).toFixed(1)} s`);
  const load = await loading;
  assert.equal(load.accepted, DELIVERIES, 'a retrying client gets every delivery accepted');
  assert.ok(load.unavailable > 0, 'the ingress refused deliveries while the broker was away');
  assert.equal(load.unavailableWithRetryAfter, load.unavailable, 'every 503 carries Retry-After');
  const drainMs = await drain(hub, workflowId, DELIVERIES, 300_000);
  const { effects, repeats } = await assertExactlyOnce(hub, hub.config, workflowId, accepted, counter);
  row(t, 'broker stopped 30 s', load, effects, DELIVERIES - effects, Date.now() - restartedAt);
  t.diagnostic(`drain after the last delivery was accepted: ${(drainMs / 1000).toFixed(1)} s; effect repeats (same key): ${repeats}; restarts: ${JSON.stringify(Object.fromEntries(hub.restarts))}`);
});

test('a delivery whose run request is too large to publish even alone is parked with its reason, and the next one runs', { timeout: 300_000 }, async () => {
  const counter = await startEffectCounter();
  cleanups.push(() => counter.close());
  const runsLimitBytes = 64 * 1024;
  const hub = await startE2EHub('liveness_large', {}, {
    // hub.runs takes less than hub.webhooks: a delivery can fit the one and not the other.
    async beforeServices(config) {
      const runtime = await startKafkaRuntime(config, testLogger('liveness-setup'));
      const admin = runtime.kafka.admin();
      await admin.connect();
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: runtime.topic(topics.runs), configEntries: [{ name: 'max.message.bytes', value: String(runsLimitBytes) }] }] });
      await admin.disconnect();
      await runtime.close();
    },
  });
  cleanups.push(() => hub.close());
  const { workflowId, hookUrl } = await setUp(hub, counter);

  const post = (body: unknown, id: string) => fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': id }, body: JSON.stringify(body) });
  const large = await post({ n: 1, padding: 'x'.repeat(100 * 1024) }, 'large');
  assert.equal(large.status, 202, await large.text());
  const small = await post({ n: 2 }, 'small');
  assert.equal(small.status, 202, await small.text());

  await drain(hub, workflowId, 1, 60_000);
  const runtime = await startKafkaRuntime(hub.config, testLogger('liveness-reader'));
  cleanups.push(() => runtime.close());
  const parked = await eventually('the large delivery parked', async () => {
    const admin = runtime.kafka.admin();
    await admin.connect();
    const high = (await admin.fetchTopicOffsets(runtime.topic(dlqTopic('trigger-matcher')))).reduce((s, p) => s + Number(p.high), 0);
    await admin.disconnect();
    return high > 0 ? high : null;
  }, 60_000, 500);
  assert.equal(parked, 1, 'one message parked');
  const consumer = runtime.kafka.consumer({ groupId: `dlq-reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: runtime.topic(dlqTopic('trigger-matcher')), fromBeginning: true });
  const headers = await new Promise<Record<string, string>>((resolve) => {
    void consumer.run({ eachMessage: async ({ message }) => resolve(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]))) });
  });
  await consumer.disconnect();
  assert.equal(headers['dlq.error.code'], 'KAFKA_MESSAGE_TOO_LARGE');
  assert.match(headers['dlq.error.message']!, /hub\.runs/);
  assert.equal(headers['dlq.source.topic'], runtime.topic(topics.webhooks));
  assert.deepEqual([...counter.effects.keys()], [2], 'the next delivery ran; the parked one did not');
  // Operators see it without reading the topic: the hub's metrics count parked messages per group.
  // (The ops service indexes DLQ topics as they grow: counted within a sample or two.)
  await eventually('the parked message counted', async () => {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    return /^hub_dlq_messages\{group="trigger-matcher",topic="hub\.webhooks",partition="\d+"\} 1$/m.test(text);
  });
  const runs = await createRunStore(hub.store.db).list(hub.workspaceId, workflowId, { limit: 10 });
  assert.equal(runs.length, 1);
});

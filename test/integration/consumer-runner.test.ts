/**
 * The consumer runtime on the real broker. Per message: retriable errors are retried
 * with backoff until they pass (effect once, nothing parked); errors of unknown nature
 * are retried a few times, then parked; offsets are committed only past handled
 * messages. Per batch: outputs published before any offset moves, a refused source
 * parked alone, a passing failure retried until it passes. Manual offsets: a partition
 * commits only up to its oldest unfinished message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { createConsumerRunner, type ConsumerRunner, type ConsumedMessage, type WorkDone } from '../../libs/kafka/consumer.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import { topics, dlqTopic } from '../../libs/kafka/topics.ts';
import { recordEventKey, type RecordChanged, type RunEvent } from '../../libs/kafka/events.ts';
import { HubError } from '../../libs/errors/index.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';
import { recordEvent } from '../support/records.ts';
import { readTopic } from '../support/topic.ts';
import { sleep } from '../../libs/time/sleep.ts';

const config = isolatedConfig('runner');
const log = testLogger('runner-test');
const group = 'runner';
let runtime: KafkaRuntime;
const runners: ConsumerRunner[] = [];

before(async () => { runtime = await startKafkaRuntime(config, log, { groups: [group] }); });
after(async () => {
  for (const r of runners) await r.stop().catch(() => undefined);
  await runtime?.close();
});

async function dlqCount(): Promise<number> {
  const admin = runtime.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(runtime.topic(dlqTopic(group)));
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

test('retriable failures are retried with growing delays until the effect succeeds once; unknown failures are parked after 3 attempts', async () => {
  const unavailable = new HubError('STORE_UNAVAILABLE', { status: 503, retriable: true }, 'store down');
  const attempts = new Map<string, number[]>();
  const effects: string[] = [];
  const runner = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: runtime.bus, log, group: `${config.topicPrefix}${group}`,
    topics: [runtime.topic(topics.records)], dlqTopic: runtime.topic(dlqTopic(group)),
    retry: { initialDelayMs: 50, maxDelayMs: 400, poisonAttempts: 3 },
    handler: async ({ value }) => {
      const times = [...(attempts.get(value.recordId) ?? []), Date.now()];
      attempts.set(value.recordId, times);
      if (value.recordId === 'flaky' && times.length <= 4) throw unavailable;
      if (value.recordId === 'buggy') throw new TypeError('cannot read properties of undefined');
      effects.push(value.recordId);
    },
  });
  runners.push(runner);
  await runner.start();
  const events = ['flaky', 'buggy', 'after'].map((id) => recordEvent('ws', 'people', id, 'record.created', 1, { id }));
  for (const e of events) await runtime.bus.publish(runtime.topic(topics.records), [{ key: recordEventKey(e), value: e }]);

  await eventually('all three handled', async () => effects.includes('after'), 30_000);
  assert.deepEqual(effects, ['flaky', 'after'], 'each effect once, in order');
  const flaky = attempts.get('flaky')!;
  assert.equal(flaky.length, 5, 'four failures, then success');
  const gaps = flaky.slice(1).map((t, i) => t - flaky[i]!);
  assert.ok(gaps[3]! > gaps[0]!, `backoff grows: ${gaps.join(', ')} ms`);
  assert.equal(attempts.get('buggy')?.length, 3, 'an unknown error is tried poisonAttempts times');
  await eventually('buggy parked on the DLQ', async () => (await dlqCount()) === 1);
});

test('a message whose effect did not complete is redelivered to the next member; completed ones are not', async () => {
  const g = `${config.topicPrefix}${group}-commit`;
  const topic = runtime.topic(topics.records);
  const events = ['done1', 'stuck', 'later'].map((id) => recordEvent('ws-commit', 'people', id, 'record.created', 1, { id }));
  // One key for all three, so they share a partition and their order.
  await runtime.bus.publish(topic, events.map((e) => ({ key: 'same-key', value: e })));
  const seenByA: string[] = [];
  const a = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: runtime.bus, log, group: g, topics: [topic], dlqTopic: runtime.topic(dlqTopic(group)),
    retry: { initialDelayMs: 20, maxDelayMs: 50, poisonAttempts: 3 },
    handler: async ({ value }) => {
      if (value.workspaceId !== 'ws-commit') return;
      seenByA.push(value.recordId);
      if (value.recordId === 'stuck') throw new HubError('STORE_UNAVAILABLE', { status: 503, retriable: true }, 'store down');
    },
  });
  await a.start();
  await eventually('A retrying the stuck message', async () => seenByA.filter((x) => x === 'stuck').length >= 3);
  await a.stop();
  assert.ok(!seenByA.includes('later'), 'A never went past the stuck message');

  const seenByB: string[] = [];
  const b = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: runtime.bus, log, group: g, topics: [topic], dlqTopic: runtime.topic(dlqTopic(group)),
    handler: async ({ value }) => { if (value.workspaceId === 'ws-commit') seenByB.push(value.recordId); },
  });
  runners.push(b);
  await b.start();
  await eventually('B handles the rest', async () => seenByB.includes('later'));
  assert.deepEqual(seenByB, ['stuck', 'later'], 'B starts at the first message whose effect was not done');
});

async function withAdmin<T>(f: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = runtime.kafka.admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offset of a partition (the next one it reads), -1 when none. */
const committed = (groupId: string, topic: string, partition: number) => withAdmin(async (admin) => {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return BigInt(t?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
});

const highWater = (topic: string, partition: number) => withAdmin(async (admin) =>
  BigInt((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition)?.high ?? '0'));

/** Every message parked by one group (the groups of this file share a DLQ): key and headers. */
async function parkedBy(groupId: string): Promise<{ key: string; headers: Record<string, string> }[]> {
  const dlq = runtime.topic(dlqTopic(group));
  const total = await dlqCount();
  const consumer = runtime.kafka.consumer({ groupId: `${config.topicPrefix}dlq-reader-${Math.random().toString(36).slice(2)}` });
  const parked: { key: string; headers: Record<string, string> }[] = [];
  let read = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: dlq, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      read += 1;
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      if (headers['dlq.group'] === groupId) parked.push({ key: String(message.key), headers });
    },
  });
  try {
    await eventually(`the ${total} parked messages read`, async () => read >= total);
  } finally {
    await consumer.disconnect();
  }
  return parked;
}

/** A run event standing for a batch handler's output: which input offset it came from, and some padding. */
function outputOf(m: ConsumedMessage<RecordChanged>, padBytes = 0): { key: string; value: RunEvent } {
  const value: RunEvent = {
    eventId: `out-${m.offset}`, type: 'run.requested', workspaceId: m.value.workspaceId, occurredAt: 1, correlationId: 'c', causationId: null, causationDepth: 0,
    runId: `run-${m.value.recordId}`, workflowId: 'wf', version: 1, stepKey: null, data: JSON.stringify({ source: m.offset, pad: 'x'.repeat(padBytes) }),
  };
  return { key: m.value.workspaceId, value };
}

const outputsOf = async (workspaceId: string) =>
  (await readTopic<RunEvent>(runtime, runtime.topic(topics.runs))).filter((o) => o.value.workspaceId === workspaceId).map((o) => JSON.parse(o.value.data) as { source: string });

test('per batch: every output of a batch is published before any of its offsets is committed; a source refused even alone is parked, the rest published', async () => {
  const g = `${config.topicPrefix}${group}-batch`;
  const input = runtime.topic(topics.records);
  const output = runtime.topic(topics.runs);
  // hub.runs (of this test's prefix) takes 8 KiB per message: the output of `big` is larger.
  await withAdmin((admin) => admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: output, configEntries: [{ name: 'max.message.bytes', value: '8192' }] }] }));
  const ids = ['b0', 'b1', 'big', 'b3', 'b4'];
  await runtime.bus.publish(input, ids.map((id) => ({ key: 'batch-key', value: recordEvent('ws-batch', 'people', id, 'record.created', 1, { id }) })));

  let partition = -1;
  const offsets = new Map<string, string>();
  const seen: { sources: bigint[]; committedThen: bigint }[] = [];
  // The broker's own answer to "what is committed?" at the moment outputs are published.
  const watching: EventBus = {
    publishRaw: (topic, messages) => runtime.bus.publishRaw(topic, messages),
    async publish(topic, events) {
      if (topic === output && partition >= 0) {
        seen.push({ sources: events.map((e) => BigInt((JSON.parse((e.value as RunEvent).data) as { source: string }).source)), committedThen: await committed(g, input, partition) });
      }
      return runtime.bus.publish(topic, events);
    },
  };
  const runner = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: watching, log, group: g, topics: [input], dlqTopic: runtime.topic(dlqTopic(group)),
    retry: { initialDelayMs: 50, maxDelayMs: 400, poisonAttempts: 3 },
    eachBatch: {
      outputTopic: output,
      async handle(messages) {
        return messages.filter((m) => m.value.workspaceId === 'ws-batch').map((m) => {
          partition = m.partition;
          offsets.set(m.value.recordId, m.offset);
          return { message: m, events: [outputOf(m, m.value.recordId === 'big' ? 20_000 : 0)] };
        });
      },
    },
  });
  runners.push(runner);
  await runner.start();

  await eventually('the batch committed', async () => partition >= 0 && (await committed(g, input, partition)) === (await highWater(input, partition)), 30_000);
  assert.ok(seen.length >= 2, 'the whole batch was tried, then its sources one by one');
  for (const s of seen) {
    assert.ok(s.sources.every((o) => o >= s.committedThen), `outputs of offsets ${s.sources.join(', ')} published while ${s.committedThen} was committed`);
  }
  const published = await outputsOf('ws-batch');
  assert.deepEqual(published.map((o) => o.source).sort(), ['b0', 'b1', 'b3', 'b4'].map((id) => offsets.get(id)!).sort(), 'every output but the refused one, each once');
  const [parked, ...more] = await eventually('the refused source parked', async () => { const p = await parkedBy(g); return p.length > 0 && p; });
  assert.equal(more.length, 0, 'only the refused source is parked');
  assert.equal(parked?.key, 'batch-key', 'parked with its original key');
  assert.equal(parked?.headers['dlq.error.code'], 'KAFKA_MESSAGE_TOO_LARGE');
  assert.equal(parked?.headers['dlq.source.offset'], offsets.get('big'));
});

test('per batch: a batch failing for a passing reason is tried again until it passes; nothing is published or committed meanwhile', async () => {
  const g = `${config.topicPrefix}${group}-batch-retry`;
  const input = runtime.topic(topics.records);
  await runtime.bus.publish(input, ['r0', 'r1', 'r2'].map((id) => ({ key: 'retry-key', value: recordEvent('ws-retry', 'people', id, 'record.created', 1, { id }) })));
  let storeDown = true;
  let attempts = 0;
  let partition = -1;
  const runner = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: runtime.bus, log, group: g, topics: [input], dlqTopic: runtime.topic(dlqTopic(group)),
    retry: { initialDelayMs: 50, maxDelayMs: 200, poisonAttempts: 3 },
    eachBatch: {
      outputTopic: runtime.topic(topics.runs),
      async handle(messages) {
        const mine = messages.filter((m) => m.value.workspaceId === 'ws-retry');
        if (mine.length > 0) {
          partition = mine[0]!.partition;
          attempts += 1;
          if (storeDown) throw new HubError('STORE_UNAVAILABLE', { status: 503, retriable: true }, 'store down');
        }
        return mine.map((m) => ({ message: m, events: [outputOf(m)] }));
      },
    },
  });
  runners.push(runner);
  await runner.start();

  await eventually('the batch tried several times', async () => attempts >= 5);
  const firstOffset = (await highWater(input, partition)) - 3n;
  assert.ok((await committed(g, input, partition)) <= firstOffset, 'nothing of the failing batch committed');
  assert.equal((await outputsOf('ws-retry')).length, 0, 'nothing published');

  storeDown = false;
  await eventually('committed once the store is back', async () => (await committed(g, input, partition)) === (await highWater(input, partition)));
  assert.equal((await outputsOf('ws-retry')).length, 3, 'each output once');
  assert.deepEqual(await parkedBy(g), [], 'nothing parked');
});

test('manual offsets: a partition commits only up to its oldest unfinished message while later ones finish', async () => {
  const g = `${config.topicPrefix}${group}-manual`;
  const input = runtime.topic(topics.records);
  const ids = ['m0', 'm1', 'm2', 'm3', 'm4'];
  await runtime.bus.publish(input, ids.map((id) => ({ key: 'manual-key', value: recordEvent('ws-manual', 'people', id, 'record.created', 1, { id }) })));
  const finish = new Map<string, (d: WorkDone) => void>();
  const offsets = new Map<string, bigint>();
  let partition = -1;
  const runner = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: runtime.bus, log, group: g, topics: [input], dlqTopic: runtime.topic(dlqTopic(group)),
    outOfOrder: {
      commitIntervalMs: 50,
      async start(m) {
        if (m.value.workspaceId !== 'ws-manual') return { done: Promise.resolve({}) };
        partition = m.partition;
        offsets.set(m.value.recordId, BigInt(m.offset));
        return { done: new Promise<WorkDone>((resolve) => finish.set(m.value.recordId, resolve)) };
      },
    },
  });
  runners.push(runner);
  await runner.start();

  await eventually('all five started at once', async () => finish.size === 5);
  for (const id of ['m4', 'm2', 'm3', 'm1']) finish.get(id)!({});
  await eventually('committed up to the oldest unfinished', async () => (await committed(g, input, partition)) === offsets.get('m0'));
  await sleep(500);
  assert.equal(await committed(g, input, partition), offsets.get('m0'), 'later messages finished, the oldest did not: the commit stays at it');

  finish.get('m0')!({});
  await eventually('committed past all five', async () => (await committed(g, input, partition)) === offsets.get('m4')! + 1n);
});

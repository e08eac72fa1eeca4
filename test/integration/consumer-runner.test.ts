/**
 * The consumer runner on the real broker: retriable errors are retried with backoff
 * until they pass (effect once, nothing parked); errors of unknown nature are retried
 * a few times, then parked; offsets are committed only past handled messages.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { createConsumerRunner, type ConsumerRunner } from '../../libs/kafka/consumer.ts';
import { topics, dlqTopic } from '../../libs/kafka/topics.ts';
import { recordEventKey, type RecordChanged } from '../../libs/kafka/events.ts';
import { HubError } from '../../libs/errors/index.ts';
import { isolatedConfig, testLogger, eventually } from '../support/env.ts';
import { recordEvent } from '../support/records.ts';

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

/**
 * The trigger matcher: folds hub.workflows into its index (a private, uncommitted
 * reader of the whole compacted topic), matches record events and webhook deliveries
 * against it a batch at a time, publishes one run.requested per match on hub.runs
 * before committing the batch, and fires schedule ticks.
 *
 * Read-your-writes for definitions: before a batch is matched, the index catches up
 * with hub.workflows as it is at that moment, so an event sent after an activation
 * was acknowledged always sees the activated workflow.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { RecordChanged, WebhookReceived, WorkflowChanged } from '../../libs/kafka/events.ts';
import { dlqTopic, topics } from '../../libs/kafka/topics.ts';
import { parkOnDlq } from '../../libs/kafka/dlq.ts';
import type { Logger } from '../../libs/log/index.ts';
import { errorMessage, HubError, isRetriable } from '../../libs/errors/index.ts';
import { WorkflowIndex } from './workflow-index.ts';
import { matchRecordChanged, matchWebhook } from './match.ts';
import { fireDueTicks, type ScheduleCursors } from './schedule.ts';

export const matcherGroup = 'trigger-matcher';

export interface MatcherAppDeps {
  runtime: KafkaRuntime;
  cursors: ScheduleCursors;
  log: Logger;
  scheduleCheckMs: number;
  group?: string;
  now?: () => number;
}

export interface MatcherApp {
  index: WorkflowIndex;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createMatcherApp(d: MatcherAppDeps): MatcherApp {
  const now = d.now ?? Date.now;
  const groupName = d.group ?? matcherGroup;
  const group = d.runtime.group(groupName);
  const log = d.log.child({ group });
  const workflowsTopic = d.runtime.topic(topics.workflows);
  const recordsTopic = d.runtime.topic(topics.records);
  const webhooksTopic = d.runtime.topic(topics.webhooks);
  const runsTopic = d.runtime.topic(topics.runs);
  const dlq = d.runtime.topic(dlqTopic(groupName));
  const index = new WorkflowIndex();
  const admin = d.runtime.kafka.admin();
  // A private group per process: every replica reads every definition, and none commits.
  const indexConsumer: Consumer = d.runtime.kafka.consumer({ groupId: `${group}.index.${randomUUID()}`, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: false });
  const triggerConsumer: Consumer = d.runtime.kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1000, rebalanceTimeout: 60_000, allowAutoTopicCreation: false });
  /** Next offset to read per partition of hub.workflows. */
  const position = new Map<number, bigint>();
  const scheduleMemory = new Map<string, number>();
  let stopping = false;
  let scheduleTimer: NodeJS.Timeout | undefined;

  /** Waits until the index has read hub.workflows up to its end as of now. */
  async function catchUp(timeoutMs = 30_000): Promise<void> {
    const ends = await admin.fetchTopicOffsets(workflowsTopic);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = ends.some((e) => BigInt(e.high) > (position.get(e.partition) ?? BigInt(e.low)));
      if (!behind) return;
      if (Date.now() > deadline) throw new HubError('INDEX_BEHIND', { status: 503, retriable: true }, 'the workflow index did not catch up with hub.workflows in time');
      await sleep(5);
    }
  }

  const publish = (events: OutgoingEvent[]) => d.runtime.bus.publish(runsTopic, events);

  const park = (topic: string, partition: number, m: KafkaMessage, err: unknown) =>
    parkOnDlq({ bus: d.runtime.bus, dlqTopic: dlq, group, log }, topic, partition, m, err);

  async function matchBatch(topic: string, partition: number, messages: KafkaMessage[]): Promise<OutgoingEvent[]> {
    const out: OutgoingEvent[] = [];
    for (const m of messages) {
      let value: unknown;
      try {
        value = await d.runtime.serde.decode(topic, m.value);
      } catch (err) {
        if (isRetriable(err)) throw err;
        await park(topic, partition, m, err);
        continue;
      }
      try {
        out.push(...(topic === recordsTopic ? matchRecordChanged(value as RecordChanged, { index, now, log }) : matchWebhook(value as WebhookReceived, { index, now, log })));
      } catch (err) {
        await park(topic, partition, m, err);
      }
    }
    return out;
  }

  async function tick(): Promise<void> {
    try {
      await catchUp();
      const fired = await fireDueTicks(index.schedules(), scheduleMemory, { cursors: d.cursors, publish, now });
      if (fired > 0) log.info({ fired }, 'schedule ticks fired');
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'schedule check failed; next check retries');
    }
  }

  return {
    index,
    async start() {
      await admin.connect();
      await indexConsumer.connect();
      await indexConsumer.subscribe({ topic: workflowsTopic, fromBeginning: true });
      await indexConsumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          try {
            if (message.value) index.apply(await d.runtime.serde.decode<WorkflowChanged>(workflowsTopic, message.value));
          } catch (err) {
            log.error({ partition, offset: message.offset, err: errorMessage(err) }, 'unreadable workflow record skipped');
          }
          position.set(partition, BigInt(message.offset) + 1n);
        },
      });
      await catchUp(120_000);
      log.info({ activeWorkflows: index.size }, 'workflow index ready');

      await triggerConsumer.connect();
      await triggerConsumer.subscribe({ topic: recordsTopic, fromBeginning: true });
      await triggerConsumer.subscribe({ topic: webhooksTopic, fromBeginning: true });
      await triggerConsumer.run({
        autoCommit: true,
        autoCommitInterval: 1000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 8,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
          const active = () => !stopping && isRunning() && !isStale();
          if (batch.messages.length === 0) return;
          for (let attempt = 1; active(); attempt++) {
            try {
              await catchUp();
              const events = await matchBatch(batch.topic, batch.partition, batch.messages);
              // All of the batch's runs are requested before any of its offsets moves.
              if (events.length > 0) await publish(events);
              for (const m of batch.messages) resolveOffset(m.offset);
              await commitOffsetsIfNecessary();
              return;
            } catch (err) {
              const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 7));
              log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs: delay, err: errorMessage(err) }, 'matching a batch failed; retrying');
              await sleep(delay);
              await heartbeat().catch(() => undefined);
            }
          }
        },
      });
      scheduleTimer = setInterval(() => { void tick(); }, d.scheduleCheckMs);
    },
    async stop() {
      stopping = true;
      clearInterval(scheduleTimer);
      await triggerConsumer.disconnect();
      await indexConsumer.disconnect();
      await admin.disconnect();
    },
  };
}

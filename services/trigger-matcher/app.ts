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
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { RecordChanged, WebhookReceived, WorkflowChanged } from '../../libs/kafka/events.ts';
import { dlqTopic, topics } from '../../libs/kafka/topics.ts';
import { parkOnDlq } from '../../libs/kafka/dlq.ts';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import { exitOnFatalCrash } from '../../libs/kafka/fatal.ts';
import { publishIsolating, type SourcedEvents } from '../../libs/kafka/publish-isolating.ts';
import type { Logger } from '../../libs/log/index.ts';
import { errorMessage, isRetriable } from '../../libs/errors/index.ts';
import { sleep, backoffDelayMs } from '../../libs/time/sleep.ts';
import { WorkflowIndex } from './workflow-index.ts';
import { matchRecordChanged, matchWebhook } from './match.ts';
import { fireDueTicks, type ScheduleCursors } from './schedule-ticks.ts';

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
  // Every replica reads every definition; none commits.
  const definitions = followTopic<WorkflowChanged>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, log, topic: workflowsTopic, groupPrefix: `${group}.index`,
    apply: (value) => index.apply(value),
  });
  const triggerConsumer: Consumer = d.runtime.kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1000, rebalanceTimeout: 60_000, allowAutoTopicCreation: false });
  const scheduleMemory = new Map<string, number>();
  let stopping = false;
  let scheduleTimer: NodeJS.Timeout | undefined;
  const catchUp = () => definitions.catchUp();

  const publish = (events: OutgoingEvent[]) => d.runtime.bus.publish(runsTopic, events);

  const park = (topic: string, partition: number, m: KafkaMessage, err: unknown) =>
    parkOnDlq({ bus: d.runtime.bus, dlqTopic: dlq, group, log }, topic, partition, m, err);

  /**
   * The run requests of each message of a batch, and the messages that cannot be
   * matched (undecodable, invalid): those are parked once the requests are published,
   * so a retried batch parks nothing twice.
   */
  async function matchBatch(topic: string, messages: KafkaMessage[]): Promise<{ requests: SourcedEvents<KafkaMessage>[]; poison: { source: KafkaMessage; error: unknown }[] }> {
    const requests: SourcedEvents<KafkaMessage>[] = [];
    const poison: { source: KafkaMessage; error: unknown }[] = [];
    for (const m of messages) {
      try {
        const value = await d.runtime.serde.decode(topic, m.value);
        requests.push({ source: m, events: topic === recordsTopic ? matchRecordChanged(value as RecordChanged, { index, now, log }) : matchWebhook(value as WebhookReceived, { index, now, log }) });
      } catch (err) {
        if (isRetriable(err)) throw err;
        poison.push({ source: m, error: err });
      }
    }
    return { requests, poison };
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
      await definitions.start();
      log.info({ activeWorkflows: index.size }, 'workflow index ready');

      exitOnFatalCrash(triggerConsumer, log, 'trigger matcher');
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
              const { requests, poison } = await matchBatch(batch.topic, batch.messages);
              // All of the batch's runs are requested before any of its offsets moves; a
              // message whose requests cannot be published even alone is parked instead.
              const refused = await publishIsolating(d.runtime.bus, runsTopic, requests);
              for (const p of [...poison, ...refused]) await park(batch.topic, batch.partition, p.source, p.error);
              for (const m of batch.messages) resolveOffset(m.offset);
              await commitOffsetsIfNecessary();
              return;
            } catch (err) {
              // Only what can pass later gets here (broker, registry or store away, the index behind).
              const delay = backoffDelayMs(attempt, { initialMs: 200, maxMs: 10_000 });
              log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs: delay, retriable: isRetriable(err), err: errorMessage(err) }, 'matching a batch failed; retrying');
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
      await definitions.stop();
    },
  };
}

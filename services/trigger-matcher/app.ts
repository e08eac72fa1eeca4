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
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { RecordChanged, WebhookReceived, WorkflowChanged } from '../../libs/kafka/events.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import { createConsumerRunner } from '../../libs/kafka/consumer.ts';
import type { Logger } from '../../libs/log/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import { WorkflowIndex } from '../../libs/workflow/workflow-index.ts';
import { matchRecordChanged, matchWebhook } from '../../libs/workflow/trigger-match.ts';
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
  const index = new WorkflowIndex();
  // Every replica reads every definition; none commits.
  const definitions = followTopic<WorkflowChanged>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, log, topic: workflowsTopic, groupPrefix: `${group}.index`,
    apply: (value) => index.apply(value),
  });
  const scheduleMemory = new Map<string, number>();
  let scheduleTimer: NodeJS.Timeout | undefined;
  const catchUp = () => definitions.catchUp();

  const publish = (events: OutgoingEvent[]) => d.runtime.bus.publish(runsTopic, events);

  // All of a batch's runs are requested before any of its offsets moves; a message
  // whose requests cannot be published even alone is parked instead. Before a batch is
  // matched the index catches up, so an event sees the activations acknowledged before it.
  const triggers = createConsumerRunner<RecordChanged | WebhookReceived>({
    ...d.runtime.consumer(groupName, d.log), topics: [recordsTopic, webhooksTopic],
    partitionsConsumedConcurrently: 8,
    retry: { initialDelayMs: 200, maxDelayMs: 10_000, poisonAttempts: 3 },
    eachBatch: {
      outputTopic: runsTopic,
      async handle(messages) {
        await catchUp();
        return messages.map((m) => ({
          message: m,
          events: m.topic === recordsTopic ? matchRecordChanged(m.value as RecordChanged, { index, now, log }) : matchWebhook(m.value as WebhookReceived, { index, now, log }),
        }));
      },
    },
  });

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
      await triggers.start();
      scheduleTimer = setInterval(() => { void tick(); }, d.scheduleCheckMs);
    },
    async stop() {
      clearInterval(scheduleTimer);
      await triggers.stop();
      await definitions.stop();
    },
  };
}

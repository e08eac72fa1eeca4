/**
 * The action executor's consumer: reads hub.runs with the consumer runtime's manual
 * offsets mode, hands requests and commands to the executor without waiting for runs
 * to finish (many run at once), and so commits each partition only up to its oldest
 * unfinished message. Events the executor itself wrote are recognised by their header
 * and skipped undecoded; a partition read again after an assignment is restored first.
 */
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RecordChanged, RunEvent, WorkflowChanged } from '../../libs/kafka/events.ts';
import { runCommandTypes } from '../../libs/kafka/events.ts';
import { recordEventMessage } from '../../libs/kafka/record-events.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { createBatchingBus } from '../../libs/kafka/batching-bus.ts';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import { createConsumerRunner, type MessageMeta } from '../../libs/kafka/consumer.ts';
import { WorkflowVersions, definitionSource } from '../../libs/workflow/versions.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { RecordReader } from '../../libs/store/records.ts';
import type { RunStore } from '../../libs/store/runs.ts';
import { createRecordStepHandlers } from '../../libs/workflow/steps/records.ts';
import { createRecordWriteLog } from '../../libs/workflow/steps/record-writes.ts';
import { createStepHandlers, type StepHandlerDeps } from '../../libs/workflow/steps/index.ts';
import type { StepHandler } from '../../libs/workflow/interpreter.ts';
import { createExecutor, type Executor, type ExecutorDeps, type ExecutorLimits, type KnownRuns } from './executor.ts';
import { createRunProjection } from './projection.ts';

export const executorGroup = 'action-executor';

export interface ExecutorAppDeps {
  runtime: KafkaRuntime;
  runs: RunStore;
  records: RecordReader;
  log: Logger;
  limits: ExecutorLimits & { workflowMaxDepth: number; searchScanMax: number; maxBufferedRuns: number };
  /** What the http, code and email steps need; without it only the record, branch and iterator steps run. */
  integrations?: Pick<StepHandlerDeps, 'http' | 'credentials' | 'code' | 'codeLimits' | 'emailDeliveryTimeoutMs'>;
  /** Handlers that replace or add to the hub's own (tests). */
  extraHandlers?: ReadonlyMap<string, StepHandler>;
  group?: string;
  now?: () => number;
  commitIntervalMs?: number;
  /** How long the projection may lag the log (write-behind). */
  projectionIntervalMs?: number;
  afterEffect?: ExecutorDeps['afterEffect'];
}

export interface ExecutorApp {
  executor: Executor;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const COMMANDS: ReadonlySet<string> = new Set(runCommandTypes);

export function createExecutorApp(d: ExecutorAppDeps): ExecutorApp {
  const group = d.runtime.group(d.group ?? executorGroup);
  const runsTopic = d.runtime.topic(topics.runs);
  const recordsTopic = d.runtime.topic(topics.records);
  const log = d.log.child({ group });
  const bus: EventBus = createBatchingBus(d.runtime.bus);
  const now = d.now ?? Date.now;
  const notificationsTopic = d.runtime.topic(topics.notifications);
  const publishRecords = (events: RecordChanged[]) => bus.publish(recordsTopic, events.map(recordEventMessage));
  // This executor owns its workspaces' runs: their writes to one record take turns here.
  const recordWrites = createRecordWriteLog();
  const handlers = new Map<string, StepHandler>([
    ...(d.integrations
      ? createStepHandlers({
        ...d.integrations, records: d.records, publishRecords, recordWrites, maxDepth: d.limits.workflowMaxDepth, searchScanMax: d.limits.searchScanMax,
        publishNotification: (n) => bus.publish(notificationsTopic, [{ key: n.notificationId, value: n, headers: { 'hub.event-type': n.type, 'hub.run-id': n.runId } }]),
      })
      : createRecordStepHandlers({ reader: d.records, publish: publishRecords, writes: recordWrites, maxDepth: d.limits.workflowMaxDepth, searchScanMax: d.limits.searchScanMax })),
    ...(d.extraHandlers ?? []),
  ]);
  const projection = createRunProjection(d.runs, log, { intervalMs: d.projectionIntervalMs ?? 50 });
  // Run requests name a workflow version; every saved version is read from hub.workflows.
  const versions = new WorkflowVersions();
  const versionFollower = followTopic<WorkflowChanged>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, log, topic: d.runtime.topic(topics.workflows), groupPrefix: `${group}.versions`,
    apply: (value) => versions.apply(value),
  });
  const executor = createExecutor({
    runs: d.runs, definitions: definitionSource(versions, () => versionFollower.catchUp()), projection, bus, runsTopic, handlers, limits: d.limits, log, now,
    ...(d.afterEffect ? { afterEffect: d.afterEffect } : {}),
  });
  /** The projection's copies of the runs a batch requests (one read for the batch). */
  async function knownRuns(messages: readonly MessageMeta[]): Promise<KnownRuns> {
    const ids = messages
      .filter((m) => m.headers['hub.event-type'] === 'run.requested')
      .map((m) => m.headers['hub.run-id'])
      .filter((id): id is string => id !== undefined && !executor.isActive(id));
    return { queried: new Set(ids), found: await d.runs.getMany(ids) };
  }

  const runner = createConsumerRunner<RunEvent, KnownRuns>({
    ...d.runtime.consumer(d.group ?? executorGroup, d.log), topics: [runsTopic],
    partitionsConsumedConcurrently: 64,
    retry: { initialDelayMs: 200, maxDelayMs: 5000, poisonAttempts: 3 },
    outOfOrder: {
      ignore: (m) => m.headers['hub.event-type'] !== undefined && !COMMANDS.has(m.headers['hub.event-type']),
      prepare: knownRuns,
      start: (m, known) => executor.handle(m.value, String(m.partition), known),
      restore({ partition }) {
        const r = executor.restore(String(partition));
        return { fold: (m) => r.fold(m.value, m.offset), finish: () => r.finish() };
      },
      onPartitionsLost: (lost) => executor.abandon(new Set(lost.map((p) => String(p.partition)))),
      // Back-pressure: a partition waits while too many runs wait in memory.
      saturated: () => executor.inFlight() >= d.limits.maxBufferedRuns,
      async drain() {
        await executor.stop();
        await projection.stop();
      },
      commitIntervalMs: d.commitIntervalMs ?? 500,
    },
  });

  return {
    executor,
    async start() {
      await versionFollower.start();
      await runner.start();
    },
    async stop() {
      await runner.stop();
      await versionFollower.stop();
    },
  };
}

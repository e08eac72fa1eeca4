/**
 * The action executor's consumer: reads hub.runs, hands requests and commands to the
 * executor without waiting for runs to finish (many run at once), and commits each
 * partition only up to its oldest unfinished message (offsets.ts). Events the
 * executor itself wrote are recognised by their header and skipped undecoded.
 */
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { EventBus } from '../../libs/kafka/producer.ts';
import type { RecordChanged, RunEvent, WorkflowChanged } from '../../libs/kafka/events.ts';
import { runCommandTypes } from '../../libs/kafka/events.ts';
import { recordEventMessage } from '../../libs/kafka/record-events.ts';
import { dlqTopic, topics } from '../../libs/kafka/topics.ts';
import { parkOnDlq } from '../../libs/kafka/dlq.ts';
import { createBatchingBus } from '../../libs/kafka/batching-bus.ts';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import { exitOnFatalCrash } from '../../libs/kafka/fatal.ts';
import { WorkflowVersions, definitionSource } from '../../libs/workflow/versions.ts';
import { sleep } from '../../libs/time/sleep.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { RecordReader } from '../../libs/store/records.ts';
import type { RunStore } from '../../libs/store/runs.ts';
import { errorMessage, HubError, isRetriable } from '../../libs/errors/index.ts';
import { createRecordStepHandlers } from '../../libs/workflow/steps/records.ts';
import { createStepHandlers, type StepHandlerDeps } from '../../libs/workflow/steps/index.ts';
import type { StepHandler } from '../../libs/workflow/interpreter.ts';
import { createExecutor, type Executor, type ExecutorDeps, type ExecutorLimits, type KnownRuns, type Restore, type RunDone } from './executor.ts';
import { createRunProjection } from './projection.ts';
import { PartitionOffsets } from '../../libs/kafka/offset-tracker.ts';

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
  const dlq = d.runtime.topic(dlqTopic(d.group ?? executorGroup));
  const log = d.log.child({ group });
  const bus: EventBus = createBatchingBus(d.runtime.bus);
  const now = d.now ?? Date.now;
  const notificationsTopic = d.runtime.topic(topics.notifications);
  const publishRecords = (events: RecordChanged[]) => bus.publish(recordsTopic, events.map(recordEventMessage));
  const handlers = new Map<string, StepHandler>([
    ...(d.integrations
      ? createStepHandlers({
        ...d.integrations, records: d.records, publishRecords, maxDepth: d.limits.workflowMaxDepth, searchScanMax: d.limits.searchScanMax,
        publishNotification: (n) => bus.publish(notificationsTopic, [{ key: n.notificationId, value: n, headers: { 'hub.event-type': n.type, 'hub.run-id': n.runId } }]),
      })
      : createRecordStepHandlers({ reader: d.records, publish: publishRecords, maxDepth: d.limits.workflowMaxDepth, searchScanMax: d.limits.searchScanMax })),
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
  const admin = d.runtime.kafka.admin();
  /** Per partition, in this generation: reading again up to `until` (exclusive) folds instead of acting. */
  const restoring = new Map<number, { until: bigint; restore: Restore; messages: Map<string, KafkaMessage> }>();
  const consumer: Consumer = d.runtime.kafka.consumer({
    groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 60_000, allowAutoTopicCreation: false,
  });
  const partitions = new Map<number, PartitionOffsets>();
  const committed = new Map<number, string>();
  let stopping = false;
  let commitTimer: NodeJS.Timeout | undefined;

  async function commit(): Promise<void> {
    const offsets = [];
    for (const [partition, tracker] of partitions) {
      const offset = tracker.committable();
      if (offset !== null && committed.get(partition) !== offset) offsets.push({ topic: runsTopic, partition, offset });
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets);
      for (const o of offsets) committed.set(o.partition, o.offset);
    } catch (err) {
      // Lost the partition in a rebalance, or the coordinator moved: the next tick tries again.
      log.debug({ err: errorMessage(err) }, 'offset commit failed');
    }
  }

  const park = (partition: number, m: KafkaMessage, err: unknown) =>
    parkOnDlq({ bus: d.runtime.bus, dlqTopic: dlq, group, log }, runsTopic, partition, m, err);

  /** A message's work ended: past it the partition may commit; refused by hub.runs, it is parked first. */
  function settle(partition: number, tracker: PartitionOffsets, m: KafkaMessage, done: Promise<RunDone>): void {
    void done.then(async (outcome) => {
      if (outcome.refused) {
        for (let attempt = 1; !stopping; attempt++) {
          try { await park(partition, m, outcome.refused); break; } catch (err) {
            log.error({ attempt, err: errorMessage(err) }, 'cannot park a refused run on the DLQ; retrying');
            await sleep(Math.min(10_000, 200 * attempt));
          }
        }
      }
      tracker.end(m.offset);
    });
  }

  /** The projection's copies of the runs a batch requests (one read for the batch). */
  async function prefetch(messages: KafkaMessage[]): Promise<KnownRuns> {
    const ids = messages
      .filter((m) => m.headers?.['hub.event-type']?.toString() === 'run.requested')
      .map((m) => m.headers?.['hub.run-id']?.toString())
      .filter((id): id is string => id !== undefined && !executor.isActive(id));
    for (let attempt = 1; ; attempt++) {
      try {
        return { queried: new Set(ids), found: await d.runs.getMany(ids) };
      } catch (err) {
        if (stopping || attempt > 50) throw err;
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }

  async function finishRestore(partition: number, tracker: PartitionOffsets): Promise<void> {
    const r = restoring.get(partition)!;
    restoring.delete(partition);
    const holds = await r.restore.finish();
    for (const [offset, m] of r.messages) {
      const hold = holds.get(offset);
      if (hold) settle(partition, tracker, m, hold);
      else tracker.end(offset);
    }
  }

  return {
    executor,
    async start() {
      await admin.connect();
      await versionFollower.start();
      exitOnFatalCrash(consumer, log, 'action executor');
      await consumer.connect();
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const assigned = new Set((e.payload.memberAssignment[runsTopic] ?? []).map(Number));
        const lost = new Set<string>();
        for (const p of [...partitions.keys()]) {
          if (assigned.has(p)) continue;
          lost.add(String(p));
          partitions.delete(p);
          committed.delete(p);
        }
        if (lost.size > 0) {
          log.info({ partitions: [...lost] }, 'partitions moved to another executor; their runs are handed over');
          executor.abandon(lost);
        }
        // Messages re-read after a rebalance start a fresh account (and a restore).
        for (const p of assigned) { partitions.delete(p); restoring.delete(p); }
      });
      await consumer.subscribe({ topic: runsTopic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 64,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const activeNow = () => !stopping && isRunning() && !isStale();
          let tracker = partitions.get(batch.partition);
          if (!tracker) {
            // First batch of this partition in this generation: what is before the end
            // as of now is read again to rebuild unfinished runs before acting.
            tracker = new PartitionOffsets();
            partitions.set(batch.partition, tracker);
            const end = (await admin.fetchTopicOffsets(runsTopic)).find((o) => o.partition === batch.partition);
            const until = BigInt(end?.high ?? '0');
            if (BigInt(batch.firstOffset() ?? until.toString()) < until) {
              restoring.set(batch.partition, { until, restore: executor.restore(String(batch.partition)), messages: new Map() });
            }
          }
          const mine = tracker;
          const decode = async (m: KafkaMessage): Promise<RunEvent | null> => {
            for (let attempt = 1; ; attempt++) {
              try {
                return await d.runtime.serde.decode<RunEvent>(batch.topic, m.value);
              } catch (err) {
                if (!isRetriable(err)) {
                  await park(batch.partition, m, err);
                  return null;
                }
                if (!activeNow()) throw err;
                await sleep(Math.min(5000, 100 * 2 ** attempt));
              }
            }
          };
          // Runs this batch asks for, read from the projection at once.
          let known: KnownRuns | undefined;
          for (const m of batch.messages) {
            if (!activeNow()) break;
            const r = restoring.get(batch.partition);
            if (r && BigInt(m.offset) < r.until) {
              mine.begin(m.offset);
              r.messages.set(m.offset, m);
              const value = await decode(m);
              if (value) await r.restore.fold(value, m.offset);
              resolveOffset(m.offset);
              if (BigInt(m.offset) + 1n === r.until) await finishRestore(batch.partition, mine);
              continue;
            }
            // The end passed without its last offset (nothing stored there): restoring is over.
            if (r) await finishRestore(batch.partition, mine);
            const type = m.headers?.['hub.event-type']?.toString();
            if (type !== undefined && !COMMANDS.has(type)) {
              mine.skip(m.offset);
              resolveOffset(m.offset);
              continue;
            }
            if (known === undefined) known = await prefetch(batch.messages);
            mine.begin(m.offset);
            let accepted = false;
            for (let attempt = 1; !accepted && activeNow(); attempt++) {
              try {
                const value = await decode(m);
                if (!value || !COMMANDS.has(value.type)) { mine.end(m.offset); accepted = true; break; }
                const { done } = await executor.handle(value, String(batch.partition), known);
                settle(batch.partition, mine, m, done);
                accepted = true;
              } catch (err) {
                if (!isRetriable(err) && (err instanceof HubError || attempt >= 3)) {
                  await park(batch.partition, m, err).then(() => { mine.end(m.offset); accepted = true; }, (e: unknown) => log.error({ err: errorMessage(e) }, 'cannot park'));
                  if (accepted) break;
                }
                await sleep(Math.min(5000, 100 * 2 ** attempt));
                await heartbeat().catch(() => undefined);
              }
            }
            if (!accepted) break;
            resolveOffset(m.offset);
            // Back-pressure: hold the partition while too many runs wait in memory.
            while (executor.inFlight() >= d.limits.maxBufferedRuns && activeNow()) {
              await sleep(50);
              await heartbeat().catch(() => undefined);
            }
          }
          await heartbeat().catch(() => undefined);
        },
      });
      commitTimer = setInterval(() => { void commit(); }, d.commitIntervalMs ?? 500);
    },
    async stop() {
      stopping = true;
      clearInterval(commitTimer);
      await executor.stop();
      await projection.stop();
      await commit();
      await consumer.disconnect();
      await versionFollower.stop();
      await admin.disconnect();
    },
  };
}

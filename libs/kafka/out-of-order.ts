/**
 * Manual offsets up to the oldest unfinished message: a message's work is started in
 * order but finishes later and out of order (many at once), and each partition
 * commits only up to its oldest unfinished message (offset-tracker.ts), on a timer and
 * once more on stop. After a crash or a rebalance the new owner reads again from
 * there: what was before the partition's end when it was assigned is first folded
 * (restore), so work in progress is rebuilt before anything is acted on. Partitions
 * lost in a rebalance are reported, so their in-memory work is abandoned.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { PartitionOffsets } from './offset-tracker.ts';
import { handleMessage, messageRetry, metaOf, parkDurably, type BatchHold, type ConsumedMessage, type ConsumerContext, type MessageMeta } from './consume-message.ts';
import type { ModeDriver } from './consumer.ts';
import type { HubError } from '../errors/index.ts';
import { errorMessage, isRetriable } from '../errors/index.ts';
import { retry, RetryAbandoned } from '../time/retry.ts';
import { sleep } from '../time/sleep.ts';

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** How a message's work ended: done, or refused for a reason no retry fixes (the message is then parked with it). */
export interface WorkDone {
  refused?: HubError;
}

/** A message's work, taken on: `done` resolves when it is finished (never rejects). */
export interface Work {
  done: Promise<WorkDone>;
}

export interface Restorer<T> {
  /** Folds one message read again, in order; nothing is acted on yet. */
  fold(message: ConsumedMessage<T>): Promise<void>;
  /** Folding is over: per folded offset whose work goes on, when it is done; the other offsets are done now. */
  finish(): Promise<ReadonlyMap<string, Promise<WorkDone>>>;
}

export interface OutOfOrderMode<T, C = void> {
  /** Starts a message's work; resolves once the work is taken on. `prepared`: what `prepare` read for its batch. */
  start(message: ConsumedMessage<T>, prepared: C): Promise<Work>;
  /** Messages needing no work, told by their headers without decoding: finished as soon as read. */
  ignore?(message: MessageMeta): boolean;
  /** Read once per batch before its first work starts (the executor reads the runs a batch asks for at once). */
  prepare?(messages: readonly MessageMeta[]): Promise<C>;
  /** A partition read again after an assignment: what was before its end then is folded first. */
  restore?(partition: TopicPartition): Restorer<T>;
  /** Partitions that moved to another member: their in-memory work is abandoned (its new owner takes it up). */
  onPartitionsLost?(partitions: readonly TopicPartition[]): void;
  /** While true, a partition waits before taking its next message (back-pressure). */
  saturated?(): boolean;
  /** On stop, once no message is taken: finish or abandon work in flight; the final commit follows. */
  drain?(): Promise<void>;
  /** How often finished offsets are committed; default 500. */
  commitIntervalMs?: number;
}

interface PartitionState extends TopicPartition {
  offsets: PartitionOffsets;
  committed: string | null;
  /** Reading again up to `until` (exclusive) folds instead of acting. */
  restoring?: { until: bigint; restorer: Restorer<unknown>; messages: Map<string, KafkaMessage> };
}

const keyOf = (p: TopicPartition) => `${p.topic}\u0000${p.partition}`;

export function outOfOrderMode<T, C>(c: ConsumerContext, mode: OutOfOrderMode<T, C>, kafka: Kafka): ModeDriver {
  /** Per partition, in this generation of the group. */
  const partitions = new Map<string, PartitionState>();
  const admin: Admin | null = mode.restore ? kafka.admin() : null;
  let consumer: Consumer | undefined;
  let timer: NodeJS.Timeout | undefined;
  const running = () => !c.signal.aborted;

  async function commit(): Promise<void> {
    const due: { state: PartitionState; offset: string }[] = [];
    for (const state of partitions.values()) {
      const offset = state.offsets.committable();
      if (offset !== null && offset !== state.committed) due.push({ state, offset });
    }
    if (due.length === 0 || !consumer) return;
    try {
      await consumer.commitOffsets(due.map(({ state, offset }) => ({ topic: state.topic, partition: state.partition, offset })));
      for (const { state, offset } of due) state.committed = offset;
    } catch (err) {
      // Lost the partition in a rebalance, or the coordinator moved: the next tick tries again.
      c.log.debug({ err: errorMessage(err) }, 'offset commit failed');
    }
  }

  function onAssignment(assignment: Record<string, number[]>): void {
    const assigned = new Set(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => keyOf({ topic, partition }))));
    const lost: TopicPartition[] = [];
    for (const [key, state] of partitions) {
      // Kept or not, a partition starts a fresh account (and a restore) in the new generation.
      partitions.delete(key);
      if (!assigned.has(key)) lost.push({ topic: state.topic, partition: state.partition });
    }
    if (lost.length > 0) {
      c.log.info({ partitions: lost }, 'partitions moved to another member; their work is handed over');
      mode.onPartitionsLost?.(lost);
    }
  }

  /** A message's work ended: past it the partition may commit; refused, it is parked first. */
  function settle(state: PartitionState, m: KafkaMessage, done: Promise<WorkDone>): void {
    void done.then(async (outcome) => {
      const hold = { active: running, heartbeat: async () => undefined };
      // Not parked (stopping): it stays unfinished and is read again.
      if (outcome.refused && !(await parkDurably(c, hold, state.topic, state.partition, m, outcome.refused))) return;
      state.offsets.end(m.offset);
    }).catch((err: unknown) => c.log.error({ topic: state.topic, partition: state.partition, offset: m.offset, err: errorMessage(err) }, 'settling a message failed; it stays uncommitted'));
  }

  async function finishRestore(state: PartitionState): Promise<void> {
    const r = state.restoring!;
    delete state.restoring;
    const holds = await r.restorer.finish();
    for (const [offset, m] of r.messages) {
      const hold = holds.get(offset);
      if (hold) settle(state, m, hold);
      else state.offsets.end(offset);
    }
  }

  /** The partition's account in this generation; on its first batch, whether it must be restored. */
  async function stateOf(topic: string, partition: number, firstOffset: string | null, hold: BatchHold): Promise<PartitionState> {
    const key = keyOf({ topic, partition });
    const known = partitions.get(key);
    if (known) return known;
    const state: PartitionState = { topic, partition, offsets: new PartitionOffsets(), committed: null };
    if (admin && mode.restore) {
      const ends = await retry(() => admin.fetchTopicOffsets(topic), { ...messageRetry(c, hold, 'reading the partition end', { topic, partition }), again: isRetriable });
      const until = BigInt(ends.find((o) => o.partition === partition)?.high ?? '0');
      if (firstOffset !== null && BigInt(firstOffset) < until) state.restoring = { until, restorer: mode.restore({ topic, partition }) as Restorer<unknown>, messages: new Map() };
    }
    partitions.set(key, state);
    return state;
  }

  async function eachBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload, active: () => boolean): Promise<void> {
    const hold: BatchHold = { active, heartbeat };
    const { topic, partition } = batch;
    try {
      const state = await stateOf(topic, partition, batch.firstOffset(), hold);
      let prepared: { value: C } | undefined;
      for (const m of batch.messages) {
        if (!active()) break;
        const r = state.restoring;
        if (r && BigInt(m.offset) < r.until) {
          state.offsets.begin(m.offset);
          r.messages.set(m.offset, m);
          if ((await handleMessage(c, hold, topic, partition, m, (cm) => r.restorer.fold(cm))) === 'abandoned') break;
          resolveOffset(m.offset);
          if (BigInt(m.offset) + 1n === r.until) await finishRestore(state);
          continue;
        }
        // The end passed without its last offset (nothing stored there): restoring is over.
        if (r) await finishRestore(state);
        if (mode.ignore?.(metaOf(topic, partition, m))) {
          state.offsets.skip(m.offset);
          resolveOffset(m.offset);
          continue;
        }
        if (!prepared) {
          const metas = batch.messages.map((x) => metaOf(topic, partition, x));
          prepared = { value: mode.prepare ? await retry(() => mode.prepare!(metas), messageRetry(c, hold, 'preparing a batch', { topic, partition })) : undefined as C };
        }
        const value = prepared.value;
        state.offsets.begin(m.offset);
        const started = await handleMessage(c, hold, topic, partition, m, (cm: ConsumedMessage<T>) => mode.start(cm, value));
        if (started === 'abandoned') break;
        if (started === 'parked') state.offsets.end(m.offset);
        else settle(state, m, started.done.done);
        resolveOffset(m.offset);
        while (mode.saturated?.() && active()) {
          await sleep(50, c.signal);
          await heartbeat().catch(() => undefined);
        }
      }
    } catch (err) {
      // Stopped, or the partition moved: what was not taken on is read again by its owner.
      if (!(err instanceof RetryAbandoned)) throw err;
    }
    await heartbeat().catch(() => undefined);
  }

  return {
    run: { autoCommit: false },
    eachBatch,
    async start(k) {
      consumer = k;
      await admin?.connect();
      k.on(k.events.GROUP_JOIN, (e) => onAssignment(e.payload.memberAssignment));
      timer = setInterval(() => { void commit(); }, mode.commitIntervalMs ?? 500);
    },
    async stop() {
      clearInterval(timer);
      await mode.drain?.();
      await commit();
    },
    async close() {
      await admin?.disconnect();
    },
  };
}

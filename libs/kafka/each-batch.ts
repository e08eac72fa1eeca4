/**
 * Per batch: one handler call per fetched batch gives each message's outputs, and all
 * of them are published before any offset of the batch moves; then the whole batch is
 * resolved. A message that does not decode, whose handling fails for good, or whose
 * outputs the topic refuses even alone (publishIsolating) is parked once the rest is
 * published, so a batch tried again parks nothing twice. Anything else that fails (the
 * broker, the store, the handler for a passing reason) tries the whole batch again.
 */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { OutgoingEvent } from './producer.ts';
import { publishIsolating } from './publish-isolating.ts';
import { decodeMessage, heartbeatAfterWait, membershipLost, parkDurably, type BatchHold, type ConsumedMessage, type ConsumerContext } from './consume-message.ts';
import type { ModeDriver } from './consumer.ts';
import { HubError, errorMessage, isRetriable } from '../errors/index.ts';
import { retry, RetryAbandoned } from '../time/retry.ts';

export interface BatchOutput<T> {
  message: ConsumedMessage<T>;
  events: readonly OutgoingEvent[];
}

export interface BatchMode<T> {
  /** Where every output goes. */
  outputTopic: string;
  /**
   * The outputs of each message of a batch (called again when the batch is tried
   * again; with one message at a time when the batch fails for good, to find which).
   */
  handle(messages: readonly ConsumedMessage<T>[], hold: BatchLiveness): Promise<readonly BatchOutput<T>[]>;
}

/** What a long handler may call between steps so the group keeps the partition with this member. */
export interface BatchLiveness {
  heartbeat(): Promise<void>;
}

interface Failed { source: KafkaMessage; error: unknown }

export function eachBatchMode<T>(c: ConsumerContext, mode: BatchMode<T>): ModeDriver {
  /** Retriable failures are thrown (the batch is tried again); others are the message's own. */
  async function decodeAll(topic: string, partition: number, messages: KafkaMessage[], failed: Failed[]): Promise<ConsumedMessage<T>[]> {
    const decoded: ConsumedMessage<T>[] = [];
    for (const m of messages) {
      try {
        decoded.push(await decodeMessage<T>(c, topic, partition, m));
      } catch (err) {
        if (isRetriable(err)) throw err;
        failed.push({ source: m, error: err });
      }
    }
    return decoded;
  }

  async function outputsOf(decoded: ConsumedMessage<T>[], attempt: number, failed: Failed[], raw: Map<string, KafkaMessage>, live: BatchLiveness): Promise<BatchOutput<T>[]> {
    if (decoded.length === 0) return [];
    try {
      return [...await mode.handle(decoded, live)];
    } catch (err) {
      if (isRetriable(err) || (!(err instanceof HubError) && attempt < c.retry.poisonAttempts)) throw err;
      c.log.warn({ err: errorMessage(err) }, 'a batch failed for good; handling its messages one at a time');
    }
    const outputs: BatchOutput<T>[] = [];
    for (const m of decoded) {
      try {
        outputs.push(...await mode.handle([m], live));
      } catch (err) {
        if (isRetriable(err)) throw err;
        failed.push({ source: raw.get(m.offset)!, error: err });
      }
    }
    return outputs;
  }

  return {
    run: { autoCommit: true, autoCommitInterval: 1000 },
    async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload, active: () => boolean) {
      if (batch.messages.length === 0) return;
      const hold: BatchHold = { active, heartbeat };
      const raw = new Map(batch.messages.map((m) => [m.offset, m]));
      try {
        await retry(async (attempt) => {
          await heartbeatAfterWait(hold, attempt);
          const failed: Failed[] = [];
          const decoded = await decodeAll(batch.topic, batch.partition, batch.messages, failed);
          const outputs = await outputsOf(decoded, attempt, failed, raw, { heartbeat: () => heartbeat().catch(() => undefined) });
          const sourced = outputs.map((o) => ({ source: raw.get(o.message.offset)!, events: o.events }));
          const refused = await publishIsolating(c.bus, mode.outputTopic, sourced);
          for (const p of [...failed, ...refused]) {
            if (!(await parkDurably(c, hold, batch.topic, batch.partition, p.source, p.error))) return;
          }
          for (const m of batch.messages) resolveOffset(m.offset);
          await commitOffsetsIfNecessary();
        }, {
          backoff: { initialMs: c.retry.initialDelayMs, maxMs: c.retry.maxDelayMs },
          active,
          signal: c.signal,
          // Out of the group: kafkajs rejoins, and the batch comes again to whoever owns it.
          again: (err) => !membershipLost(err),
          onRetry: (err, attempt, delayMs) => c.log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs, retriable: isRetriable(err), err: errorMessage(err) }, 'a batch failed; retrying'),
        });
      } catch (err) {
        // Stopped, or the partition moved: the batch is delivered again, to whoever owns it.
        if (!(err instanceof RetryAbandoned)) throw err;
      }
    },
  };
}

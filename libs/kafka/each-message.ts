/**
 * Per message: the offset moves past a message once its handler resolved (its effect
 * is durable) or it was parked, and is committed from there by kafkajs's auto-commit.
 * A message that is still failing for a passing reason holds its partition.
 */
import type { EachBatchPayload } from 'kafkajs';
import { handleMessage, type ConsumerContext, type ConsumedMessage } from './consume-message.ts';
import type { ModeDriver } from './consumer.ts';

export type MessageHandler<T> = (message: ConsumedMessage<T>) => Promise<void>;

export function eachMessageMode<T>(c: ConsumerContext, handler: MessageHandler<T>): ModeDriver {
  return {
    run: { autoCommit: true, autoCommitInterval: 1000, autoCommitThreshold: 500 },
    async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload, active: () => boolean) {
      for (const m of batch.messages) {
        if (!active()) break;
        if ((await handleMessage(c, { active, heartbeat }, batch.topic, batch.partition, m, handler)) === 'abandoned') break;
        resolveOffset(m.offset);
        await commitOffsetsIfNecessary();
      }
      await heartbeat();
    },
  };
}

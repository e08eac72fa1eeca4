import type { KafkaMessage } from 'kafkajs';
import type { EventBus } from './producer.ts';
import type { Logger } from '../log/index.ts';
import { HubError, errorMessage } from '../errors/index.ts';

/**
 * Parks a message that cannot succeed on a consumer group's DLQ: its original key,
 * headers and bytes, plus `dlq.*` headers saying why and where it came from.
 */
export async function parkOnDlq(o: { bus: EventBus; dlqTopic: string; group: string; log: Logger }, topic: string, partition: number, m: KafkaMessage, err: unknown): Promise<void> {
  const code = err instanceof HubError ? err.code : 'HANDLER_FAILED';
  o.log.warn({ topic, partition, offset: m.offset, code, err: errorMessage(err) }, 'message parked on DLQ');
  await o.bus.publishRaw(o.dlqTopic, [{
    key: m.key,
    value: m.value,
    headers: {
      ...(m.headers as Record<string, string | Buffer>),
      'dlq.error.code': code,
      'dlq.error.message': errorMessage(err).slice(0, 2000),
      'dlq.source.topic': topic,
      'dlq.source.partition': String(partition),
      'dlq.source.offset': m.offset,
      'dlq.group': o.group,
      'dlq.failed-at': new Date().toISOString(),
    },
  }]);
}

import type { KafkaMessage } from 'kafkajs';
import type { EventBus } from './producer.ts';
import type { Logger } from '../log/index.ts';
import { HubError, errorMessage } from '../errors/index.ts';

/**
 * Parks a message that cannot succeed on a consumer group's DLQ: its original key,
 * headers and bytes, plus `dlq.*` headers saying why and where it came from. A copy
 * the DLQ topic refuses as too large is parked without its value (`dlq.value-omitted`),
 * which the source offset still points to, so parking itself never loops.
 */
export async function parkOnDlq(o: { bus: EventBus; dlqTopic: string; group: string; log: Logger }, topic: string, partition: number, m: KafkaMessage, err: unknown): Promise<void> {
  const code = err instanceof HubError ? err.code : 'HANDLER_FAILED';
  o.log.warn({ topic, partition, offset: m.offset, code, err: errorMessage(err) }, 'message parked on DLQ');
  const headers = {
    ...(m.headers as Record<string, string | Buffer>),
    'dlq.error.code': code,
    'dlq.error.message': errorMessage(err).slice(0, 2000),
    'dlq.source.topic': topic,
    'dlq.source.partition': String(partition),
    'dlq.source.offset': m.offset,
    'dlq.group': o.group,
    'dlq.failed-at': new Date().toISOString(),
  };
  try {
    await o.bus.publishRaw(o.dlqTopic, [{ key: m.key, value: m.value, headers }]);
  } catch (e) {
    if (!(e instanceof HubError) || e.code !== 'KAFKA_MESSAGE_TOO_LARGE') throw e;
    o.log.warn({ topic, partition, offset: m.offset }, 'the DLQ refuses the message as too large; parked without its value');
    await o.bus.publishRaw(o.dlqTopic, [{ key: m.key, value: null, headers: { ...headers, 'dlq.value-omitted': `${m.value?.length ?? 0} bytes; read it at the source offset` } }]);
  }
}

import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { createConsumerRunner, type ConsumerRunner, type RetryPolicy } from '../../libs/kafka/consumer.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import type { RecordStore } from '../../libs/store/records.ts';
import type { Logger } from '../../libs/log/index.ts';
import { onRecordChanged } from './project.ts';

export const projectorGroup = 'record-projector';

export interface RecordProjectorDeps {
  runtime: KafkaRuntime;
  records: RecordStore;
  log: Logger;
  group?: string;
  retry?: RetryPolicy;
}

/** The projector's consumer, unstarted, so tests drive it without a process. */
export function createRecordProjector(d: RecordProjectorDeps): ConsumerRunner {
  return createConsumerRunner<RecordChanged>({
    ...d.runtime.consumer(d.group ?? projectorGroup, d.log),
    topics: [d.runtime.topic(topics.records)],
    fromBeginning: true,
    ...(d.retry ? { retry: d.retry } : {}),
    handler: async (m) => {
      await onRecordChanged(m.value, { records: d.records, log: d.log });
    },
  });
}

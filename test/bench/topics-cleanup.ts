import type { BaseConfig } from '../../libs/config/index.ts';
import { createKafka } from '../../libs/kafka/client.ts';
import { createLogger } from '../../libs/log/index.ts';

/** Drops a bench run's own topics so runs do not pile up on the shared stack. */
export async function deleteTopicsWithPrefix(config: BaseConfig, prefix: string): Promise<void> {
  if (!prefix) return;
  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: 'bench-cleanup', log: createLogger({ service: 'bench-cleanup', level: 'error' }) });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}

import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log/index.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
}

const pinoLevel: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go through pino, at warn and above. */
export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 10_000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      // Our producers retry a bounded number of times on purpose: the caller gets an
      // error (503) instead of a hang, and retries with the same event ids.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      log[pinoLevel[entry.level] ?? 'info']({ namespace: entry.namespace, ...rest }, message);
    },
  });
}

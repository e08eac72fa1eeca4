import { errorFactory, errorMessage, type HubError, pickErrors } from '../errors/index.ts';

export const kafkaErrors = pickErrors('KAFKA_UNAVAILABLE', 'KAFKA_MESSAGE_TOO_LARGE', 'KAFKA_RECORD_INVALID', 'KAFKA_NOT_AUTHORIZED', 'REGISTRY_UNAVAILABLE', 'SCHEMA_INCOMPATIBLE', 'SCHEMA_MISSING', 'MESSAGE_UNDECODABLE', 'MESSAGE_INVALID');

export const raiseKafka = errorFactory(kafkaErrors);

/** Broker answers that no retry fixes, by kafkajs error type, with the hub's code for each. */
const refusals: Readonly<Record<string, 'KAFKA_MESSAGE_TOO_LARGE' | 'KAFKA_RECORD_INVALID' | 'KAFKA_NOT_AUTHORIZED'>> = {
  MESSAGE_TOO_LARGE: 'KAFKA_MESSAGE_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'KAFKA_MESSAGE_TOO_LARGE',
  INVALID_RECORD: 'KAFKA_RECORD_INVALID',
  CORRUPT_MESSAGE: 'KAFKA_RECORD_INVALID',
  INVALID_TIMESTAMP: 'KAFKA_RECORD_INVALID',
  INVALID_REQUIRED_ACKS: 'KAFKA_RECORD_INVALID',
  TOPIC_AUTHORIZATION_FAILED: 'KAFKA_NOT_AUTHORIZED',
  CLUSTER_AUTHORIZATION_FAILED: 'KAFKA_NOT_AUTHORIZED',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'KAFKA_NOT_AUTHORIZED',
  SASL_AUTHENTICATION_FAILED: 'KAFKA_NOT_AUTHORIZED',
};

/** The broker's own error type somewhere in a kafkajs error's chain (retries wrap the original). */
function brokerErrorType(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift() as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown } | null;
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    if (typeof e.type === 'string' && e.type in refusals) return e.type;
    queue.push(e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : []));
  }
  return undefined;
}

/**
 * A failed send as the hub's error: a refusal no retry fixes keeps its own code (not
 * retriable); anything else (broker away, leader moving, timeouts) is KAFKA_UNAVAILABLE,
 * which callers retry with the same events.
 */
export function kafkaSendError(err: unknown, what: string): HubError {
  const type = brokerErrorType(err);
  const message = `kafka did not acknowledge ${what}: ${errorMessage(err)}`;
  return type ? raiseKafka(refusals[type]!, `${message} (${type})`, { cause: err }) : raiseKafka('KAFKA_UNAVAILABLE', message, { cause: err });
}

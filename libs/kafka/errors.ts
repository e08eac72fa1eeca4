import { errorFactory } from '../errors/index.ts';

export const kafkaErrors = {
  KAFKA_UNAVAILABLE: { status: 503, retriable: true },
  REGISTRY_UNAVAILABLE: { status: 503, retriable: true },
  SCHEMA_INCOMPATIBLE: { status: 409, retriable: false },
  SCHEMA_MISSING: { status: 500, retriable: false },
  MESSAGE_UNDECODABLE: { status: 400, retriable: false },
  MESSAGE_INVALID: { status: 400, retriable: false },
} as const;

export const raiseKafka = errorFactory(kafkaErrors);

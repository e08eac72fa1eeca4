/** Public API of the hub's producer SDKs: over HTTP (anywhere) or straight to Kafka (inside the cluster). */
export { HubClient, HubClientError, parseRetryAfter, type HubClientOptions, type HubEvent, type EmitResult } from './hub-client.ts';
export { createDirectProducer, type DirectProducer } from './kafka-producer.ts';
export { recordEventLimits, type RecordEventInput } from '../kafka/record-events.ts';

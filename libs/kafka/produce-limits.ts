/**
 * How much one produce request may carry. The broker refuses a record batch larger than
 * the topic's `max.message.bytes` (itself defaulting to the broker's
 * `message.max.bytes`), and no retry makes a refused batch smaller; kafkajs puts all of a
 * call's messages for one partition into one batch. So every send is cut into requests
 * below the topic's limit, read from the cluster (cached, and read again after a
 * refusal, since an operator may change it), and below a message count.
 */
import type { Admin, Kafka, Message } from 'kafkajs';
import { raiseKafka } from './errors.ts';
import { errorMessage } from '../errors/index.ts';

/** Room left in each request for the record batch's own header and estimation slack: an eighth, at most 16 KiB. */
export function batchHeadroomBytes(maxMessageBytes: number): number {
  return Math.min(16 * 1024, Math.floor(maxMessageBytes / 8));
}
/** Per record beyond its key, value and headers: length, attributes, deltas, varints. */
const RECORD_OVERHEAD_BYTES = 32;
const HEADER_OVERHEAD_BYTES = 8;
export const DEFAULT_MAX_REQUEST_MESSAGES = 5000;

export interface ProduceLimits {
  /** The largest request (estimated bytes) a topic takes. */
  maxRequestBytes(topic: string): Promise<number>;
  /** Forgets a topic's limit (the broker refused a batch as too large: read it again). */
  forget(topic: string): void;
  readonly maxRequestMessages: number;
  close(): Promise<void>;
}

const length = (v: Buffer | string | null | undefined) => (v === null || v === undefined ? 0 : Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v));

/** What a message costs in a record batch, generously. */
export function estimateMessageBytes(m: Message): number {
  let bytes = RECORD_OVERHEAD_BYTES + length(m.key) + length(m.value as Buffer | string | null);
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    for (const one of values) bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(k) + length(one as Buffer | string | undefined);
  }
  return bytes;
}

/**
 * Cuts messages into requests of at most `maxBytes` and `maxMessages`, in order. A
 * message that does not fit even alone is KAFKA_MESSAGE_TOO_LARGE (not retriable),
 * raised before anything is sent.
 */
export function splitIntoRequests(topic: string, messages: readonly Message[], maxBytes: number, maxMessages: number): Message[][] {
  const requests: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  messages.forEach((m, i) => {
    const size = estimateMessageBytes(m);
    if (size > maxBytes) {
      throw raiseKafka('KAFKA_MESSAGE_TOO_LARGE', `message ${i + 1} of ${messages.length} for ${topic} is about ${size} bytes; the topic takes at most ${maxBytes} per request (max.message.bytes less room for the batch)`);
    }
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxMessages)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  });
  if (current.length > 0) requests.push(current);
  return requests;
}

/** Limits read from the cluster's topic configuration, per topic, when first needed. */
export function createProduceLimits(kafka: Kafka, options: { maxRequestMessages?: number } = {}): ProduceLimits {
  const cache = new Map<string, Promise<number>>();
  let admin: Admin | null = null;
  let connecting: Promise<Admin> | null = null;

  const connected = (): Promise<Admin> => {
    if (admin) return Promise.resolve(admin);
    connecting ??= (async () => {
      const a = kafka.admin();
      try {
        await a.connect();
      } catch (err) {
        connecting = null;
        throw err;
      }
      admin = a;
      return a;
    })();
    return connecting;
  };

  async function read(topic: string): Promise<number> {
    try {
      const a = await connected();
      const answer = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['max.message.bytes'] }] });
      const value = Number(answer.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`no max.message.bytes in the answer for ${topic}`);
      return value - batchHeadroomBytes(value);
    } catch (err) {
      throw raiseKafka('KAFKA_UNAVAILABLE', `kafka did not say how large a batch ${topic} takes: ${errorMessage(err)}`, { cause: err });
    }
  }

  return {
    maxRequestMessages: options.maxRequestMessages ?? DEFAULT_MAX_REQUEST_MESSAGES,
    maxRequestBytes(topic) {
      let limit = cache.get(topic);
      if (!limit) {
        limit = read(topic);
        cache.set(topic, limit);
        // A failed read is not remembered: the next send asks again.
        limit.catch(() => { if (cache.get(topic) === limit) cache.delete(topic); });
      }
      return limit;
    },
    forget: (topic) => { cache.delete(topic); },
    async close() {
      const a = admin;
      admin = null;
      connecting = null;
      await a?.disconnect();
    },
  };
}

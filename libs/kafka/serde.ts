import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

type Resolver = ReturnType<avro.Type['createResolver']>;
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import { raiseKafka } from './errors.ts';
import { physicalName, type TopicSpec } from './topics.ts';
import { errorMessage } from '../errors/index.ts';
import { retry } from '../time/retry.ts';

export const schemasDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas');

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/** Subject naming of the Confluent TopicNameStrategy. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

export async function readSchemaFile(file: string): Promise<string> {
  return readFile(path.join(schemasDir, file), 'utf8');
}

interface WriterEntry {
  type: avro.Type;
  /** Resolvers from this writer schema to each local reader schema, by reader name. */
  resolvers: Map<avro.Type, avro.Type | Resolver>;
}

/**
 * Avro in the Confluent wire format (magic byte, 4-byte schema id, Avro body), with
 * every topic's schema registered under `<topic>-value` at BACKWARD compatibility.
 * Encoding is synchronous from a local type; decoding resolves the writer's schema
 * (fetched once per id) into our reader schema, so old messages stay readable.
 */
export class AvroSerde {
  private readonly writers = new Map<number, Promise<WriterEntry>>();
  private readonly byTopic = new Map<string, { id: number; type: avro.Type }>();

  constructor(readonly registry: SchemaRegistry, readonly url: string) {}

  /** `url` is the Confluent API root, e.g. http://127.0.0.1:8081/apis/ccompat/v7 for Apicurio. */
  static connect(url: string): AvroSerde {
    return new AvroSerde(new SchemaRegistry({ host: url, retry: { retries: 6, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 5 } }), url);
  }

  /** Registers the schema of each topic (idempotent: an identical schema keeps its id). */
  async registerTopics(specs: readonly TopicSpec[], prefix: string): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    for (const spec of specs) {
      if (spec.schema === null) continue;
      const topic = physicalName(prefix, spec);
      ids.set(topic, await this.registerTopicSchema(topic, await readSchemaFile(spec.schema)));
    }
    return ids;
  }

  /** Registers `schemaText` for the topic's values and makes it the local writer and reader schema. */
  async registerTopicSchema(topic: string, schemaText: string): Promise<number> {
    const id = await this.registerSchema(valueSubject(topic), schemaText);
    this.byTopic.set(topic, { id, type: avro.Type.forSchema(JSON.parse(schemaText)) });
    return id;
  }

  /**
   * Registers under BACKWARD compatibility. Several services register the same schemas
   * at start, concurrently; the registry can refuse one of two simultaneous first
   * registrations, so a refusal is retried a few times before it counts.
   */
  async registerSchema(subject: string, schemaText: string): Promise<number> {
    let last: unknown;
    try {
      return await retry(async () => {
        // Set the subject's level first: Apicurio answers NONE (not 404) for a subject
        // without its own level, which the client would take as a mismatch.
        await this.setCompatibility(subject, 'BACKWARD');
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: schemaText },
          { subject, compatibility: COMPATIBILITY.BACKWARD },
        );
        return id;
      }, { backoff: { initialMs: 100, maxMs: 400 }, again: (_err, attempt) => attempt < 4 });
    } catch (err) {
      last = err;
    }
    const status = (last as { status?: number }).status;
    if (status === 409 || status === 422) {
      throw raiseKafka('SCHEMA_INCOMPATIBLE', `schema for ${subject} is not BACKWARD compatible with the registered one: ${errorMessage(last)}`, { cause: last });
    }
    throw raiseKafka('REGISTRY_UNAVAILABLE', `schema registry refused ${subject}: ${errorMessage(last)}`, { cause: last });
  }

  async setCompatibility(subject: string, level: 'BACKWARD' | 'NONE'): Promise<void> {
    const res = await fetch(`${this.url}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: level }),
    });
    if (!res.ok) {
      throw Object.assign(new Error(`PUT /config/${subject} answered ${res.status}: ${await res.text()}`), { status: res.status });
    }
  }

  encode(topic: string, value: unknown): Buffer {
    const entry = this.byTopic.get(topic);
    if (!entry) throw raiseKafka('SCHEMA_MISSING', `no schema registered for topic ${topic}`);
    let body: Buffer;
    try {
      body = entry.type.toBuffer(value);
    } catch (err) {
      throw raiseKafka('MESSAGE_INVALID', `value does not match the schema of ${topic}: ${errorMessage(err)}`, { cause: err });
    }
    const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    out.writeUInt8(MAGIC_BYTE, 0);
    out.writeInt32BE(entry.id, 1);
    body.copy(out, HEADER_BYTES);
    return out;
  }

  /** Decodes a message of `topic` into the topic's current (reader) schema. */
  async decode<T>(topic: string, message: Buffer | null): Promise<T> {
    if (!message || message.length < HEADER_BYTES || message.readUInt8(0) !== MAGIC_BYTE) {
      throw raiseKafka('MESSAGE_UNDECODABLE', `message on ${topic} is not in the Confluent Avro wire format`);
    }
    const reader = this.byTopic.get(topic);
    if (!reader) throw raiseKafka('SCHEMA_MISSING', `no schema registered for topic ${topic}`);
    const id = message.readInt32BE(1);
    const writer = await this.writer(id);
    let resolver = writer.resolvers.get(reader.type);
    if (!resolver) {
      try {
        resolver = id === reader.id ? reader.type : reader.type.createResolver(writer.type);
      } catch (err) {
        throw raiseKafka('MESSAGE_UNDECODABLE', `writer schema ${id} cannot be read as ${topic}'s schema: ${errorMessage(err)}`, { cause: err });
      }
      writer.resolvers.set(reader.type, resolver);
    }
    try {
      return reader.type.fromBuffer(message.subarray(HEADER_BYTES), resolver === reader.type ? undefined : (resolver as Resolver)) as T;
    } catch (err) {
      throw raiseKafka('MESSAGE_UNDECODABLE', `message on ${topic} does not decode with schema ${id}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Decodes any Confluent-framed Avro message with its own writer schema (no topic needed): what a DLQ listing shows. */
  async decodeAny(message: Buffer): Promise<unknown> {
    if (message.length < HEADER_BYTES || message.readUInt8(0) !== MAGIC_BYTE) throw raiseKafka('MESSAGE_UNDECODABLE', 'not in the Confluent Avro wire format');
    const writer = await this.writer(message.readInt32BE(1));
    try {
      return JSON.parse(JSON.stringify(writer.type.fromBuffer(message.subarray(HEADER_BYTES)), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)));
    } catch (err) {
      throw raiseKafka('MESSAGE_UNDECODABLE', `does not decode with its schema: ${errorMessage(err)}`, { cause: err });
    }
  }

  private writer(id: number): Promise<WriterEntry> {
    let entry = this.writers.get(id);
    if (!entry) {
      entry = this.registry.getSchema(id).then(
        (schema) => ({ type: avro.Type.forSchema((schema as unknown as { schema(): avro.Schema }).schema()), resolvers: new Map() }),
        (err: unknown) => {
          this.writers.delete(id);
          const status = (err as { status?: number }).status;
          if (status === 404) throw raiseKafka('MESSAGE_UNDECODABLE', `schema id ${id} is unknown to the registry`, { cause: err });
          throw raiseKafka('REGISTRY_UNAVAILABLE', `cannot fetch schema ${id}: ${errorMessage(err)}`, { cause: err });
        },
      );
      this.writers.set(id, entry);
    }
    return entry;
  }
}

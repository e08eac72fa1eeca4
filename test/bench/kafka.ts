/**
 * npm run bench -- kafka [records]
 * Messages/s and MB/s through libs/kafka (Avro via the registry, acks=all, idempotent,
 * 1 KiB records, produce then consume) beside the same broker's raw limit measured by
 * Kafka's own ProducerPerformance tool (acks=all, 1 KiB), and their ratio.
 */
import { baseConfigSpec, readConfig } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { ensureTopics } from '../../libs/kafka/admin.ts';
import { createConsumerRunner } from '../../libs/kafka/consumer.ts';
import { topics, dlqTopic } from '../../libs/kafka/topics.ts';
import { recordEventKey, type RecordChanged } from '../../libs/kafka/events.ts';
import { producerPerformance, recordBenchmark } from './support.ts';

const RECORD_BYTES = 1024;
const total = Number(process.argv[2] ?? 100_000);
const rawTotal = Number(process.argv[3] ?? 300_000);
const batchSize = 1000;
const prefix = `bench.${Date.now().toString(36)}.`;
const config = readConfig(baseConfigSpec, { ...process.env, HUB_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' });
const log = createLogger({ service: 'bench-kafka', level: 'warn', destination: process.stderr });

function eventOfSize(i: number, padding: string): RecordChanged {
  return {
    eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type: 'record.updated', workspaceId: 'bench',
    occurredAt: Date.now(), correlationId: `c${i}`, causationId: null, causationDepth: 0, source: 'producer',
    object: 'people', recordId: `p${i % 10_000}`, version: i,
    record: JSON.stringify({ name: `Person ${i}`, email: `p${i}@example.com`, notes: padding }), before: null, updatedFields: ['notes'],
  };
}

async function main(): Promise<void> {
  const group = 'bench-consumer';
  const runtime = await startKafkaRuntime(config, log, { groups: [group] });
  const topic = runtime.topic(topics.records);
  // Pad the record so each encoded message is 1 KiB.
  const base = runtime.serde.encode(topic, eventOfSize(0, '')).length;
  const padding = 'x'.repeat(Math.max(0, RECORD_BYTES - base - 1));
  const size = runtime.serde.encode(topic, eventOfSize(0, padding)).length;

  // Produce: sequential acks=all batches on one idempotent producer, Avro encoding included.
  let t0 = performance.now();
  for (let i = 0; i < total; i += batchSize) {
    const batch = [];
    for (let j = i; j < Math.min(total, i + batchSize); j++) {
      const e = eventOfSize(j, padding);
      batch.push({ key: recordEventKey(e), value: e });
    }
    await runtime.bus.publish(topic, batch);
  }
  const produceS = (performance.now() - t0) / 1000;

  // Consume: the consumer runner (decode, handler, offset resolution and commits).
  let consumed = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => { done = r; });
  const runner = createConsumerRunner<RecordChanged>({
    kafka: runtime.kafka, serde: runtime.serde, bus: runtime.bus, log, group: `${prefix}${group}`,
    topics: [topic], dlqTopic: runtime.topic(dlqTopic(group)), fromBeginning: true, partitionsConsumedConcurrently: 3,
    handler: async () => { consumed += 1; if (consumed === total) done(); },
  });
  t0 = performance.now();
  await runner.start();
  await finished;
  const consumeS = (performance.now() - t0) / 1000;
  await runner.stop();

  // Raw: Kafka's own producer perf tool on a topic of the same shape.
  const rawTopic = `${prefix}raw`;
  await ensureTopics(runtime.kafka, [{ name: 'raw', schema: null, compacted: false, retentionMs: 3_600_000 }], { prefix, partitions: config.topicPartitions, replicationFactor: 1 });
  await runtime.close();
  const raw = await producerPerformance({ brokers: config.kafkaBrokers, topic: rawTopic, records: rawTotal, recordBytes: RECORD_BYTES });

  const mb = (n: number, s: number) => (n * size) / s / 2 ** 20;
  const produceRate = total / produceS;
  const consumeRate = total / consumeS;
  const lines = [
    `| path | messages/s | MB/s |`,
    `|---|---:|---:|`,
    `| libs/kafka produce (Avro, acks=all, idempotent, ${size} B, ${total} msgs) | ${produceRate.toFixed(0)} | ${mb(total, produceS).toFixed(1)} |`,
    `| libs/kafka consume (consumer runner: decode, handler, commits) | ${consumeRate.toFixed(0)} | ${mb(total, consumeS).toFixed(1)} |`,
    `| raw ProducerPerformance (acks=all, idempotent, batch 1 MiB, linger 20 ms, ${RECORD_BYTES} B, ${rawTotal} msgs) | ${raw.recordsPerSec.toFixed(0)} | ${raw.mbPerSec.toFixed(1)} |`,
    '',
    `Ratio produce / raw: **${(produceRate / raw.recordsPerSec).toFixed(2)}** (messages/s); consume / raw: ${(consumeRate / raw.recordsPerSec).toFixed(2)}.`,
  ];
  console.log(lines.join('\n'));
  await recordBenchmark('kafka', lines.join('\n'));
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});

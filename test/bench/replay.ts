/**
 * npm run bench -- replay [events=1000000] [records=100000]
 * A projection rebuild from the log, as the ops service runs it (services/ops/rebuild.ts):
 * `events` record changes over `records` records are produced to crm.records, then the
 * records projection is rebuilt twice into scratch collections. Reported: the consumer's
 * own speed on that topic (read and decode only, the ceiling), events/s read and
 * documents/s written by each rebuild, and whether the two rebuilds' content hashes are
 * equal. Its own topic prefix and database; both are removed after.
 */
import { randomUUID } from 'node:crypto';
import { baseConfigSpec, readConfig } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { recordEventKey, type RecordChanged } from '../../libs/kafka/events.ts';
import { watermarks } from '../../libs/kafka/offsets.ts';
import { connectStore } from '../../libs/store/mongo.ts';
import { hashCollection } from '../../libs/projections/records.ts';
import { bulkBuild, createShadow } from '../../services/ops/rebuild.ts';
import { readRanges } from '../../services/ops/range-reader.ts';
import { recordBenchmark } from './support.ts';
import { deleteTopicsWithPrefix } from './topics-cleanup.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const records = Number(process.argv[3] ?? 100_000);
const id = Date.now().toString(36);
const prefix = `bench.replay.${id}.`;
const config = readConfig(baseConfigSpec, { ...process.env, HUB_TOPIC_PREFIX: prefix, MONGODB_DATABASE: `bench_replay_${id}`, LOG_LEVEL: 'warn' });
const log = createLogger({ service: 'bench-replay', level: 'warn', destination: process.stderr });
const say = (text: string) => process.stderr.write(`${text}\n`);

function event(i: number): RecordChanged {
  const r = i % records;
  const version = Math.floor(i / records) + 1;
  return {
    eventId: randomUUID(), type: version === 1 ? 'record.created' : 'record.updated', workspaceId: `ws_bench${r % 10}`,
    occurredAt: Date.now(), correlationId: `c${i}`, causationId: null, causationDepth: 0, source: 'bench',
    object: 'people', recordId: `p${r}`, version,
    record: JSON.stringify({ name: `Person ${r}`, email: `p${r}@example.com`, score: i % 1000, stage: version % 2 ? 'lead' : 'customer' }),
    before: null, updatedFields: ['score', 'stage'],
  };
}

async function main(): Promise<void> {
  const runtime = await startKafkaRuntime(config, log);
  const topic = runtime.topic(topics.records);
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  const admin = runtime.kafka.admin();
  await admin.connect();
  try {
    say(`producing ${total} record events over ${records} records to ${topic}…`);
    let t0 = Date.now();
    const batch = 5000;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i += batch) {
      const events = Array.from({ length: Math.min(batch, total - i) }, (_, k) => event(i + k)).map((value) => ({ key: recordEventKey(value), value }));
      inFlight.push(runtime.bus.publish(topic, events));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const produceSeconds = (Date.now() - t0) / 1000;
    say(`produced in ${produceSeconds.toFixed(1)} s`);

    // The ceiling: the same reader, decoding each message and doing nothing else.
    const marks = await watermarks(admin, topic);
    const ranges = [...marks].map(([partition, m]) => ({ topic, partition, from: m.low, to: m.high }));
    let read = 0;
    t0 = Date.now();
    await readRanges({
      kafka: runtime.kafka, admin, groupId: `${prefix}ops.bench-read`, ranges,
      onBatch: async (t, _p, messages) => {
        for (const m of messages) await runtime.serde.decode(t, m.value);
        read += messages.length;
      },
    });
    const readSeconds = (Date.now() - t0) / 1000;
    say(`read and decoded ${read} in ${readSeconds.toFixed(1)} s`);

    const builds: { events: number; documents: number; seconds: number; readMs: number; writeMs: number; hash: string }[] = [];
    for (const n of [1, 2]) {
      const name = `records__bench_${n}`;
      await createShadow(store.db, name);
      t0 = Date.now();
      const r = await bulkBuild({ kafka: runtime.kafka, admin, serde: runtime.serde, db: store.db, topic, groupPrefix: `${prefix}b${n}.` }, name);
      const seconds = (Date.now() - t0) / 1000;
      const hash = await hashCollection(store.db.collection(name));
      builds.push({ events: r.events, documents: r.documents, seconds, readMs: r.readMs, writeMs: r.writeMs, hash });
      say(`rebuild ${n}: ${r.events} events, ${r.documents} documents in ${seconds.toFixed(1)} s (read ${(r.readMs / 1000).toFixed(1)} s, write ${(r.writeMs / 1000).toFixed(1)} s); ${hash}`);
    }
    const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
    const lines = [
      `Command: \`npm run bench -- replay ${total} ${records}\`. ${total.toLocaleString('en-US')} record events (${records.toLocaleString('en-US')} records, ${total / records} versions each) on crm.records (${marks.size} partitions), rebuilt twice into scratch collections the way \`POST /v1/admin/replays {"projection": "records"}\` does (fold in memory with the projector's rule, then \`insertMany\` of 1,000-document chunks, three in flight).`,
      '',
      '| measure | figure |',
      '|---|---|',
      `| produce (libs/kafka, acks=all) | ${rate(total, produceSeconds)} events/s |`,
      `| consumer's own speed: read + Avro decode only | ${rate(read, readSeconds)} events/s |`,
      ...builds.map((b, i) => `| rebuild ${i + 1}: total | ${b.seconds.toFixed(1)} s |\n| rebuild ${i + 1}: read + decode + fold | ${rate(b.events, b.readMs / 1000)} events/s |\n| rebuild ${i + 1}: store writes | ${rate(b.documents, b.writeMs / 1000)} documents/s (${b.documents.toLocaleString('en-US')} documents) |`),
      `| content hashes equal | ${builds[0]!.hash === builds[1]!.hash ? 'yes' : 'NO'} (${builds[0]!.hash}) |`,
      '',
      'Reading keeps up with the consumer: the fold costs little over decoding. Writing is what the store allows: FerretDB 1.24 on PostgreSQL takes `insertMany` as one transaction per call; a projection has one document per record, so a log of many versions per record writes far fewer documents than it reads events.',
    ];
    await recordBenchmark('replay', lines.join('\n'));
    say(lines.join('\n'));
    if (builds[0]!.hash !== builds[1]!.hash) process.exitCode = 1;
  } finally {
    await admin.disconnect();
    await store.db.dropDatabase().catch(() => undefined);
    await store.close();
    await runtime.close();
    await deleteTopicsWithPrefix(config, prefix);
  }
}

await main();

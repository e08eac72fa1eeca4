/**
 * npm run bench -- ingress [eventBytes]
 *
 * The ingress as its own process (services/ingress/main.ts) on the real local stack,
 * driven over loopback: events/s and p50/p99 latency of single-event posts (at
 * saturation, and paced at half that rate) and of batches of 100 (acks=all), webhook
 * deliveries/s and p99, beside the `kafka` bench's raw ProducerPerformance figure.
 * Then where the time goes: each process's CPU during each scenario, the server's own
 * latency histogram, and the batch path's steps (parse/validate/encode, id ledger,
 * Kafka publish) timed alone against the same stack. Events are ~`eventBytes` of Avro
 * each (default 1024, the raw figure's record size); every event id is new.
 */
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { EventEmitter } from 'node:events';
import { baseConfigSpec, readConfig } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { ensureTopics } from '../../libs/kafka/admin.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { recordEventMessage, toRecordChanged } from '../../libs/kafka/record-events.ts';
import { connectStore, type Store } from '../../libs/store/mongo.ts';
import { createAcceptedIdLedger } from '../../services/ingress/store/ledger.ts';
import { testIngressEnv } from '../support/ingress.ts';
import { startService, type ServiceProcess } from '../support/process.ts';
import { percentile, producerPerformance, recordBenchmark } from './support.ts';

// ---- autocannon (no type declarations shipped; only what we use) ----
interface AcRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (req: AcRequest, context: Record<string, unknown>) => AcRequest;
  onResponse?: (status: number, body: string) => void;
}
interface AcOptions {
  url: string;
  method: string;
  headers: Record<string, string>;
  connections: number;
  duration: number;
  timeout: number;
  requests: AcRequest[];
}
interface AcResult { errors: number; timeouts: number; non2xx: number; statusCodeStats: Record<string, { count: number }> }
type Autocannon = (opts: AcOptions, done: (err: Error | null, result: AcResult) => void) => EventEmitter;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

// ---- settings ----
const EVENT_BYTES = Number(process.argv[2] ?? 1024);
const BATCH = 100;
const RUN_S = 12;
const WARMUP_S = 3;
const SINGLE_CONNECTIONS = 32;
const BATCH_CONNECTIONS = 16;
const HOOK_CONNECTIONS = 32;
const PARTITIONS = '6'; // the hub's default, and what the raw figure's topic had
const INGRESS_LOG_LEVEL = process.env.BENCH_INGRESS_LOG_LEVEL ?? 'info'; // the service's default
const CLK_TCK = 100;

const benchLog = createLogger({ service: 'bench-ingress', level: 'warn', destination: process.stderr });
const say = (text: string) => console.log(`· ${text}`);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ---- CPU per process, from /proc (which process the 2 cores went to) ----
interface CpuSnapshot { at: number; byLabel: Map<string, number>; busy: number; total: number }

function cpuSnapshot(roots: Map<number, string>): CpuSnapshot {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try { text = readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  const byLabel = new Map<string, number>();
  for (const [pid, p] of procs) {
    let label = 'other';
    let cur: number | undefined = pid;
    for (let hops = 0; cur !== undefined && cur > 1 && hops < 64; hops++) {
      const l = roots.get(cur);
      if (l) { label = l; break; }
      cur = procs.get(cur)?.ppid;
    }
    byLabel.set(label, (byLabel.get(label) ?? 0) + p.ticks);
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { at: performance.now(), byLabel, busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
}

/** % of one core per label between two snapshots; `machine` is all cores' busy time, `other` what no listed process took (kernel, softirq, the rest). */
function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Map<string, number> {
  const wallS = (b.at - a.at) / 1000;
  const out = new Map<string, number>();
  let attributed = 0;
  for (const [label, ticks] of b.byLabel) {
    if (label === 'other') continue;
    const pct = ((ticks - (a.byLabel.get(label) ?? 0)) / CLK_TCK / wallS) * 100;
    out.set(label, pct);
    attributed += pct;
  }
  const machine = ((b.busy - a.busy) / (b.total - a.total)) * os.cpus().length * 100;
  out.set('other', Math.max(0, machine - attributed));
  out.set('machine', machine);
  return out;
}

// ---- the ingress's own /metrics ----
interface ServerStats { routes: Map<string, { sum: number; count: number }>; lagP99: number }

async function serverStats(base: string): Promise<ServerStats> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const routes = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(/^hub_http_request_duration_seconds_(sum|count)\{route="([^"]*)",method="POST"\} ([\d.e+-]+)$/gm)) {
    const entry = routes.get(m[2]!) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    routes.set(m[2]!, entry);
  }
  // prom-client resets its event-loop delay histogram at every scrape: this is "since the last scrape".
  const lag = /^hub_ingress_nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)$/m.exec(text);
  return { routes, lagP99: lag ? Number(lag[1]) * 1000 : NaN };
}

// ---- load ----
interface Outcome {
  name: string;
  load: string;
  seconds: number;
  ok: number;
  events: number;
  non2xx: number;
  errors: number;
  statuses: string;
  p50: number;
  p99: number;
  serverMeanMs: number;
  lagP99Ms: number;
  cpu: Map<string, number>;
}

interface Target {
  base: string;
  route: string;
  path: string;
  headers: Record<string, string>;
  body: () => string;
  eventsPerRequest: number;
  /** Called with each 2xx answer's body. */
  onOk: (body: string) => void;
}

interface Measured { seconds: number; ok: number; non2xx: number; errors: number; statuses: string; latencies: number[] }

/** Closed loop at saturation: `connections` keep-alive connections, each sending as soon as it has an answer. */
async function saturate(t: Target, connections: number, seconds: number): Promise<Measured> {
  const latencies: number[] = [];
  const t0 = performance.now();
  const result = await new Promise<AcResult>((resolve, reject) => {
    const instance = autocannon({
      url: t.base, method: 'POST', headers: t.headers, connections, duration: seconds, timeout: 30,
      requests: [{
        path: t.path,
        setupRequest: (req) => ({ ...req, body: t.body() }),
        onResponse: (status, body) => { if (status >= 200 && status < 300) t.onOk(body); },
      }],
    }, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const wall = (performance.now() - t0) / 1000;
  const statuses = Object.entries(result.statusCodeStats).map(([code, s]) => `${code}×${s.count}`).join(' ');
  return { seconds: wall, ok: latencies.length, non2xx: result.non2xx, errors: result.errors + result.timeouts, statuses, latencies };
}

/**
 * Open loop at a fixed rate: requests leave on a schedule whatever the answers, and
 * latency counts from the scheduled time (no coordinated omission). autocannon's own
 * `overallRate` is not used for this: it refills every connection's quota once per
 * second, so each second starts with a saturating burst.
 */
async function paced(t: Target, rate: number, seconds: number): Promise<Measured> {
  const url = new URL(t.base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const latencies: number[] = [];
  const statusCount = new Map<number, number>();
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let inFlight = 0;
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const finishIfDone = () => { if (sent >= total && inFlight === 0) resolve(); };
    const fire = (scheduled: number) => {
      const body = t.body();
      inFlight += 1;
      const req = http.request({
        agent, host: url.hostname, port: url.port, path: t.path, method: 'POST',
        headers: { ...t.headers, 'content-length': String(Buffer.byteLength(body)) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          statusCount.set(status, (statusCount.get(status) ?? 0) + 1);
          if (status >= 200 && status < 300) {
            latencies.push(performance.now() - scheduled);
            t.onOk(Buffer.concat(chunks).toString('utf8'));
          } else {
            non2xx += 1;
          }
          inFlight -= 1;
          finishIfDone();
        });
      });
      req.on('error', () => { errors += 1; inFlight -= 1; finishIfDone(); });
      req.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (sent < due) {
        const scheduled = t0 + (sent / rate) * 1000;
        sent += 1;
        fire(scheduled);
      }
      if (sent < total) setTimeout(tick, 1);
      else finishIfDone();
    };
    tick();
  });
  agent.destroy();
  const wall = (performance.now() - t0) / 1000;
  return { seconds: wall, ok: latencies.length, non2xx, errors, statuses: [...statusCount].map(([c, n]) => `${c}×${n}`).join(' '), latencies };
}

async function scenario(name: string, load: string, t: Target, roots: Map<number, string>, run: () => Promise<Measured>): Promise<Outcome> {
  const before = await serverStats(t.base);
  const cpu0 = cpuSnapshot(roots);
  const m = await run();
  const cpu1 = cpuSnapshot(roots);
  const after = await serverStats(t.base);
  const a = after.routes.get(t.route);
  const b = before.routes.get(t.route) ?? { sum: 0, count: 0 };
  const sorted = m.latencies.sort((x, y) => x - y);
  const o: Outcome = {
    name, load, seconds: m.seconds, ok: m.ok, events: m.ok * t.eventsPerRequest, non2xx: m.non2xx, errors: m.errors, statuses: m.statuses,
    p50: percentile(sorted, 50), p99: percentile(sorted, 99),
    serverMeanMs: a && a.count > b.count ? ((a.sum - b.sum) / (a.count - b.count)) * 1000 : NaN,
    lagP99Ms: after.lagP99,
    cpu: cpuBetween(cpu0, cpu1),
  };
  say(`${name}: ${fmt(o.ok / o.seconds)} req/s, ${fmt(o.events / o.seconds)} events/s, p50 ${fmt(o.p50, 1)} ms, p99 ${fmt(o.p99, 1)} ms, non-2xx ${o.non2xx}, errors ${o.errors} (${o.statuses})`);
  return o;
}

// ---- timing steps alone ----
async function timeAlone(n: number, f: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

/** Calls per second with `callers` concurrent loops for `seconds`. */
async function callsPerSecond(callers: number, seconds: number, f: () => Promise<unknown>): Promise<number> {
  let calls = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < end) { await f(); calls += 1; }
  }));
  return calls / ((performance.now() - t0) / 1000);
}

// ---- the raw figure ----
async function rawFigure(runtime: KafkaRuntime, brokers: string[], prefix: string): Promise<{ msgsPerSec: number; source: string }> {
  const text = await readFile('BENCHMARKS.md', 'utf8').catch(() => '');
  const section = /## kafka\n([\s\S]*?)(?=\n## |$)/.exec(text)?.[1];
  const line = section?.split('\n').find((l) => l.startsWith('| raw ProducerPerformance'));
  const value = line ? Number(line.split('|')[2]?.trim()) : NaN;
  if (Number.isFinite(value) && value > 0) {
    const date = /_(\d{4}-\d{2}-\d{2}) ·/.exec(section ?? '')?.[1] ?? 'undated';
    return { msgsPerSec: value, source: `BENCHMARKS.md \`## kafka\` (${date}), not re-measured` };
  }
  say('no raw figure in BENCHMARKS.md: running ProducerPerformance (300000 × 1 KiB)');
  await ensureTopics(runtime.kafka, [{ name: 'raw', schema: null, compacted: false, retentionMs: 3_600_000 }], { prefix, partitions: Number(PARTITIONS), replicationFactor: 1 });
  const raw = await producerPerformance({ brokers, topic: `${prefix}raw`, records: 300_000, recordBytes: 1024 });
  return { msgsPerSec: raw.recordsPerSec, source: 'ProducerPerformance run now (300000 × 1 KiB, acks=all)' };
}

async function main(): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = testIngressEnv('bench', {
    HUB_HTTP_PORT: String(port), HUB_PUBLIC_URL: base, HUB_TOPIC_PARTITIONS: PARTITIONS,
    HUB_RATE_LIMIT_RPS: '1000000000', HUB_RATE_LIMIT_BURST: '1000000000', LOG_LEVEL: INGRESS_LOG_LEVEL,
  });
  const config = readConfig(baseConfigSpec, { ...process.env, ...env, LOG_LEVEL: 'warn' });
  const benchStarted = performance.now();

  // 1. The ingress as its own process.
  say(`starting services/ingress/main.ts on ${base} (LOG_LEVEL=${INGRESS_LOG_LEVEL}, topics ${config.topicPrefix}*, database ${config.mongodbDatabase})`);
  const ingress: ServiceProcess = startService('ingress', { ...process.env, ...env });
  const died = ingress.exited.then((code) => { throw new Error(`ingress exited (${code}):\n${ingress.output().slice(-3000)}`); });
  died.catch(() => undefined);
  await Promise.race([died, (async () => { while (!ingress.output().includes('"msg":"listening"')) await sleep(50); })()]);
  // From here on keep only the log's tail: startService's collector re-scans all it kept on every chunk.
  let tail = '';
  for (const stream of [ingress.child.stdout, ingress.child.stderr]) {
    stream?.removeAllListeners('data');
    stream?.on('data', (d: Buffer) => { tail = (tail + String(d)).slice(-20_000); });
  }

  let runtime: KafkaRuntime | undefined;
  let store: Store | undefined;
  let failed = false;
  try {
    const admin = { authorization: `Bearer ${env.HUB_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const wsRes = await fetch(`${base}/v1/admin/workspaces`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'bench' }) });
    if (wsRes.status !== 201) throw new Error(`creating a workspace: ${wsRes.status} ${await wsRes.text()}`);
    const ws = await wsRes.json() as { workspaceId: string; apiKey: string };
    const auth = { authorization: `Bearer ${ws.apiKey}`, 'content-type': 'application/json' };
    const hookRes = await fetch(`${base}/v1/hooks`, {
      method: 'POST', headers: auth,
      body: JSON.stringify({ name: 'bench form', expectedBody: { email: { type: 'string', format: 'email', required: true }, name: { type: 'string' }, score: { type: 'number' } } }),
    });
    if (hookRes.status !== 201) throw new Error(`creating a hook: ${hookRes.status} ${await hookRes.text()}`);
    const hook = await hookRes.json() as { hookId: string };

    // The bench's own clients on the same stack: Avro sizes, offsets, and the steps timed alone.
    runtime = await startKafkaRuntime(config, benchLog);
    store = await connectStore(config.mongodbUri, config.mongodbDatabase);
    const recordsTopic = runtime.topic(topics.records);
    const webhooksTopic = runtime.topic(topics.webhooks);

    // Events of ~EVENT_BYTES of Avro, each with a new id.
    let seq = 0;
    const eventJson = (padding: string) => {
      const i = seq++;
      return `{"id":"${randomUUID()}","type":"record.updated","object":"people","recordId":"p${i % 10_000}",`
        + `"record":{"name":"Person ${i}","email":"p${i}@example.com","stage":"lead","notes":"${padding}"},"updatedFields":["stage","notes"]}`;
    };
    const avroSize = (padding: string) => runtime!.serde.encode(recordsTopic, toRecordChanged(ws.workspaceId, JSON.parse(eventJson(padding)), Date.now())).length;
    const padding = 'x'.repeat(Math.max(0, EVENT_BYTES - avroSize('')));
    const eventBytes = avroSize(padding);
    const single = () => eventJson(padding);
    const batch = () => `{"events":[${Array.from({ length: BATCH }, () => eventJson(padding)).join(',')}]}`;
    const batchBodyBytes = Buffer.byteLength(batch());
    say(`workspace ${ws.workspaceId}, hook ${hook.hookId}; events of ${eventBytes} B Avro (${Buffer.byteLength(single())} B JSON), batch bodies ${(batchBodyBytes / 1024).toFixed(0)} KiB`);

    // Every 202 is counted, warm-ups included, to check the topics against.
    let accepted = 0;
    let duplicates = 0;
    let delivered = 0;
    const onEvents = (body: string) => {
      const r = JSON.parse(body) as { accepted: string[]; duplicates: string[] };
      accepted += r.accepted.length;
      duplicates += r.duplicates.length;
    };
    const eventsTarget = (body: () => string, n: number): Target => ({ base, route: '/v1/events', path: '/v1/events', headers: auth, body, eventsPerRequest: n, onOk: onEvents });
    const singles = eventsTarget(single, 1);
    const batches = eventsTarget(batch, BATCH);
    let hookSeq = 0;
    const hooks: Target = {
      base, route: '/hooks/:hookId', path: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json', 'user-agent': 'bench-sender/1' },
      body: () => { const i = hookSeq++; return `{"email":"lead${i}@example.com","name":"Lead ${i}","score":${i % 100},"source":"landing-page"}`; },
      eventsPerRequest: 1, onOk: () => { delivered += 1; },
    };

    const roots = new Map<number, string>([[process.pid, 'bench (load gen)']]);
    if (ingress.child.pid) roots.set(ingress.child.pid, 'ingress');
    for (const part of ['kafka', 'ferretdb', 'postgres', 'registry']) {
      const pid = Number(await readFile(`.stack/pids/${part}.pid`, 'utf8').catch(() => 'NaN'));
      if (Number.isFinite(pid)) roots.set(pid, part);
    }

    // 2. Warm-up (JIT, connection pools, Kafka metadata), then the scenarios.
    say(`warm-up: ${WARMUP_S} s singles, ${WARMUP_S} s batches, ${WARMUP_S} s webhooks`);
    await saturate(singles, SINGLE_CONNECTIONS, WARMUP_S);
    await saturate(batches, BATCH_CONNECTIONS, WARMUP_S);
    await saturate(hooks, HOOK_CONNECTIONS, WARMUP_S);

    const outcomes: Outcome[] = [];
    const satSingle = await scenario('single events, saturation', `${SINGLE_CONNECTIONS} connections`, singles, roots, () => saturate(singles, SINGLE_CONNECTIONS, RUN_S));
    outcomes.push(satSingle);
    const halfRate = Math.max(1, Math.round(satSingle.ok / satSingle.seconds / 2));
    outcomes.push(await scenario('single events, half rate', `${halfRate} req/s paced, open loop`, singles, roots, () => paced(singles, halfRate, RUN_S)));
    const satBatch = await scenario(`batches of ${BATCH}, saturation`, `${BATCH_CONNECTIONS} connections`, batches, roots, () => saturate(batches, BATCH_CONNECTIONS, RUN_S));
    outcomes.push(satBatch);
    outcomes.push(await scenario('webhook deliveries, saturation', `${HOOK_CONNECTIONS} connections`, hooks, roots, () => saturate(hooks, HOOK_CONNECTIONS, RUN_S)));

    // 3. Every 202'd event is on the topic (idempotent producer: offsets = messages).
    const kafkaAdmin = runtime.kafka.admin();
    await kafkaAdmin.connect();
    const onTopic = async (topic: string) => (await kafkaAdmin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
    const [recordsOnTopic, webhooksOnTopic] = [await onTopic(recordsTopic), await onTopic(webhooksTopic)];
    const verified = recordsOnTopic >= accepted && webhooksOnTopic >= delivered && duplicates === 0;
    failed ||= !verified;
    say(`check: ${accepted} events accepted (${duplicates} answered duplicate), ${recordsOnTopic} on ${recordsTopic}; ${delivered} deliveries accepted, ${webhooksOnTopic} on ${webhooksTopic}: ${verified ? 'ok' : 'MISSING EVENTS'}`);

    // 4. Stop the ingress (SIGTERM), then time the steps of a request alone on the same stack.
    const code = await ingress.kill('SIGTERM');
    say(`ingress stopped (SIGTERM, exit ${code})`);
    if (code !== 0) failed = true;

    say('timing the steps alone');
    const ledger = createAcceptedIdLedger(store.db, { abandonAfterMs: 60_000, waitForInFlightMs: 10_000 });
    const steps = [] as { step: string; single: number; batch: number; singleCeiling: number; batchCeiling: number; unit: string }[];
    const cpuStep = (n: number) => {
      const body = n === 1 ? single() : batch();
      return () => {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const list = n === 1 ? [parsed] : parsed.events as unknown[];
        const now = Date.now();
        for (const [i, e] of list.entries()) runtime!.serde.encode(recordsTopic, recordEventMessage(toRecordChanged(ws.workspaceId, e, now, n === 1 ? '' : `/events/${i}`)).value);
      };
    };
    const cpu1 = await timeAlone(3000, cpuStep(1));
    const cpu100 = await timeAlone(300, cpuStep(BATCH));
    steps.push({ step: 'JSON parse + validate + Avro encode (CPU, in process)', single: percentile(cpu1, 50), batch: percentile(cpu100, 50), singleCeiling: 1000 / percentile(cpu1, 50), batchCeiling: (1000 / percentile(cpu100, 50)) * BATCH, unit: 'one core' });

    const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
    const reserve = (n: number) => async () => { const r = await ledger.reserve(ws.workspaceId, ids(n)); await ledger.published(r.requestId); };
    const led1 = await timeAlone(50, reserve(1));
    const led100 = await timeAlone(30, reserve(BATCH));
    const ledCeil1 = await callsPerSecond(SINGLE_CONNECTIONS, 2.5, reserve(1));
    const ledCeil100 = (await callsPerSecond(BATCH_CONNECTIONS, 2.5, reserve(BATCH))) * BATCH;
    steps.push({ step: 'id ledger: reserve + confirm (3 FerretDB writes)', single: percentile(led1, 50), batch: percentile(led100, 50), singleCeiling: ledCeil1, batchCeiling: ledCeil100, unit: 'concurrent' });

    const messages = (n: number) => Array.from({ length: n }, () => recordEventMessage(toRecordChanged(ws.workspaceId, JSON.parse(single()), Date.now())));
    const publish = (n: number) => () => runtime!.bus.publish(recordsTopic, messages(n));
    const pub1 = await timeAlone(50, publish(1));
    const pub100 = await timeAlone(30, publish(BATCH));
    const pubCeil1 = await callsPerSecond(SINGLE_CONNECTIONS, 2.5, publish(1));
    const pubCeil100 = (await callsPerSecond(BATCH_CONNECTIONS, 2.5, publish(BATCH))) * BATCH;
    steps.push({ step: 'Kafka publish, libs/kafka (acks=all, idempotent, incl. encode)', single: percentile(pub1, 50), batch: percentile(pub100, 50), singleCeiling: pubCeil1, batchCeiling: pubCeil100, unit: 'concurrent' });
    await kafkaAdmin.disconnect();

    // 5. The raw figure and the tables.
    const raw = await rawFigure(runtime, config.kafkaBrokers, config.topicPrefix);
    const rate = (o: Outcome) => o.events / o.seconds;
    const labels = ['ingress', 'kafka', 'ferretdb', 'postgres', 'registry', 'bench (load gen)', 'other'];
    const lines = [
      `Ingress as its own process (\`services/ingress/main.ts\`, LOG_LEVEL=${INGRESS_LOG_LEVEL}) on the local stack, driven over loopback; acks=all, idempotent producer; every event id new; events of ${eventBytes} B Avro (${Buffer.byteLength(single())} B JSON), ${PARTITIONS} partitions. Each scenario ${RUN_S} s after a ${WARMUP_S} s warm-up; latency measured by the client (autocannon at saturation; an open-loop paced sender at half rate, counted from each request's scheduled time).`,
      '',
      '| scenario | load | events/s | requests/s | p50 ms | p99 ms | non-2xx / errors | server mean ms | event-loop lag p99 ms |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      ...outcomes.map((o) => `| ${o.name} | ${o.load} | ${fmt(rate(o))} | ${fmt(o.ok / o.seconds)} | ${fmt(o.p50, 1)} | ${fmt(o.p99, 1)} | ${o.non2xx} / ${o.errors} | ${fmt(o.serverMeanMs, 1)} | ${fmt(o.lagP99Ms, 1)} |`),
      '',
      `Raw ProducerPerformance: ${fmt(raw.msgsPerSec)} msgs/s (1 KiB, acks=all; ${raw.source}). Ratio ingress batches / raw: **${(rate(satBatch) / raw.msgsPerSec).toFixed(2)}**; single events / raw: ${(rate(satSingle) / raw.msgsPerSec).toFixed(3)}.`,
      `Check: ${accepted} events answered 202 (${duplicates} duplicates), ${recordsOnTopic} messages on the records topic; ${delivered} deliveries answered 202, ${webhooksOnTopic} on the webhooks topic: ${verified ? 'all there' : '**MISSING**'}.`,
      '',
      `Where the CPU went (% of one core; the machine has ${os.cpus().length}00 %):`,
      '',
      `| scenario | ${labels.join(' | ')} | machine busy |`,
      `|---|${labels.map(() => '---:').join('|')}|---:|`,
      ...outcomes.map((o) => `| ${o.name} | ${labels.map((l) => fmt(o.cpu.get(l) ?? 0)).join(' | ')} | ${fmt(o.cpu.get('machine') ?? 0)} |`),
      '',
      `Steps of a request timed alone against the same stack (p50 ms per call, sequential; ceiling = events/s of that step alone with the scenario's concurrency, ${SINGLE_CONNECTIONS} callers for 1 event, ${BATCH_CONNECTIONS} for ${BATCH}; for the CPU step, one core's worth):`,
      '',
      `| step | 1 event ms | ${BATCH} events ms | ceiling, 1 event/request | ceiling, ${BATCH} events/request |`,
      '|---|---:|---:|---:|---:|',
      ...steps.map((s) => `| ${s.step} | ${fmt(s.single, 2)} | ${fmt(s.batch, 2)} | ${fmt(s.singleCeiling)} | ${fmt(s.batchCeiling)} |`),
      `| sum of the steps / ingress measured (server mean) | ${fmt(steps.reduce((a, s) => a + s.single, 0), 2)} / ${fmt(satSingle.serverMeanMs, 1)} | ${fmt(steps.reduce((a, s) => a + s.batch, 0), 2)} / ${fmt(satBatch.serverMeanMs, 1)} | ${fmt(rate(satSingle))} reached | ${fmt(rate(satBatch))} reached |`,
    ];
    const table = lines.join('\n');
    console.log(`\n${table}\n`);
    await recordBenchmark('ingress', table);
    say(`done in ${fmt((performance.now() - benchStarted) / 1000)} s`);
  } catch (err) {
    failed = true;
    console.error(err);
    console.error(`ingress log tail:\n${tail.slice(-3000) || ingress.output().slice(-3000)}`);
  } finally {
    await ingress.kill('SIGTERM');
    // The run's own names: drop them so runs do not pile up on the shared stack.
    if (runtime) {
      const admin = runtime.kafka.admin();
      await admin.connect();
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      await admin.deleteTopics({ topics: mine }).catch((err: unknown) => console.error('could not delete topics', err));
      await admin.disconnect();
      await runtime.close();
    }
    if (store) {
      await store.db.dropDatabase().catch(() => undefined);
      await store.close();
    }
  }
  if (failed) process.exit(1);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});

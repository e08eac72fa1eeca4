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
 * BENCH_INGRESS_LOG_LEVEL sets the ingress's LOG_LEVEL (default info, as deployed).
 * Takes about 70 s; the run's topics and database are deleted at the end.
 */
import http from 'node:http';
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
import { createAcceptedIdLedger } from '../../services/ingress/store/accepted-ids.ts';
import { testIngressEnv } from '../support/ingress.ts';
import { startService, type ServiceProcess } from '../support/process.ts';
import { percentile, producerPerformance, recordBenchmark } from './support.ts';
import { freePort } from '../support/net.ts';
import { sleep } from '../../libs/time/sleep.ts';

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
if (!Number.isInteger(EVENT_BYTES) || EVENT_BYTES < 256 || EVENT_BYTES > 8192) {
  console.error('usage: npm run bench -- ingress [eventBytes: 256..8192, default 1024]');
  process.exit(2);
}
const BATCH = 100;
const RUN_S = 12;
const WARMUP_S = 3;
const SINGLE_CONNECTIONS = 32;
const BATCH_CONNECTIONS = 8; // batches saturate the ingress from ~4 connections; more only queue
const HOOK_CONNECTIONS = 32;
const PARTITIONS = '6'; // the hub's default, and what the raw figure's topic had
const INGRESS_LOG_LEVEL = process.env.BENCH_INGRESS_LOG_LEVEL ?? 'info'; // the service's default
const CLK_TCK = 100;
const STEP_S = 2.5;

const benchLog = createLogger({ service: 'bench-ingress', level: 'warn', destination: process.stderr });
const say = (text: string) => console.log(`· ${text}`);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

// ---- CPU per process, from /proc (which process the 2 cores went to) ----
/** Ticks per process and the label it counts under (the listed root it descends from, else `other`). */
interface CpuSnapshot { at: number; procs: Map<number, { label: string; ticks: number }>; busy: number }

function cpuSnapshot(roots: Map<number, string>): CpuSnapshot {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try { text = readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  const labelled = new Map<number, { label: string; ticks: number }>();
  for (const [pid, p] of procs) {
    let label = 'other';
    let cur: number | undefined = pid;
    for (let hops = 0; cur !== undefined && cur > 1 && hops < 64; hops++) {
      const l = roots.get(cur);
      if (l) { label = l; break; }
      cur = procs.get(cur)?.ppid;
    }
    labelled.set(pid, { label, ticks: p.ticks });
  }
  // All cores, in ticks: user nice system idle iowait irq softirq (steal and guest left out).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { at: performance.now(), procs: labelled, busy: user + nice + system + irq + softirq };
}

/**
 * CPU seconds per label between two snapshots: `other` is processes outside the
 * listed ones (another job on the machine shows there), `kernel` the busy time no
 * process accounts for (interrupts, processes that exited), `machine` all of it.
 */
interface CpuUse { wallS: number; seconds: Map<string, number> }

function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wallS = (b.at - a.at) / 1000;
  const seconds = new Map<string, number>();
  let attributed = 0;
  // Per process, so one that exits in between (a PostgreSQL backend) takes nothing away.
  for (const [pid, p] of b.procs) {
    const cpuS = Math.max(0, p.ticks - (a.procs.get(pid)?.ticks ?? 0)) / CLK_TCK;
    seconds.set(p.label, (seconds.get(p.label) ?? 0) + cpuS);
    attributed += cpuS;
  }
  const machine = (b.busy - a.busy) / CLK_TCK;
  seconds.set('kernel', Math.max(0, machine - attributed));
  seconds.set('machine', machine);
  return { wallS, seconds };
}

/** % of the whole machine (all cores) that was busy. */
const busyPct = (c: CpuUse) => ((c.seconds.get('machine') ?? 0) / c.wallS / os.cpus().length) * 100;
/** CPU µs per event of one label. */
const usPerEvent = (c: CpuUse, label: string, events: number) => ((c.seconds.get(label) ?? 0) / events) * 1e6;
const STORE = ['ferretdb', 'postgres'];

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
  cpu: CpuUse;
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
  /** Events of requests still in flight when a closed-loop run stopped: handled, answer never read. */
  unanswered: number;
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
  t.unanswered += connections * t.eventsPerRequest;
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

/** Calls per second with `callers` concurrent loops for `seconds`, and the CPU they cost. */
async function callsPerSecond(callers: number, seconds: number, f: () => Promise<unknown>, roots: Map<number, string>): Promise<{ perSecond: number; calls: number; cpu: CpuUse }> {
  let calls = 0;
  const end = performance.now() + seconds * 1000;
  const cpu0 = cpuSnapshot(roots);
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < end) { await f(); calls += 1; }
  }));
  const cpu = cpuBetween(cpu0, cpuSnapshot(roots));
  return { perSecond: calls / cpu.wallS, calls, cpu };
}

interface Step { step: string; ms: [number, number]; ceiling: [number, number]; cpuUs: [number, number]; split: string }

/** One step timed alone: p50 of sequential calls, then events/s and CPU per event with concurrent callers. */
async function ioStep(step: string, f: (n: number) => () => Promise<unknown>, roots: Map<number, string>): Promise<Step> {
  const out: Step = { step, ms: [NaN, NaN], ceiling: [NaN, NaN], cpuUs: [NaN, NaN], split: '' };
  for (const [k, n, callers] of [[0, 1, SINGLE_CONNECTIONS], [1, BATCH, BATCH_CONNECTIONS]] as const) {
    out.ms[k] = percentile(await timeAlone(n === 1 ? 50 : 30, f(n)), 50);
    const c = await callsPerSecond(callers, STEP_S, f(n), roots);
    const events = c.calls * n;
    out.ceiling[k] = c.perSecond * n;
    out.cpuUs[k] = usPerEvent(c.cpu, 'machine', events);
    if (n === BATCH) {
      const store = STORE.reduce((a, l) => a + usPerEvent(c.cpu, l, events), 0);
      out.split = `client ${fmt(usPerEvent(c.cpu, 'bench (load gen)', events))} · store ${fmt(store)} · kafka ${fmt(usPerEvent(c.cpu, 'kafka', events))} · kernel ${fmt(usPerEvent(c.cpu, 'kernel', events))} · other ${fmt(usPerEvent(c.cpu, 'other', events))}`;
    }
  }
  return out;
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
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = testIngressEnv('bench', {
    HUB_HTTP_PORT: String(port), HUB_PUBLIC_URL: base, HUB_TOPIC_PARTITIONS: PARTITIONS,
    HUB_API_PORT: String(apiPort), HUB_API_URL: `http://127.0.0.1:${apiPort}`,
    HUB_RATE_LIMIT_RPS: '1000000000', HUB_RATE_LIMIT_BURST: '1000000000', LOG_LEVEL: INGRESS_LOG_LEVEL,
  });
  const config = readConfig(baseConfigSpec, { ...process.env, ...env, LOG_LEVEL: 'warn' });
  const benchStarted = performance.now();
  const quiet0 = cpuSnapshot(new Map());
  await sleep(1000);
  const idleBefore = busyPct(cpuBetween(quiet0, cpuSnapshot(new Map())));
  if (idleBefore > 15) say(`the machine is already ${fmt(idleBefore)} % busy: other work will skew the figures`);

  // 1. The ingress as its own process.
  say(`starting services/ingress/main.ts on ${base} (LOG_LEVEL=${INGRESS_LOG_LEVEL}, topics ${config.topicPrefix}*, database ${config.mongodbDatabase})`);
  const ingress: ServiceProcess = startService('ingress', { ...process.env, ...env });
  // The control plane (workspace and hook set-up below) is the api's, reached through the ingress; it is not measured.
  const api: ServiceProcess = startService('api', { ...process.env, ...env, LOG_LEVEL: 'info' });
  await api.started;
  const died = ingress.exited.then((code) => { throw new Error(`ingress exited (${code}):\n${ingress.output().slice(-3000)}`); });
  died.catch(() => undefined);
  // Its "listening" line (at LOG_LEVEL=info), or /healthz at a quieter level.
  const healthy = async () => { try { return (await fetch(`${base}/healthz`)).ok; } catch { return false; } };
  await Promise.race([died, (async () => { while (!ingress.output().includes('"msg":"listening"') && !(await healthy())) await sleep(100); })()]);
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
    const eventsTarget = (body: () => string, n: number): Target => ({ base, route: '/v1/events', path: '/v1/events', headers: auth, body, eventsPerRequest: n, onOk: onEvents, unanswered: 0 });
    const singles = eventsTarget(single, 1);
    const batches = eventsTarget(batch, BATCH);
    let hookSeq = 0;
    const hooks: Target = {
      base, route: '/hooks/:hookId', path: `/hooks/${hook.hookId}`, headers: { 'content-type': 'application/json', 'user-agent': 'bench-sender/1' },
      body: () => { const i = hookSeq++; return `{"email":"lead${i}@example.com","name":"Lead ${i}","score":${i % 100},"source":"landing-page"}`; },
      eventsPerRequest: 1, onOk: () => { delivered += 1; }, unanswered: 0,
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
    const unanswered = singles.unanswered + batches.unanswered;
    const verified = duplicates === 0
      && recordsOnTopic >= accepted && recordsOnTopic <= accepted + unanswered
      && webhooksOnTopic >= delivered && webhooksOnTopic <= delivered + hooks.unanswered;
    failed ||= !verified;
    const check = `${accepted} events answered 202 (${duplicates} as duplicates), ${recordsOnTopic} messages on the records topic; `
      + `${delivered} deliveries answered 202, ${webhooksOnTopic} on the webhooks topic; the surplus (at most ${unanswered} events, ${hooks.unanswered} deliveries) `
      + `is requests in flight when a closed-loop run stopped, handled but never read: ${verified ? 'all there' : '**MISMATCH**'}`;
    say(`check: ${check}`);

    // 4. Stop the ingress (SIGTERM), then time the steps of a request alone on the same stack.
    const code = await ingress.kill('SIGTERM');
    say(`ingress stopped (SIGTERM, exit ${code})`);
    if (code !== 0) failed = true;

    say('timing the steps alone');
    const steps: Step[] = [];
    const cpuStep = (n: number) => {
      const body = n === 1 ? single() : batch();
      return () => {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const list = n === 1 ? [parsed] : parsed.events as unknown[];
        const now = Date.now();
        for (const [i, e] of list.entries()) runtime!.serde.encode(recordsTopic, recordEventMessage(toRecordChanged(ws.workspaceId, e, now, n === 1 ? '' : `/events/${i}`)).value);
      };
    };
    const cpuMs: [number, number] = [percentile(await timeAlone(3000, cpuStep(1)), 50), percentile(await timeAlone(300, cpuStep(BATCH)), 50)];
    steps.push({
      step: 'JSON parse + validate + Avro encode (in process)', ms: cpuMs,
      ceiling: [1000 / cpuMs[0], (1000 / cpuMs[1]) * BATCH], cpuUs: [cpuMs[0] * 1000, (cpuMs[1] * 1000) / BATCH], split: 'one core, all in the caller',
    });
    const ledger = createAcceptedIdLedger(store.db, { abandonAfterMs: 60_000, waitForInFlightMs: 10_000 });
    const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
    steps.push(await ioStep('id ledger: reserve + confirm (insertOne, insertMany, updateOne on FerretDB)', (n) => async () => {
      const r = await ledger.reserve(ws.workspaceId, ids(n));
      await ledger.published(r.requestId);
    }, roots));
    // Built once: Kafka keeps no ids, so sending the same values again publishes them again.
    const messages = (n: number) => Array.from({ length: n }, () => recordEventMessage(toRecordChanged(ws.workspaceId, JSON.parse(single()), Date.now())));
    steps.push(await ioStep('Kafka publish, libs/kafka (acks=all, idempotent; incl. Avro encode)', (n) => {
      const built = messages(n);
      return () => runtime!.bus.publish(recordsTopic, built);
    }, roots));
    await kafkaAdmin.disconnect();

    // 5. The raw figure and the tables.
    const raw = await rawFigure(runtime, config.kafkaBrokers, config.topicPrefix);
    const rate = (o: Outcome) => o.events / o.seconds;
    const labels = ['ingress', 'kafka', 'ferretdb', 'postgres', 'registry', 'bench (load gen)', 'other', 'kernel'];
    const batchEvents = satBatch.events;
    const batchUs = usPerEvent(satBatch.cpu, 'machine', batchEvents);
    const coresFor = (target: number) => (target * batchUs) / 1e6;
    const sumSteps = (k: 0 | 1) => steps.reduce((a, st) => a + st.ms[k], 0);
    const lines = [
      `Ingress as its own process (\`services/ingress/main.ts\`, LOG_LEVEL=${INGRESS_LOG_LEVEL}) on the local stack, driven over loopback from the bench process; acks=all, idempotent producer; every event id new; `
        + `events of ${eventBytes} B Avro (${Buffer.byteLength(single())} B JSON), ${PARTITIONS} partitions. Each scenario ${RUN_S} s after a ${WARMUP_S} s warm-up. `
        + 'Latency as the client sees it: autocannon at saturation; at half rate an open-loop sender on a fixed schedule, latency from each request\'s scheduled time '
        + '(autocannon\'s `overallRate` refills each connection once a second, so every second would start with a saturating burst). '
        + `Machine busy before the run: ${fmt(idleBefore)} %.`,
      '',
      '| scenario | load | events/s | requests/s | p50 ms | p99 ms | non-2xx / errors | server mean ms | event-loop lag p99 ms |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      ...outcomes.map((o) => `| ${o.name} | ${o.load} | ${fmt(rate(o))} | ${fmt(o.ok / o.seconds)} | ${fmt(o.p50, 1)} | ${fmt(o.p99, 1)} | ${o.non2xx} / ${o.errors} | ${fmt(o.serverMeanMs, 1)} | ${fmt(o.lagP99Ms, 1)} |`),
      '',
      `Raw ProducerPerformance: ${fmt(raw.msgsPerSec)} msgs/s (1 KiB, acks=all; ${raw.source}). Ratio ingress batches / raw: **${(rate(satBatch) / raw.msgsPerSec).toFixed(2)}**; single events / raw: ${(rate(satSingle) / raw.msgsPerSec).toFixed(3)}.`,
      '',
      `Check: ${check}.`,
      '',
      `Where the CPU went: µs of CPU per event (per delivery) by process (other: processes outside the bench and the stack, e.g. another job on the machine; kernel: interrupts and exited processes), and how busy the ${os.cpus().length} cores were:`,
      '',
      `| scenario | machine busy | ${labels.join(' | ')} | total |`,
      `|---|---:|${labels.map(() => '---:').join('|')}|---:|`,
      ...outcomes.map((o) => `| ${o.name} | ${fmt(busyPct(o.cpu))} % | ${labels.map((l) => fmt(usPerEvent(o.cpu, l, o.events))).join(' | ')} | ${fmt(usPerEvent(o.cpu, 'machine', o.events))} |`),
      '',
      `Steps of the events path timed alone against the same stack, ingress stopped, one call per request (the ingress groups concurrent requests into one commit, services/ingress/acceptor.ts, so under load it makes fewer, larger calls): `
        + `p50 ms of sequential calls; events/s of the step alone with the scenario's concurrency (${SINGLE_CONNECTIONS} callers for 1 event per call, ${BATCH_CONNECTIONS} for ${BATCH}); CPU µs per event over the whole machine during that.`,
      '',
      `| step | ms, 1 / ${BATCH} events | events/s alone, 1 / ${BATCH} per call | CPU µs/event, 1 / ${BATCH} per call | CPU split at ${BATCH} (µs/event) |`,
      '|---|---:|---:|---:|---|',
      ...steps.map((st) => `| ${st.step} | ${fmt(st.ms[0], 2)} / ${fmt(st.ms[1], 2)} | ${fmt(st.ceiling[0])} / ${fmt(st.ceiling[1])} | ${fmt(st.cpuUs[0])} / ${fmt(st.cpuUs[1])} | ${st.split} |`),
      `| **the steps together**, ungrouped / the ingress measured | ${fmt(sumSteps(0), 2)} / ${fmt(sumSteps(1), 2)} (server mean under load: ${fmt(satSingle.serverMeanMs, 1)} / ${fmt(satBatch.serverMeanMs, 1)}) | reached: ${fmt(rate(satSingle))} / ${fmt(rate(satBatch))} `
        + `| ${fmt(steps.reduce((a, st) => a + st.cpuUs[0], 0))} / ${fmt(steps.reduce((a, st) => a + st.cpuUs[1], 0))} (measured: ${fmt(usPerEvent(satSingle.cpu, 'machine', satSingle.events))} / ${fmt(batchUs)}) | |`,
      '',
      `Batches: ${fmt(batchUs)} µs of CPU per event over the machine (ingress ${fmt(usPerEvent(satBatch.cpu, 'ingress', batchEvents))}, `
        + `FerretDB + PostgreSQL ${fmt(STORE.reduce((a, l) => a + usPerEvent(satBatch.cpu, l, batchEvents), 0))}, Kafka ${fmt(usPerEvent(satBatch.cpu, 'kafka', batchEvents))}, `
        + `load generator ${fmt(usPerEvent(satBatch.cpu, 'bench (load gen)', batchEvents))}, other processes ${fmt(usPerEvent(satBatch.cpu, 'other', batchEvents))}) with the cores ${fmt(busyPct(satBatch.cpu))} % busy: `
        + `20,000 events/s at that cost needs ${coresFor(20_000).toFixed(1)} cores; this machine has ${os.cpus().length}.`,
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
    await api.kill('SIGTERM');
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

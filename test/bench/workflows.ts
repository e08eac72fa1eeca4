/**
 * npm run bench -- workflows [runs]
 *
 * The workflow engine on the real local stack, every service as its own process
 * (ingress, record-projector, trigger-matcher, action-executor), driven over HTTP:
 * a 3-step workflow (record.search → branch → record.update) triggered by record
 * events. Prints, in one run:
 * - completed runs/s: `runs` events (default 3000) sent in batches of 100 as fast as
 *   the API takes them, until every run completed;
 * - p50/p99 latency from an event's acceptance (its 202) to its run's end (the run's
 *   endedAt), for single-event posts paced at half that rate for 20 s.
 * The run's topics and database are deleted at the end.
 */
import { baseConfigSpec, readConfig } from '../../libs/config/index.ts';
import { connectStore } from '../../libs/store/mongo.ts';
import { deleteTopicsWithPrefix } from './topics-cleanup.ts';
import { testIngressEnv } from '../support/ingress.ts';
import { startService, type ServiceProcess } from '../support/process.ts';
import { percentile, recordBenchmark } from './support.ts';
import { freePort } from '../support/net.ts';
import { sleep } from '../../libs/time/sleep.ts';

const RUNS = Number(process.argv[2] ?? 3000);
const LATENCY_SECONDS = 20;
const say = (text: string) => console.log(`· ${text}`);

async function main(): Promise<void> {
  const port = await freePort();
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const ingressEnv = testIngressEnv('benchwf', { HUB_HTTP_PORT: String(port), HUB_PUBLIC_URL: base, HUB_API_PORT: String(apiPort), HUB_API_URL: `http://127.0.0.1:${apiPort}`, HUB_TOPIC_PARTITIONS: '6', HUB_RATE_LIMIT_RPS: '1000000', HUB_RATE_LIMIT_BURST: '1000000', LOG_LEVEL: 'warn' });
  const env: Record<string, string | undefined> = { ...process.env, ...ingressEnv, HUB_RUNS_PER_WORKSPACE: '200' };
  const config = readConfig(baseConfigSpec, { ...env, LOG_LEVEL: 'warn' });
  const services: ServiceProcess[] = [];
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  try {
    for (const name of ['ingress', 'api', 'record-projector', 'trigger-matcher', 'action-executor']) {
      const s = startService(name, { ...env, LOG_LEVEL: 'info' });
      services.push(s);
      await s.started;
    }
    say(`services up (topics ${config.topicPrefix}*, database ${config.mongodbDatabase})`);
    const admin = { authorization: `Bearer ${ingressEnv.HUB_ADMIN_TOKEN!}`, 'content-type': 'application/json' };
    const ws = await (await fetch(`${base}/v1/admin/workspaces`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'bench' }) })).json() as { workspaceId: string; apiKey: string };
    const auth = { authorization: `Bearer ${ws.apiKey}`, 'content-type': 'application/json' };
    const post = async (url: string, body: unknown) => {
      const res = await fetch(`${base}${url}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${url}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };

    // 50 companies to search among; people created point at one of them by domain.
    await post('/v1/events', { events: Array.from({ length: 50 }, (_, i) => ({ type: 'record.created', object: 'companies', recordId: `co${i}`, record: { domain: `d${i}.test`, name: `Company ${i}` } })) });
    const wf = await post('/v1/workflows', {
      name: 'Link people to their company',
      trigger: { type: 'record.created', object: 'people' },
      steps: [
        { id: 'find', type: 'record.search', input: { object: 'companies', filter: { '==': [{ var: 'record.domain' }, { var: 'trigger.record.domain' }] }, limit: 1 } },
        { id: 'known', type: 'branch', input: {
          branches: [{ if: { '>': [{ var: 'steps.find.count' }, 0] }, steps: [
            { id: 'link', type: 'record.update', input: { object: 'people', recordId: '{{trigger.recordId}}', values: { companyId: '{{steps.find.records.0.id}}' } } },
          ] }],
          else: [{ id: 'flag', type: 'record.update', input: { object: 'people', recordId: '{{trigger.recordId}}', values: { companyId: null } } }],
        } },
      ],
    });
    const workflowId = wf.workflowId as string;
    await post(`/v1/workflows/${workflowId}/activate`, {});
    const runs = store.db.collection('runs');
    const completed = () => runs.countDocuments({ workflowId, status: 'completed' });
    const person = (id: string) => ({ type: 'record.created', object: 'people', recordId: id, record: { name: id, domain: `d${Number(id.replace(/\D/g, '')) % 60}.test` } });

    // Warm-up: JIT, connections, the first rebalance.
    await post('/v1/events', { events: Array.from({ length: 100 }, (_, i) => person(`w${i}`)) });
    while ((await completed()) < 100) await sleep(200);

    // 1. Throughput.
    say(`throughput: ${RUNS} events in batches of 100`);
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i += 100) {
      await post('/v1/events', { events: Array.from({ length: Math.min(100, RUNS - i) }, (_, j) => person(`t${i + j}`)) });
    }
    const sentAt = performance.now();
    let done = 0;
    while ((done = await completed()) < RUNS + 100) {
      if (performance.now() - t0 > 600_000) throw new Error(`only ${done - 100} of ${RUNS} runs completed in 10 minutes`);
      await sleep(250);
    }
    const seconds = (performance.now() - t0) / 1000;
    const runsPerSec = RUNS / seconds;
    say(`${RUNS} runs completed in ${seconds.toFixed(1)} s (all sent after ${((sentAt - t0) / 1000).toFixed(1)} s): ${runsPerSec.toFixed(0)} runs/s`);
    const failed = await runs.countDocuments({ workflowId, status: { $ne: 'completed' } });

    // 2. Latency at half that rate.
    const rate = Math.max(1, runsPerSec / 2);
    const count = Math.round(rate * LATENCY_SECONDS);
    say(`latency: ${count} single-event posts at ${rate.toFixed(0)}/s`);
    const accepted = new Map<string, number>();
    const start = Date.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const id = `l${i}`;
      sends.push(post('/v1/events', person(id)).then(() => { accepted.set(id, Date.now()); }));
    }
    await Promise.all(sends);
    const total = RUNS + 100 + count;
    while ((await completed()) < total) await sleep(250);
    const docs = await runs.find({ workflowId, triggerEventId: { $exists: true } }, { projection: { trigger: 1, endedAt: 1 } }).toArray();
    const latencies: number[] = [];
    for (const d of docs) {
      const recordId = (JSON.parse(d.trigger as string) as { recordId: string }).recordId;
      const at = accepted.get(recordId);
      if (at !== undefined) latencies.push((d.endedAt as Date).getTime() - at);
    }
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    say(`latency over ${latencies.length} runs: p50 ${p50} ms, p99 ${p99} ms`);

    const body = [
      `3-step workflow (record.search → branch → record.update) triggered by record events; every service its own process (ingress, record-projector, trigger-matcher, action-executor), FerretDB on PostgreSQL, one Kafka broker, 6 partitions.`,
      '',
      '| figure | value | aim |',
      '|---|---:|---:|',
      `| completed runs/s (${RUNS} events, batches of 100) | ${runsPerSec.toFixed(0)} | 1000 |`,
      `| p50 event accepted → run completed, at ${rate.toFixed(0)} events/s | ${p50} ms | |`,
      `| p99 event accepted → run completed, at ${rate.toFixed(0)} events/s | ${p99} ms | 500 ms |`,
      `| runs not completed | ${failed} | 0 |`,
    ].join('\n');
    console.log(`\n${body}\n`);
    await recordBenchmark('workflows', body);
  } finally {
    await Promise.all(services.map((s) => s.kill('SIGTERM')));
    await store.db.dropDatabase().catch(() => undefined);
    await store.close();
    await deleteTopicsWithPrefix(config, config.topicPrefix).catch(() => undefined);
  }
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });

/**
 * npm run bench -- usecases [ratePerSecond] [seconds]
 *
 * Use cases 1 (web form) and 8 (invoice generation) from examples/, with every hub
 * service a process on the real stack and the external systems emulated (billing
 * API, SMTP capture), each driven at a steady rate (default 10/s for 30 s). Prints,
 * per use case, completed runs/s and the p50/p99 latency from the webhook POST (use
 * case 1) or the record event's acceptance (use case 8) to the final email captured
 * by the SMTP server. Then the code step's cost per call, cold and warm.
 */
import { startE2EHub, type E2EHub } from '../support/e2e-hub.ts';
import { eventually } from '../support/env.ts';
import { postForm } from '../emulators/web-form.ts';
import { startBillingEmulator } from '../emulators/billing.ts';
import { createCodeRunner } from '../../libs/sandbox/code-runner.ts';
import { deleteTopicsWithPrefix } from './topics-cleanup.ts';
import { percentile, recordBenchmark } from './support.ts';
import { sleep } from '../../libs/time/sleep.ts';

const RATE = Number(process.argv[2] ?? 10);
const SECONDS = Number(process.argv[3] ?? 30);
const say = (text: string) => console.log(`· ${text}`);

interface Figures { name: string; sent: number; completed: number; runsPerSec: number; p50: number; p99: number; failed: number }

/**
 * Sends `count` items at `rate`/s; `send(i)` returns when the hub accepted item i;
 * the item is done when its email is captured (`keyOf(message)` = `key(i)`).
 */
async function drive(hub: E2EHub, name: string, workflowId: string, key: (i: number) => string, keyOf: (m: { subject: string; text: string }) => string | undefined, send: (i: number) => Promise<void>): Promise<Figures> {
  const count = Math.round(RATE * SECONDS);
  const failedBefore = (await hub.runsOf(workflowId)).filter((r) => r.status === 'failed').length;
  const acceptedAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  let seen = hub.smtp.messages.length;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (; seen < hub.smtp.messages.length; seen++) {
        const k = keyOf(hub.smtp.messages[seen]!);
        if (k !== undefined && !doneAt.has(k)) doneAt.set(k, performance.now());
      }
      await sleep(5);
    }
  })();
  say(`${name}: ${count} runs at ${RATE}/s`);
  const t0 = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / RATE - performance.now();
    if (wait > 0) await sleep(wait);
    const at = performance.now();
    sends.push(send(i).then(() => { acceptedAt.set(key(i), at); }));
  }
  await Promise.all(sends);
  const deadline = performance.now() + 300_000;
  const done = () => [...acceptedAt.keys()].filter((k) => doneAt.has(k)).length;
  while (done() < count && performance.now() < deadline) await sleep(50);
  watching = false;
  await watcher;
  const mine = [...acceptedAt].filter(([k]) => doneAt.has(k));
  const elapsed = (Math.max(...mine.map(([k]) => doneAt.get(k)!)) - t0) / 1000;
  const latencies = mine.map(([k, at]) => doneAt.get(k)! - at).sort((a, b) => a - b);
  const runs = await hub.runsOf(workflowId);
  return {
    name, sent: count, completed: mine.length, runsPerSec: mine.length / elapsed,
    p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)),
    failed: runs.filter((r) => r.status === 'failed').length - failedBefore,
  };
}

async function main(): Promise<void> {
  const hub = await startE2EHub('benchuc', { HUB_RUNS_PER_WORKSPACE: '100' });
  const billing = await startBillingEmulator();
  const figures: Figures[] = [];
  try {
    say(`services up (${hub.config.topicPrefix}*)`);
    const only = process.env.BENCH_ONLY;
    // Use case 1: a web form posts each submission to the workflow's hook.
    if (only === undefined || only === '1') {
    const uc1 = await hub.importExample('01-web-form.json', { SALES_TEAM_EMAIL: 'sales@bench.test' });
    await postForm(uc1.hookUrl!, { email: 'warm@bench.test', name: 'Warm Up', company: 'W', message: 'x' });
    await hub.smtp.waitForMessages(1, 60_000);
    figures.push(await drive(hub, 'use case 1 (web form)', uc1.workflowId, (i) => `New web form lead: Bench ${i}`, (m) => m.subject, async (i) => {
      const r = await postForm(uc1.hookUrl!, { email: `lead${i}@bench.test`, name: `Bench ${i}`, company: `Company ${i % 20}`, message: 'Demo please' });
      if (r.status !== 202) throw new Error(`form ${i}: ${r.status}`);
    }));
    }
    if (only !== undefined && only !== '8') return;

    // Use case 8: an opportunity moves to "Closed Won" → billing customer and invoice → email to finance.
    await hub.credential({ name: 'billing-api', type: 'bearer', token: billing.apiKey });
    const uc8 = await hub.importExample('08-invoice-generation.json', { BILLING_API_URL: billing.url, FINANCE_EMAIL: 'finance@bench.test' });
    const count = Math.round(RATE * SECONDS) + 1;
    const deal = (i: number) => ({ name: `Deal ${i}`, amount: 1000 + i, currency: 'usd', companyId: `co${i}` });
    for (let i = 0; i < count; i += 200) {
      const n = Math.min(200, count - i);
      await hub.sendRecords(Array.from({ length: n }, (_, j) => ({ type: 'record.created', object: 'companies', recordId: `co${i + j}`, record: { name: `Customer ${i + j}`, billingEmail: `billing@c${i + j}.bench.test` } })));
      await hub.sendRecords(Array.from({ length: n }, (_, j) => ({ type: 'record.created', object: 'opportunities', recordId: `opp${i + j}`, record: { ...deal(i + j), stage: 'Negotiation' } })));
    }
    const won = (i: number) => ({ type: 'record.updated', object: 'opportunities', recordId: `opp${i}`, record: { ...deal(i), stage: 'Closed Won' }, before: { ...deal(i), stage: 'Negotiation' }, updatedFields: ['stage'] });
    // Warm up, once the projector has taken in the records.
    await eventually('records projected', () => hub.record('opportunities', `opp${count - 1}`), 120_000);
    await hub.sendRecords([won(count - 1)]);
    await hub.endedRuns(uc8.workflowId, 1, 120_000);
    figures.push(await drive(hub, 'use case 8 (invoice)', uc8.workflowId, (i) => `opp${i}`, (m) => /\((opp\d+)\)/.exec(m.text)?.[1], async (i) => {
      await hub.sendRecords([won(i)]);
    }));
  } finally {
    await billing.close();
    const prefix = hub.config.topicPrefix;
    const config = hub.config;
    await hub.close();
    await deleteTopicsWithPrefix(config, prefix).catch(() => undefined);
  }

  // The code step's isolate alone.
  const t = performance.now();
  const runner = await createCodeRunner();
  const first = await runner.run('return { n: input.a + 1 };', { a: 1 });
  const cold = performance.now() - t;
  const warm: number[] = [];
  for (let i = 0; i < 500; i++) { const s = performance.now(); await runner.run('return { n: input.a + 1 };', { a: i }); warm.push(performance.now() - s); }
  runner.close();
  warm.sort((a, b) => a - b);
  void first;

  const body = [
    `Every hub service a process (ingress, record-projector, trigger-matcher, action-executor, notifier) on the real stack; external systems emulated on 127.0.0.1 (billing API, SMTP capture); offered load ${RATE}/s for ${SECONDS} s per use case.`,
    '',
    '| use case | runs sent | completed | completed runs/s | p50 to email | p99 to email | failed runs |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...figures.map((f) => `| ${f.name} | ${f.sent} | ${f.completed} | ${f.runsPerSec.toFixed(1)} | ${f.p50} ms | ${f.p99} ms | ${f.failed} |`),
    '',
    `Code step isolate: cold (new runner + first call) ${cold.toFixed(0)} ms; warm median ${percentile(warm, 50).toFixed(2)} ms, p99 ${percentile(warm, 99).toFixed(2)} ms.`,
  ].join('\n');
  console.log(`\n${body}\n`);
  await recordBenchmark('usecases', body);
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });

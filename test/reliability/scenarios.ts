/**
 * Reliability scenarios (issue 15): the whole hub as processes under a steady mixed load
 * (producer events single and batched, signed webhook deliveries; a record-triggered
 * workflow that writes the record, calls http and sends an email; a webhook-triggered one
 * that creates a record and calls http), with one kind of fault, then the end state
 * checked against what was acknowledged. `npm run reliability -- <scenario>` runs one at
 * full length; test/e2e/reliability.test.ts runs the short versions.
 */
import { readFileSync } from 'node:fs';
import { startE2EHub, hubServices, type E2EHub } from '../support/e2e-hub.ts';
import { startEffectCounter, type EffectCounter } from '../support/delivery-load.ts';
import { startPrivateKafka } from '../support/private-kafka.ts';
import { startPrivateFerretDb } from '../support/private-ferretdb.ts';
import { eventually } from '../support/env.ts';
import { generateSecret } from '../../libs/webhooks/standard.ts';
import { sleep } from '../../libs/time/sleep.ts';
import { startMixedLoad, type LoadFigures } from './load.ts';
import { checkEndState, doubledOf, lostOf, progress, type EndState, type Workflows } from './end-state.ts';
import { injectPoison, type PoisonReport } from './poison.ts';
import { startConsumerLagSampler, startMemorySampler, type MemoryReport } from './samplers.ts';

export const scenarioNames = ['soak', 'kill', 'broker', 'store', 'poison'] as const;
export type ScenarioName = typeof scenarioNames[number];

export interface ScenarioOptions {
  minutes: number;
  /** Units (events or deliveries) offered per second. */
  rate: number;
  /** broker and store: how long the part is away. */
  outageSeconds?: number;
  /** kill: how many times each service is killed. */
  killsPerService?: number;
  /** How long the backlog may take to drain after the load and the faults. */
  drainTimeoutMs?: number;
  log?(line: string): void;
}

export interface ScenarioReport {
  scenario: ScenarioName;
  minutes: number;
  load: LoadFigures;
  end: EndState;
  /** Largest consumer lag (messages, summed over the hub's groups) sampled during the run. */
  maxLag: number;
  /** From the end of the last fault (or of the load) until every accepted unit completed. */
  recoveryMs: number;
  memory: MemoryReport;
  restarts: Record<string, number>;
  poison?: PoisonReport;
  notes: string[];
}

export const defaultMinutes: Record<ScenarioName, number> = { soak: 30, kill: 10, broker: 4, store: 5, poison: 3 };

function workflows(effectUrl: string, secret: string) {
  return {
    onPerson: {
      name: 'Reliability: person created → mark, call, email',
      trigger: { type: 'record.created', object: 'people' },
      steps: [
        { id: 'mark', type: 'record.update', input: { object: 'people', recordId: '{{trigger.recordId}}', values: { processed: true } } },
        { id: 'call', type: 'http', input: { method: 'POST', url: effectUrl, body: { n: '{{trigger.record.n}}' } } },
        { id: 'welcome', type: 'email', input: { to: '{{trigger.record.email}}', subject: 'Welcome {{trigger.record.key}}', text: 'Hello {{trigger.record.firstName}}' } },
      ],
    },
    onDelivery: {
      name: 'Reliability: delivery → deal, call',
      trigger: { type: 'webhook', methods: ['POST'], secret, expectedBody: { key: { type: 'string', required: true }, n: { type: 'number', required: true } } },
      steps: [
        { id: 'deal', type: 'record.create', input: { object: 'deals', values: { id: '{{trigger.body.key}}', n: '{{trigger.body.n}}' } } },
        { id: 'call', type: 'http', input: { method: 'POST', url: effectUrl, body: { n: '{{trigger.body.n}}' } } },
      ],
    },
  };
}

async function activate(hub: E2EHub, definition: unknown): Promise<{ workflowId: string; hookUrl: string | null }> {
  const created = await hub.api('POST', '/v1/workflows', definition);
  if (created.status !== 201) throw new Error(`creating a workflow: ${created.status} ${JSON.stringify(created.body)}`);
  const { workflowId } = created.body as { workflowId: string };
  const activated = await hub.api('POST', `/v1/workflows/${workflowId}/activate`);
  if (activated.status !== 200) throw new Error(`activating ${workflowId}: ${activated.status} ${JSON.stringify(activated.body)}`);
  return { workflowId, hookUrl: (activated.body as { hook: { url: string } | null }).hook?.url ?? null };
}

/**
 * Waits until every acknowledged unit's last step happened (its effect, and for a person
 * its email: counted in memory, so waiting costs the store nothing), then until the runs
 * say completed. Progress is logged every minute, so a long drain shows it is moving.
 */
async function drain(hub: E2EHub, wf: Workflows, effects: EffectCounter, units: number, emails: number, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  while (effects.effects.size < units || hub.smtp.messages.length < emails) {
    if (Date.now() > deadline) throw new Error(`the backlog did not drain in ${timeoutMs / 1000} s: ${effects.effects.size} of ${units} effects, ${hub.smtp.messages.length} of ${emails} emails`);
    if (Date.now() - lastLog > 60_000) { lastLog = Date.now(); log(`  draining: ${effects.effects.size} of ${units} effects, ${hub.smtp.messages.length} of ${emails} emails`); }
    await sleep(1000);
  }
  await eventually(`${units} completed runs`, async () => (await progress(hub, wf)).completed >= units, Math.max(60_000, deadline - Date.now()), 5000).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message} (have ${(await progress(hub, wf)).completed})`);
  });
}

export async function runScenario(scenario: ScenarioName, o: ScenarioOptions): Promise<ScenarioReport> {
  const log = o.log ?? (() => undefined);
  const cleanups: (() => Promise<void> | void)[] = [];
  const notes: string[] = [];
  try {
    const env: Record<string, string> = {};
    let outage: { stop(): void; start(): void } | undefined;
    if (scenario === 'broker') {
      const kafka = await startPrivateKafka();
      cleanups.push(() => kafka.close());
      env.KAFKA_BROKERS = kafka.brokers;
      outage = kafka;
    }
    if (scenario === 'store') {
      const ferret = await startPrivateFerretDb();
      cleanups.push(() => ferret.close());
      env.MONGODB_URI = ferret.uri;
      outage = ferret;
    }
    const effects: EffectCounter = await startEffectCounter();
    cleanups.push(() => effects.close());
    const hub = await startE2EHub(`rel_${scenario}`, env, { supervise: true });
    cleanups.push(() => hub.close());
    const secret = generateSecret();
    const defs = workflows(effects.url, secret);
    const onPerson = await activate(hub, defs.onPerson);
    const onDelivery = await activate(hub, defs.onDelivery);
    const wf: Workflows = { onPerson: onPerson.workflowId, onDelivery: onDelivery.workflowId };

    const lag = startConsumerLagSampler(hub);
    cleanups.push(() => lag.stop());
    const memory = startMemorySampler(hub);
    cleanups.push(() => memory.stop());
    const durationMs = o.minutes * 60_000;
    log(`${scenario}: ${o.minutes} min at ${o.rate} units/s`);
    const load = startMixedLoad({ url: hub.url, apiKey: hub.apiKey, hookUrl: onDelivery.hookUrl!, hookSecret: secret }, o.rate);
    const started = Date.now();
    let faultsEndedAt = 0;
    let poison: PoisonReport | undefined;

    if (scenario === 'kill') {
      // Each service killed `killsPerService` times at random moments between 10 % and 80 % of the run.
      const kills = hubServices.flatMap((name) => Array.from({ length: o.killsPerService ?? 5 }, () => ({ name, at: durationMs * (0.1 + 0.7 * Math.random()) })))
        .sort((a, b) => a.at - b.at);
      for (const k of kills) {
        await sleep(Math.max(0, started + k.at - Date.now()));
        log(`  SIGKILL ${k.name}`);
        await hub.crash(k.name);
      }
      faultsEndedAt = Date.now();
    }
    if (outage) {
      const awayMs = (o.outageSeconds ?? (scenario === 'store' ? 60 : 30)) * 1000;
      await sleep(Math.max(0, durationMs * 0.2));
      log(`  ${scenario} stopped for ${awayMs / 1000} s`);
      outage.stop();
      await sleep(awayMs);
      outage.start();
      faultsEndedAt = Date.now();
      log(`  ${scenario} started again`);
    }
    if (scenario === 'poison') {
      await sleep(durationMs * 0.3);
      poison = await injectPoison(hub);
      faultsEndedAt = Date.now();
      log(`  ${poison.injected} poison messages injected`);
    }
    await sleep(Math.max(0, started + durationMs - Date.now()));
    const figures = await load.stop();
    log(`  load stopped: ${figures.acknowledged} acknowledged; draining`);
    const drainFrom = Math.max(faultsEndedAt, Date.now());
    const expectedRuns = load.acknowledged.events.size + load.acknowledged.deliveries.size;
    await drain(hub, wf, effects, expectedRuns, load.acknowledged.events.size, o.drainTimeoutMs ?? 3_600_000, log);
    const recoveryMs = Date.now() - (faultsEndedAt || drainFrom);
    lag.stop();
    memory.stop();
    if (poison) poison = await poison.check();
    // Anything late (a doubled effect sent after the last run completed) has a moment to show.
    await sleep(2000);
    const end = await checkEndState(hub, wf, load.acknowledged, effects);
    if (figures.unexpectedCount > 0) notes.push(`${figures.unexpectedCount} unexpected answers, e.g. ${JSON.stringify(figures.unexpected.slice(0, 3))}`);
    return {
      scenario, minutes: o.minutes, load: figures, end, maxLag: lag.max(), recoveryMs, memory: memory.report(),
      restarts: Object.fromEntries(hub.restarts), ...(poison ? { poison } : {}), notes,
    };
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const tableHeader = [
  '| scenario | length | offered | accepted | completed runs | lost | doubled | max lag | recovery | 503/429 (with Retry-After) | restarts |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
];

export function tableRow(r: ScenarioReport): string {
  const rate = r.load.offered / Math.max(1, r.load.elapsedMs / 1000);
  return `| ${r.scenario} | ${r.minutes} min | ${r.load.offered} (${rate.toFixed(1)}/s) | ${r.end.accepted} | ${r.end.completedRuns} | ${lostOf(r.end)} | ${doubledOf(r.end)} | ${r.maxLag} | ${seconds(r.recoveryMs)} | ${r.load.unavailable} (${r.load.unavailableWithRetryAfter}) | ${Object.entries(r.restarts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} |`;
}

export function details(r: ScenarioReport): string[] {
  const lines = [
    `lost by kind: ${JSON.stringify(r.end.lost)}; doubled by kind: ${JSON.stringify(r.end.doubled)}; effects resent with the same Idempotency-Key: ${r.end.resentEffects}; emails resent with the same Message-ID: ${r.end.resentEmails}`,
    `memory (RSS MiB at start → end, growth per 10 min): ${Object.entries(r.memory).map(([k, m]) => `${k} ${m.startMiB} → ${m.endMiB} (${m.growthPer10MinMiB >= 0 ? '+' : ''}${m.growthPer10MinMiB})`).join('; ')}`,
  ];
  if (r.poison) lines.push(`poison: ${r.poison.injected} injected, ${r.poison.parked} parked on their groups' DLQs of ${r.poison.expectedParked} expected; reasons ${JSON.stringify(r.poison.codes)}`);
  if (r.end.examples.length > 0) lines.push(`examples: ${r.end.examples.join('; ')}`);
  return [...lines, ...r.notes];
}

/** The machine a row was measured on, for RELIABILITY.md. */
export function machine(): string {
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
  const memGiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024 / 1024;
  return `${cpus} cores, ${memGiB.toFixed(0)} GiB, Node ${process.version}`;
}

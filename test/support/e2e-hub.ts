/**
 * The whole hub as processes on the real stack, as `npm start` runs it (ingress, api,
 * record-projector, trigger-matcher, action-executor, notifier), isolated by topic
 * prefix and database, with an SMTP capture for its emails and an operator allowlist
 * that lets http steps reach the tests' emulators on 127.0.0.1. Talks to it over HTTP
 * like a user.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { baseConfigSpec, readConfig, type BaseConfig } from '../../libs/config/index.ts';
import { connectStore, type Store } from '../../libs/store/mongo.ts';
import { createRecordReader, type RecordDocument } from '../../libs/store/records.ts';
import { createRunStore, type Run } from '../../libs/store/runs.ts';
import type { RunStatus } from '../../libs/contracts/run.ts';
import { instantiate, parseExample } from '../../libs/workflow/examples.ts';
import { testIngressEnv } from './ingress.ts';
import { startService, type ServiceProcess } from './process.ts';
import { eventually } from './env.ts';
import { startSmtpCapture, type SmtpCapture } from '../../stack/smtp/catcher.ts';
import { freePort } from './net.ts';

export const hubServices = ['ingress', 'api', 'record-projector', 'trigger-matcher', 'action-executor', 'notifier', 'sync-reconciler', 'ops'] as const;

export interface ApiAnswer { status: number; body: unknown }

export interface E2EHub {
  url: string;
  config: BaseConfig;
  /** The environment the services run with (for running the project's scripts against them). */
  env: NodeJS.ProcessEnv;
  store: Store;
  smtp: SmtpCapture;
  workspaceId: string;
  apiKey: string;
  /** The operator's token (admin routes). */
  adminToken: string;
  services: Map<string, ServiceProcess>;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** Another workspace of the same hub, with its own key. */
  newWorkspace(name: string): Promise<{ workspaceId: string; apiKey: string; api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer> }>;
  /** Imports examples/<file> with these variables and activates it; returns the workflow id and its hook URL, if any. */
  importExample(file: string, vars: Record<string, string>): Promise<{ workflowId: string; hookUrl: string | null }>;
  credential(body: Record<string, unknown>): Promise<void>;
  sendRecords(events: unknown[]): Promise<void>;
  record(object: string, recordId: string): Promise<RecordDocument | null>;
  /** Live records of an object (projection), in recordId order. */
  records(object: string): Promise<RecordDocument[]>;
  runsOf(workflowId: string): Promise<Run[]>;
  /** Waits until `count` runs of the workflow have ended; returns them, oldest first. */
  endedRuns(workflowId: string, count: number, timeoutMs?: number): Promise<Run[]>;
  waitForRun(runId: string, statuses?: RunStatus[], timeoutMs?: number): Promise<Run>;
  /** Retries a failed run (the API must answer 202) and waits until that attempt has ended; returns the run then. */
  retryRun(runId: string, timeoutMs?: number): Promise<Run>;
  /** Restarts one service process (same environment). */
  restart(name: string): Promise<void>;
  /** Stops one service (SIGTERM: it leaves its group); `restart` starts it again. */
  stop(name: string): Promise<void>;
  /** Kills a service with SIGKILL; with `supervise`, it is restarted as `npm start` would. */
  crash(name: string): Promise<void>;
  /** How many times each service was restarted after it exited on its own or was crashed. */
  restarts: Map<string, number>;
  close(): Promise<void>;
}

/** Asserts that a retried run kept these steps of the attempt that failed: they ended when they did then, so none ran again. */
export function assertStepsKept(failed: Run, retried: Run, stepKeys: readonly string[]): void {
  for (const key of stepKeys) {
    const before = failed.steps[key];
    assert.ok(before?.endedAt, `${key} had ended before the retry`);
    assert.equal(retried.steps[key]?.endedAt, before.endedAt, `${key} was not run again`);
  }
}

export interface E2EHubOptions {
  /** Restart a service that exits (or is crashed) after `superviseDelayMs`, as `npm start`'s supervisor does. */
  supervise?: boolean;
  superviseDelayMs?: number;
  /** Runs after the test's names are chosen and before any service starts (e.g. topic settings). */
  beforeServices?(config: BaseConfig): Promise<void>;
}

export async function startE2EHub(label: string, extraEnv: Record<string, string> = {}, options: E2EHubOptions = {}): Promise<E2EHub> {
  const smtp = await startSmtpCapture();
  const port = await freePort();
  const apiPort = await freePort();
  const opsPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The ingress at `url` serves the hot path and forwards the rest to the api, as with npm start.
    ...testIngressEnv(label, { HUB_HTTP_PORT: String(port), HUB_PUBLIC_URL: url, HUB_API_PORT: String(apiPort), HUB_API_URL: `http://127.0.0.1:${apiPort}` }),
    HUB_HTTP_ALLOWLIST: '127.0.0.1',
    HUB_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
    HUB_SMTP_FROM: 'CRM hub <hub@example.test>',
    HUB_SMTP_RETRY_BACKOFF_MS: '200',
    HUB_STEP_RETRY_BACKOFF_MS: '200',
    HUB_SCHEDULE_CHECK_MS: '250',
    HUB_OPS_PORT: String(opsPort),
    HUB_OPS_URL: `http://127.0.0.1:${opsPort}`,
    HUB_OPS_SAMPLE_MS: '1000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    ...extraEnv,
  };
  const config = readConfig(baseConfigSpec, { ...env, LOG_LEVEL: 'warn' });
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  const services = new Map<string, ServiceProcess>();
  const restarts = new Map<string, number>();
  /** Processes the harness itself stopped: not restarted. */
  const stopped = new Set<ServiceProcess>();
  let closing = false;
  // HUB_E2E_LOG_DIR keeps each service's output (what it logged) for a look after the test:
  // every process of it, also those killed and restarted on the way (appended as each exits).
  const logDir = process.env.HUB_E2E_LOG_DIR;
  const logFile = (name: string) => `${logDir}/${label}.${name}.log`;
  if (logDir) for (const name of hubServices) writeFileSync(logFile(name), '');
  const start = async (name: string) => {
    const s = startService(name, env);
    services.set(name, s);
    if (logDir) void s.exited.then((code) => appendFileSync(logFile(name), `${s.output()}\n--- ${name} exited (${code ?? 'signal'}) at ${new Date().toISOString()} ---\n`));
    if (options.supervise) {
      void s.exited.then(() => {
        if (closing || stopped.has(s)) return;
        restarts.set(name, (restarts.get(name) ?? 0) + 1);
        setTimeout(() => { if (!closing) start(name).catch(() => undefined); }, options.superviseDelayMs ?? 1000);
      });
    }
    await s.started;
  };
  await options.beforeServices?.(config);
  // The ingress first: it creates the topics and registers the schemas the others use.
  await start('ingress');
  await Promise.all(hubServices.filter((n) => n !== 'ingress').map(start));

  const adminToken = env.HUB_ADMIN_TOKEN!;
  const raw = async (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> => {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) as unknown : null };
  };
  const ws = (await raw('POST', '/v1/admin/workspaces', adminToken, { name: label })).body as { workspaceId: string; apiKey: string };
  const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => raw(method, path, ws.apiKey, body, headers);
  const runs = createRunStore(store.db);
  const reader = createRecordReader(store.db);

  const hub: E2EHub = {
    url, config, env, store, smtp, workspaceId: ws.workspaceId, apiKey: ws.apiKey, adminToken, services, api,
    async newWorkspace(name) {
      const other = (await raw('POST', '/v1/admin/workspaces', adminToken, { name })).body as { workspaceId: string; apiKey: string };
      return { ...other, api: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => raw(method, path, other.apiKey, body, headers) };
    },
    async importExample(file, vars) {
      const example = parseExample(readFileSync(`examples/${file}`, 'utf8'));
      const created = await api('POST', '/v1/workflows', instantiate(example, vars));
      if (created.status !== 201) throw new Error(`importing ${file}: ${created.status} ${JSON.stringify(created.body)}`);
      const { workflowId } = created.body as { workflowId: string };
      const activated = await api('POST', `/v1/workflows/${workflowId}/activate`);
      if (activated.status !== 200) throw new Error(`activating ${file}: ${activated.status} ${JSON.stringify(activated.body)}`);
      const hook = (activated.body as { hook: { url: string } | null }).hook;
      return { workflowId, hookUrl: hook?.url ?? null };
    },
    async credential(body) {
      const res = await api('POST', '/v1/credentials', body);
      if (res.status !== 201) throw new Error(`credential ${String(body.name)}: ${res.status} ${JSON.stringify(res.body)}`);
    },
    async sendRecords(events) {
      const res = await api('POST', '/v1/events', { events });
      if (res.status !== 202) throw new Error(`events: ${res.status} ${JSON.stringify(res.body)}`);
    },
    record: (object, recordId) => reader.get(ws.workspaceId, object, recordId),
    records: (object) => reader.list(ws.workspaceId, object, { afterRecordId: null, limit: 10_000 }),
    runsOf: (workflowId) => runs.list(ws.workspaceId, workflowId, { limit: 10_000 }),
    async endedRuns(workflowId, count, timeoutMs = 90_000) {
      const list = await eventually(`${count} ended run(s) of ${workflowId}`, async () => {
        const all = await runs.list(ws.workspaceId, workflowId, { limit: 10_000 });
        const ended = all.filter((r) => ['completed', 'failed', 'cancelled'].includes(r.status));
        return ended.length >= count ? ended : null;
      }, timeoutMs, 200);
      return list.sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime());
    },
    waitForRun: (runId, statuses = ['completed', 'failed', 'cancelled'], timeoutMs = 90_000) =>
      eventually(`run ${runId} to be ${statuses.join('/')}`, async () => {
        const r = await runs.get(runId);
        return r && statuses.includes(r.status) ? r : null;
      }, timeoutMs, 200),
    async retryRun(runId, timeoutMs = 90_000) {
      const retry = await api('POST', `/v1/runs/${runId}/retry`);
      if (retry.status !== 202) throw new Error(`retrying run ${runId}: ${retry.status} ${JSON.stringify(retry.body)}`);
      // The executor takes the retry from the runs topic: until then the run still shows its last attempt.
      const { attempt } = retry.body as { attempt: number };
      return eventually(`attempt ${attempt} of run ${runId} to end`, async () => {
        const r = await runs.get(runId);
        return r && r.attempt === attempt && ['completed', 'failed', 'cancelled'].includes(r.status) ? r : null;
      }, timeoutMs, 200);
    },
    restarts,
    async restart(name) {
      const s = services.get(name);
      if (s) { stopped.add(s); await s.kill('SIGTERM'); }
      await start(name);
    },
    async stop(name) {
      const s = services.get(name);
      if (s) { stopped.add(s); await s.kill('SIGTERM'); }
    },
    async crash(name) {
      const s = services.get(name);
      if (!s) return;
      if (!options.supervise) stopped.add(s);
      await s.kill('SIGKILL');
    },
    async close() {
      closing = true;
      await Promise.all([...services.values()].map((s) => s.kill('SIGTERM')));
      await smtp.close();
      await store.db.dropDatabase().catch(() => undefined);
      await store.close();
    },
  };
  return hub;
}

/**
 * The workflow engine on the real stack, in one test process: an ingress (the API),
 * the record projector, N trigger matchers and N action executors, all sharing one
 * isolated topic prefix and database.
 */
import type { LightMyRequestResponse } from 'fastify';
import { startTestIngress, type TestIngress } from './ingress.ts';
import { eventually, testLogger } from './env.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { createRecordProjector } from '../../services/record-projector/app.ts';
import { createRecordReader, createRecordStore } from '../../libs/store/records.ts';
import { createRunStore, type Run, type RunStore } from '../../libs/store/runs.ts';
import { createExecutorApp, type ExecutorApp } from '../../services/action-executor/app.ts';
import type { ExecutorLimits } from '../../services/action-executor/executor.ts';
import { createMatcherApp, type MatcherApp } from '../../services/trigger-matcher/app.ts';
import { createScheduleCursors, scheduleCollection } from '../../services/trigger-matcher/schedule-ticks.ts';
import { ensureCollections } from '../../libs/store/mongo.ts';
import type { ConsumerRunner } from '../../libs/kafka/consumer.ts';
import type { RunStatus } from '../../libs/contracts/run.ts';
import type { StepHandler } from '../../libs/workflow/interpreter.ts';
import { createHttpClient } from '../../libs/http/index.ts';
import { createCodeRunner } from '../../libs/sandbox/code-runner.ts';
import { createCredentialStore } from '../../libs/store/credentials.ts';
import { SecretBox } from '../../libs/secrets/crypto.ts';

export type ExecutorTestLimits = ExecutorLimits & { workflowMaxDepth: number; searchScanMax: number; maxBufferedRuns: number };

export const testExecutorLimits: ExecutorTestLimits = {
  runsPerWorkspace: 100, stepTimeoutMs: 10_000, stepMaxAttempts: 3, retryBackoffMs: 50, retryBackoffMaxMs: 1000,
  workflowMaxDepth: 5, searchScanMax: 10_000, maxBufferedRuns: 20_000,
};

export interface WorkflowHub {
  t: TestIngress;
  runtime: KafkaRuntime;
  runs: RunStore;
  executors: ExecutorApp[];
  matchers: MatcherApp[];
  workspaceId: string;
  apiKey: string;
  call(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, key?: string): Promise<LightMyRequestResponse>;
  /** Creates and activates a workflow; returns its id. */
  activate(definition: unknown, key?: string): Promise<string>;
  /** Publishes record events through the API (as a producer would). */
  sendRecords(events: unknown[], key?: string): Promise<void>;
  waitForRun(runId: string, statuses?: RunStatus[], timeoutMs?: number): Promise<Run>;
  /** Runs of a workflow as the projection has them. */
  runsOf(workflowId: string): Promise<Run[]>;
  startExecutor(limits?: Partial<ExecutorTestLimits>, extraHandlers?: ReadonlyMap<string, StepHandler>): Promise<ExecutorApp>;
  startMatcher(options?: { now?: () => number }): Promise<MatcherApp>;
  close(): Promise<void>;
}

export async function startWorkflowHub(label: string, options: { executors?: number; matchers?: number; limits?: Partial<ExecutorTestLimits>; extraHandlers?: ReadonlyMap<string, StepHandler>; scheduleCheckMs?: number } = {}): Promise<WorkflowHub> {
  const t = await startTestIngress(label);
  const log = testLogger(`workflows-${label}`);
  const runtime = await startKafkaRuntime(t.config, log);
  await ensureCollections(t.store.db, [scheduleCollection]);
  const runs = createRunStore(t.store.db);
  const projector: ConsumerRunner = createRecordProjector({ runtime, records: createRecordStore(t.store.db), log });
  await projector.start();
  const ws = await t.createWorkspace();
  // The executors' http steps may reach the tests' emulators on loopback (operator allowlist).
  const code = await createCodeRunner();
  const integrations = {
    http: createHttpClient({ allowlist: ['127.0.0.1', '::1', 'localhost'] }),
    credentials: createCredentialStore(t.store.db, new SecretBox(t.config.secretsKey)),
    code,
    emailDeliveryTimeoutMs: 30_000,
  };
  const executors: ExecutorApp[] = [];
  const matchers: MatcherApp[] = [];

  const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, key = ws.apiKey) =>
    t.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });

  const hub: WorkflowHub = {
    t, runtime, runs, executors, matchers, workspaceId: ws.workspaceId, apiKey: ws.apiKey, call,
    async activate(definition, key = ws.apiKey) {
      const created = await call('POST', '/v1/workflows', definition, key);
      if (created.statusCode !== 201) throw new Error(`create: ${created.statusCode} ${created.body}`);
      const id = (created.json() as { workflowId: string }).workflowId;
      const activated = await call('POST', `/v1/workflows/${id}/activate`, undefined, key);
      if (activated.statusCode !== 200) throw new Error(`activate: ${activated.statusCode} ${activated.body}`);
      return id;
    },
    async sendRecords(events, key = ws.apiKey) {
      const res = await call('POST', '/v1/events', { events }, key);
      if (res.statusCode !== 202 && res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`);
    },
    waitForRun: (runId, statuses = ['completed', 'failed', 'cancelled'], timeoutMs = 60_000) =>
      eventually(`run ${runId} to be ${statuses.join('/')}`, async () => {
        const r = await runs.get(runId);
        return r && statuses.includes(r.status) ? r : null;
      }, timeoutMs, 50),
    runsOf: (workflowId) => runs.list(ws.workspaceId, workflowId, { limit: 10_000 }),
    async startExecutor(limits = {}, extra = options.extraHandlers) {
      const app = createExecutorApp({
        runtime, runs, records: createRecordReader(t.store.db), log, limits: { ...testExecutorLimits, ...options.limits, ...limits }, integrations,
        ...(extra ? { extraHandlers: extra } : {}), commitIntervalMs: 200,
      });
      await app.start();
      executors.push(app);
      return app;
    },
    async startMatcher(o = {}) {
      const app = createMatcherApp({ runtime, cursors: createScheduleCursors(t.store.db), log, scheduleCheckMs: options.scheduleCheckMs ?? 200, ...(o.now ? { now: o.now } : {}) });
      await app.start();
      matchers.push(app);
      return app;
    },
    async close() {
      await Promise.all([...executors, ...matchers].map((a) => a.stop().catch(() => undefined)));
      await projector.stop();
      code.close();
      await runtime.close();
      await t.close();
    },
  };
  for (let i = 0; i < (options.matchers ?? 1); i++) await hub.startMatcher();
  for (let i = 0; i < (options.executors ?? 1); i++) await hub.startExecutor();
  return hub;
}

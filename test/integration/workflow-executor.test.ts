/**
 * The action executor under pressure, on the real stack: the per-workspace
 * concurrency limit (queued in order, nothing dropped, no starvation across
 * workspaces), cancellation, step timeouts, retries of retriable errors, and two
 * executor and two matcher replicas side by side.
 *
 * Steps whose duration the test controls are `code` steps run by a test handler
 * (the executor's step-handler interface is the seam): its `source` says what to do.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkflowHub, type WorkflowHub } from '../support/workflow-hub.ts';
import { eventually } from '../support/env.ts';
import { HubError } from '../../libs/errors/index.ts';
import type { StepHandler } from '../../libs/workflow/interpreter.ts';
import type { CodeInput } from '../../libs/contracts/workflow.ts';
import { sleep } from '../../libs/time/sleep.ts';

/** `gate:<name>` waits until the test opens that gate; `flaky:<n>` fails retriably n times per step; anything else returns at once. */
class TestSteps {
  readonly running = new Map<string, number>();
  readonly maxRunning = new Map<string, number>();
  readonly started: string[] = [];
  private readonly gates = new Map<string, { open: boolean; waiters: (() => void)[] }>();
  private readonly failures = new Map<string, number>();

  gate(name: string) {
    let g = this.gates.get(name);
    if (!g) { g = { open: false, waiters: [] }; this.gates.set(name, g); }
    return g;
  }

  open(name: string) {
    const g = this.gate(name);
    g.open = true;
    g.waiters.splice(0).forEach((w) => w());
  }

  handler(): StepHandler {
    return {
      execute: async (raw, _step, ctx) => {
        const { source, input } = raw as CodeInput;
        const ws = ctx.workspaceId;
        this.started.push(`${ws}:${String(input.label ?? '')}`);
        this.running.set(ws, (this.running.get(ws) ?? 0) + 1);
        this.maxRunning.set(ws, Math.max(this.maxRunning.get(ws) ?? 0, this.running.get(ws)!));
        try {
          if (source.startsWith('gate:')) {
            const g = this.gate(source.slice(5));
            if (!g.open) await new Promise<void>((resolve) => { g.waiters.push(resolve); ctx.signal.addEventListener('abort', () => resolve(), { once: true }); });
          } else if (source.startsWith('flaky:')) {
            const key = `${ctx.runId}:${ctx.stepKey}`;
            const failed = this.failures.get(key) ?? 0;
            if (failed < Number(source.slice(6))) {
              this.failures.set(key, failed + 1);
              throw new HubError('REMOTE_UNAVAILABLE', { status: 503, retriable: true }, `flaky step failure ${failed + 1}`);
            }
          }
          return { result: { ok: true, attempt: ctx.attempt } };
        } finally {
          this.running.set(ws, this.running.get(ws)! - 1);
        }
      },
    };
  }
}

const hubs: WorkflowHub[] = [];
after(async () => { await Promise.all(hubs.map((h) => h.close())); });

const codeStep = (id: string, source: string, label = '{{trigger.input.label}}') => ({ id, type: 'code', input: { source, input: { label } } });
const manual = (name: string, steps: unknown[]) => ({ name, trigger: { type: 'manual', availability: 'global' }, steps });
const start = async (hub: WorkflowHub, workflowId: string, input: Record<string, unknown> = {}, key?: string) =>
  ((await hub.call('POST', `/v1/workflows/${workflowId}/runs`, { input }, key)).json() as { runIds: string[] }).runIds[0]!;

test('at most N runs of a workspace at once, the rest queued in order and none dropped; another workspace is not held up', async () => {
  const steps = new TestSteps();
  const hub = await startWorkflowHub('wfconc', { limits: { runsPerWorkspace: 3 }, extraHandlers: new Map([['code', steps.handler()]]) });
  hubs.push(hub);
  const busy = await hub.activate(manual('Busy', [codeStep('wait', 'gate:busy')]));
  const other = await hub.t.createWorkspace('calm');
  const calm = await hub.activate(manual('Calm', [codeStep('quick', 'now')]), other.apiKey);

  const busyRuns: string[] = [];
  for (let i = 0; i < 12; i++) busyRuns.push(await start(hub, busy, { label: `b${i}` }));
  await eventually('3 busy runs running', async () => (steps.running.get(hub.workspaceId) ?? 0) === 3 ? true : null);
  const queued = await eventually('9 queued', async () => {
    const runs = await hub.runsOf(busy);
    return runs.filter((r) => r.status === 'queued').length === 9 ? runs : null;
  });
  assert.equal(queued.filter((r) => r.status === 'running').length, 3);

  // The other workspace's runs complete while the busy one is saturated.
  const calmRuns = [];
  for (let i = 0; i < 5; i++) calmRuns.push(await start(hub, calm, { label: `c${i}` }, other.apiKey));
  for (const id of calmRuns) assert.equal((await hub.waitForRun(id)).status, 'completed');
  assert.equal(steps.running.get(hub.workspaceId), 3, 'still saturated while the other workspace finished');

  steps.open('busy');
  for (const id of busyRuns) assert.equal((await hub.waitForRun(id)).status, 'completed');
  assert.equal(steps.maxRunning.get(hub.workspaceId), 3, 'never more than the limit');
  const order = steps.started.filter((s) => s.startsWith(hub.workspaceId)).map((s) => s.split(':')[1]);
  // Slots are granted in arrival order; runs granted together reach their first step in any order.
  assert.deepEqual([...order].sort(), busyRuns.map((_, i) => `b${i}`).sort());
  order.forEach((label, position) => assert.ok(Math.abs(Number(label!.slice(1)) - position) < 3, `b${position} started near its place (got ${order.join(',')})`));
});

test('cancel: a queued run never starts, a running one stops before its next step; step timeouts and retriable errors', async () => {
  const steps = new TestSteps();
  const hub = await startWorkflowHub('wfcancel', { limits: { runsPerWorkspace: 1, stepTimeoutMs: 400, stepMaxAttempts: 3, retryBackoffMs: 20 }, extraHandlers: new Map([['code', steps.handler()]]) });
  hubs.push(hub);
  const slow = await hub.activate(manual('Slow', [codeStep('hold', 'gate:hold'), { id: 'after', type: 'record.create', input: { object: 'cancel_marks', values: { x: 1 } } }]));
  // The timeout is raised per attempt: make the held step long-lived by reopening attempts quickly.
  const running = await start(hub, slow, { label: 'r' });
  const waiting = await start(hub, slow, { label: 'w' });
  await eventually('first running', async () => (await hub.runs.get(running))?.status === 'running');
  assert.equal((await hub.call('POST', `/v1/runs/${waiting}/cancel`)).statusCode, 202);
  assert.equal((await hub.call('POST', `/v1/runs/${running}/cancel`)).statusCode, 202);
  const cancelled = await hub.waitForRun(running);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.steps.after, undefined, 'no step started after the cancel');
  const neverStarted = await hub.waitForRun(waiting);
  assert.equal(neverStarted.status, 'cancelled');
  assert.equal(neverStarted.startedAt, null);
  assert.ok(!steps.started.includes(`${hub.workspaceId}:w`), 'the queued run never ran a step');

  const stuck = await hub.activate(manual('Stuck', [codeStep('forever', 'gate:never')]));
  const timedOut = await hub.waitForRun(await start(hub, stuck, { label: 's' }));
  assert.equal(timedOut.status, 'failed', 'a run never stays running forever');
  assert.equal(timedOut.error?.code, 'STEP_TIMEOUT');
  assert.equal(timedOut.steps.forever!.attempts, 3, 'a timeout is retried, then the run fails');

  const flaky = await hub.activate(manual('Flaky', [codeStep('remote', 'flaky:2')]));
  const recovered = await hub.waitForRun(await start(hub, flaky, { label: 'f' }));
  assert.equal(recovered.status, 'completed');
  assert.equal(recovered.steps.remote!.attempts, 3);
  assert.deepEqual(recovered.steps.remote!.output, { result: { ok: true, attempt: 3 } });
  const hopeless = await hub.activate(manual('Hopeless', [codeStep('remote', 'flaky:5')]));
  const gaveUp = await hub.waitForRun(await start(hub, hopeless, { label: 'h' }));
  assert.equal(gaveUp.status, 'failed');
  assert.equal(gaveUp.error?.code, 'REMOTE_UNAVAILABLE');
  assert.equal(gaveUp.steps.remote!.attempts, 3);
});

test('two executors and two matchers side by side: every run executes once, every schedule tick fires once', async () => {
  const hub = await startWorkflowHub('wfreplicas', { executors: 2, matchers: 0 });
  hubs.push(hub);
  // Schedules read a clock the test moves: the matchers think it is half past some hour, tomorrow.
  let offset = 0;
  const clock = () => Date.now() + offset;
  await hub.startMatcher({ now: clock });
  await hub.startMatcher({ now: clock });

  const workflowId = await hub.activate({ name: 'Count', trigger: { type: 'record.created', object: 'orders' }, steps: [
    { id: 'find', type: 'record.search', input: { object: 'orders', filter: { '==': [{ var: 'record.batch' }, { var: 'trigger.record.batch' }] }, limit: 1 } },
    { id: 'ack', type: 'record.update', input: { object: 'orders', recordId: '{{trigger.recordId}}', values: { acked: true } } },
  ] });
  const hourly = await hub.activate({ name: 'Hourly', trigger: { type: 'schedule', cron: '0 * * * *' }, steps: [
    { id: 'tick', type: 'record.create', input: { object: 'ticks', values: { at: '{{trigger.scheduledAt}}' } } },
  ] });
  const n = 120;
  const events = Array.from({ length: n }, (_, i) => ({ type: 'record.created', object: 'orders', recordId: `o${i}`, record: { batch: `b${i % 7}` } }));
  for (let i = 0; i < n; i += 40) await hub.sendRecords(events.slice(i, i + 40));
  const runs = await eventually(`${n} runs completed`, async () => {
    const list = await hub.runsOf(workflowId);
    return list.length >= n && list.every((r) => r.status === 'completed') ? list : null;
  }, 120_000);
  assert.equal(runs.length, n, 'one run per event');
  assert.ok(runs.every((r) => r.steps.ack!.attempts === 1 && r.attempt === 1));
  assert.equal(new Set(runs.map((r) => (r.trigger as { recordId: string }).recordId)).size, n);
  const acked = await eventually('all acked', async () => {
    const c = await hub.t.store.db.collection('records').countDocuments({ object: 'orders', 'fields.acked': true });
    return c === n ? c : null;
  }, 60_000);
  assert.equal(acked, n);

  const nextHalfPast = (from: number) => { const d = new Date(from + 86_400_000); d.setUTCMinutes(30, 0, 0); return d.getTime(); };
  offset = nextHalfPast(Date.now()) - Date.now();
  const firstTick = await eventually('the first tick', async () => {
    const list = await hub.runsOf(hourly);
    return list.length >= 1 ? list : null;
  });
  offset += 3_600_000;
  const ticks = await eventually('the second tick', async () => {
    const list = await hub.runsOf(hourly);
    return list.length >= 2 && list.every((r) => r.status === 'completed') ? list : null;
  });
  await sleep(1500);
  const final = await hub.runsOf(hourly);
  assert.equal(final.length, 2, `one run per tick with two matchers (first: ${firstTick.length})`);
  const at = final.map((r) => (r.trigger as { scheduledAt: string }).scheduledAt).sort();
  assert.equal(Date.parse(at[1]!) - Date.parse(at[0]!), 3_600_000);
  assert.ok(at.every((iso) => iso.endsWith(':00:00.000Z')), 'ticks are on the hour');
  assert.equal(ticks.length, 2);
});

test('a step whose record hub.runs cannot take fails the run with STEP_RECORD_TOO_LARGE; the executor goes on with the next run', async () => {
  // A step answering more than hub.runs takes per message (1 MiB by default).
  const big: StepHandler = { execute: async (raw) => ({ result: (raw as CodeInput).input.label === 'big' ? 'x'.repeat(1100 * 1024) : 'small' }) };
  const hub = await startWorkflowHub('exec_big_record', { extraHandlers: new Map([['code', big]]) });
  hubs.push(hub);
  const wf = await hub.activate(manual('Large answers', [codeStep('answer', 'answer'), codeStep('after', 'after')]));
  const bigRun = await start(hub, wf, { label: 'big' });
  const failed = await hub.waitForRun(bigRun);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'STEP_RECORD_TOO_LARGE');
  assert.equal(failed.error?.stepKey, 'answer');
  assert.equal(failed.steps.answer?.status, 'failed');
  assert.equal(failed.steps.answer?.output, null, 'the output is not kept');
  assert.equal(failed.steps.after, undefined, 'no step after it ran');
  const next = await hub.waitForRun(await start(hub, wf, { label: 'small' }));
  assert.equal(next.status, 'completed');
});

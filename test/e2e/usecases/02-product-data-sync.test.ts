/**
 * Use case 2, product data sync (examples/02-product-data-sync.json), with every service a
 * process: a scheduled workflow (started at once with "run now") queries the warehouse
 * emulator (BigQuery jobs.query) → a code step decodes the rows and scores seat
 * utilization → for each account, the company with that domain gets its usage metrics →
 * a company that falls below the threshold gets a task for its CSM. The variant: the
 * warehouse rate-limits the query (429 with Retry-After); the step's own retry waits as
 * told and the sync completes, tasking only the account that newly fell below.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startE2EHub, type E2EHub } from '../../support/e2e-hub.ts';
import { eventually } from '../../support/env.ts';
import { startWarehouseEmulator, type UsageRow, type WarehouseEmulator } from '../../emulators/warehouse.ts';
import type { RecordDocument } from '../../../libs/store/records.ts';

const usage: UsageRow[] = [
  { account_id: 'acct_0001', company_domain: 'acme.example', company_name: 'Acme Inc.', active_users: 38, seats: 40, api_calls_30d: 18_200, feature_adoption: 0.82, plan: 'enterprise', last_seen_date: '2025-01-14' },
  { account_id: 'acct_0002', company_domain: 'globex.example', company_name: 'Globex Corporation', active_users: 3, seats: 25, api_calls_30d: 120, feature_adoption: 0.1, plan: 'growth', last_seen_date: '2025-01-03' },
  { account_id: 'acct_0003', company_domain: 'initech.example', company_name: 'Initech', active_users: 2, seats: 12, api_calls_30d: 40, feature_adoption: 0.05, plan: 'starter', last_seen_date: '2025-01-02' },
  { account_id: 'acct_0004', company_domain: 'Hooli.example', company_name: 'Hooli', active_users: 20, seats: 30, api_calls_30d: 9_100, feature_adoption: 0.61, plan: 'growth', last_seen_date: '2025-01-13' },
];

const QUERY = 'SELECT account_id, company_domain, company_name, active_users, seats, api_calls_30d, feature_adoption, plan, last_seen_date FROM product.usage_metrics ORDER BY account_id';

let hub: E2EHub;
let warehouse: WarehouseEmulator;
let workflowId: string;

const fieldsOf = (r: RecordDocument | null) => ({ ...r?.fields });
/** Tasks of the sync, oldest first. */
const syncTasks = async () => (await hub.records('tasks')).filter((t) => t.fields.source === 'product data sync');

before(async () => {
  warehouse = await startWarehouseEmulator({ usage });
  hub = await startE2EHub('uc02');
  await hub.credential({ name: 'warehouse', type: 'bearer', token: warehouse.token });
  await hub.sendRecords([
    { type: 'record.created', object: 'companies', recordId: 'co-acme', record: { name: 'Acme Inc.', domain: 'acme.example', industry: 'Manufacturing' } },
    { type: 'record.created', object: 'companies', recordId: 'co-globex', record: { name: 'Globex Corporation', domain: 'globex.example', industry: 'Energy' } },
    { type: 'record.created', object: 'companies', recordId: 'co-hooli', record: { name: 'Hooli', domain: 'hooli.example', industry: 'Software' } },
    { type: 'record.created', object: 'companies', recordId: 'co-umbrella', record: { name: 'Umbrella Corporation', domain: 'umbrella.example', industry: 'Pharmaceuticals' } },
  ]);
  await eventually('companies projected', async () => (await hub.records('companies')).length === 4, 90_000);
  // A daily schedule twelve hours away: only "run now" starts runs during the test.
  const hour = (new Date().getUTCHours() + 12) % 24;
  ({ workflowId } = await hub.importExample('02-product-data-sync.json', {
    WAREHOUSE_URL: warehouse.url, WAREHOUSE_PROJECT: warehouse.projectId, SYNC_CRON: `15 ${hour} * * *`, SYNC_TIMEZONE: 'UTC',
    LOW_USAGE_THRESHOLD: '0.3', CSM_ID: 'csm-dana',
  }));
});
after(async () => {
  await hub?.close();
  await warehouse?.close();
});

async function runNow(): Promise<string> {
  const started = await hub.api('POST', `/v1/workflows/${workflowId}/runs`, {});
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const { runIds } = started.body as { runIds: string[] };
  assert.equal(runIds.length, 1);
  return runIds[0]!;
}

test('a sync: metrics on each known company, a task for the low-usage one, unknown accounts skipped', async () => {
  const runId = await runNow();
  const run = await hub.waitForRun(runId);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  const scheduledAt = (run.trigger as { scheduledAt: string; manual: boolean }).scheduledAt;
  assert.equal((run.trigger as { manual: boolean }).manual, true);
  assert.match(scheduledAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

  // One query, with the stored token, exactly as written in the workflow.
  assert.equal(warehouse.received.length, 1);
  const [query] = warehouse.received;
  assert.equal(query!.method, 'POST');
  assert.equal(query!.path, `/bigquery/v2/projects/${warehouse.projectId}/queries`);
  assert.equal(query!.headers.authorization, `Bearer ${warehouse.token}`);
  assert.match(query!.headers['idempotency-key'] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/, 'the step\'s effect id');
  assert.deepEqual(query!.body, { query: QUERY, useLegacySql: false, maxResults: 1000 });
  assert.equal(query!.status, 200);
  assert.equal(run.steps.warehouse!.status, 'completed');
  assert.equal((run.steps.warehouse!.output as { status: number }).status, 200);

  // The code step decoded BigQuery's string cells by the schema and scored each account.
  assert.deepEqual(run.steps.format!.output, {
    result: {
      accounts: [
        { accountId: 'acct_0001', domain: 'acme.example', name: 'Acme Inc.', activeUsers: 38, seats: 40, seatUtilization: 0.95, apiCalls30d: 18_200, featureAdoption: 0.82, plan: 'enterprise', lastSeenDate: '2025-01-14', lowUsage: false },
        { accountId: 'acct_0002', domain: 'globex.example', name: 'Globex Corporation', activeUsers: 3, seats: 25, seatUtilization: 0.12, apiCalls30d: 120, featureAdoption: 0.1, plan: 'growth', lastSeenDate: '2025-01-03', lowUsage: true },
        { accountId: 'acct_0003', domain: 'initech.example', name: 'Initech', activeUsers: 2, seats: 12, seatUtilization: 0.17, apiCalls30d: 40, featureAdoption: 0.05, plan: 'starter', lastSeenDate: '2025-01-02', lowUsage: true },
        { accountId: 'acct_0004', domain: 'hooli.example', name: 'Hooli', activeUsers: 20, seats: 30, seatUtilization: 0.67, apiCalls30d: 9_100, featureAdoption: 0.61, plan: 'growth', lastSeenDate: '2025-01-13', lowUsage: false },
      ],
      lowUsage: ['acct_0002', 'acct_0003'],
    },
  });
  assert.deepEqual(run.steps.accounts!.output, { count: 4 });
  // Initech is not a company of the CRM: searched, skipped.
  assert.deepEqual(run.steps['company[2]']!.output, { records: [], count: 0, total: 0 });
  assert.deepEqual(run.steps['known[2]']!.output, { branch: 'else' });
  assert.equal(run.steps['metrics[2]'], undefined);
  for (const i of [0, 1, 3]) assert.deepEqual(run.steps[`known[${i}]`]!.output, { branch: 0 });
  assert.deepEqual(run.steps['fell[0]']!.output, { branch: 'else' });
  assert.deepEqual(run.steps['fell[1]']!.output, { branch: 0 });
  assert.deepEqual(run.steps['fell[3]']!.output, { branch: 'else' });
  assert.deepEqual(Object.keys(run.steps).filter((k) => k.startsWith('task[')), ['task[1]']);

  const synced = (accountId: string) => ({ warehouseAccountId: accountId, usageSyncedAt: scheduledAt });
  const acme = await eventually('acme metrics', async () => { const r = await hub.record('companies', 'co-acme'); return r?.fields.usageSyncedAt ? r : null; }, 90_000);
  assert.deepEqual(fieldsOf(acme), {
    name: 'Acme Inc.', domain: 'acme.example', industry: 'Manufacturing',
    activeUsers: 38, seats: 40, seatUtilization: 0.95, apiCalls30d: 18_200, featureAdoption: 0.82, plan: 'enterprise', lastSeenDate: '2025-01-14', lowUsage: false, ...synced('acct_0001'),
  });
  const globex = await eventually('globex metrics', async () => { const r = await hub.record('companies', 'co-globex'); return r?.fields.usageSyncedAt ? r : null; }, 90_000);
  assert.deepEqual(fieldsOf(globex), {
    name: 'Globex Corporation', domain: 'globex.example', industry: 'Energy',
    activeUsers: 3, seats: 25, seatUtilization: 0.12, apiCalls30d: 120, featureAdoption: 0.1, plan: 'growth', lastSeenDate: '2025-01-03', lowUsage: true, ...synced('acct_0002'),
  });
  // The warehouse writes "Hooli.example": matched after lower-casing.
  const hooli = await eventually('hooli metrics', async () => { const r = await hub.record('companies', 'co-hooli'); return r?.fields.usageSyncedAt ? r : null; }, 90_000);
  assert.deepEqual(fieldsOf(hooli), {
    name: 'Hooli', domain: 'hooli.example', industry: 'Software',
    activeUsers: 20, seats: 30, seatUtilization: 0.67, apiCalls30d: 9_100, featureAdoption: 0.61, plan: 'growth', lastSeenDate: '2025-01-13', lowUsage: false, ...synced('acct_0004'),
  });
  // Not in the warehouse: untouched. Not in the CRM: not created.
  assert.deepEqual(fieldsOf(await hub.record('companies', 'co-umbrella')), { name: 'Umbrella Corporation', domain: 'umbrella.example', industry: 'Pharmaceuticals' });
  assert.equal((await hub.records('companies')).length, 4);

  const tasks = await eventually('low-usage task', async () => { const t = await syncTasks(); return t.length ? t : null; }, 90_000);
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.recordId, (run.steps['task[1]']!.output as { record: { id: string } }).record.id);
  assert.deepEqual(fieldsOf(tasks[0]!), {
    title: 'Low product usage: Globex Corporation (3 of 25 seats active)',
    companyId: 'co-globex',
    assignee: 'csm-dana',
    status: 'open',
    priority: 'high',
    source: 'product data sync',
    details: 'Seat utilization 0.12 is below 0.3: 120 API calls and feature adoption 0.1 over the last 30 days, last seen 2025-01-03 (plan growth, warehouse account acct_0002).',
  });
});

test('variant: the warehouse rate-limits the query; the step waits as Retry-After says and the sync completes, tasking only the newly low account', async () => {
  // A week later: Globex is still low (no second task), Hooli fell below the threshold.
  const rows = warehouse.tables.get('product.usage_metrics')!.rows;
  Object.assign(rows.find((r) => r.account_id === 'acct_0002')!, { active_users: 4, api_calls_30d: 210, last_seen_date: '2025-01-20' });
  Object.assign(rows.find((r) => r.account_id === 'acct_0004')!, { active_users: 6, api_calls_30d: 1_400, feature_adoption: 0.22, last_seen_date: '2025-01-16' });
  const from = warehouse.received.length;
  warehouse.failNext(1, { status: 429, retryAfterSeconds: 2 });

  const runId = await runNow();
  const run = await hub.waitForRun(runId);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.equal(run.attempt, 1, 'completed without a retry of the run');
  const scheduledAt = (run.trigger as { scheduledAt: string }).scheduledAt;

  // Two requests by the one step: BigQuery's 429 (rateLimitExceeded), then the answer.
  const requests = warehouse.received.slice(from);
  assert.deepEqual(requests.map((r) => [r.method, r.path, r.status, r.injected]), [
    ['POST', `/bigquery/v2/projects/${warehouse.projectId}/queries`, 429, true],
    ['POST', `/bigquery/v2/projects/${warehouse.projectId}/queries`, 200, false],
  ]);
  for (const r of requests) {
    assert.equal(r.headers.authorization, `Bearer ${warehouse.token}`);
    assert.deepEqual(r.body, { query: QUERY, useLegacySql: false, maxResults: 1000 });
  }
  assert.equal(requests[0]!.headers['idempotency-key'], requests[1]!.headers['idempotency-key'], 'one effect, one key');
  // The step's backoff is 200 ms: only Retry-After: 2 explains a wait of about two seconds.
  assert.ok(requests[1]!.at - requests[0]!.at >= 1_900, `waited ${requests[1]!.at - requests[0]!.at} ms`);
  assert.equal(run.steps.warehouse!.status, 'completed');
  assert.equal(run.steps.warehouse!.error, null);
  assert.equal((run.steps.warehouse!.output as { status: number }).status, 200);

  assert.deepEqual(run.steps['fell[1]']!.output, { branch: 'else' }, 'Globex was already low');
  assert.deepEqual(run.steps['fell[3]']!.output, { branch: 0 }, 'Hooli fell below');
  assert.deepEqual(Object.keys(run.steps).filter((k) => k.startsWith('task[')), ['task[3]']);

  const globex = await eventually('globex re-synced', async () => { const r = await hub.record('companies', 'co-globex'); return r?.fields.usageSyncedAt === scheduledAt ? r : null; }, 90_000);
  assert.deepEqual(fieldsOf(globex), {
    name: 'Globex Corporation', domain: 'globex.example', industry: 'Energy',
    activeUsers: 4, seats: 25, seatUtilization: 0.16, apiCalls30d: 210, featureAdoption: 0.1, plan: 'growth', lastSeenDate: '2025-01-20', lowUsage: true,
    warehouseAccountId: 'acct_0002', usageSyncedAt: scheduledAt,
  });
  const hooli = await eventually('hooli re-synced', async () => { const r = await hub.record('companies', 'co-hooli'); return r?.fields.usageSyncedAt === scheduledAt ? r : null; }, 90_000);
  assert.deepEqual(fieldsOf(hooli), {
    name: 'Hooli', domain: 'hooli.example', industry: 'Software',
    activeUsers: 6, seats: 30, seatUtilization: 0.2, apiCalls30d: 1_400, featureAdoption: 0.22, plan: 'growth', lastSeenDate: '2025-01-16', lowUsage: true,
    warehouseAccountId: 'acct_0004', usageSyncedAt: scheduledAt,
  });

  const tasks = await eventually('the second task', async () => { const t = await syncTasks(); return t.length >= 2 ? t : null; }, 90_000);
  assert.equal(tasks.length, 2);
  const hooliTask = tasks.find((t) => t.fields.companyId === 'co-hooli')!;
  assert.deepEqual(fieldsOf(hooliTask), {
    title: 'Low product usage: Hooli (6 of 30 seats active)',
    companyId: 'co-hooli',
    assignee: 'csm-dana',
    status: 'open',
    priority: 'high',
    source: 'product data sync',
    details: 'Seat utilization 0.2 is below 0.3: 1400 API calls and feature adoption 0.22 over the last 30 days, last seen 2025-01-16 (plan growth, warehouse account acct_0004).',
  });
  assert.equal(tasks.filter((t) => t.fields.companyId === 'co-globex').length, 1, 'no second task for Globex');
  assert.deepEqual((await hub.runsOf(workflowId)).map((r) => r.status), ['completed', 'completed']);
});

test('variant: the warehouse is down beyond the step\'s attempts; the run fails with its answer, and a retry completes the sync once', async () => {
  const from = warehouse.received.length;
  const tasksBefore = (await syncTasks()).length;
  warehouse.failNext(4, { status: 503, body: { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } } });
  const runId = await runNow();
  const failed = await hub.waitForRun(runId);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'HTTP_STATUS');
  assert.equal(failed.error?.stepKey, 'warehouse');
  assert.match(failed.error!.message, /answered 503 after 4 attempts: .*currently unavailable/);
  assert.equal(failed.steps.warehouse!.attempts, 4, 'the step\'s own tries are recorded');
  assert.equal(failed.steps.format, undefined, 'nothing after the failed step ran');

  const done = await hub.retryRun(runId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assert.equal(done.steps.warehouse!.attempts, 1);
  const requests = warehouse.received.slice(from);
  assert.deepEqual(requests.map((r) => r.status), [503, 503, 503, 503, 200]);
  assert.ok(requests.every((r) => r.headers['idempotency-key'] === requests[0]!.headers['idempotency-key']), 'one effect, one key, across the retry of the run');
  // Nothing newly fell below the threshold in this sync: no task was added.
  assert.equal((await syncTasks()).length, tasksBefore);
});

/**
 * The web console as a person sees it: Debian's Chromium driven by playwright-core
 * against the whole hub running as processes. A workspace user signs in and reads a
 * run's timeline after a real run; the operator sees a group's lag rise while its
 * consumer is stopped and fall after, redrives a parked message and plans a replay; a
 * workspace user reads a HubSpot sync connection's health, pauses, resumes and resyncs.
 * Screenshots go to test-output/screenshots (the README's copies in docs/console are taken from there by hand).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startE2EHub, type E2EHub } from '../support/e2e-hub.ts';
import { eventually, testLogger } from '../support/env.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged } from '../../libs/kafka/events.ts';
import { startExternalCrmEmulator } from '../emulators/external-crm.ts';
import { connect, connection, freshWorkspace, records, sendEvents, waitForStatus } from '../support/sync.ts';

const SHOTS = 'test-output/screenshots';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let hub: E2EHub;
let browser: Browser;
let runtime: KafkaRuntime;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  hub = await startE2EHub('console');
  runtime = await startKafkaRuntime(hub.config, testLogger('console-test'));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
  await browser?.close();
  await runtime?.close();
  await hub?.close();
});

async function signIn(token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(`${hub.url}/console`);
  await page.getByLabel('API key or admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('header nav').waitFor();
  assert.deepEqual(problems, [], 'no script errors');
  return page;
}

test('a workspace user signs in and reads a run\'s timeline after a real run', async () => {
  const object = `leads_${randomUUID().slice(0, 6)}`;
  const created = await hub.api('POST', '/v1/workflows', {
    name: 'Qualify leads', trigger: { type: 'record.created', object },
    steps: [
      { id: 'score', type: 'code', input: { source: 'return { score: input.amount > 100 ? "hot" : "cold" };', input: { amount: '{{trigger.record.amount}}' } } },
      { id: 'mark', type: 'record.update', input: { object, recordId: '{{trigger.recordId}}', values: { score: '{{steps.score.result.score}}' } } },
    ],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { workflowId } = created.body as { workflowId: string };
  assert.equal((await hub.api('POST', `/v1/workflows/${workflowId}/activate`)).status, 200);
  await hub.sendRecords([{ type: 'record.created', object, recordId: 'l1', record: { amount: 250 } }]);
  const [run] = await hub.endedRuns(workflowId, 1);
  assert.equal(run!.status, 'completed', JSON.stringify(run!.error));

  const page = await signIn(hub.apiKey);
  await page.getByText('Qualify leads').waitFor();
  await page.screenshot({ path: `${SHOTS}/workflows.png`, fullPage: true });
  await page.getByText('Qualify leads').click();
  await page.getByRole('button', { name: 'Dry run', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Runs' }).click();
  await page.getByText(run!.runId).click();
  await page.getByRole('heading', { name: 'Timeline' }).waitFor();
  const timeline = page.locator('.timeline');
  await timeline.getByText('score', { exact: true }).waitFor();
  await timeline.getByText('mark', { exact: true }).waitFor();
  assert.match(await timeline.innerText(), /"score": "hot"/);
  assert.equal(await page.locator('h2 .badge').innerText(), 'completed');
  await page.screenshot({ path: `${SHOTS}/run-timeline.png`, fullPage: true });
  await page.close();
});

test('the operator sees lag rise while a consumer is stopped and fall after', async () => {
  const page = await signIn(hub.adminToken);
  const card = page.locator('[data-group="record-projector"]');
  await card.waitFor();
  await hub.stop('record-projector');
  await hub.sendRecords(Array.from({ length: 40 }, (_, i) => ({ type: 'record.created', object: 'people', recordId: `c${i}`, record: { name: `P${i}` } })));
  const totalLag = async () => (await card.locator('td.lag-messages').allInnerTexts()).reduce((n, t) => n + Number(t.replace(/[^\d]/g, '') || 0), 0);
  await eventually('lag of 40 shown', async () => (await totalLag()) >= 40, 60_000, 500);
  await card.locator('.badge.stalled').first().waitFor();
  await page.screenshot({ path: `${SHOTS}/lag-rising.png`, fullPage: true });
  await hub.restart('record-projector');
  await eventually('lag back to 0 on screen', async () => (await totalLag()) === 0 && (await card.locator('h3 .badge').innerText()) === 'idle', 60_000, 500);
  await card.locator('.chart canvas').first().waitFor();
  await page.screenshot({ path: `${SHOTS}/lag-fallen.png`, fullPage: true });
  await page.close();
});

test('the operator redrives a parked message and plans a replay (dry run)', async () => {
  const eventId = randomUUID();
  const poison: RecordChanged = {
    eventId, type: 'record.created', workspaceId: hub.workspaceId, occurredAt: Date.now(), correlationId: eventId, causationId: null, causationDepth: 0,
    source: 'test', object: 'people', recordId: 'broken', version: 1, record: null, before: JSON.stringify({ name: 'Mallory', password: 'swordfish' }), updatedFields: [],
  };
  await runtime.bus.publish(runtime.topic(topics.records), [{ key: `${hub.workspaceId}:people:broken`, value: poison }]);
  const page = await signIn(hub.adminToken);
  await page.getByRole('link', { name: 'DLQ' }).click();
  const row = page.locator('tr', { hasText: 'RECORD_EVENT_INVALID' }).first();
  await eventually('the parked message on screen', async () => {
    if (await row.count()) return true;
    await page.reload();
    return false;
  }, 60_000, 1000);
  await row.click();
  const detail = page.locator('pre', { hasText: 'Mallory' }).first();
  await detail.waitFor();
  assert.match(await detail.innerText(), /\[masked\]/);
  assert.doesNotMatch(await page.content(), /swordfish/);
  await page.screenshot({ path: `${SHOTS}/dlq-inspect.png`, fullPage: true });
  await row.getByRole('button', { name: 'Redrive' }).click();
  await page.getByRole('status').getByText('Redriven: 1').waitFor();
  await page.screenshot({ path: `${SHOTS}/dlq-redriven.png`, fullPage: true });

  await page.getByRole('link', { name: 'Replays' }).click();
  await page.getByLabel('from').fill('2020-01-01T00:00');
  await page.getByRole('button', { name: 'Plan (dry run)' }).click();
  await page.locator('.plan').getByText(/message\(s\) to replay/).waitFor();
  const rows = await page.locator('.plan tbody tr').count();
  assert.equal(rows, hub.config.topicPartitions);
  await page.screenshot({ path: `${SHOTS}/replay-plan.png`, fullPage: true });
  await page.close();
});

test('a workspace user reads a HubSpot sync connection\'s health, a failing record with the app\'s answer, pauses, resumes and resyncs a deleted record', async () => {
  const ws = await freshWorkspace(hub, 'acme');
  const crm = await startExternalCrmEmulator();
  try {
    crm.seed('companies', { name: 'Analytical Engines Ltd', domain: 'engines.example' });
    crm.seed('contacts', { email: 'linus@example.com', firstname: 'Linus', lastname: 'Torvalds' });
    const person = (recordId: string, record: Record<string, unknown>) => ({ type: 'record.created', object: 'people', recordId, record });
    await sendEvents(ws.api, [
      person('p-ada', { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }),
      person('p-grace', { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' }),
      person('p-alan', { email: 'alan@example.com', firstName: 'Alan', lastName: 'Turing', workEmail: 'alan at bletchley' }), // HubSpot refuses it
      person('p-noemail', { firstName: 'No', lastName: 'Email' }), // left out: no valid email
    ]);
    await eventually('hub records projected', async () => (await ws.records('people')).length === 4, 30_000, 100);
    const { connectionId } = await connect(ws.api, { app: 'hubspot', name: 'HubSpot EU', baseUrl: crm.url, token: crm.token, pollIntervalMs: 1000 });
    await waitForStatus(ws.api, connectionId, 'running');
    // A change after the initial sync gives the latency its samples.
    await sendEvents(ws.api, [{ ...person('p-ada', { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', jobTitle: 'Analyst' }), type: 'record.updated' }]);
    await eventually('Ada\'s title in HubSpot', async () => [...crm.objects.contacts.values()].some((c) => c.properties.jobtitle === 'Analyst'), 30_000, 250);
    // Grace archived in HubSpot (no webhook): the next poll lists her as deleted.
    await crm.userDelete('contacts', [...crm.objects.contacts.values()].find((c) => c.properties.email === 'grace@example.com')!.id);
    await eventually('Grace listed as deleted', async () => (await records(ws.api, connectionId, 'state=deleted')).length === 1, 30_000, 250);

    const page = await signIn(ws.apiKey);
    await page.getByRole('link', { name: 'Sync' }).click();
    const row = page.locator('tr', { hasText: 'HubSpot EU' });
    await row.waitFor();
    assert.match(await row.innerText(), /HubSpot\s+running\s+contacts, companies/);
    await page.screenshot({ path: `${SHOTS}/sync-list.png`, fullPage: true });
    await row.click();

    const status = page.locator('h2 .badge');
    const cells = async (object: string) => {
      const r = page.locator(`tr[data-object="${object}"]`);
      return Object.fromEntries(await Promise.all(['in-sync', 'excluded', 'failing', 'deleted'].map(async (c) => [c, await r.locator(`td.${c}`).innerText()])));
    };
    await eventually('the counts on screen', async () => JSON.stringify(await cells('contacts')) === JSON.stringify({ 'in-sync': '2', excluded: '1', failing: '1', deleted: '1' }), 30_000, 250);
    assert.deepEqual(await cells('companies'), { 'in-sync': '1', excluded: '0', failing: '0', deleted: '0' });
    const contacts = page.locator('tr[data-object="contacts"]');
    assert.match(await contacts.innerText(), /two-way/);
    assert.match(await contacts.locator('td.last-synced').innerText(), /\d/, 'the last change synced is shown');
    for (const p of ['p50', 'p99']) assert.match(await contacts.locator(`td.${p}`).innerText(), /^[\d.,]+ (ms|s)$/, `latency ${p} shown`);

    // The failing record, with HubSpot's own answer.
    const failing = page.locator('tr[data-hub-id="p-alan"]');
    await failing.waitFor();
    const failingText = await failing.innerText();
    assert.match(failingText, /VALIDATION_ERROR/);
    assert.match(failingText, /alan at bletchley/, `the app's answer is shown: ${failingText}`);
    await failing.getByText('Answer').click();
    assert.match(await failing.locator('pre').innerText(), /INVALID_EMAIL/);
    await failing.getByText('Answer').click();

    // Pause, then resume.
    await page.getByRole('button', { name: 'Pause' }).click();
    await eventually('paused on screen', async () => (await status.innerText()) === 'paused', 15_000, 200);
    assert.equal(await page.getByRole('button', { name: 'Pause' }).isDisabled(), true);
    assert.equal((await connection(ws.api, connectionId)).status, 'paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await eventually('running again on screen', async () => (await status.innerText()) === 'running', 30_000, 200);

    // The deleted record, resynced: recreated in HubSpot, in sync again.
    await page.getByRole('tab', { name: 'Deleted' }).click();
    const grace = page.locator('tr[data-hub-id="p-grace"]');
    await grace.waitFor();
    assert.match(await grace.innerText(), /deleted-in-app/);
    await grace.getByRole('button', { name: 'Resync' }).click();
    await page.getByRole('status').getByText('Resync requested for p-grace').waitFor();
    await eventually('the resync on screen', async () => JSON.stringify(await cells('contacts')) === JSON.stringify({ 'in-sync': '3', excluded: '1', failing: '1', deleted: '0' }), 30_000, 250);
    await page.getByText('No deleted contacts record.').waitFor();
    assert.equal([...crm.objects.contacts.values()].filter((c) => c.properties.email === 'grace@example.com' && !c.archived).length, 1, 'Grace is back in HubSpot');

    await page.getByRole('tab', { name: 'Failing' }).click();
    await failing.waitFor();
    await page.setViewportSize({ width: 1280, height: 640 }); // the page is short: no blank half in the docs
    await page.screenshot({ path: `${SHOTS}/sync-connections.png`, fullPage: true });
    await page.close();
  } finally {
    await crm.close();
  }
});

/**
 * The web console as a person sees it: Debian's Chromium driven by playwright-core
 * against the whole hub running as processes. A workspace user signs in and reads a
 * run's timeline after a real run; the operator sees a group's lag rise while its
 * consumer is stopped and fall after, redrives a parked message and plans a replay.
 * Screenshots go to test-output/screenshots.
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

/**
 * The hub as `npm start` runs it: ingress, api and record-projector as processes. A producer
 * uses the SDK over HTTP; the records API then serves what it sent. A retry of the same
 * call is all duplicates and publishes nothing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { HubClient } from '../../libs/sdk/index.ts';
import { startService, type ServiceProcess } from '../support/process.ts';
import { testIngressEnv } from '../support/ingress.ts';
import { eventually } from '../support/env.ts';
import { readConfig, baseConfigSpec } from '../../libs/config/index.ts';
import { connectStore } from '../../libs/store/mongo.ts';

const processes: ServiceProcess[] = [];
const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
});

after(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGTERM')));
  const config = readConfig(baseConfigSpec, env);
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  await store.db.dropDatabase().catch(() => undefined);
  await store.close();
});

const env: Record<string, string> = testIngressEnv('e2e-ingress', { LOG_LEVEL: 'info' });

test('events sent with the SDK to the ingress process are materialized by the projector process', async () => {
  const port = await freePort();
  const apiPort = await freePort();
  Object.assign(env, { HUB_HTTP_PORT: String(port), HUB_PUBLIC_URL: `http://127.0.0.1:${port}`, HUB_API_PORT: String(apiPort), HUB_API_URL: `http://127.0.0.1:${apiPort}` });
  const ingress = startService('ingress', { ...process.env, ...env });
  // The control plane (admin, records) is the api's; the ingress forwards to it.
  const api = startService('api', { ...process.env, ...env });
  const projector = startService('record-projector', { ...process.env, ...env });
  processes.push(ingress, api, projector);
  await Promise.all([ingress.started, api.started, projector.started]);
  const url = `http://127.0.0.1:${port}`;

  const created = await fetch(`${url}/v1/admin/workspaces`, { method: 'POST', headers: { authorization: `Bearer ${env.HUB_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e' }) });
  assert.equal(created.status, 201);
  const { apiKey } = (await created.json()) as { apiKey: string };

  const client = new HubClient({ url, apiKey });
  const events = Array.from({ length: 1200 }, (_, i) => ({
    id: crypto.randomUUID(), type: 'record.created' as const, object: 'people', recordId: `p${i}`, record: { name: `Person ${i}`, email: `p${i}@example.com` },
  }));
  const first = await client.emit(events);
  assert.equal(first.accepted.length, 1200);
  assert.deepEqual(first.duplicates, []);
  const again = await client.emit(events);
  assert.deepEqual(again.accepted, []);
  assert.equal(again.duplicates.length, 1200, 'a retried call publishes nothing again');

  const countAll = async () => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const res = await fetch(`${url}/v1/records/people?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${apiKey}` } });
      const page = (await res.json()) as { records: unknown[]; nextCursor: string | null };
      n += page.records.length;
      cursor = page.nextCursor;
    } while (cursor);
    return n;
  };
  await eventually('all 1,200 records served, page by page', async () => (await countAll()) === 1200, 120_000, 500);
  const one = (await (await fetch(`${url}/v1/records/people/p7`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { record: unknown };
  assert.deepEqual(one.record, { name: 'Person 7', email: 'p7@example.com' });
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);

  // The operator's CLI against the same running ingress.
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/hub.ts', ...args], {
    encoding: 'utf8', env: { ...process.env, HUB_URL: url, HUB_ADMIN_TOKEN: env.HUB_ADMIN_TOKEN }, timeout: 30_000,
  });
  const made = cli('workspace', 'create', 'from the cli');
  assert.equal(made.status, 0, made.stderr);
  const ws = JSON.parse(made.stdout) as { workspaceId: string; apiKey: string; keyId: string };
  assert.match(ws.apiKey, /^hub_/);
  assert.ok((JSON.parse(cli('workspace', 'list').stdout) as { workspaces: { workspaceId: string }[] }).workspaces.some((w) => w.workspaceId === ws.workspaceId));
  const listed = JSON.parse(cli('key', 'list', ws.workspaceId).stdout) as { keys: { keyId: string }[] };
  assert.deepEqual(listed.keys.map((k) => k.keyId), [ws.keyId]);
  assert.equal(cli('key', 'revoke', ws.workspaceId, ws.keyId).status, 0);
  assert.equal((await fetch(`${url}/v1/workspace`, { headers: { authorization: `Bearer ${ws.apiKey}` } })).status, 403);
  const wrong = cli('key', 'revoke', ws.workspaceId);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /usage: npm run hub/);
  const missing = cli('key', 'list', 'ws_nope');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /404 NOT_FOUND/);

  await ingress.kill('SIGTERM');
  assert.match(ingress.output(), /"msg":"stopped"/);
  assert.doesNotMatch(ingress.output(), new RegExp(apiKey), 'the key never reaches the logs');
});

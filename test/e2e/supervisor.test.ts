/**
 * `npm start`'s supervisor: prefixes each service's lines with its name, restarts a
 * crashed service, and on SIGINT stops the services cleanly and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { isolatedConfig, eventually } from '../support/env.ts';
import { envFor } from '../support/process.ts';
import { connectStore } from '../../libs/store/mongo.ts';

test('the supervisor runs a service with prefixed logs, restarts it after a crash and stops it on SIGINT', async () => {
  const config = isolatedConfig('supervisor');
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/supervisor.ts', 'record-projector'], { env: envFor(config), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += String(d); });
  child.stderr.on('data', (d) => { out += String(d); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await eventually('the service started', async () => /record-projector \| \{.*"msg":"started"/.test(out), 60_000);
    const pid = Number(/record-projector \| \[hub\] started \(pid (\d+)\)/.exec(out)?.[1]);
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await eventually('a restart', async () => /\[hub\] exited \(SIGKILL\); restarting in 1s/.test(out), 10_000);
    await eventually('started again', async () => (out.match(/"msg":"started"/g) ?? []).length === 2, 60_000);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(out, /"msg":"stopped"/, 'the service stopped cleanly');
    assert.match(out, /\[hub\] all services stopped/);
  } finally {
    child.kill('SIGKILL');
    const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
    await store.db.dropDatabase().catch(() => undefined);
    await store.close();
  }
});

test('the supervisor refuses an unknown service by name', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/supervisor.ts', 'no-such-service'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown service\(s\): no-such-service; available: .*record-projector/);
});

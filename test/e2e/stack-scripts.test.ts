/** The stack scripts: status lines and exit codes, and an idempotent `up`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('bash', ['stack/stack.sh', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });

test('status prints NAME=value lines for each part and exits 0 when the stack is up', () => {
  const r = run(['status']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('=')[0]), ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'POSTGRES_URL', 'MONGODB_URI', 'HUB_SMTP_URL', 'SMTP_MESSAGES_URL']);
  assert.match(r.stdout, /^HUB_SMTP_URL=smtp:\/\/127\.0\.0\.1:\d+$/m);
  assert.match(r.stdout, /^KAFKA_BROKERS=127\.0\.0\.1:\d+$/m);
  assert.match(r.stdout, /^SCHEMA_REGISTRY_URL=http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/m);
  assert.match(r.stdout, /^MONGODB_URI=mongodb:\/\/127\.0\.0\.1:\d+\//m);
});

test('status exits non-zero and names each part that is down', () => {
  // Another stack folder on unused ports: nothing runs there.
  const dir = mkdtempSync(path.join(tmpdir(), 'hub-stack-'));
  const r = run(['status'], { STACK_DIR: dir, KAFKA_PORT: '19092', SCHEMA_REGISTRY_PORT: '18081', POSTGRES_PORT: '15432', MONGODB_PORT: '37017', SMTP_PORT: '12525' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^KAFKA_BROKERS=127\.0\.0\.1:19092$/m);
  assert.match(r.stdout, /^HUB_SMTP_URL=smtp:\/\/127\.0\.0\.1:12525$/m);
  for (const part of ['kafka', 'registry', 'postgres', 'ferretdb', 'smtp']) assert.match(r.stderr, new RegExp(`${part} is down \\(log: ${dir}/logs/${part}.log\\)`));
});

test('up on a running stack leaves it as it is', () => {
  const r = run(['up']);
  assert.equal(r.status, 0, r.stderr);
  for (const part of ['kafka', 'registry', 'postgres', 'ferretdb', 'smtp']) assert.match(r.stderr, new RegExp(`${part} already running`));
  assert.doesNotMatch(r.stderr, /healthy \(\+/, 'nothing was started');
});

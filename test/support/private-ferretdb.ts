/**
 * A FerretDB of the test's own, started by the stack's scripts in a private stack folder
 * on a free port, over the shared PostgreSQL: a test can stop and start it (a store
 * outage) without disturbing the store other tests use.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './net.ts';

export interface PrivateFerretDb {
  uri: string;
  start(): void;
  stop(): void;
  close(): void;
}

export async function startPrivateFerretDb(): Promise<PrivateFerretDb> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hub-ferretdb-'));
  const port = await freePort();
  const env = { ...process.env, STACK_DIR: dir, MONGODB_PORT: String(port) };
  const stack = (verb: 'up' | 'down') => {
    const r = spawnSync('bash', ['stack/stack.sh', verb, 'ferretdb'], { env, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`stack.sh ${verb} ferretdb failed (${r.status}):\n${r.stderr}`);
  };
  stack('up');
  return {
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    start: () => stack('up'),
    stop: () => stack('down'),
    close() {
      stack('down');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

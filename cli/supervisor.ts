/**
 * Runs the hub's services as child processes for `npm start`: each line of output is
 * prefixed with the service's name, a crashed service is restarted with backoff, and
 * SIGINT/SIGTERM stops them all cleanly (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { backoffDelayMs } from '../libs/time/sleep.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const servicesDir = path.join(root, 'services');
const GRACE_MS = 15_000;
const STABLE_MS = 60_000;

const available = readdirSync(servicesDir).filter((n) => existsSync(path.join(servicesDir, n, 'main.ts'))).sort();
const requested = process.argv.slice(2);
const unknown = requested.filter((n) => !available.includes(n));
if (unknown.length > 0) {
  console.error(`[hub] unknown service(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const names = requested.length > 0 ? requested : available;
const width = Math.max(...names.map((n) => n.length));
const colors = [36, 33, 35, 32, 34, 31];

interface Supervised { name: string; child: ChildProcess | null; restarts: number; timer: NodeJS.Timeout | null }
let stopping = false;
const running: Supervised[] = names.map((name) => ({ name, child: null, restarts: 0, timer: null }));

function prefix(name: string, i: number): string {
  const label = name.padEnd(width);
  return process.stdout.isTTY ? `\x1b[${colors[i % colors.length]}m${label}\x1b[0m | ` : `${label} | `;
}

function start(s: Supervised, i: number): void {
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(servicesDir, s.name, 'main.ts')], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  s.child = child;
  process.stdout.write(`${prefix(s.name, i)}[hub] started (pid ${child.pid})\n`);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix(s.name, i)}${line}\n`));
  }
  child.on('exit', (code, signal) => {
    s.child = null;
    if (stopping) return;
    if (Date.now() - startedAt > STABLE_MS) s.restarts = 0;
    const delay = backoffDelayMs(s.restarts + 1, { initialMs: 1000, maxMs: 30_000 });
    s.restarts += 1;
    process.stdout.write(`${prefix(s.name, i)}[hub] exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s\n`);
    s.timer = setTimeout(() => start(s, i), delay);
  });
}

async function stopAll(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[hub] ${signal}: stopping ${names.join(', ')} (the local stack stays up; npm run stack:down stops it)`);
  const exits = running.map((s) => {
    if (s.timer) clearTimeout(s.timer);
    const child = s.child;
    if (!child) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill('SIGTERM');
    });
  });
  await Promise.all(exits);
  console.log('[hub] all services stopped');
  process.exit(0);
}

process.on('SIGINT', () => void stopAll('SIGINT'));
process.on('SIGTERM', () => void stopAll('SIGTERM'));
console.log(`[hub] starting ${names.join(', ')}; Ctrl-C to stop`);
running.forEach((s, i) => start(s, i));

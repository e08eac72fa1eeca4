/**
 * A Kafka broker of the test's own, started by the stack's scripts in a private stack
 * folder on free ports, so a test can stop and start it (a broker outage) without
 * disturbing the shared broker other tests use.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './net.ts';

export interface PrivateKafka {
  brokers: string;
  start(): void;
  stop(): void;
  close(): void;
}

export async function startPrivateKafka(): Promise<PrivateKafka> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hub-kafka-'));
  const env = { ...process.env, STACK_DIR: dir, KAFKA_PORT: String(await freePort()), KAFKA_CONTROLLER_PORT: String(await freePort()) };
  const stack = (verb: 'up' | 'down') => {
    const r = spawnSync('bash', ['stack/stack.sh', verb, 'kafka'], { env, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`stack.sh ${verb} kafka failed (${r.status}):\n${r.stderr}`);
  };
  stack('up');
  return {
    brokers: `127.0.0.1:${env.KAFKA_PORT}`,
    start: () => stack('up'),
    stop: () => stack('down'),
    close() {
      stack('down');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

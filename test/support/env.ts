import { randomBytes } from 'node:crypto';
import { baseConfigSpec, readConfig, type BaseConfig } from '../../libs/config/index.ts';
import { createLogger, type Logger } from '../../libs/log/index.ts';
import { sleep } from '../../libs/time/sleep.ts';

/**
 * Configuration for a test on the real local stack, isolated from every other test
 * by a unique topic prefix and database name (the stack is shared; names are not).
 */
export function isolatedConfig(label: string, overrides: Record<string, string> = {}): BaseConfig {
  const id = `${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  return readConfig(baseConfigSpec, {
    ...process.env,
    HUB_TOPIC_PREFIX: `test.${id}.`,
    MONGODB_DATABASE: `test_${id}`,
    HUB_TOPIC_PARTITIONS: '3',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...overrides,
  });
}

export function testLogger(name: string): Logger {
  return createLogger({ service: name, level: process.env.TEST_LOG_LEVEL ?? 'warn', destination: process.stderr });
}

/** Polls `check` until it returns a truthy value or the time is up (then throws with `what`). */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

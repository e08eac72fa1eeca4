import type { Logger } from '../log/index.ts';
import { errorMessage, isRetriable } from '../errors/index.ts';
import { backoffDelayMs, sleep } from '../time/sleep.ts';

export type Stopper = () => Promise<void>;

/** `start` registers a stopper for each thing it started, as it goes. */
export type Starter = (onStop: (stopper: Stopper) => void) => Promise<void>;

const START_ATTEMPTS = 5;

async function stopAll(stoppers: Stopper[], log: Logger): Promise<void> {
  // Reverse order of start.
  for (const s of [...stoppers].reverse()) {
    try {
      await s();
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'error while stopping');
    }
  }
}

/**
 * Starts a service and stops it cleanly on SIGTERM/SIGINT, in reverse order of start.
 * A start that fails on something retriable (the broker, registry or store not ready
 * yet) is undone and tried again a few times; any other failure exits with 1.
 */
export async function runService(log: Logger, start: Starter): Promise<void> {
  let stoppers: Stopper[] = [];
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await stopAll(stoppers, log);
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  for (let attempt = 1; ; attempt++) {
    try {
      await start((s) => stoppers.push(s));
      log.info('started');
      return;
    } catch (err) {
      await stopAll(stoppers, log);
      stoppers = [];
      const again = attempt < START_ATTEMPTS && !stopping && isRetriable(err);
      log[again ? 'warn' : 'fatal']({ err: errorMessage(err), attempt }, again ? 'start failed; retrying' : 'failed to start');
      if (!again) process.exit(1);
      await sleep(backoffDelayMs(attempt, { initialMs: 1000, maxMs: 8000 }));
    }
  }
}

import type { Logger } from '../log/index.ts';
import { errorMessage } from '../errors/index.ts';

export type Stopper = () => Promise<void>;

/**
 * Starts a service and stops it cleanly on SIGTERM/SIGINT: `start` returns its
 * stoppers, called in order (reverse of start). A failure to start exits with 1.
 */
export async function runService(log: Logger, start: () => Promise<Stopper[]>): Promise<void> {
  let stoppers: Stopper[] = [];
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    for (const s of stoppers) {
      try {
        await s();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'error while stopping');
      }
    }
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  try {
    stoppers = await start();
    log.info('started');
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'failed to start');
    process.exit(1);
  }
}

import type { Consumer } from 'kafkajs';
import type { Logger } from '../log/index.ts';
import { errorMessage } from '../errors/index.ts';

/**
 * kafkajs restarts a crashed consumer only when the error is retriable; otherwise the
 * consumer stays stopped while the process lives on, consuming nothing, for good. A
 * service in that state exits instead (code 70), so its supervisor starts it afresh
 * and it resumes from its committed offsets.
 */
export function exitOnFatalCrash(consumer: Consumer, log: Logger, what: string): void {
  consumer.on(consumer.events.CRASH, (e) => {
    if (e.payload.restart) {
      log.warn({ consumer: what, err: errorMessage(e.payload.error) }, 'consumer crashed; kafkajs restarts it');
      return;
    }
    log.fatal({ consumer: what, err: errorMessage(e.payload.error) }, 'consumer stopped after an error kafkajs does not retry; exiting so the service is started afresh');
    process.exit(70);
  });
}

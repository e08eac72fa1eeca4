import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { matcherConfigSpec } from './config.ts';
import { createMatcherApp, matcherGroup } from './app.ts';
import { createScheduleCursors, scheduleCollection } from './schedule-ticks.ts';

const config = loadConfigOrExit(matcherConfigSpec);
const log = createLogger({ service: 'trigger-matcher', level: config.logLevel });

await runHubService(config, log, [matcherGroup], ({ store, runtime }) => {
  const app = createMatcherApp({ runtime, cursors: createScheduleCursors(store.db), log, scheduleCheckMs: config.scheduleCheckMs });
  return { collections: [scheduleCollection], start: app.start, stop: app.stop };
});

import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections } from '../../libs/store/mongo.ts';
import { runService } from '../../libs/process/run-service.ts';
import { matcherConfigSpec } from './config.ts';
import { createMatcherApp, matcherGroup } from './app.ts';
import { createScheduleCursors, scheduleCollection } from './schedule-ticks.ts';

const config = loadConfigOrExit(matcherConfigSpec);
const log = createLogger({ service: 'trigger-matcher', level: config.logLevel });

await runService(log, async (onStop) => {
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  onStop(store.close);
  await ensureCollections(store.db, [scheduleCollection]);
  const runtime = await startKafkaRuntime(config, log, { groups: [matcherGroup] });
  onStop(runtime.close);
  const app = createMatcherApp({ runtime, cursors: createScheduleCursors(store.db), log, scheduleCheckMs: config.scheduleCheckMs });
  onStop(app.stop);
  await app.start();
});

import { loadConfigOrExit } from '../../libs/config/index.ts';
import { createLogger } from '../../libs/log/index.ts';
import { runHubService } from '../../libs/process/hub-service.ts';
import { createRecordStore, recordsCollection } from '../../libs/store/records.ts';
import { projectorConfigSpec } from './config.ts';
import { createRecordProjector, projectorGroup } from './app.ts';

const config = loadConfigOrExit(projectorConfigSpec);
const log = createLogger({ service: 'record-projector', level: config.logLevel });

await runHubService(config, log, [projectorGroup], ({ store, runtime }) => {
  const projector = createRecordProjector({ runtime, records: createRecordStore(store.db), log });
  return { collections: [recordsCollection], start: projector.start, stop: projector.stop };
});

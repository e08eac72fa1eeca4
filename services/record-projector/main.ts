import { loadConfigOrExit } from '../../libs/config/index.ts';
import { projectorConfigSpec } from './config.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { connectStore, ensureCollections } from '../../libs/store/mongo.ts';
import { createRecordStore, recordsCollection } from '../../libs/store/records.ts';
import { runService } from '../../libs/process/run-service.ts';
import { createRecordProjector, projectorGroup } from './app.ts';

const config = loadConfigOrExit(projectorConfigSpec);
const log = createLogger({ service: 'record-projector', level: config.logLevel });

await runService(log, async (onStop) => {
  const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
  onStop(store.close);
  await ensureCollections(store.db, [recordsCollection]);
  const runtime = await startKafkaRuntime(config, log, { groups: [projectorGroup] });
  onStop(runtime.close);
  const projector = createRecordProjector({ runtime, records: createRecordStore(store.db), log });
  onStop(projector.stop);
  await projector.start();
});

import type { BaseConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../kafka/runtime.ts';
import { connectStore, ensureCollections, type CollectionSpec, type Store } from '../store/mongo.ts';
import { runService, type Stopper } from './run-service.ts';

/** What a service's main.ts builds: its app, unstarted, and the collections it owns. */
export interface HubService {
  collections?: readonly CollectionSpec[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface HubClients {
  store: Store;
  runtime: KafkaRuntime;
  /** For what the service starts itself (a code isolate): stopped after its app, before the clients. */
  onStop(stopper: Stopper): void;
}

/**
 * What every service's main.ts does alike: connects the store, starts the Kafka runtime
 * (with the DLQs of the service's consumer groups), builds the service from them, creates
 * its collections and starts it; on SIGTERM all of it stops in reverse order (runService).
 */
export function runHubService(config: BaseConfig, log: Logger, groups: string[], build: (clients: HubClients) => Promise<HubService> | HubService): Promise<void> {
  return runService(log, async (onStop) => {
    const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
    onStop(store.close);
    const runtime = await startKafkaRuntime(config, log, { groups });
    onStop(runtime.close);
    const service = await build({ store, runtime, onStop });
    onStop(service.stop);
    await ensureCollections(store.db, service.collections ?? []);
    await service.start();
  });
}

/**
 * npm run sync:rebuild -- [connectionId …]
 *
 * Rebuilds the sync reconciler's state in the store (links, record states, object states)
 * from the `sync.state` changelog, for the named connections or every one not deleted.
 * Stop the sync-reconciler first (the rebuild refuses while it runs), start it after.
 * Reads the same environment as the services (KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
 * MONGODB_URI, MONGODB_DATABASE, HUB_TOPIC_PREFIX). Prints what it rebuilt as JSON.
 */
import { baseConfigSpec, loadConfigOrExit } from '../libs/config/index.ts';
import { createLogger } from '../libs/log/index.ts';
import { createKafka } from '../libs/kafka/client.ts';
import { AvroSerde } from '../libs/kafka/serde.ts';
import { physicalName, topics } from '../libs/kafka/topics.ts';
import { connectStore } from '../libs/store/mongo.ts';
import { errorMessage, HubError } from '../libs/errors/index.ts';
import { rebuildSyncState } from '../services/sync-reconciler/rebuild.ts';
import { reconcilerGroup } from '../services/sync-reconciler/app.ts';

const config = loadConfigOrExit(baseConfigSpec);
const log = createLogger({ service: 'sync-rebuild', level: config.logLevel });
const only = process.argv.slice(2).filter((a) => a !== '--');

const store = await connectStore(config.mongodbUri, config.mongodbDatabase);
try {
  const serde = AvroSerde.connect(config.schemaRegistryUrl);
  await serde.registerTopics(Object.values(topics), config.topicPrefix);
  const rebuilt = await rebuildSyncState({
    kafka: createKafka({ brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-sync-rebuild`, log }),
    serde, log, db: store.db,
    topics: { state: physicalName(config.topicPrefix, topics.syncState), connections: physicalName(config.topicPrefix, topics.syncConnections) },
    reconcilerGroup: `${config.topicPrefix}${reconcilerGroup}`, groupPrefix: `${config.topicPrefix}sync-rebuild`,
  }, only);
  console.log(JSON.stringify({ rebuilt }, null, 2));
  for (const r of rebuilt) if (r.initialSyncUnderWay.length > 0) console.error(`${r.connectionId}: initial sync under way for ${r.initialSyncUnderWay.join(', ')}; it goes on from its next step once the reconciler runs`);
} catch (err) {
  console.error(err instanceof HubError ? `${err.code}: ${err.message}` : `sync:rebuild failed: ${errorMessage(err)}`);
  process.exitCode = 1;
} finally {
  await store.close();
}

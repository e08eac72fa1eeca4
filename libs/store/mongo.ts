import { MongoClient, type Db, type IndexDirection } from 'mongodb';
import { storeError } from './errors.ts';

export interface IndexSpec {
  name: string;
  key: Record<string, IndexDirection>;
  unique?: boolean;
}

/** A collection a service owns, with the indexes its queries and idempotency rely on. */
export interface CollectionSpec {
  name: string;
  indexes: IndexSpec[];
}

export interface Store {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * Connects once and checks the server answers. Only features that both MongoDB 7 and
 * FerretDB 1.x support are used by the hub (see README, "Store compatibility").
 */
export async function connectStore(uri: string, database: string): Promise<Store> {
  const client = new MongoClient(uri, {
    // Generous: on a loaded 2-core box the store can take seconds to answer at start.
    serverSelectionTimeoutMS: 15_000,
    connectTimeoutMS: 10_000,
    // An answer that never comes (a server that lost the request) fails the operation after
    // two minutes instead of holding its caller forever; callers retry store errors.
    socketTimeoutMS: 120_000,
    maxPoolSize: 20,
    retryWrites: false,
    appName: 'crm-hub',
  });
  try {
    await client.connect();
    const db = client.db(database);
    await db.command({ ping: 1 });
    return { client, db, close: () => client.close() };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw storeError(err, `connecting to ${database}`);
  }
}

/** Creates the collections and indexes that are missing; idempotent, safe at every start. */
export async function ensureCollections(db: Db, specs: readonly CollectionSpec[]): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const spec of specs) {
    if (!existing.has(spec.name)) {
      try {
        await db.createCollection(spec.name);
      } catch (err) {
        // Created concurrently by another replica: fine.
        if ((err as { codeName?: string }).codeName !== 'NamespaceExists') throw storeError(err, `creating ${spec.name}`);
      }
    }
    // Only the missing ones, one call each: FerretDB 1.x drops the connection on a
    // batched createIndexes that repeats existing indexes.
    const collection = db.collection(spec.name);
    const present = new Set((await collection.listIndexes().toArray()).map((i) => String(i.name)));
    for (const index of spec.indexes.filter((i) => !present.has(i.name))) {
      try {
        await collection.createIndex(index.key, { name: index.name, unique: index.unique ?? false });
      } catch (err) {
        throw storeError(err, `creating index ${spec.name}.${index.name}`);
      }
    }
  }
}

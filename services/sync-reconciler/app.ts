/**
 * The sync reconciler: two-way data sync between the hub's records and external apps.
 *
 * - A private reader of the compacted sync.connections topic keeps every connection in memory.
 * - The router (group `sync-reconciler.router`, per batch) sends each crm.records change
 *   to the owners of the (connection, object) pairs that sync it, on sync.inbound.
 * - The owners (group `sync-reconciler`, per batch) consume sync.inbound, keyed by
 *   (connection, object): app changes from webhooks and polls, routed hub changes, poll
 *   ticks, initial-sync steps, resync and resume requests; their decisions go to sync.events.
 * - A timer asks for a poll of every running (connection, object) at its interval.
 */
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { RecordChanged, SyncConnectionChanged, SyncInbound } from '../../libs/kafka/events.ts';
import { dlqTopic, topics } from '../../libs/kafka/topics.ts';
import { followTopic } from '../../libs/kafka/topic-follower.ts';
import { createConsumerRunner } from '../../libs/kafka/consumer.ts';
import type { Logger } from '../../libs/log/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import type { RecordReader } from '../../libs/store/records.ts';
import type { CredentialStore } from '../../libs/store/credentials.ts';
import type { Secret } from '../../libs/secrets/crypto.ts';
import type { ConnectorFactory } from '../../libs/sync/connectors.ts';
import { enabledObjects, type SyncConnection } from '../../libs/sync/connections.ts';
import { inboundMessage } from '../../libs/sync/messages.ts';
import type { SyncState } from './state.ts';
import { createSeenSnapshots, notingSeen } from './seen.ts';
import { journaling } from './journal.ts';
import { ConnectionIndex, routeRecordChange } from './router.ts';
import { handleInbound } from './handle.ts';

export const reconcilerGroup = 'sync-reconciler';
export const routerGroup = 'sync-reconciler.router';

const SECRET_CACHE_MS = 5000;
const TICK_MS = 1000;

export interface ReconcilerDeps {
  runtime: KafkaRuntime;
  state: SyncState;
  records: RecordReader;
  credentials: Pick<CredentialStore, 'resolve'>;
  connectors: ConnectorFactory;
  log: Logger;
  pollIntervalMs: number;
  sessionTimeoutMs: number;
  chunkSize: number;
  now?: () => number;
}

export interface ReconcilerApp {
  index: ConnectionIndex;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createReconcilerApp(d: ReconcilerDeps): ReconcilerApp {
  const now = d.now ?? Date.now;
  const log = d.log;
  const index = new ConnectionIndex();
  const t = {
    connections: d.runtime.topic(topics.syncConnections), inbound: d.runtime.topic(topics.syncInbound),
    events: d.runtime.topic(topics.syncEvents), records: d.runtime.topic(topics.records), state: d.runtime.topic(topics.syncState),
  };
  // Every save also goes to the sync.state changelog (rebuildable); links as this process
  // saved or read them let poll sweeps skip the snapshots they already account for.
  const seen = createSeenSnapshots();
  const state = notingSeen(journaling(d.state, (messages) => d.runtime.bus.publish(t.state, messages), (id) => index.get(id)?.workspaceId ?? '', now), seen);
  const follower = followTopic<SyncConnectionChanged>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, log, topic: t.connections, groupPrefix: `${d.runtime.group(reconcilerGroup)}.connections`,
    apply: (value) => index.apply(JSON.parse(value.connection) as SyncConnection),
  });

  const secrets = new Map<string, { at: number; secret: Secret | null }>();
  async function secretOf(c: SyncConnection): Promise<Secret | null> {
    const key = `${c.workspaceId}:${c.credential}`;
    const hit = secrets.get(key);
    if (hit && now() - hit.at < SECRET_CACHE_MS) return hit.secret;
    const found = await d.credentials.resolve(c.workspaceId, c.credential);
    const secret = found?.type === 'bearer' ? found.token : null;
    secrets.set(key, { at: now(), secret });
    return secret;
  }

  const router = createConsumerRunner<RecordChanged>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, bus: d.runtime.bus, log, group: d.runtime.group(routerGroup), topics: [t.records],
    dlqTopic: d.runtime.topic(dlqTopic(routerGroup)), partitionsConsumedConcurrently: 3,
    eachBatch: {
      outputTopic: t.inbound,
      async handle(messages) {
        await follower.catchUp();
        return messages.map((m) => ({ message: m, events: routeRecordChange(m.value, index, now()) }));
      },
    },
  });

  const owners = createConsumerRunner<SyncInbound>({
    kafka: d.runtime.kafka, serde: d.runtime.serde, bus: d.runtime.bus, log, group: d.runtime.group(reconcilerGroup), topics: [t.inbound],
    dlqTopic: d.runtime.topic(dlqTopic(reconcilerGroup)), partitionsConsumedConcurrently: 6, sessionTimeoutMs: d.sessionTimeoutMs,
    retry: { initialDelayMs: 250, maxDelayMs: 15_000, poisonAttempts: 3 },
    eachBatch: {
      outputTopic: t.events,
      handle: (messages, live) => handleInbound(messages, {
        state, seen, records: d.records, bus: d.runtime.bus, topics: { records: t.records, inbound: t.inbound }, log, now,
        pollIntervalMs: d.pollIntervalMs, chunkSize: d.chunkSize, connections: { get: (id) => index.get(id), catchUp: () => follower.catchUp() },
        connectors: d.connectors, secretOf,
      }, live),
    },
  });

  // Poll ticks: every replica asks; the owner polls at most once per half interval.
  const lastTick = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  async function tick(): Promise<void> {
    const due = [];
    for (const c of index.active()) {
      const interval = c.pollIntervalMs ?? d.pollIntervalMs;
      if (now() - (lastTick.get(c.connectionId) ?? 0) < interval) continue;
      lastTick.set(c.connectionId, now());
      for (const object of enabledObjects(c)) due.push(inboundMessage({ workspaceId: c.workspaceId, connectionId: c.connectionId, object, type: 'poll.due' }, now()));
    }
    if (due.length > 0) await d.runtime.bus.publish(t.inbound, due);
  }

  return {
    index,
    async start() {
      await follower.start();
      log.info({ connections: index.active().length }, 'sync connections loaded');
      await router.start();
      await owners.start();
      // The first ticks wait one interval: a connection just activated is in its initial sync.
      for (const c of index.active()) lastTick.set(c.connectionId, now());
      timer = setInterval(() => { tick().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'poll tick failed; the next one retries')); }, TICK_MS);
    },
    async stop() {
      clearInterval(timer);
      await owners.stop();
      await router.stop();
      await follower.stop();
    },
  };
}

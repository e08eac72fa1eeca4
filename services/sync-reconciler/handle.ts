/**
 * The owner of each (connection, object): sync.inbound is keyed by that pair, so one
 * consumer handles all of a pair's work in order. A batch is split by key; each key's
 * messages run in order, consecutive changes of one kind together (so app writes go in
 * batches). Decisions become sync.events (the batch's outputs); hub writes and follow-up
 * work are published before the batch's offsets move.
 */
import type { ConsumedMessage, BatchOutput } from '../../libs/kafka/consumer.ts';
import type { SyncInbound } from '../../libs/kafka/events.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { BatchLiveness } from '../../libs/kafka/each-batch.ts';
import { HubError, errorMessage, isRetriable } from '../../libs/errors/index.ts';
import { settingsOf, type SyncConnection } from '../../libs/sync/connections.ts';
import type { ConnectorFactory } from '../../libs/sync/connectors.ts';
import type { SyncObject } from '../../libs/sync/connector.ts';
import type { Secret } from '../../libs/secrets/crypto.ts';
import { decisionEvent, parseJson, type Pair, type PairDeps } from './pair.ts';
import { newObjectState } from './state.ts';
import { onAppChanges, onHubChanges } from './changes.ts';
import { onInitialSync, type InitialStep } from './initial-sync.ts';
import { onAssociations, onPoll, onResume, onResync } from './poll.ts';
import { failObject } from './writes.ts';

const STEPS_KEPT = 50;

export interface HandlerDeps extends Omit<PairDeps, 'heartbeat'> {
  connections: { get(connectionId: string): SyncConnection | undefined; catchUp(): Promise<void> };
  connectors: ConnectorFactory;
  /** The connection's credential secret (bearer), or null when missing. */
  secretOf(c: SyncConnection): Promise<Secret | null>;
}

export async function handleInbound(messages: readonly ConsumedMessage<SyncInbound>[], h: HandlerDeps, live: BatchLiveness): Promise<BatchOutput<SyncInbound>[]> {
  await h.connections.catchUp();
  const byKey = new Map<string, ConsumedMessage<SyncInbound>[]>();
  for (const m of messages) {
    const k = m.key ?? `${m.value.connectionId}:${m.value.object}`;
    const list = byKey.get(k);
    if (list) list.push(m); else byKey.set(k, [m]);
  }
  const outputs: BatchOutput<SyncInbound>[] = [];
  for (const group of byKey.values()) {
    const events = await handlePair(group, { ...h, heartbeat: live.heartbeat }, h);
    outputs.push({ message: group.at(-1)!, events });
    for (const m of group.slice(0, -1)) outputs.push({ message: m, events: [] });
    await live.heartbeat();
  }
  return outputs;
}

async function handlePair(group: readonly ConsumedMessage<SyncInbound>[], d: PairDeps, h: HandlerDeps): Promise<OutgoingEvent[]> {
  const first = group[0]!.value;
  const object = first.object as SyncObject;
  const c = h.connections.get(first.connectionId);
  if (!c) return [];
  if (c.state === 'deleted') {
    if (group.some((m) => m.value.type === 'forget')) {
      await d.state.forget(c.connectionId, object);
      h.connectors.forget(c.connectionId);
    }
    return [];
  }
  const objState = (await d.state.objectState(c.connectionId, object)) ?? newObjectState(c.connectionId, object);
  const settings = settingsOf(c);
  const secret = await h.secretOf(c);
  const p: Pair = { c, object, settings, os: settings.objects[object], connector: undefined as never, objState, cause: first, events: [], followUps: [], samples: [] };
  if (!secret) {
    if (c.state === 'active' && p.os && objState.phase !== 'failed') await failObject(p, d, { code: 'SYNC_CREDENTIAL_MISSING', message: `credential ${c.credential} is missing or not a bearer credential` });
    return p.events;
  }
  p.connector = h.connectors.connectorOf(c, secret);
  const startedAt = Date.now();
  for (const run of runsOf(group)) {
    const type = run[0]!.value.type;
    p.cause = run.at(-1)!.value;
    try {
      await handleRun(p, d, run);
    } catch (err) {
      if (isRetriable(err) || !(err instanceof HubError)) throw err;
      // A refusal no retry fixes must not park the pair's work: it is recorded and shown.
      if (err.code === 'SYNC_APP_AUTH_FAILED' || err.code === 'SYNC_CREDENTIAL_MISSING') await failObject(p, d, err);
      else {
        p.objState.error = { code: err.code, message: err.message };
        decisionEvent(p, d, { type: 'failing', object, code: err.code, message: err.message, reason: type });
      }
      d.log.warn({ connectionId: c.connectionId, object, type, code: err.code, err: errorMessage(err) }, 'sync work refused');
    }
  }
  // Follow-up work is published before the steps are recorded as done: a crash in between
  // runs a step again (it is idempotent), never leaves a chain without its next step.
  if (p.followUps.length > 0) await d.bus.publish(d.topics.inbound, p.followUps);
  d.state.addSamples(p.objState, p.samples, d.now());
  await d.state.putObjectState(p.objState);
  d.log.debug({ connectionId: c.connectionId, object, messages: group.length, types: [...new Set(group.map((m) => m.value.type))], ms: Date.now() - startedAt }, 'pair batch handled');
  return p.events;
}

const isChange = (m: ConsumedMessage<SyncInbound>) => m.value.type === 'hub.changed' || m.value.type === 'app.changed';

/**
 * The pair's messages as runs handled one after the other: between two other messages
 * (steps, polls, resync…), which keep their place, every hub change goes in one run and
 * every app change in another, so each side costs one batch of app calls however the
 * two sides interleave on the topic (at 20 changes/s each way they alternate, and runs
 * of one message would spend the app's rate limit a request or two per change). Each
 * change is decided against the link and a fresh read of the other side, so its order
 * against the other side's changes in the same batch does not matter.
 */
export function runsOf(group: readonly ConsumedMessage<SyncInbound>[]): ConsumedMessage<SyncInbound>[][] {
  const runs: ConsumedMessage<SyncInbound>[][] = [];
  let hub: ConsumedMessage<SyncInbound>[] = [];
  let app: ConsumedMessage<SyncInbound>[] = [];
  const flush = () => {
    if (hub.length > 0) runs.push(hub);
    if (app.length > 0) runs.push(app);
    hub = [];
    app = [];
  };
  for (const m of group) {
    if (!isChange(m)) { flush(); runs.push([m]); continue; }
    (m.value.type === 'hub.changed' ? hub : app).push(m);
  }
  flush();
  return runs;
}

async function handleRun(p: Pair, d: PairDeps, run: readonly ConsumedMessage<SyncInbound>[]): Promise<void> {
  const m = run[0]!.value;
  const data = parseJson<Record<string, unknown>>(m.data, {});
  switch (m.type) {
    case 'hub.changed': return onHubChanges(p, d, run);
    case 'app.changed': return onAppChanges(p, d, run);
    case 'poll.due': return onPoll(p, d, data.force === true, data.stage === 'deleted' ? 'deleted' : 'changed');
    case 'resume': return onResume(p, d);
    case 'resync': return onResync(p, d, Array.isArray(data.recordIds) ? data.recordIds.map(String) : undefined);
    case 'forget': return;
    case 'initial-sync':
    case 'associations.due': {
      // Steps carry derived ids: one delivered twice (a crash after it was published) runs once.
      const steps = p.objState.steps ?? [];
      if (steps.includes(m.eventId)) return;
      if (m.type === 'initial-sync') await onInitialSync(p, d, data as InitialStep);
      else await onAssociations(p, d, typeof data.after === 'string' ? data.after : null);
      p.objState.steps = [...steps, m.eventId].slice(-STEPS_KEPT);
      return;
    }
  }
}

/**
 * How the owner of a (connection, object) splits a batch into runs: hub changes together
 * and app changes together between other messages, which keep their place; and which
 * consumer errors mean the member left its group.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runsOf } from '../../services/sync-reconciler/handle.ts';
import { membershipLost } from '../../libs/kafka/consume-message.ts';
import type { ConsumedMessage } from '../../libs/kafka/consumer.ts';
import type { RecordChanged, SyncInbound } from '../../libs/kafka/events.ts';
import { ConnectionIndex, routeRecordChange } from '../../services/sync-reconciler/router.ts';
import type { SyncConnection } from '../../libs/sync/connections.ts';

const msg = (type: string, id: string) => ({ value: { type, eventId: id } }) as unknown as ConsumedMessage<SyncInbound>;
const shape = (runs: ConsumedMessage<SyncInbound>[][]) => runs.map((r) => r.map((m) => m.value.eventId).join(','));

test('interleaved hub and app changes make one run per side; steps and polls keep their place between them', () => {
  const batch = [msg('hub.changed', 'h1'), msg('app.changed', 'a1'), msg('hub.changed', 'h2'), msg('app.changed', 'a2'), msg('poll.due', 'p'), msg('app.changed', 'a3'), msg('initial-sync', 's1'), msg('initial-sync', 's2')];
  assert.deepEqual(shape(runsOf(batch)), ['h1,h2', 'a1,a2', 'p', 'a3', 's1', 's2']);
  assert.deepEqual(runsOf([]), []);
});

test('a member that left its group is told apart from errors a retry can fix', () => {
  for (const type of ['UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR_FOR_GROUP']) assert.equal(membershipLost(Object.assign(new Error(type), { type })), true);
  for (const err of [new Error('x'), Object.assign(new Error('t'), { type: 'REQUEST_TIMED_OUT' }), null, undefined, 'text']) assert.equal(membershipLost(err), false);
});

test('the router sends a hub change to every connection of its workspace syncing the object, except the connection that wrote it', () => {
  const connection = (connectionId: string, workspaceId = 'ws_a') => ({
    connectionId, workspaceId, app: 'hubspot', name: connectionId, credential: 'c', webhookCredential: null, baseUrl: null,
    pollIntervalMs: null, state: 'active', revision: 1, objects: {}, createdAt: '2026-12-07T00:00:00.000Z',
  }) as unknown as SyncConnection;
  const index = new ConnectionIndex();
  for (const c of [connection('sc_one'), connection('sc_two'), connection('sc_other', 'ws_b')]) index.apply(c);
  const change = (source: string) => ({
    eventId: `e-${source}`, type: 'record.updated', workspaceId: 'ws_a', occurredAt: 1, correlationId: 'c', causationId: null, causationDepth: 0,
    source, object: 'people', recordId: 'p1', version: 2, record: '{"email":"a@b.example"}', before: null, updatedFields: ['email'],
  }) as unknown as RecordChanged;
  const targets = (ev: RecordChanged) => routeRecordChange(ev, index, 0).map((m) => (m.value as SyncInbound).connectionId).sort();
  assert.deepEqual(targets(change('api')), ['sc_one', 'sc_two']);
  assert.deepEqual(targets(change('sync:sc_one')), ['sc_two'], 'its own write is not routed back to the writer');
  assert.deepEqual(targets(change('sync:sc_two')), ['sc_one']);
});

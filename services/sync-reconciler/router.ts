/**
 * Hub changes to the owners: each crm.records change goes onto sync.inbound once for every
 * connection of its workspace that syncs its object (keyed `connectionId:object`), with
 * the record as it is after the change. Routed whatever the direction: the owner keeps
 * the hub record's last fields with the link, which hub writes build on. A connection's
 * own writes are not routed back to it.
 */
import type { RecordChanged } from '../../libs/kafka/events.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import { enabledObjects, type SyncConnection } from '../../libs/sync/connections.ts';
import { derivedId, inboundMessage } from '../../libs/sync/messages.ts';

export class ConnectionIndex {
  private readonly byId = new Map<string, SyncConnection>();
  private readonly byWorkspace = new Map<string, Set<string>>();

  apply(c: SyncConnection): void {
    const prior = this.byId.get(c.connectionId);
    if (prior && prior.revision > c.revision) return;
    this.byId.set(c.connectionId, c);
    const ids = this.byWorkspace.get(c.workspaceId) ?? new Set<string>();
    ids.add(c.connectionId);
    this.byWorkspace.set(c.workspaceId, ids);
  }

  get(connectionId: string): SyncConnection | undefined {
    return this.byId.get(connectionId);
  }

  ofWorkspace(workspaceId: string): SyncConnection[] {
    return [...(this.byWorkspace.get(workspaceId) ?? [])].map((id) => this.byId.get(id)!).filter((c) => c.state === 'active' || c.state === 'paused');
  }

  active(): SyncConnection[] {
    return [...this.byId.values()].filter((c) => c.state === 'active');
  }
}

export function routeRecordChange(ev: RecordChanged, index: ConnectionIndex, now: number): OutgoingEvent[] {
  const out: OutgoingEvent[] = [];
  for (const c of index.ofWorkspace(ev.workspaceId)) {
    if (!enabledObjects(c).includes(ev.object as never)) continue;
    // A connection's own hub write is its echo: the owner recorded the fields and version on
    // the link when it wrote them, so routing it back would only cost a link read to drop it
    // (an initial sync writes thousands). Other connections of the workspace still get it.
    if (ev.source === `sync:${c.connectionId}`) continue;
    out.push(inboundMessage({
      workspaceId: ev.workspaceId, connectionId: c.connectionId, object: ev.object, type: 'hub.changed', hubId: ev.recordId,
      eventId: derivedId('route', c.connectionId, ev.eventId), cause: ev,
      data: { record: ev.record, version: ev.version, deleted: ev.type === 'record.deleted', occurredAt: ev.occurredAt, eventId: ev.eventId },
    }, now));
  }
  return out;
}

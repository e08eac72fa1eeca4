/**
 * Continuous sync of one (connection, object): hub changes routed from crm.records and
 * app changes from webhooks and polls, a batch at a time. Each change is measured against
 * the link (last-synced base, hashes last written per side): our own echo is dropped
 * before anything is read from the app, an older app snapshot than one already seen is
 * stale, deletes are marked and listed (never propagated), and the rest is decided by
 * the pure reconcile logic and written by writes.ts.
 */
import type { AppRecord, ChangeNotice } from '../../libs/sync/connector.ts';
import { decideChange, decideAssociation, primaryTarget, projectApp, projectHub, valuesHash, type Decision, type LinkState } from '../../libs/sync/reconcile/index.ts';
import type { LinkDocument } from '../../libs/store/sync.ts';
import type { ConsumedMessage } from '../../libs/kafka/consumer.ts';
import type { SyncInbound } from '../../libs/kafka/events.ts';
import { decisionEvent, hubFieldsOf, kindsFrom, lapTimer, parseJson, type Pair, type PairDeps } from './pair.ts';
import { applyDecisions, linkBase, newContext, hubIdFor, hubWrite, type WriteContext } from './writes.ts';

export interface HubChangeData { record?: string | null; version?: number; deleted?: boolean; occurredAt?: number; reread?: boolean }
export interface AppChangeData { notice?: ChangeNotice; record?: AppRecord }

export function linkState(link: LinkDocument): LinkState {
  return {
    hubId: link.hubId, appId: link.appId, base: linkBase(link), written: link.written, appSeenAt: link.appSeenAt,
    ...(link.deletedOn ? { deletedOn: link.deletedOn } : {}),
  };
}

/** A record deleted on one side: the link is marked and the delete listed; the other side keeps its record. */
export async function markDeleted(p: Pair, d: PairDeps, link: LinkDocument, side: 'hub' | 'app'): Promise<void> {
  if (link.deletedOn) return;
  await d.state.putLink({ ...link, state: 'deleted', deletedOn: side, reason: { code: side === 'app' ? 'deleted-in-app' : 'deleted-in-hub', message: `deleted in the ${side === 'app' ? 'app' : 'hub'}; not deleted on the other side; resync to recreate it` }, syncedAt: new Date(d.now()) });
  decisionEvent(p, d, { type: 'deleted', object: p.object, side, hubId: link.hubId, appId: link.appId });
}

/** Should changes wait (paused, or the initial sync still running)? Hub changes are then kept in sync_pending. */
export function waiting(p: Pair): boolean {
  return p.c.state === 'paused' || p.objState.phase === 'initial-sync';
}

export async function onHubChanges(p: Pair, d: PairDeps, items: readonly ConsumedMessage<SyncInbound>[]): Promise<void> {
  const latest = new Map<string, HubChangeData & { hubId: string }>();
  for (const m of items) {
    const data = parseJson<HubChangeData>(m.value.data, {});
    const hubId = m.value.hubId!;
    const prior = latest.get(hubId);
    if (!prior || (data.version ?? 0) >= (prior.version ?? 0) || data.reread) latest.set(hubId, { ...data, hubId });
  }
  if (p.c.state !== 'active' && p.c.state !== 'paused') return;
  if (waiting(p)) {
    for (const hubId of latest.keys()) await d.state.pend(p.c.connectionId, p.object, hubId);
    return;
  }
  await syncHubRecords(p, d, [...latest.values()]);
}

/** Hub records → the app. `reread` ones are read from the link's snapshot or the projection. */
export async function syncHubRecords(p: Pair, d: PairDeps, changes: readonly (HubChangeData & { hubId: string })[]): Promise<void> {
  const os = p.os;
  if (!os) return;
  const ctx = newContext();
  const now = d.now();
  const lap = lapTimer();
  const linked: LinkDocument[] = [];
  const unlinked: string[] = [];
  const refreshed: LinkDocument[] = [];
  // Whose app associations to look at: only where the hub's association field moved (or
  // the record was failing); reading them for every change cost a request per batch.
  const assocDue = new Set<string>();
  // The hub fields each due link had before this change: an association field emptied removes the app's association.
  const previous = new Map<string, Record<string, unknown>>();
  // The batch's links in one read rather than one a change.
  const known = new Map((await d.state.linksOf(p.c.connectionId, p.object, changes.map((ch) => ch.hubId))).map((l) => [l.hubId, l]));
  for (const ch of changes) {
    const link = known.get(ch.hubId) ?? null;
    let fields = ch.record ? parseJson<Record<string, unknown> | null>(ch.record, null) : null;
    let version = ch.version ?? 0;
    let deleted = ch.deleted === true;
    if (ch.reread || (!fields && !deleted)) {
      const doc = await d.records.get(p.c.workspaceId, p.object, ch.hubId);
      const snapshot = link ? hubFieldsOf(link) : null;
      if (link && link.hubVersion >= (doc?.version ?? 0) && snapshot && Object.keys(snapshot).length > 0) { fields = snapshot; version = link.hubVersion; deleted = false; } else if (doc) { fields = doc.fields; version = doc.version; deleted = doc.deleted; } else continue;
    }
    if (link && !ch.reread && version < link.hubVersion) {
      decisionEvent(p, d, { type: 'skip', object: p.object, hubId: ch.hubId, appId: link.appId, reason: 'stale', message: 'an older hub version than one already synced' });
      continue;
    }
    if (deleted) {
      if (link) await markDeleted(p, d, link, 'hub');
      else await d.state.removeUnlinked(p.c.connectionId, p.object, 'hub', ch.hubId);
      continue;
    }
    const hub = { fields: fields!, version };
    ctx.hub.set(ch.hubId, hub);
    if (ch.occurredAt) ctx.changedAt.set(ch.hubId, ch.occurredAt);
    if (!link) { unlinked.push(ch.hubId); continue; }
    const before = hubFieldsOf(link);
    const current: LinkDocument = { ...link, hubFields: JSON.stringify(hub.fields), hubVersion: Math.max(link.hubVersion, version) };
    ctx.links.set(ch.hubId, current);
    if (link.hubFields !== current.hubFields || link.hubVersion !== current.hubVersion) refreshed.push(current);
    if (link.deletedOn) { decisionEvent(p, d, { type: 'skip', object: p.object, hubId: link.hubId, appId: link.appId, reason: link.deletedOn === 'app' ? 'deleted-in-app' : 'deleted-in-hub', message: 'resync to recreate it' }); continue; }
    const projected = projectHub(hub.fields, os.mappings);
    const assocChanged = associationFieldsChanged(p, before, hub.fields);
    if (assocChanged || link.state === 'failing' || ch.reread) { assocDue.add(ch.hubId); previous.set(ch.hubId, before); }
    if (link.written.hub !== undefined && link.written.hub === valuesHash(projected) && !assocChanged && link.state !== 'failing') {
      decisionEvent(p, d, { type: 'skip', object: p.object, hubId: link.hubId, appId: link.appId, reason: 'echo' });
      continue;
    }
    linked.push(current);
  }
  lap('links');
  // The hub fields and version each link now knows, saved before the app is written.
  await d.state.putLinks(refreshed);
  lap('save links');
  if (linked.length > 0) {
    await d.heartbeat();
    const { records, missing } = await p.connector.read(p.object, linked.map((l) => l.appId));
    lap('app read');
    for (const r of records) ctx.app.set(r.id, r);
    for (const id of missing) {
      const link = linked.find((l) => l.appId === id);
      if (link) await markDeleted(p, d, link, 'app');
    }
  }
  const decisions: Decision[] = [];
  for (const hubId of unlinked) {
    decisions.push(...decideChange({ settings: p.settings, object: p.object, codec: p.connector.codec, changed: 'hub', link: null, hub: { id: hubId, fields: ctx.hub.get(hubId)!.fields }, app: null, now }));
  }
  for (const link of linked) {
    const app = ctx.app.get(link.appId);
    if (!app) continue;
    decisions.push(...decideChange({ settings: p.settings, object: p.object, codec: p.connector.codec, changed: 'hub', link: linkState(link), hub: { id: link.hubId, fields: ctx.hub.get(link.hubId)!.fields }, app, now }));
  }
  await applyDecisions(p, d, decisions, ctx);
  lap('apply');
  await hubAssociations(p, d, linked.filter((l) => assocDue.has(l.hubId)).map((l) => ctx.links.get(l.hubId) ?? l), ctx, undefined, previous);
  lap('associations');
  d.log.debug({ connectionId: p.c.connectionId, object: p.object, changes: changes.length, ms: lap.spent() }, 'hub changes synced');
}

export async function onAppChanges(p: Pair, d: PairDeps, items: readonly ConsumedMessage<SyncInbound>[]): Promise<void> {
  if (p.c.state !== 'active' || waiting(p)) return; // a poll from the stored cursor catches up after
  const notices = new Map<string, AppChange>();
  const movesNone = new Map<string, boolean>();
  const removed = new Set<string>();
  for (const m of items) {
    const data = parseJson<AppChangeData>(m.value.data, {});
    const appId = m.value.appId!;
    const at = data.record?.modifiedAt ?? data.notice?.occurredAt ?? 0;
    const prior = notices.get(appId);
    if (!prior || at >= prior.at) notices.set(appId, { ...data, appId, at });
    // Over every notice of the record, not only the latest kept: an association change followed by a property change still moved one.
    movesNone.set(appId, (movesNone.get(appId) ?? true) && propertyChangeOnly(data.notice));
    if (data.notice?.associationRemoved) removed.add(appId);
  }
  await syncAppRecords(p, d, [...notices.values()].map((ch) => ({ ...ch, associationsUnmoved: movesNone.get(ch.appId) === true, associationRemoved: removed.has(ch.appId) })));
}

/**
 * A webhook that says one property changed (HubSpot's propertyChange): associations move
 * with events of their own (associationChange, creation, merge), so such a change needs
 * no association read — at 20 app changes a second that read was a request a batch.
 */
function propertyChangeOnly(notice: ChangeNotice | undefined): boolean {
  return notice?.kind === 'updated' && notice.properties !== undefined && Object.keys(notice.properties).length > 0;
}

/** An app change to reconcile: the record given (poll, Stripe) or read by id (HubSpot webhooks). */
export interface AppChange extends AppChangeData {
  appId: string;
  at: number;
  /** Only property changes were announced for it, so its associations stand as they were. */
  associationsUnmoved?: boolean;
  /** The app said one of its associations was removed (an empty one then clears the hub's field). */
  associationRemoved?: boolean;
}

/** App records (given, or read by id) → the hub. */
export async function syncAppRecords(p: Pair, d: PairDeps, changes: readonly AppChange[]): Promise<void> {
  const os = p.os;
  if (!os) return;
  const ctx = newContext();
  const now = d.now();
  const lap = lapTimer();
  const toRead: string[] = [];
  // The batch's links in two reads rather than two a change.
  const known = new Map((await d.state.linksOfApp(p.c.connectionId, p.object, changes.map((ch) => ch.appId))).map((l) => [l.appId, l]));
  // Associations change without touching a record's modification date (HubSpot says so in
  // its own associationChange events), so an echo of our own write needs no association
  // read unless such an event, or a creation, names it.
  const assocNamed = new Set(changes.filter((ch) => ch.notice && ch.notice.kind !== 'updated').map((ch) => ch.appId));
  const assocUnmoved = new Set(changes.filter((ch) => ch.associationsUnmoved).map((ch) => ch.appId));
  const assocRemoved = new Set(changes.filter((ch) => ch.associationRemoved).map((ch) => ch.appId));
  for (const ch of changes) {
    ctx.changedAt.set(ch.appId, ch.at || now);
    const deleted = ch.notice?.kind === 'deleted' || ch.record?.archived === true;
    if (deleted) {
      const link = known.get(ch.appId) ?? null;
      if (link) await markDeleted(p, d, link, 'app');
      else await d.state.removeUnlinked(p.c.connectionId, p.object, 'app', ch.appId);
      continue;
    }
    const given = ch.record ?? ch.notice?.record;
    if (given) ctx.app.set(ch.appId, given);
    else toRead.push(ch.appId);
  }
  lap('links');
  if (toRead.length > 0) {
    await d.heartbeat();
    const { records, missing } = await p.connector.read(p.object, toRead);
    for (const r of records) ctx.app.set(r.id, r);
    for (const id of missing) {
      const link = known.get(id);
      if (link) await markDeleted(p, d, link, 'app');
    }
  }
  lap('app read');
  const decisions: Decision[] = [];
  const assoc: LinkDocument[] = [];
  for (const app of ctx.app.values()) {
    const link = known.get(app.id) ?? null;
    if (link) {
      ctx.links.set(link.hubId, link);
      if (link.deletedOn) { decisionEvent(p, d, { type: 'skip', object: p.object, hubId: link.hubId, appId: link.appId, reason: link.deletedOn === 'app' ? 'deleted-in-app' : 'deleted-in-hub', message: 'resync to recreate it' }); continue; }
      const echo = link.written.app !== undefined && link.written.app === valuesHash(projectApp(app.properties, os.mappings, p.connector.codec)) && link.state !== 'failing';
      // A snapshot no newer than one already seen (our own write read back by a poll) moved no association either.
      if (assocNamed.has(app.id) || !(echo || app.modifiedAt <= link.appSeenAt || assocUnmoved.has(app.id))) assoc.push(link);
      if (echo) {
        decisionEvent(p, d, { type: 'skip', object: p.object, hubId: link.hubId, appId: link.appId, reason: 'echo' });
        continue;
      }
      let fields = hubFieldsOf(link);
      if (Object.keys(fields).length === 0) fields = (await d.records.get(p.c.workspaceId, p.object, link.hubId))?.fields ?? {};
      ctx.hub.set(link.hubId, { fields, version: link.hubVersion });
      decisions.push(...decideChange({ settings: p.settings, object: p.object, codec: p.connector.codec, changed: 'app', link: linkState(link), hub: { id: link.hubId, fields }, app, now }));
    } else {
      decisions.push(...decideChange({ settings: p.settings, object: p.object, codec: p.connector.codec, changed: 'app', link: null, hub: null, app, now }));
    }
  }
  lap('decide');
  await applyDecisions(p, d, decisions, ctx);
  lap('apply');
  // Records just created in the hub take the app record's associations too (a new HubSpot deal's company and contact).
  const created = decisions.flatMap((x) => (x.kind === 'create' && x.side === 'hub' ? [ctx.links.get(hubIdFor(p, x.sourceId))] : [])).filter((l): l is LinkDocument => l !== undefined);
  await appAssociations(p, d, [...assoc.map((l) => ctx.links.get(l.hubId) ?? l), ...created], ctx, undefined, assocRemoved);
  lap('associations');
  d.log.debug({ connectionId: p.c.connectionId, object: p.object, changes: changes.length, ms: lap.spent() }, 'app changes synced');
}

function associationFieldsChanged(p: Pair, before: Record<string, unknown>, after: Record<string, unknown>): boolean {
  return kindsFrom(p).some(([, k]) => (before[k.hubField] ?? null) !== (after[k.hubField] ?? null));
}

/** Links of a target object both ways; preloaded for a whole pass, else looked up one by one. */
export interface TargetIndex { appIdOf(hubId: string): Promise<string | undefined>; hubIdOf(appId: string): Promise<string | undefined> }

function lookupIndex(p: Pair, d: PairDeps, object: string): TargetIndex {
  return {
    appIdOf: async (h) => { const l = await d.state.link(p.c.connectionId, object, h); return l && !l.deletedOn ? l.appId : undefined; },
    hubIdOf: async (a) => { const l = await d.state.linkByApp(p.c.connectionId, object, a); return l && !l.deletedOn ? l.hubId : undefined; },
  };
}

/**
 * Hub association fields (companyId, personId) → the app's associations, for changed hub
 * records of linked pairs. A field emptied since `previous` removes the association to
 * the target it named, where the app can remove associations.
 */
export async function hubAssociations(p: Pair, d: PairDeps, links: readonly LinkDocument[], ctx: WriteContext, index?: (object: string) => TargetIndex, previous?: ReadonlyMap<string, Record<string, unknown>>): Promise<void> {
  if (links.length === 0 || !p.os || p.os.direction === 'from-app') return;
  for (const [kind, k] of kindsFrom(p)) {
    const live = links.filter((l) => !l.deletedOn);
    const wanted = live.filter((l) => typeof ctx.hub.get(l.hubId)?.fields[k.hubField] === 'string');
    const cleared = live.filter((l) => ctx.hub.get(l.hubId)?.fields[k.hubField] == null && typeof previous?.get(l.hubId)?.[k.hubField] === 'string');
    if (wanted.length + cleared.length === 0) continue;
    const existing = await p.connector.readAssociations(kind, [...wanted, ...cleared].map((l) => l.appId));
    const writes = [];
    const targets = (index ?? ((o: string) => lookupIndex(p, d, o)))(k.to);
    for (const l of wanted) {
      const hubTarget = String(ctx.hub.get(l.hubId)!.fields[k.hubField]);
      const appTarget = await targets.appIdOf(hubTarget);
      const ds = decideAssociation({
        settings: p.settings, kind, changed: 'hub', fromHubId: l.hubId, fromAppId: l.appId, hubTarget,
        app: existing.filter((a) => a.fromId === l.appId), appIdOf: (h) => (h === hubTarget ? appTarget : undefined), hubIdOf: () => undefined,
      });
      for (const x of ds) if (x.kind === 'associate') writes.push(x.association);
    }
    const removals = [];
    for (const l of cleared) {
      const appTarget = await targets.appIdOf(String(previous!.get(l.hubId)![k.hubField]));
      const current = existing.find((a) => a.fromId === l.appId && a.toId === appTarget);
      if (current) removals.push(current);
    }
    if (writes.length > 0) {
      const refused = await p.connector.writeAssociations(writes);
      for (const w of writes) {
        const r = refused.find((x) => x.association === w);
        decisionEvent(p, d, r
          ? { type: 'failing', object: p.object, side: 'app', appId: w.fromId, reason: `association:${kind}`, code: r.error.code, message: r.error.message, data: { app: r.error.body } }
          : { type: 'update', object: p.object, side: 'app', appId: w.fromId, reason: `association:${kind}`, data: { association: w } });
      }
    }
    if (removals.length > 0) {
      if (!p.connector.removeAssociations) {
        for (const w of removals) decisionEvent(p, d, { type: 'skip', object: p.object, appId: w.fromId, reason: 'association-not-removable', message: `the app does not remove ${kind} associations` });
        continue;
      }
      const refused = await p.connector.removeAssociations(removals);
      for (const w of removals) {
        const r = refused.find((x) => x.association === w);
        decisionEvent(p, d, r
          ? { type: 'failing', object: p.object, side: 'app', appId: w.fromId, reason: `association-removed:${kind}`, code: r.error.code, message: r.error.message, data: { app: r.error.body } }
          : { type: 'update', object: p.object, side: 'app', appId: w.fromId, reason: `association-removed:${kind}`, data: { association: w } });
      }
    }
  }
}

/** The app's associations → hub association fields, for changed app records of linked pairs. */
export async function appAssociations(p: Pair, d: PairDeps, links: readonly LinkDocument[], ctx: WriteContext, index?: (object: string) => TargetIndex, removedIn?: ReadonlySet<string>): Promise<void> {
  if (links.length === 0 || !p.os || p.os.direction === 'to-app') return;
  const writes = new Map<string, Record<string, unknown>>();
  for (const [kind, k] of kindsFrom(p)) {
    const live = links.filter((l) => !l.deletedOn);
    if (live.length === 0) continue;
    const index_ = (index ?? ((o: string) => lookupIndex(p, d, o)))(k.to);
    const existing = await p.connector.readAssociations(kind, live.map((l) => l.appId));
    for (const l of live) {
      const mine = existing.filter((a) => a.fromId === l.appId);
      const fields = writes.get(l.hubId) ?? ctx.hub.get(l.hubId)?.fields ?? hubFieldsOf(l);
      // The app said an association was removed and none is left to sync: the hub's field is emptied too.
      if (removedIn?.has(l.appId) && primaryTarget(mine) === null && typeof fields[k.hubField] === 'string') {
        const { [k.hubField]: _gone, ...rest } = fields;
        writes.set(l.hubId, rest);
        continue;
      }
      if (mine.length === 0) continue;
      const targets = new Map<string, string>();
      for (const a of mine) {
        const t = await index_.hubIdOf(a.toId);
        if (t) targets.set(a.toId, t);
      }
      const ds = decideAssociation({
        settings: p.settings, kind, changed: 'app', fromHubId: l.hubId, fromAppId: l.appId, hubTarget: typeof fields[k.hubField] === 'string' ? fields[k.hubField] as string : null,
        app: mine, appIdOf: () => undefined, hubIdOf: (a) => targets.get(a),
      });
      for (const x of ds) if (x.kind === 'associate' && x.hubField) writes.set(l.hubId, { ...fields, [x.hubField]: x.association.toId });
    }
  }
  const events = [];
  for (const [hubId, fields] of writes) {
    const link = ctx.links.get(hubId) ?? links.find((l) => l.hubId === hubId)!;
    const version = Math.max(d.now(), link.hubVersion + 1);
    events.push(hubWrite(p, d, hubId, fields, 'record.updated', version, ['association', JSON.stringify(fields)], []));
    const next = { ...link, hubFields: JSON.stringify(fields), hubVersion: version };
    ctx.links.set(hubId, next);
    ctx.hub.set(hubId, { fields, version });
    decisionEvent(p, d, { type: 'update', object: p.object, side: 'hub', hubId, appId: link.appId, reason: 'association', data: { fields } });
  }
  if (events.length > 0) await d.bus.publish(d.topics.records, events);
  await d.state.putLinks([...writes.keys()].map((hubId) => ctx.links.get(hubId)!));
}

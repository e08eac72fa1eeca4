/**
 * Polling reconciliation, resume, resync and the association pass of one (connection,
 * object). A poll reads what changed since the stored cursor (repairing missed webhooks)
 * and what was archived or deleted (HubSpot archiving does not bump the modification
 * date), then retries the records that are failing: every cycle, not nightly.
 */
import { planResync, type ResyncItem } from '../../libs/sync/reconcile/index.ts';
import type { LinkDocument } from '../../libs/store/sync.ts';
import { associationKinds } from '../../libs/sync/reconcile/index.ts';
import { decisionEvent, followUp, hubFieldsOf, lapTimer, type Pair, type PairDeps } from './pair.ts';
import { appAssociations, hubAssociations, linkState, markDeleted, syncAppRecords, syncHubRecords, type TargetIndex } from './changes.ts';
import { applyDecisions, newContext } from './writes.ts';

const RETRY_PER_POLL = 100;
const RESUME_PER_STEP = 200;
const RESYNC_PER_STEP = 100;
const ASSOCIATIONS_PER_STEP = 500;

/**
 * One page a step, then the next step queues behind the pair's changes: a sweep (after the
 * initial sync, thousands of records) never holds the pair for more than a page, so
 * changes keep their seconds. A sweep lists changed records, then archived ones, then
 * retries the failing.
 */
export async function onPoll(p: Pair, d: PairDeps, force: boolean, stage: PollStage = 'changed'): Promise<void> {
  if (p.c.state !== 'active' || p.objState.phase !== 'running' || !p.os) return;
  const interval = p.c.pollIntervalMs ?? d.pollIntervalMs;
  const now = d.now();
  if (!force && now - p.objState.polledAt < interval / 2) return;
  p.objState.polledAt = now;
  const lap = lapTimer();
  await d.heartbeat();
  let next: PollStage | null = null;
  if (stage === 'changed') {
    const page = await p.connector.listChanged(p.object, p.objState.cursors.changed, { limit: 100 });
    lap('list changed');
    // Most of a sweep is what webhooks and our own writes synced already: only the rest is reconciled.
    const fresh = page.records.filter((r) => !d.seen.has(p.c.connectionId, p.object, r.id, r.modifiedAt, p.connector.modifiedAt));
    await syncAppRecords(p, d, fresh.map((r) => ({ appId: r.id, record: r, at: r.modifiedAt })));
    lap('sync changed');
    p.objState.cursors.changed = page.cursor;
    if (page.more) next = 'changed';
    else stage = 'deleted';
  }
  if (stage === 'deleted' && next === null) {
    const page = await p.connector.listDeleted(p.object, p.objState.cursors.deleted);
    for (const x of page.deleted) {
      const link = await d.state.linkByApp(p.c.connectionId, p.object, x.id);
      if (link) await markDeleted(p, d, link, 'app');
    }
    p.objState.cursors.deleted = page.cursor;
    lap('deleted');
    if (page.more) next = 'deleted';
  }
  if (next === null) {
    // Failing records are tried again on every cycle, from the hub side (that is where they were refused).
    const failingLinks = await d.state.linksInState(p.c.connectionId, p.object, 'failing', RETRY_PER_POLL);
    const failingCreates = (await d.state.unlinkedInState(p.c.connectionId, p.object, 'failing', RETRY_PER_POLL)).filter((u) => u.side === 'hub');
    if (failingLinks.length + failingCreates.length > 0) {
      await syncHubRecords(p, d, [...failingLinks.map((l) => ({ hubId: l.hubId, reread: true })), ...failingCreates.map((u) => ({ hubId: u.id, reread: true }))]);
    }
    lap('failing');
  }
  d.log.debug({ connectionId: p.c.connectionId, object: p.object, stage, next, ms: lap.spent() }, 'poll step');
  if (next) followUp(p, d, { object: p.object, type: 'poll.due', data: { force: true, stage: next } });
}

export type PollStage = 'changed' | 'deleted';

/** After a pause or the initial sync: the hub changes kept meanwhile, then a poll from the stored cursor. */
export async function onResume(p: Pair, d: PairDeps): Promise<void> {
  if (p.c.state !== 'active' || p.objState.phase !== 'running') return;
  const hubIds = await d.state.pending(p.c.connectionId, p.object, RESUME_PER_STEP);
  if (hubIds.length > 0) {
    await syncHubRecords(p, d, hubIds.map((hubId) => ({ hubId, reread: true })));
    await d.state.unpend(p.c.connectionId, p.object, hubIds);
  }
  if (hubIds.length === RESUME_PER_STEP) followUp(p, d, { object: p.object, type: 'resume', data: {} });
  else followUp(p, d, { object: p.object, type: 'poll.due', data: { force: true } });
}

/** Recreates records deleted on one side from the other side's record (one by one, or every deleted one). */
export async function onResync(p: Pair, d: PairDeps, recordIds: readonly string[] | undefined): Promise<void> {
  if (p.c.state !== 'active' || p.objState.phase !== 'running' || !p.os) return;
  const wanted = recordIds ? new Set(recordIds) : null;
  const deleted = (await d.state.linksInState(p.c.connectionId, p.object, 'deleted', 10_000))
    .filter((l) => !wanted || wanted.has(l.hubId) || wanted.has(l.appId)).slice(0, RESYNC_PER_STEP);
  if (deleted.length === 0) return;
  const ctx = newContext();
  const items: ResyncItem[] = [];
  const appSide = deleted.filter((l) => l.deletedOn === 'hub');
  const { records } = appSide.length > 0 ? await p.connector.read(p.object, appSide.map((l) => l.appId)) : { records: [] };
  for (const r of records) ctx.app.set(r.id, r);
  for (const link of deleted) {
    const side = link.deletedOn ?? 'app';
    const hubFields = hubFieldsOf(link);
    if (side === 'app') ctx.hub.set(link.hubId, { fields: hubFields, version: link.hubVersion });
    const app = ctx.app.get(link.appId);
    if (side === 'hub' && !app) continue; // gone on both sides: nothing to recreate from
    items.push({ link: linkState(link), deletedOn: side, hub: { id: link.hubId, fields: hubFields }, ...(app ? { app } : {}) });
  }
  const decisions = planResync(p.settings, p.object, p.connector.codec, items, d.now());
  // The old pair is forgotten; the recreated record gets a new link.
  for (const link of deleted) if (items.some((i) => i.link.hubId === link.hubId)) await d.state.removeLink(link);
  await applyDecisions(p, d, decisions, ctx);
  for (const i of items) decisionEvent(p, d, { type: 'resynced', object: p.object, side: i.deletedOn, hubId: i.link.hubId, appId: i.link.appId });
  if (!wanted && deleted.length === RESYNC_PER_STEP) followUp(p, d, { object: p.object, type: 'resync', data: {} });
}

/** Associations of every link of this object, a slice per step, once both ends' initial syncs are done. */
export async function onAssociations(p: Pair, d: PairDeps, after: string | null): Promise<void> {
  if (p.c.state !== 'active' || !p.objState.initialDone || !p.os) return;
  const kinds = Object.values(associationKinds).filter((k) => k.from === p.object && p.settings.objects[k.to]);
  if (kinds.length === 0) return;
  for (const k of kinds) if (!(await d.state.objectState(p.c.connectionId, k.to))?.initialDone) return; // its own pass comes when it is done
  // A page a step, by _id (reading every link each step made a pass quadratic in the object's size).
  const page = await d.state.linksAfter(p.c.connectionId, p.object, after, ASSOCIATIONS_PER_STEP);
  const slice = page.filter((l) => !l.deletedOn);
  const indexes = new Map<string, TargetIndex>();
  for (const k of kinds) {
    const targets = await d.state.links(p.c.connectionId, k.to);
    const byHub = new Map(targets.filter((t) => !t.deletedOn).map((t) => [t.hubId, t.appId]));
    const byApp = new Map(targets.filter((t) => !t.deletedOn).map((t) => [t.appId, t.hubId]));
    indexes.set(k.to, { appIdOf: async (h) => byHub.get(h), hubIdOf: async (a) => byApp.get(a) });
  }
  const index = (o: string) => indexes.get(o)!;
  const ctx = newContext();
  for (const l of slice) { ctx.hub.set(l.hubId, { fields: hubFieldsOf(l), version: l.hubVersion }); ctx.links.set(l.hubId, l); }
  await d.heartbeat();
  const order: ((links: readonly LinkDocument[]) => Promise<void>)[] = [
    (links) => appAssociations(p, d, links, ctx, index),
    (links) => hubAssociations(p, d, links.map((l) => ctx.links.get(l.hubId) ?? l), ctx, index),
  ];
  // The conflict winner's associations are taken first; the other side then only fills what is missing.
  if ((p.os.winner ?? 'app') === 'hub') order.reverse();
  for (const step of order) { await step(slice); await d.heartbeat(); }
  if (page.length === ASSOCIATIONS_PER_STEP) followUp(p, d, { object: p.object, type: 'associations.due', data: { after: page.at(-1)!._id } });
}

export { applyDecisions };

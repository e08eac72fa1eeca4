/**
 * The initial sync of one (connection, object), in steps short enough for a consumer to
 * keep its partition: `start` → `list` (one page of the app's records per step, staged in
 * the store) → `plan` (both sides compared by planInitialSync: matches linked, the rest
 * created where the direction allows; decisions saved in chunks) → `apply` (one chunk per
 * step: one batch request to the app) → `done`. Each step publishes the next on
 * sync.inbound with a derived id, and a step already done is not done again, so a crash at
 * any point resumes where it was; links are unique both ways and HubSpot creates are
 * recorded as intents before they are sent, so no record is doubled on either side.
 */
import type { AppRecord, SyncObject } from '../../libs/sync/connector.ts';
import { associationKinds, planInitialSync, type Decision } from '../../libs/sync/reconcile/index.ts';
import { derivedId } from '../../libs/sync/messages.ts';
import { decisionEvent, followUp, parseJson, type Pair, type PairDeps } from './pair.ts';
import { applyDecisions, newContext } from './writes.ts';

export interface InitialStep { step?: 'start' | 'list' | 'plan' | 'apply' | 'done'; root?: string; cursor?: string | null; n?: number; planId?: string; seq?: number; total?: number }

interface PlanChunkBody { decisions: Decision[]; hub: Record<string, { fields: Record<string, unknown>; version: number }>; app: Record<string, AppRecord> }

const HUB_PAGE = 1000;
/** What one step does at most before handing on to the next (each step is a trip through Kafka, so bigger steps go faster). */
const PAGES_PER_STEP = 10;
const CHUNKS_PER_STEP = 5;
const STEP_BUDGET_MS = 5000;

function next(p: Pair, d: PairDeps, step: InitialStep): void {
  followUp(p, d, { object: p.object, type: 'initial-sync', eventId: derivedId('initial-sync', p.c.connectionId, p.object, step.root ?? '', step.step ?? '', step.n ?? step.seq ?? 0), data: { ...step } });
}

export async function onInitialSync(p: Pair, d: PairDeps, s: InitialStep): Promise<void> {
  if (!p.os || p.c.state === 'deleted' || p.c.state === 'draft') return;
  const root = s.root ?? p.cause.eventId;
  switch (s.step ?? 'start') {
    case 'start': {
      if (p.objState.initialDone) {
        p.objState.phase = 'running';
        p.objState.error = null;
        decisionEvent(p, d, { type: 'phase', object: p.object, reason: 'running', message: 'the initial sync was done before' });
        followUp(p, d, { object: p.object, type: 'poll.due', data: { force: true } });
        return;
      }
      p.objState.phase = 'initial-sync';
      p.objState.error = null;
      await d.state.clearInitial(p.c.connectionId, p.object);
      decisionEvent(p, d, { type: 'phase', object: p.object, reason: 'initial-sync' });
      next(p, d, { step: 'list', root, cursor: null, n: 0 });
      return;
    }
    case 'list': {
      // Several pages a step (each step is a trip through Kafka): until the app says done, or the step's budget is spent.
      const started = d.now();
      let cursor = s.cursor ?? null;
      for (let pages = 0; ; pages++) {
        const page = await p.connector.listChanged(p.object, cursor, { limit: 100 });
        await d.state.stage(p.c.connectionId, p.object, page.records);
        cursor = page.cursor;
        if (!page.more) { next(p, d, { step: 'plan', root, cursor, n: 0 }); return; }
        if (pages + 1 >= PAGES_PER_STEP || d.now() - started > STEP_BUDGET_MS) { next(p, d, { step: 'list', root, cursor, n: (s.n ?? 0) + 1 }); return; }
        await d.heartbeat();
      }
    }
    case 'plan': {
      const hub: { id: string; fields: Record<string, unknown>; version: number }[] = [];
      for (let after: string | null = null; ;) {
        const page = await d.records.list(p.c.workspaceId, p.object, { afterRecordId: after, limit: HUB_PAGE });
        hub.push(...page.map((r) => ({ id: r.recordId, fields: r.fields, version: r.version })));
        if (page.length < HUB_PAGE) break;
        after = page.at(-1)!.recordId;
        await d.heartbeat();
      }
      const app = await d.state.staged(p.c.connectionId, p.object);
      const links = await d.state.links(p.c.connectionId, p.object);
      await d.heartbeat();
      const decisions = planInitialSync({
        settings: p.settings, object: p.object, codec: p.connector.codec, support: p.connector.objects[p.object] ?? { hasDomain: false },
        hub, app, links, now: d.now(),
      });
      const chunks = chunk(decisions, d.chunkSize).map((ds) => JSON.stringify(bodyOf(ds, hub, app)));
      const planId = `${p.c.connectionId}|${p.object}|${root}`;
      await d.state.putPlan(planId, chunks);
      p.objState.cursors.changed = s.cursor ?? null;
      d.log.info({ connectionId: p.c.connectionId, object: p.object, hub: hub.length, app: app.length, decisions: decisions.length, chunks: chunks.length }, 'initial sync planned');
      next(p, d, chunks.length > 0 ? { step: 'apply', root, planId, seq: 0, total: chunks.length } : { step: 'done', root });
      return;
    }
    case 'apply': {
      // Several chunks a step, as for listing; a step run again (a crash) applies its chunks again, which changes nothing.
      const started = d.now();
      let seq = s.seq ?? 0;
      do {
        await applyChunk(p, d, s.planId!, seq);
        seq++;
        await d.heartbeat();
      } while (seq < (s.total ?? 0) && seq - (s.seq ?? 0) < CHUNKS_PER_STEP && d.now() - started < STEP_BUDGET_MS);
      next(p, d, seq < (s.total ?? 0) ? { ...s, root, seq } : { step: 'done', root });
      return;
    }
    case 'done': {
      p.objState.phase = 'running';
      p.objState.initialDone = true;
      p.objState.error = null;
      p.objState.polledAt = d.now();
      await d.state.clearInitial(p.c.connectionId, p.object);
      decisionEvent(p, d, { type: 'phase', object: p.object, reason: 'running', message: 'initial sync done' });
      // Associations of this object, and of the objects whose associations point at it, now that both ends may be linked.
      const dependants = new Set<SyncObject>([p.object]);
      for (const k of Object.values(associationKinds)) if (k.to === p.object && p.settings.objects[k.from]) dependants.add(k.from);
      for (const o of dependants) followUp(p, d, { object: o, type: 'associations.due', eventId: derivedId('associations', p.c.connectionId, o, root, p.object), data: { after: null } });
      followUp(p, d, { object: p.object, type: 'resume', data: {} });
      return;
    }
  }
}

/**
 * One planned chunk. Applied again after a crash it changes nothing: hub creates have
 * derived ids, links are unique both ways, and an app create whose hub record is
 * linked already is dropped rather than sent again.
 */
async function applyChunk(p: Pair, d: PairDeps, planId: string, seq: number): Promise<void> {
  const doc = await d.state.planChunk(planId, seq);
  if (!doc) return;
  const body = parseJson<PlanChunkBody>(doc.decisions, { decisions: [], hub: {}, app: {} });
  const ctx = newContext();
  for (const [id, h] of Object.entries(body.hub)) ctx.hub.set(id, h);
  for (const [id, a] of Object.entries(body.app)) ctx.app.set(id, a);
  const decisions: Decision[] = [];
  for (const x of body.decisions) {
    if (x.kind === 'update' && !ctx.links.has(x.hubId)) {
      const link = await d.state.link(p.c.connectionId, p.object, x.hubId);
      if (link) ctx.links.set(x.hubId, link);
    }
    if (x.kind === 'create' && x.side === 'app' && await d.state.link(p.c.connectionId, p.object, x.sourceId)) continue;
    decisions.push(x);
  }
  await applyDecisions(p, d, decisions, ctx);
}

/** Decisions in chunks of about `size`, never splitting one record's decisions (a link and its merge) across chunks. */
function chunk(decisions: readonly Decision[], size: number): Decision[][] {
  const groups = new Map<string, Decision[]>();
  for (const x of decisions) {
    const key = x.kind === 'create' ? `h:${x.side === 'app' ? x.sourceId : `a:${x.sourceId}`}` : x.kind === 'associate' ? `x:${x.association.fromId}` : x.hubId ? `h:${x.hubId}` : `a:${x.appId ?? ''}`;
    const g = groups.get(key);
    if (g) g.push(x); else groups.set(key, [x]);
  }
  const out: Decision[][] = [];
  let current: Decision[] = [];
  for (const g of groups.values()) {
    if (current.length > 0 && current.length + g.length > size) { out.push(current); current = []; }
    current.push(...g);
  }
  if (current.length > 0) out.push(current);
  return out;
}

function bodyOf(ds: readonly Decision[], hub: readonly { id: string; fields: Record<string, unknown>; version: number }[], app: readonly AppRecord[]): PlanChunkBody {
  const hubIds = new Set<string>();
  const appIds = new Set<string>();
  for (const x of ds) {
    if (x.kind === 'create') (x.side === 'app' ? hubIds : appIds).add(x.sourceId);
    else if (x.kind === 'link' || x.kind === 'update') { hubIds.add(x.hubId); appIds.add(x.appId); }
  }
  const h: PlanChunkBody['hub'] = {};
  for (const r of hub) if (hubIds.has(r.id)) h[r.id] = { fields: r.fields, version: r.version };
  const a: PlanChunkBody['app'] = {};
  for (const r of app) if (appIds.has(r.id)) a[r.id] = r;
  return { decisions: [...ds], hub: h, app: a };
}

/**
 * Carries out decisions of the reconcile logic for one (connection, object): links,
 * creates and updates on either side, exclusions and failures. App writes of a call go
 * in one connector call (batches of ≤ 100, within the app's rate limit); hub writes are
 * `RecordChanged` events on crm.records with derived ids, marked as the sync's own
 * (`source: sync:<connectionId>`). Links and record states are written after the
 * effect, so a crash repeats the effect (made idempotent by derived ids, Idempotency-Keys,
 * the intent recorded before a HubSpot create and 409 resolution) rather than losing it.
 */
import type { AppRecord, AssociationKind, WriteInput, WriteResult } from '../../libs/sync/connector.ts';
import type { Decision } from '../../libs/sync/reconcile/index.ts';
import { causedEnvelope, envelopeHeaders } from '../../libs/kafka/envelope.ts';
import { recordEventKey, type RecordChanged } from '../../libs/kafka/events.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import { derivedId } from '../../libs/sync/messages.ts';
import { isRetriable, type HubError } from '../../libs/errors/index.ts';
import { linkId, type LinkDocument, type RecordReason } from '../../libs/store/sync.ts';
import { decisionEvent, followUp, hubFieldsOf, kindsFrom, parseJson, type Pair, type PairDeps } from './pair.ts';

/** What a batch of decisions may need besides the decisions: current records of both sides and when each change happened. */
export interface WriteContext {
  /** Hub records by hub id (fields and version). */
  hub: Map<string, { fields: Record<string, unknown>; version: number }>;
  /** App records by app id. */
  app: Map<string, AppRecord>;
  /** Links by hub id, as read or written during this batch. */
  links: Map<string, LinkDocument>;
  /** When the change being synced happened (epoch ms), by hub id or app id: latency samples. */
  changedAt: Map<string, number>;
}

export const newContext = (): WriteContext => ({ hub: new Map(), app: new Map(), links: new Map(), changedAt: new Map() });

type Of<K extends Decision['kind']> = Extract<Decision, { kind: K }>;

export function newLink(p: Pair, hubId: string, appId: string, now: number): LinkDocument {
  return {
    _id: linkId(p.c.connectionId, p.object, hubId), connectionId: p.c.connectionId, object: p.object, hubId, appId, state: 'in-sync', reason: null,
    base: '{}', written: {}, appSeenAt: 0, deletedOn: null, hubFields: '{}', hubVersion: 0, syncedAt: new Date(now),
  };
}

const appReason = (r: Extract<WriteResult, { status: 'refused' }>): RecordReason => ({ code: r.error.code, message: r.error.message, app: r.error.body });

function sample(p: Pair, ctx: WriteContext, d: PairDeps, ...ids: (string | undefined)[]): void {
  for (const id of ids) {
    const at = id ? ctx.changedAt.get(id) : undefined;
    if (at !== undefined) { p.samples.push(Math.max(0, d.now() - at)); return; }
  }
}

/** A hub record write of the sync: derived event id (connection, record, app version), the sync as its source. */
export function hubWrite(p: Pair, d: PairDeps, hubId: string, fields: Record<string, unknown>, type: 'record.created' | 'record.updated', version: number, idParts: readonly (string | number)[], updated: string[]): OutgoingEvent {
  const value: RecordChanged = {
    ...causedEnvelope(p.cause, type, d.now(), derivedId('sync-hub-write', p.c.connectionId, p.object, hubId, ...idParts)),
    type, source: `sync:${p.c.connectionId}`, object: p.object, recordId: hubId, version,
    record: JSON.stringify(fields), before: null, updatedFields: updated,
  };
  return { key: recordEventKey(value), value, headers: { ...envelopeHeaders(value), 'hub.sync-connection': p.c.connectionId } };
}

/** The id a record created in the hub from an app record gets: derived, so a repeated create is the same record. */
export const hubIdFor = (p: Pair, appId: string) => `sync-${derivedId(p.c.connectionId, p.object, appId).replace(/-/g, '').slice(0, 24)}`;

export async function applyDecisions(p: Pair, d: PairDeps, decisions: readonly Decision[], ctx: WriteContext): Promise<void> {
  const cid = p.c.connectionId;
  const now = d.now();
  const hubWrites: OutgoingEvent[] = [];
  const linksToPut = new Map<string, LinkDocument>();

  // 1. Skips: record what they say; nothing is written to either side.
  for (const s of decisions.filter((x): x is Of<'skip'> => x.kind === 'skip')) {
    const ids = { hubId: s.hubId ?? null, appId: s.appId ?? null };
    const link = s.hubId ? ctx.links.get(s.hubId) : undefined;
    if (s.reason === 'excluded' || s.reason === 'duplicate') {
      const reason: RecordReason = { code: s.reason === 'duplicate' ? 'duplicate' : 'excluded', message: s.detail ?? s.reason, ...(s.rule ? { rule: s.rule } : {}) };
      if (link) {
        if (link.state !== 'excluded') linksToPut.set(link.hubId, { ...link, state: 'excluded', reason });
      } else {
        const side = s.hubId ? 'hub' : 'app';
        await d.state.putUnlinked({ connectionId: cid, object: p.object, side, id: (s.hubId ?? s.appId)!, state: 'excluded', reason }, now);
      }
      decisionEvent(p, d, { type: 'excluded', object: p.object, ...ids, reason: s.rule ?? s.reason, message: s.detail ?? null });
      continue;
    }
    if ((s.reason === 'unchanged' || s.reason === 'echo') && link && link.state !== 'in-sync' && link.state !== 'deleted') {
      linksToPut.set(link.hubId, { ...link, state: 'in-sync', reason: null });
    }
    decisionEvent(p, d, { type: 'skip', object: p.object, ...ids, reason: s.reason, message: s.detail ?? null });
  }

  // 2. Links found by matching (initial sync): the merge decisions that follow update them.
  // Links are inserted together (one insertMany a collection) and record states cleared together: initial syncs link thousands.
  const matched = decisions.filter((x): x is Of<'link'> => x.kind === 'link');
  const matchedLinks = matched.map((l) => {
    const link = newLink(p, l.hubId, l.appId, now);
    const hub = ctx.hub.get(l.hubId);
    if (hub) { link.hubFields = JSON.stringify(hub.fields); link.hubVersion = hub.version; }
    const app = ctx.app.get(l.appId);
    if (app) link.appSeenAt = app.modifiedAt;
    return link;
  });
  const matchedOk = await d.state.insertLinks(matchedLinks);
  const cleared: { side: 'hub' | 'app'; id: string }[] = [];
  matched.forEach((l, i) => {
    if (!matchedOk[i]) return;
    const link = matchedLinks[i]!;
    ctx.links.set(l.hubId, link);
    linksToPut.set(l.hubId, link);
    cleared.push({ side: 'hub', id: l.hubId }, { side: 'app', id: l.appId });
    decisionEvent(p, d, { type: 'link', object: p.object, hubId: l.hubId, appId: l.appId, reason: l.matchedBy });
  });

  // 3. Creates in the hub from app records: one event each, derived id and derived record id.
  const hubCreates = decisions.filter((x): x is Of<'create'> => x.kind === 'create' && x.side === 'hub');
  const createdLinks = hubCreates.map((c) => {
    const app = ctx.app.get(c.sourceId);
    const hubId = hubIdFor(p, c.sourceId);
    const version = Math.max(now, (app?.modifiedAt ?? 0));
    hubWrites.push(hubWrite(p, d, hubId, c.fields, 'record.created', version, [c.sourceId, app?.modifiedAt ?? 0], Object.keys(c.fields)));
    return { ...newLink(p, hubId, c.sourceId, now), base: JSON.stringify(c.base), written: { hub: c.writtenHash }, hubFields: JSON.stringify(c.fields), hubVersion: version, appSeenAt: app?.modifiedAt ?? 0 };
  });
  const createdOk = await d.state.insertLinks(createdLinks);
  hubCreates.forEach((c, i) => {
    if (!createdOk[i]) return;
    const link = createdLinks[i]!;
    ctx.links.set(link.hubId, link);
    cleared.push({ side: 'app', id: c.sourceId });
    decisionEvent(p, d, { type: 'create', object: p.object, side: 'hub', hubId: link.hubId, appId: c.sourceId, data: { fields: c.fields } });
    sample(p, ctx, d, c.sourceId);
  });
  await d.state.removeUnlinkedMany(cid, p.object, cleared.splice(0));
  // The hub record exists before its link says so to anyone (a crash in between repeats the same event).
  if (hubWrites.length > 0) await d.bus.publish(d.topics.records, hubWrites.splice(0));

  // 4. Creates in the app: one connector call (batches of ≤ 100); a HubSpot create's intent is recorded first.
  const creates = decisions.filter((x): x is Of<'create'> => x.kind === 'create' && x.side === 'app');
  if (creates.length > 0) {
    const inputs: WriteInput[] = [];
    const results: WriteResult[] = [];
    const associationsOf = await createAssociations(p, d, creates.map((c) => ctx.hub.get(c.sourceId)?.fields ?? {}));
    for (const [i, c] of creates.entries()) {
      const hub = ctx.hub.get(c.sourceId);
      const associations = associationsOf[i]!;
      const input: WriteInput = {
        ref: c.sourceId, properties: c.fields, version: hub?.version ?? 0, ...(c.keys ? { keys: c.keys } : {}), ...(associations.length > 0 ? { associations } : {}),
      };
      if (p.connector.idempotency === 'match') {
        const prior = await d.state.unlinked(cid, p.object, 'hub', c.sourceId);
        if (prior?.state === 'creating') {
          // Sent before and never confirmed (a crash): the app may have it already.
          const found = Object.keys(c.keys ?? {}).length > 0 ? (await p.connector.find(p.object, c.keys ?? {}))[0] : undefined;
          if (found) { results.push({ ref: c.sourceId, status: 'existing', id: found.id }); continue; }
        }
        await d.state.putUnlinked({ connectionId: cid, object: p.object, side: 'hub', id: c.sourceId, state: 'creating', reason: null, keys: c.keys as Record<string, string> }, now);
      }
      inputs.push(input);
    }
    if (inputs.length > 0) {
      await d.heartbeat();
      results.push(...await appCall(p, d, inputs, () => p.connector.create(p.object, inputs)));
    }
    const bySource = new Map(creates.map((c) => [c.sourceId, c]));
    const landed = results.filter((r): r is Exclude<WriteResult, { status: 'refused' | 'missing' }> => r.status === 'created' || r.status === 'existing');
    const landedLinks = landed.map((r): LinkDocument => {
      const c = bySource.get(r.ref)!;
      const hub = ctx.hub.get(c.sourceId);
      const created = r.status === 'created';
      // An existing app record is linked with an empty base: the merge that follows treats every differing field as a conflict.
      return {
        ...newLink(p, c.sourceId, r.id, now), base: created ? JSON.stringify(c.base) : '{}', written: created ? { app: c.writtenHash } : {},
        hubFields: JSON.stringify(hub?.fields ?? {}), hubVersion: hub?.version ?? 0, appSeenAt: r.status === 'created' ? r.record.modifiedAt : 0,
      };
    });
    const landedOk = new Map((await d.state.insertLinks(landedLinks)).map((ok, i) => [landed[i]!.ref, { ok, link: landedLinks[i]! }]));
    for (const r of results) {
      const c = bySource.get(r.ref)!;
      if (r.status === 'created' || r.status === 'existing') {
        const created = r.status === 'created';
        const { ok, link } = landedOk.get(r.ref)!;
        if (ok) {
          ctx.links.set(c.sourceId, link);
          decisionEvent(p, d, { type: created ? 'create' : 'link', object: p.object, side: 'app', hubId: c.sourceId, appId: r.id, reason: created ? null : 'existing', data: created ? { fields: c.fields } : {} });
          if (!created) followUp(p, d, { object: p.object, type: 'hub.changed', hubId: c.sourceId, data: { reread: true } });
          sample(p, ctx, d, c.sourceId);
        } else {
          decisionEvent(p, d, { type: 'skip', object: p.object, hubId: c.sourceId, appId: r.id, reason: 'duplicate', message: `app record ${r.id} is linked to another hub record` });
        }
        cleared.push({ side: 'hub', id: c.sourceId });
      } else if (r.status === 'refused') {
        await d.state.putUnlinked({ connectionId: cid, object: p.object, side: 'hub', id: c.sourceId, state: 'failing', reason: appReason(r), ...(c.keys ? { keys: c.keys as Record<string, string> } : {}) }, now);
        decisionEvent(p, d, { type: 'failing', object: p.object, side: 'app', hubId: c.sourceId, code: r.error.code, message: r.error.message, data: { app: r.error.body } });
      }
    }
  }

  await d.state.removeUnlinkedMany(cid, p.object, cleared.splice(0));

  // 5. Updates: app side in one call, hub side as events; the link takes the new base and written hashes.
  const updates = decisions.filter((x): x is Of<'update'> => x.kind === 'update');
  const appUpdates = updates.filter((u) => u.side === 'app');
  const refusedPairs = new Set<string>();
  if (appUpdates.length > 0) {
    const inputs: WriteInput[] = appUpdates.map((u) => ({ ref: u.hubId, id: u.appId, properties: u.fields, version: ctx.hub.get(u.hubId)?.version ?? now }));
    await d.heartbeat();
    const results = await appCall(p, d, inputs, () => p.connector.update(p.object, inputs));
    for (const r of results) {
      const u = appUpdates.find((x) => x.hubId === r.ref)!;
      const link = linksToPut.get(u.hubId) ?? ctx.links.get(u.hubId);
      if (!link) continue;
      if (r.status === 'updated') {
        linksToPut.set(u.hubId, { ...link, state: 'in-sync', reason: null, base: JSON.stringify(u.base), written: { ...link.written, app: u.writtenHash }, appSeenAt: Math.max(link.appSeenAt, r.record.modifiedAt), syncedAt: new Date(now) });
        decisionEvent(p, d, { type: 'update', object: p.object, side: 'app', hubId: u.hubId, appId: u.appId, data: { fields: u.fields, conflicts: u.conflicts } });
        sample(p, ctx, d, u.hubId, u.appId);
      } else if (r.status === 'missing') {
        refusedPairs.add(u.hubId);
        linksToPut.set(u.hubId, { ...link, state: 'deleted', deletedOn: 'app', reason: { code: 'deleted-in-app', message: `app record ${u.appId} no longer exists; resync to recreate it` } });
        decisionEvent(p, d, { type: 'deleted', object: p.object, side: 'app', hubId: u.hubId, appId: u.appId });
      } else if (r.status === 'refused') {
        refusedPairs.add(u.hubId);
        linksToPut.set(u.hubId, { ...link, state: 'failing', reason: appReason(r) });
        decisionEvent(p, d, { type: 'failing', object: p.object, side: 'app', hubId: u.hubId, appId: u.appId, code: r.error.code, message: r.error.message, data: { app: r.error.body } });
      }
    }
  }
  for (const u of updates.filter((x) => x.side === 'hub')) {
    const link = linksToPut.get(u.hubId) ?? ctx.links.get(u.hubId);
    if (!link) continue;
    const current = ctx.hub.get(u.hubId)?.fields ?? hubFieldsOf(link);
    const fields = { ...current, ...u.fields };
    const app = ctx.app.get(u.appId);
    const version = Math.max(now, link.hubVersion + 1);
    hubWrites.push(hubWrite(p, d, u.hubId, fields, 'record.updated', version, [u.appId, app?.modifiedAt ?? 0, JSON.stringify(u.fields)], Object.keys(u.fields)));
    const next = linksToPut.get(u.hubId) ?? link;
    linksToPut.set(u.hubId, {
      ...next, hubFields: JSON.stringify(fields), hubVersion: version, written: { ...next.written, hub: u.writtenHash }, syncedAt: new Date(now),
      ...(refusedPairs.has(u.hubId) ? {} : { state: 'in-sync' as const, reason: null, base: JSON.stringify(u.base) }),
      appSeenAt: Math.max(next.appSeenAt, app?.modifiedAt ?? 0),
    });
    decisionEvent(p, d, { type: 'update', object: p.object, side: 'hub', hubId: u.hubId, appId: u.appId, data: { fields: u.fields, conflicts: u.conflicts } });
    sample(p, ctx, d, u.appId, u.hubId);
  }
  if (hubWrites.length > 0) await d.bus.publish(d.topics.records, hubWrites);
  for (const link of linksToPut.values()) ctx.links.set(link.hubId, link);
  await d.state.putLinks([...linksToPut.values()]);
}

/**
 * The associations a new app record is created with: each association field of the hub
 * record (companyId, personId) whose target is linked, as the target's app id. A target not
 * linked yet is left out (the association pass adds it later; a Stripe invoice without its
 * customer is refused, failing, and retried on the next poll).
 */
async function createAssociations(p: Pair, d: PairDeps, records: readonly Readonly<Record<string, unknown>>[]): Promise<{ kind: AssociationKind; toId: string }[][]> {
  const out = records.map((): { kind: AssociationKind; toId: string }[] => []);
  // One read of the target links per kind for the whole batch (an initial sync creates thousands).
  for (const [kind, k] of kindsFrom(p)) {
    const targetOf = (fields: Readonly<Record<string, unknown>>) => (typeof fields[k.hubField] === 'string' && fields[k.hubField] !== '' ? fields[k.hubField] as string : undefined);
    const wanted = [...new Set(records.map(targetOf).filter((t): t is string => t !== undefined))];
    if (wanted.length === 0) continue;
    const links = new Map((await d.state.linksOf(p.c.connectionId, k.to, wanted)).filter((l) => !l.deletedOn).map((l) => [l.hubId, l.appId]));
    records.forEach((fields, i) => {
      const toId = links.get(targetOf(fields) ?? '');
      if (toId) out[i]!.push({ kind, toId });
    });
  }
  return out;
}

/**
 * One connector call for these inputs. A failure of the whole call that waiting fixes
 * (the app down, its rate limit) is thrown: the batch is tried again with backoff, never
 * parked. One that waiting does not fix fails each of its records with the error, which
 * later cycles retry; refused credentials fail the object (the connection shows failed).
 */
async function appCall(p: Pair, d: PairDeps, inputs: readonly WriteInput[], call: () => Promise<WriteResult[]>): Promise<WriteResult[]> {
  try {
    return await call();
  } catch (err) {
    if (isRetriable(err)) throw err;
    const e = err as HubError;
    if (e.code === 'SYNC_APP_AUTH_FAILED') await failObject(p, d, e);
    d.log.warn({ connectionId: p.c.connectionId, object: p.object, code: e.code, err: e.message }, 'the app refused a whole call');
    return inputs.map((x) => ({ ref: x.ref, status: 'refused', error: { status: e.status ?? 0, code: e.code ?? 'SYNC_APP_REFUSED', message: e.message, body: (e.cause as { body?: unknown } | undefined)?.body ?? null } }));
  }
}

/** Credentials refused: the object (so the connection) is failed until activated again. */
export async function failObject(p: Pair, d: PairDeps, e: { code: string; message: string }): Promise<void> {
  p.objState.phase = 'failed';
  p.objState.error = { code: e.code, message: e.message };
  await d.state.putObjectState(p.objState);
  decisionEvent(p, d, { type: 'phase', object: p.object, reason: 'failed', code: e.code, message: e.message });
}

export const linkBase = (link: LinkDocument) => parseJson<Record<string, null>>(link.base, {});

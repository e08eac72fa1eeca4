/**
 * Replays, rebuilds and workflow backfills: a plan (per partition, offsets from and to
 * and the message count), then a run in the background with its own consumer group
 * (range-reader.ts), never the live group's, applying through the same idempotent
 * handlers as the live service, so replaying twice changes nothing:
 *
 * - group `record-projector`: each change through the projector's conditional upsert;
 * - group `trigger-matcher`: each event matched against the active workflows and its
 *   run requested with the run id derived from (workflow, version, event): the executor
 *   starts a run once, however often it is requested;
 * - projection `records`: rebuilt into a shadow collection, then switched (rebuild.ts);
 * - workflow backfill: one workflow's trigger over past events, as the matcher does.
 *
 * Progress is kept in `replays` (ops' own) and readable while it runs; cancel aborts it.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Collection, Db } from 'mongodb';
import type { Logger } from '../../libs/log/index.ts';
import type { KafkaRuntime } from '../../libs/kafka/runtime.ts';
import type { RecordChanged, WebhookReceived } from '../../libs/kafka/events.ts';
import type { CollectionSpec } from '../../libs/store/mongo.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { consumerGroups } from '../../libs/kafka/groups.ts';
import { planRanges, type PlanEntry, type ReplayFrom, type ReplayTo } from '../../libs/kafka/offsets.ts';
import { recordChangeOf, hashCollection } from '../../libs/projections/records.ts';
import { createRecordStore, recordsCollection } from '../../libs/store/records.ts';
import { matchRecordChanged, matchWebhook } from '../../libs/workflow/trigger-match.ts';
import type { ActiveWorkflow, WorkflowIndex } from '../../libs/workflow/workflow-index.ts';
import { HubError, errorMessage, raise } from '../../libs/errors/index.ts';
import { storeError } from '../../libs/store/errors.ts';
import { readRanges } from './range-reader.ts';
import { bulkBuild, createShadow, rebuildAndSwitch } from './rebuild.ts';

export type ReplayKind = 'group' | 'projection' | 'verify' | 'backfill';
export type ReplayStatus = 'running' | 'done' | 'failed' | 'cancelled';

export interface ReplayDoc {
  _id: string;
  kind: ReplayKind;
  group: string | null;
  projection: string | null;
  workflowId: string | null;
  workspaceId: string | null;
  plan: PlanEntry[];
  total: number;
  done: number;
  status: ReplayStatus;
  startedAt: Date;
  endedAt: Date | null;
  error: { code: string; message: string } | null;
  result: Record<string, unknown> | null;
}

export const replaysCollection: CollectionSpec = { name: 'replays', indexes: [] };

/** Groups whose handlers can be replayed here; the others have external effects (mail, HTTP) a replay must not repeat. */
const REPLAYABLE: Record<string, string> = {
  'record-projector': 'applies each change through the projector\'s conditional upsert',
  'trigger-matcher': 'requests each matching run again (derived run ids: a run starts once)',
};
const NOT_REPLAYABLE: Record<string, string> = {
  'action-executor': 'its steps reach the outside world: retry a run (POST /v1/runs/:id/retry) or backfill a workflow instead',
  notifier: 'it sends mail and chat messages: redrive its parked messages instead',
};

export interface ReplayRequest {
  group?: string;
  projection?: string;
  from?: ReplayFrom;
  to?: ReplayTo;
  dryRun?: boolean;
}

export interface BackfillRequest {
  workspaceId: string;
  workflowId: string;
  from: ReplayFrom;
  to?: ReplayTo;
  dryRun?: boolean;
}

export interface ReplayDeps {
  runtime: KafkaRuntime;
  kafka: Kafka;
  admin: Admin;
  db: Db;
  prefix: string;
  log: Logger;
  /** The active workflows (ops follows hub.workflows). */
  index: WorkflowIndex;
  catchUpIndex(): Promise<void>;
  now?(): number;
}

export function progressOf(r: ReplayDoc, now: number) {
  const seconds = ((r.endedAt?.getTime() ?? now) - r.startedAt.getTime()) / 1000;
  const rate = seconds > 0 ? Math.round(r.done / seconds) : null;
  const left = Math.max(0, r.total - r.done);
  return {
    done: r.done, total: r.total, percent: r.total > 0 ? Math.min(100, Math.round((r.done / r.total) * 1000) / 10) : 100,
    ratePerSec: rate, etaSeconds: r.status === 'running' && rate ? Math.ceil(left / rate) : r.status === 'running' ? null : 0,
  };
}

export function replayView(r: ReplayDoc, now: number) {
  const { _id, startedAt, endedAt, ...rest } = r;
  return { id: _id, ...rest, startedAt: startedAt.toISOString(), endedAt: endedAt?.toISOString() ?? null, progress: progressOf(r, now) };
}

export function createReplays(d: ReplayDeps) {
  const now = d.now ?? Date.now;
  const docs: Collection<ReplayDoc> = d.db.collection<ReplayDoc>(replaysCollection.name);
  const running = new Map<string, AbortController>();
  const topicOf = (logical: string) => `${d.prefix}${logical}`;

  async function committedCaps(group: string, physicalTopics: string[]) {
    const caps = new Map<string, Map<number, bigint>>();
    const fetched = await d.admin.fetchOffsets({ groupId: `${d.prefix}${group}`, topics: physicalTopics }).catch(() => []);
    for (const t of fetched) {
      const m = new Map<number, bigint>();
      for (const p of t.partitions) if (BigInt(p.offset) >= 0n) m.set(p.partition, BigInt(p.offset));
      caps.set(t.topic, m);
    }
    return caps;
  }

  /** The plan of a request; throws 400s naming the field for anything wrong. */
  async function plan(req: ReplayRequest): Promise<{ kind: ReplayKind; entries: PlanEntry[] }> {
    if (req.group !== undefined && req.projection !== undefined) throw raise('BODY_INVALID', 'name a group or a projection, not both', { path: '/projection' });
    if (req.projection !== undefined) {
      if (req.projection !== recordsCollection.name) throw raise('PROJECTION_UNKNOWN', `no projection "${req.projection}"; projections: records`, { path: '/projection' });
      if (req.from !== undefined) throw raise('REPLAY_UNSUPPORTED', 'a projection rebuild reads the whole log, from its start: leave "from" out', { path: '/from' });
      if (req.to !== undefined) throw raise('REPLAY_UNSUPPORTED', 'a projection rebuild reads the log to its end: leave "to" out', { path: '/to' });
      const logical = topics.records.name;
      const entries = await planRanges(d.admin, { topics: new Map([[logical, topicOf(logical)]]), from: { offsets: { [logical]: {} } }, now: now() });
      // From each partition's start: the plan above starts at the end for unnamed partitions.
      const marks = await d.admin.fetchTopicOffsets(topicOf(logical));
      return {
        kind: 'projection',
        entries: entries.map((e) => {
          const low = Number(marks.find((m) => m.partition === e.partition)?.low ?? 0);
          return { ...e, fromOffset: low, messages: e.toOffset - low };
        }),
      };
    }
    if (req.group === undefined) throw raise('BODY_INVALID', 'name a "group" to replay or a "projection" to rebuild', { path: '/group' });
    if (NOT_REPLAYABLE[req.group]) throw raise('REPLAY_UNSUPPORTED', `${req.group} is not replayed: ${NOT_REPLAYABLE[req.group]}`, { path: '/group' });
    if (!REPLAYABLE[req.group]) throw raise('GROUP_UNKNOWN', `no consumer group "${req.group}"; replayable: ${Object.keys(REPLAYABLE).join(', ')}`, { path: '/group' });
    if (req.from === undefined) throw raise('BODY_INVALID', 'a replay needs "from": {"timestamp"} or {"offsets"}', { path: '/from' });
    const logicals = consumerGroups[req.group]!.map((k) => topics[k].name);
    const map = new Map(logicals.map((l) => [l, topicOf(l)]));
    // A replay never overtakes the live group: it re-reads what the group has consumed.
    const cap = await committedCaps(req.group, [...map.values()]);
    return { kind: 'group', entries: await planRanges(d.admin, { topics: map, from: req.from, to: req.to, cap, now: now() }) };
  }

  async function insert(doc: ReplayDoc) {
    try {
      await docs.insertOne(doc);
    } catch (err) {
      throw storeError(err, 'recording a replay');
    }
  }

  let lastWrite = 0;
  async function progress(id: string, done: number, force = false) {
    if (!force && now() - lastWrite < 500) return;
    lastWrite = now();
    await docs.updateOne({ _id: id }, { $set: { done } }).catch(() => undefined);
  }

  async function finish(id: string, status: ReplayStatus, set: Partial<ReplayDoc>) {
    await docs.updateOne({ _id: id }, { $set: { status, endedAt: new Date(now()), ...set } }).catch((err: unknown) => d.log.warn({ id, err: errorMessage(err) }, 'cannot record the end of a replay'));
  }

  function launch(doc: ReplayDoc, work: (signal: AbortSignal, onProgress: (n: number) => void) => Promise<Record<string, unknown>>) {
    const controller = new AbortController();
    running.set(doc._id, controller);
    const log = d.log.child({ replayId: doc._id, kind: doc.kind });
    log.info({ total: doc.total, group: doc.group, projection: doc.projection, workflowId: doc.workflowId }, 'replay started');
    let done = 0;
    void work(controller.signal, (n) => { done = n; void progress(doc._id, n); })
      .then(async (result) => {
        await finish(doc._id, 'done', { done: Math.max(done, Number(result.messages ?? done)), result });
        log.info({ result }, 'replay done');
      })
      .catch(async (err: unknown) => {
        if (controller.signal.aborted) {
          await finish(doc._id, 'cancelled', { done });
          log.info({ done }, 'replay cancelled');
          return;
        }
        await finish(doc._id, 'failed', { done, error: { code: err instanceof HubError ? err.code : 'INTERNAL', message: errorMessage(err) } });
        log.error({ err: errorMessage(err) }, 'replay failed');
      })
      .finally(() => running.delete(doc._id));
  }

  const newDoc = (kind: ReplayKind, entries: PlanEntry[], extra: Partial<ReplayDoc>): ReplayDoc => ({
    _id: `rp_${randomUUID().replace(/-/g, '').slice(0, 20)}`, kind, group: null, projection: null, workflowId: null, workspaceId: null,
    plan: entries, total: entries.reduce((n, e) => n + e.messages, 0), done: 0, status: 'running', startedAt: new Date(now()), endedAt: null, error: null, result: null,
    ...extra,
  });

  const rangesOf = (entries: PlanEntry[]) => entries.filter((e) => e.messages > 0).map((e) => ({ topic: topicOf(e.topic), partition: e.partition, from: BigInt(e.fromOffset), to: BigInt(e.toOffset) }));

  /** Reads a plan's ranges, decoding each message; undecodable ones (parked by the live group too) are skipped. */
  async function readDecoded(id: string, entries: PlanEntry[], signal: AbortSignal, each: (topic: string, value: unknown, m: KafkaMessage) => Promise<void> | void, onProgress: (n: number) => void) {
    let n = 0;
    await readRanges({
      kafka: d.kafka, admin: d.admin, groupId: `${d.prefix}ops.replay.${id}`, ranges: rangesOf(entries), signal,
      onBatch: async (topic, _p, messages) => {
        for (const m of messages) {
          n++;
          let value: unknown;
          try {
            value = await d.runtime.serde.decode(topic, m.value);
          } catch (err) {
            if (err instanceof HubError && !err.retriable) continue;
            throw err;
          }
          await each(topic, value, m);
        }
        onProgress(n);
      },
    });
    return n;
  }

  async function start(req: ReplayRequest) {
    const { kind, entries } = await plan(req);
    const messages = entries.reduce((n, e) => n + e.messages, 0);
    if (req.dryRun) return { dryRun: true, plan: entries, messages };
    const doc = newDoc(kind, entries, { group: req.group ?? null, projection: req.projection ?? null });
    await insert(doc);
    if (kind === 'projection') {
      launch(doc, async (signal, onProgress) => {
        const r = await rebuildAndSwitch({
          kafka: d.kafka, admin: d.admin, serde: d.runtime.serde, db: d.db, topic: topicOf(topics.records.name), groupPrefix: d.prefix,
          signal, onProgress, replayId: doc._id, log: d.log,
        });
        return { ...r, messages: r.events };
      });
    } else if (req.group === 'record-projector') {
      const store = createRecordStore(d.db);
      launch(doc, async (signal, onProgress) => {
        let applied = 0;
        let skipped = 0;
        const n = await readDecoded(doc._id, entries, signal, async (_t, value) => {
          let change;
          try {
            change = recordChangeOf(value as RecordChanged);
          } catch (err) {
            // What the live projector parked (an invalid event) it never applied either.
            if (err instanceof HubError && !err.retriable) { skipped++; return; }
            throw err;
          }
          if ((await store.apply(change)) === 'applied') applied++;
        }, onProgress);
        return { messages: n, applied, unchanged: n - applied - skipped, skipped };
      });
    } else {
      launch(doc, async (signal, onProgress) => {
        await d.catchUpIndex();
        const requested = await matchAndRequest(doc._id, entries, d.index, signal, onProgress);
        return requested;
      });
    }
    return { dryRun: false, id: doc._id, plan: entries, messages };
  }

  /** Matches a plan's events against `index` and requests their runs; `publish` false only counts them. */
  async function matchAndRequest(id: string, entries: PlanEntry[], index: Pick<WorkflowIndex, 'recordWorkflows' | 'workflow'>, signal: AbortSignal, onProgress: (n: number) => void, publish = true) {
    const recordsTopic = topicOf(topics.records.name);
    const runsTopic = topicOf(topics.runs.name);
    let runs = 0;
    const deps = { index, now, log: d.log };
    const n = await readDecoded(id, entries, signal, async (topic, value) => {
      const out = topic === recordsTopic ? matchRecordChanged(value as RecordChanged, deps) : matchWebhook(value as WebhookReceived, deps);
      runs += out.length;
      if (publish && out.length > 0) await d.runtime.bus.publish(runsTopic, out);
    }, onProgress);
    return { messages: n, runsRequested: runs };
  }

  /** Two bulk builds into scratch collections, their content hashes compared (and the live one's). */
  async function verify() {
    const { entries } = await plan({ projection: recordsCollection.name });
    const doc = newDoc('verify', entries, { projection: recordsCollection.name, total: entries.reduce((n, e) => n + e.messages, 0) * 2 });
    await insert(doc);
    launch(doc, async (signal, onProgress) => {
      const hashes: string[] = [];
      const ends = new Map(entries.map((e) => [e.partition, BigInt(e.toOffset)]));
      let base = 0;
      for (const i of [1, 2]) {
        const name = `${recordsCollection.name}__verify_${doc._id}_${i}`;
        await createShadow(d.db, name);
        try {
          await bulkBuild({
            kafka: d.kafka, admin: d.admin, serde: d.runtime.serde, db: d.db, topic: recordsTopicName(), groupPrefix: d.prefix, signal,
            onProgress: (n) => onProgress(base + n),
          }, name, ends);
          hashes.push(await hashCollection(d.db.collection(name)));
        } finally {
          await d.db.collection(name).drop().catch(() => undefined);
        }
        base = doc.total / 2;
      }
      return { messages: doc.total, hashes, identical: hashes[0] === hashes[1] };
    });
    return { id: doc._id, plan: entries, messages: doc.total };
  }
  const recordsTopicName = () => topicOf(topics.records.name);

  /** A workflow's trigger over past events: the plan, a dry run's count of runs, or a started backfill. */
  async function backfill(req: BackfillRequest) {
    await d.catchUpIndex();
    const wf = d.index.workflow(req.workflowId);
    if (!wf || wf.workspaceId !== req.workspaceId) throw raise('REPLAY_UNSUPPORTED', 'only an active workflow can be backfilled: activate it first', { path: '/params/id' });
    const type = wf.definition.trigger.type;
    const logical = type.startsWith('record.') ? topics.records.name : type === 'webhook' ? topics.webhooks.name : null;
    if (!logical) throw raise('REPLAY_UNSUPPORTED', `a ${type} trigger has no past events to backfill from (record and webhook triggers do)`, { path: '/params/id' });
    const entries = await planRanges(d.admin, { topics: new Map([[logical, topicOf(logical)]]), from: req.from, to: req.to, now: now() });
    const one: Pick<WorkflowIndex, 'recordWorkflows' | 'workflow'> = {
      recordWorkflows: (ws, t, o) => d.index.recordWorkflows(ws, t, o).filter((w: ActiveWorkflow) => w.workflowId === wf.workflowId),
      workflow: (id) => (id === wf.workflowId ? d.index.workflow(id) : undefined),
    };
    const messages = entries.reduce((n, e) => n + e.messages, 0);
    if (req.dryRun) {
      const counted = await matchAndRequest(`dry.${randomUUID()}`, entries, one, new AbortController().signal, () => undefined, false);
      return { dryRun: true, plan: entries, messages, runs: counted.runsRequested, workflowId: wf.workflowId, version: wf.version };
    }
    const doc = newDoc('backfill', entries, { workflowId: wf.workflowId, workspaceId: wf.workspaceId });
    await insert(doc);
    launch(doc, (signal, onProgress) => matchAndRequest(doc._id, entries, one, signal, onProgress));
    return { dryRun: false, id: doc._id, plan: entries, messages, workflowId: wf.workflowId, version: wf.version };
  }

  async function get(id: string, scope: { workspaceId?: string; workflowId?: string } = {}) {
    const doc = await docs.findOne({ _id: id }).catch((err: unknown) => { throw storeError(err, 'reading a replay'); });
    if (!doc) return null;
    if (scope.workspaceId !== undefined && (doc.workspaceId !== scope.workspaceId || doc.workflowId !== scope.workflowId)) return null;
    return replayView(doc, now());
  }

  async function list(scope: { workspaceId?: string; workflowId?: string } = {}) {
    const q: Record<string, unknown> = {};
    if (scope.workspaceId !== undefined) { q.workspaceId = scope.workspaceId; q.workflowId = scope.workflowId; }
    const all = await docs.find(q).toArray().catch((err: unknown) => { throw storeError(err, 'listing replays'); });
    return all.sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime()).slice(0, 100).map((r) => replayView(r, now()));
  }

  async function cancel(id: string, scope: { workspaceId?: string; workflowId?: string } = {}) {
    const doc = await get(id, scope);
    if (!doc) return null;
    const c = running.get(id);
    if (!c || doc.status !== 'running') throw raise('REPLAY_ENDED', `replay ${id} already ended (${doc.status})`, { path: '/params/replayId' });
    c.abort(new Error('cancelled'));
    await docs.updateOne({ _id: id }, { $set: { status: 'cancelled', endedAt: new Date(now()) } });
    return get(id, scope);
  }

  return {
    plan, start, verify, backfill, get, list, cancel,
    /** Replays left running by a previous process are failed (their reader is gone). */
    async recover() {
      await docs.updateMany({ status: 'running' }, { $set: { status: 'failed', endedAt: new Date(now()), error: { code: 'OPS_UNAVAILABLE', message: 'the ops service restarted during the replay; start it again' } } }).catch(() => undefined);
    },
    stop() {
      for (const c of running.values()) c.abort(new Error('ops stopping'));
    },
  };
}

export type Replays = ReturnType<typeof createReplays>;

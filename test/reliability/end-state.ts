/**
 * The end state of a reliability scenario, checked against what the hub acknowledged:
 * every accepted event on crm.records once and in the projection (with the workflow's
 * write on it), every expected run completed exactly once, every http effect and every
 * email once. Counts, not assertions: a scenario prints them, a test asserts on them.
 */
import type { E2EHub } from '../support/e2e-hub.ts';
import type { EffectCounter } from '../support/delivery-load.ts';
import { readTopic } from '../support/topic.ts';
import { testLogger } from '../support/env.ts';
import { startKafkaRuntime } from '../../libs/kafka/runtime.ts';
import { topics } from '../../libs/kafka/topics.ts';
import type { RecordChanged, RunEvent } from '../../libs/kafka/events.ts';
import { createRunStore, type Run } from '../../libs/store/runs.ts';
import { createRecordReader, type RecordDocument } from '../../libs/store/records.ts';
import type { Acknowledged } from './load.ts';
import { sleep } from '../../libs/time/sleep.ts';

export interface Workflows { onPerson: string; onDelivery: string }

export interface EndState {
  accepted: number;
  completedRuns: number;
  lost: { events: number; records: number; writes: number; runs: number; effects: number; emails: number };
  doubled: { events: number; runs: number; effects: number; emails: number };
  /** Effects sent again with the same Idempotency-Key (the receiver can drop them). */
  resentEffects: number;
  /**
   * Emails sent again with the same Message-ID: SMTP has no idempotency key, so a notifier
   * killed between the server's 250 and its ledger write sends the copy again on takeover
   * (services/notifier/notify.ts); the derived Message-ID lets mail stores drop it.
   */
  resentEmails: number;
  /** A few of the ids behind each non-zero count, for the report. */
  examples: string[];
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
export const lostOf = (s: EndState) => sum(s.lost);
export const doubledOf = (s: EndState) => sum(s.doubled);

/** Every run of a workflow, page by page (a soak has tens of thousands). */
async function allRuns(hub: E2EHub, workflowId: string): Promise<Run[]> {
  const store = createRunStore(hub.store.db);
  const out: Run[] = [];
  for (let after: { queuedAt: Date; runId: string } | undefined; ;) {
    const page = await store.list(hub.workspaceId, workflowId, { limit: 2000, ...(after ? { after } : {}) });
    out.push(...page);
    if (page.length < 2000) return out;
    const last = page[page.length - 1]!;
    after = { queuedAt: last.queuedAt, runId: last.runId };
  }
}

/** Every live record of an object, page by page. */
async function allRecords(hub: E2EHub, object: string): Promise<RecordDocument[]> {
  const reader = createRecordReader(hub.store.db);
  const out: RecordDocument[] = [];
  for (let afterRecordId: string | null = null; ;) {
    const page = await reader.list(hub.workspaceId, object, { afterRecordId, limit: 5000 });
    out.push(...page);
    if (page.length < 5000) return out;
    afterRecordId = page[page.length - 1]!.recordId;
  }
}

/** How many runs of the two workflows have completed: what a drain waits for last. */
export async function progress(hub: E2EHub, wf: Workflows): Promise<{ completed: number }> {
  const runs = hub.store.db.collection('runs');
  let completed = 0;
  for (const workflowId of [wf.onPerson, wf.onDelivery]) completed += await runs.countDocuments({ workspaceId: hub.workspaceId, workflowId, status: 'completed' });
  return { completed };
}

export async function checkEndState(hub: E2EHub, wf: Workflows, ack: Acknowledged, effects: EffectCounter): Promise<EndState> {
  const state: EndState = {
    accepted: ack.events.size + ack.deliveries.size, completedRuns: 0,
    lost: { events: 0, records: 0, writes: 0, runs: 0, effects: 0, emails: 0 },
    doubled: { events: 0, runs: 0, effects: 0, emails: 0 }, resentEffects: 0, resentEmails: 0, examples: [],
  };
  const note = (what: string) => { if (state.examples.length < 10) state.examples.push(what); };

  const runtime = await startKafkaRuntime(hub.config, testLogger('reliability-check'));
  const completions = new Map<string, number>();
  const published = new Map<string, number>();
  try {
    for (const m of await readTopic<RecordChanged>(runtime, runtime.topic(topics.records), { timeoutMs: 600_000, skipUndecodable: true })) {
      if (m.value.source === 'producer') published.set(m.value.eventId, (published.get(m.value.eventId) ?? 0) + 1);
    }
    for (const m of await readTopic<RunEvent>(runtime, runtime.topic(topics.runs), { timeoutMs: 600_000, skipUndecodable: true })) {
      if (m.value.type === 'run.completed') completions.set(m.value.runId, (completions.get(m.value.runId) ?? 0) + 1);
    }
  } finally {
    await runtime.close();
  }

  // Events: on the log once, in the projection with the workflow's write on it.
  // A run's record write is projected by another consumer, which after an outage may still be catching up when the
  // runs have ended: the projection gets a while to show every write; one still missing then is lost.
  const wanted = [...ack.events.values()];
  let people = new Map<string, RecordDocument>();
  for (const deadline = Date.now() + 120_000; ;) {
    people = new Map((await allRecords(hub, 'people')).map((r) => [r.recordId, r]));
    if (wanted.every((id) => people.get(id)?.fields.processed === true) || Date.now() > deadline) break;
    await sleep(2000);
  }
  for (const [eventId, recordId] of ack.events) {
    const times = published.get(eventId) ?? 0;
    if (times === 0) { state.lost.events += 1; note(`event ${eventId} not on crm.records`); }
    if (times > 1) { state.doubled.events += 1; note(`event ${eventId} published ${times} times`); }
    const record = people.get(recordId);
    if (!record) { state.lost.records += 1; note(`person ${recordId} not in the projection`); } else if (record.fields.processed !== true) { state.lost.writes += 1; note(`person ${recordId} without the workflow's write`); }
  }
  const deals = new Set((await allRecords(hub, 'deals')).map((r) => r.recordId));
  for (const key of ack.deliveries.keys()) if (!deals.has(key)) { state.lost.records += 1; note(`deal ${key} not in the projection`); }

  // Runs: one per accepted trigger, completed, and completed once on the log.
  const runsByTrigger = new Map<string, Run[]>();
  for (const run of [...await allRuns(hub, wf.onPerson), ...await allRuns(hub, wf.onDelivery)]) {
    runsByTrigger.set(run.triggerEventId, [...runsByTrigger.get(run.triggerEventId) ?? [], run]);
  }
  for (const triggerId of [...ack.events.keys(), ...ack.deliveries.values()]) {
    const runs = runsByTrigger.get(triggerId) ?? [];
    const completed = runs.filter((r) => r.status === 'completed');
    if (completed.length === 0) { state.lost.runs += 1; note(`trigger ${triggerId}: ${runs.map((r) => r.status).join(',') || 'no run'}`); }
    if (runs.length > 1) { state.doubled.runs += 1; note(`trigger ${triggerId}: ${runs.length} runs`); }
    for (const r of completed) {
      state.completedRuns += 1;
      const times = completions.get(r.runId) ?? 0;
      if (times > 1) { state.doubled.runs += 1; note(`run ${r.runId} completed ${times} times on hub.runs`); }
    }
  }

  // Effects and emails: one per accepted unit (the unit's number is its key in both).
  const mailsBySubject = new Map<string, string[]>();
  for (const m of hub.smtp.messages) mailsBySubject.set(m.subject, [...(mailsBySubject.get(m.subject) ?? []), m.messageId]);
  const numberOf = (id: string) => Number(id.slice(2));
  for (const id of [...ack.events.values(), ...ack.deliveries.keys()]) {
    const keys = effects.effects.get(numberOf(id)) ?? [];
    const distinct = new Set(keys).size;
    if (distinct === 0) { state.lost.effects += 1; note(`no effect for ${id}`); }
    if (distinct > 1) { state.doubled.effects += 1; note(`${distinct} effects with different keys for ${id}`); }
    state.resentEffects += keys.length - distinct;
  }
  for (const id of ack.events.values()) {
    // Doubled: two different messages for one unit. The same Message-ID twice is a resend, counted apart.
    const mails = mailsBySubject.get(`Welcome ${id}`) ?? [];
    const distinct = new Set(mails).size;
    if (distinct === 0) { state.lost.emails += 1; note(`no email for ${id}`); }
    if (distinct > 1) { state.doubled.emails += 1; note(`${distinct} emails with different Message-IDs for ${id}`); }
    if (mails.length > distinct) note(`${mails.length - distinct} resend(s) of the email for ${id} (same Message-ID)`);
    state.resentEmails += mails.length - distinct;
  }
  return state;
}

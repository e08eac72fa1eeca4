/**
 * Schedule ticks. Every matcher replica computes the same ticks and requests the same
 * runs (the run id derives from the tick's time), so a tick fires once however many
 * replicas run, and still fires when one of them is down. The last tick fired per
 * workflow version is kept in the store: after downtime, the most recent missed tick
 * fires once (not one run per missed tick).
 */
import type { Collection, Db } from 'mongodb';
import type { CollectionSpec } from '../../libs/store/mongo.ts';
import { storeError } from '../../libs/store/errors.ts';
import { nextFireTime } from '../../libs/workflow/cron.ts';
import type { OutgoingEvent } from '../../libs/kafka/producer.ts';
import type { ScheduleTrigger } from '../../libs/contracts/workflow.ts';
import type { ActiveWorkflow } from '../../libs/workflow/workflow-index.ts';
import { runRequested } from '../../libs/workflow/run-requests.ts';

export interface ScheduleCursors {
  get(key: string): Promise<number | null>;
  set(key: string, firedAt: number): Promise<void>;
}

export const scheduleCollection: CollectionSpec = { name: 'schedule_cursors', indexes: [] };

export function createScheduleCursors(db: Db): ScheduleCursors {
  const c: Collection<{ _id: string; lastTickAt: number }> = db.collection(scheduleCollection.name);
  return {
    async get(key) {
      try { return (await c.findOne({ _id: key }))?.lastTickAt ?? null; } catch (err) { throw storeError(err, 'reading a schedule cursor'); }
    },
    async set(key, at) {
      // Replicas write the same value for the same tick; only a later tick moves it.
      try { await c.updateOne({ _id: key }, { $max: { lastTickAt: at } }, { upsert: true }); } catch (err) { throw storeError(err, 'saving a schedule cursor'); }
    },
  };
}

/** The latest tick of `trigger` in (after, now], or null (bounded: a tick per minute for years is fine). */
export function latestDueTick(trigger: ScheduleTrigger, after: number, now: number): number | null {
  let due: number | null = null;
  let t = after;
  for (let i = 0; i < 1_000_000; i++) {
    const next = nextFireTime(trigger.cron, t, trigger.timezone).getTime();
    if (next > now) return due;
    due = next;
    t = next;
  }
  return due;
}

export interface ScheduleDeps {
  cursors: ScheduleCursors;
  publish(events: OutgoingEvent[]): Promise<void>;
  now(): number;
}

const cursorKey = (wf: ActiveWorkflow) => `${wf.workflowId}#v${wf.version}`;

/** Fires the due tick of each schedule (at most one per workflow per call). */
export async function fireDueTicks(schedules: readonly (ActiveWorkflow & { trigger: ScheduleTrigger })[], memory: Map<string, number>, d: ScheduleDeps): Promise<number> {
  const now = d.now();
  let fired = 0;
  for (const wf of schedules) {
    const key = cursorKey(wf);
    let last = memory.get(key);
    if (last === undefined) {
      last = (await d.cursors.get(key)) ?? wf.activatedAt;
      memory.set(key, last);
    }
    const tick = latestDueTick(wf.trigger, last, now);
    if (tick === null) continue;
    const iso = new Date(tick).toISOString();
    const eventId = `schedule:${iso}`;
    await d.publish([runRequested(wf, { eventId, correlationId: `${wf.workflowId}:${eventId}`, causationDepth: 0 }, 'schedule', { scheduledAt: iso, firedAt: new Date(now).toISOString() }, now).message]);
    await d.cursors.set(key, tick);
    memory.set(key, tick);
    fired += 1;
  }
  return fired;
}

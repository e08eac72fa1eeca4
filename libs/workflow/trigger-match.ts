/**
 * What the trigger matcher decides (and a workflow backfill in services/ops, over past events): which runs an arriving event starts. Pure
 * functions of (event, index, clock); app.ts publishes what they return. A run's id
 * derives from (workflow, version, trigger event id), so matching the same event
 * twice (a replay, two matcher replicas) requests the same run, which the executor
 * starts once.
 */
import type { RecordChanged, WebhookReceived } from '../kafka/events.ts';
import type { OutgoingEvent } from '../kafka/producer.ts';
import type { Logger } from '../log/index.ts';
import { holds } from '../rules/index.ts';
import type { RecordTrigger } from '../contracts/workflow.ts';
import { runRequested } from './run-requests.ts';
import type { WorkflowIndex } from './workflow-index.ts';

export interface MatchDeps {
  /** The live index, or a one-workflow view of it (a workflow backfill). */
  index: Pick<WorkflowIndex, 'recordWorkflows' | 'workflow'>;
  now(): number;
  log: Logger;
}

function parseObject(json: string | null): Record<string, unknown> | null {
  if (json === null) return null;
  const v = JSON.parse(json) as unknown;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Fields an update changed: as the producer said, else as the before/after difference shows. */
export function changedFields(ev: RecordChanged, record: Record<string, unknown> | null, before: Record<string, unknown> | null): Set<string> {
  const changed = new Set(ev.updatedFields);
  if (record && before) {
    for (const k of new Set([...Object.keys(record), ...Object.keys(before)])) if (!same(record[k], before[k])) changed.add(k);
  } else if (record && changed.size === 0) {
    Object.keys(record).forEach((k) => changed.add(k));
  }
  return changed;
}

export function matchRecordChanged(ev: RecordChanged, d: MatchDeps): OutgoingEvent[] {
  const candidates = d.index.recordWorkflows(ev.workspaceId, ev.type, ev.object);
  if (candidates.length === 0) return [];
  const record = parseObject(ev.record);
  const before = parseObject(ev.before);
  const view = (fields: Record<string, unknown> | null) => (fields ? { ...fields, id: ev.recordId } : null);
  const data = { record: view(record), before: view(before) };
  const out: OutgoingEvent[] = [];
  let changed: Set<string> | undefined;
  for (const wf of candidates) {
    const trigger = wf.definition.trigger as RecordTrigger;
    if (trigger.type === 'record.updated' && trigger.fields && trigger.fields.length > 0) {
      changed ??= changedFields(ev, record, before);
      if (!trigger.fields.some((f) => changed!.has(f))) continue;
    }
    if (trigger.filter !== undefined) {
      try {
        if (!holds(trigger.filter, data, { now: d.now() })) continue;
      } catch (err) {
        d.log.warn({ workflowId: wf.workflowId, eventId: ev.eventId, err: (err as Error).message }, 'trigger filter failed on this event; no run started');
        continue;
      }
    }
    out.push(runRequested(wf, ev, ev.type, {
      type: ev.type, object: ev.object, recordId: ev.recordId, record: data.record, before: data.before,
      updatedFields: [...(changed ?? changedFields(ev, record, before))], version: ev.version, eventId: ev.eventId, occurredAt: new Date(ev.occurredAt).toISOString(),
    }, d.now()).message);
  }
  return out;
}

export function matchWebhook(ev: WebhookReceived, d: MatchDeps): OutgoingEvent[] {
  if (ev.workflowId === null) return [];
  const wf = d.index.workflow(ev.workflowId);
  if (!wf || wf.workspaceId !== ev.workspaceId || wf.definition.trigger.type !== 'webhook') return [];
  const body = parseObject(ev.body) ?? {};
  return [runRequested(wf, ev, 'webhook', {
    body, method: ev.method, headers: ev.headers, hookId: ev.hookId, webhookId: ev.webhookId, receivedAt: new Date(ev.occurredAt).toISOString(),
  }, d.now()).message];
}

/**
 * The trigger matcher's view of active workflows, folded from the compacted
 * hub.workflows topic: state records (`<id>`: status, active version) and version
 * records (`<id>#v<n>`: the definition). Lookups are by what arrives: a record event
 * (workspace, type, object), a webhook delivery (workflow id), the clock (schedules).
 */
import type { WorkflowChanged } from '../kafka/events.ts';
import type { RecordTrigger, ScheduleTrigger, WorkflowDefinition } from '../contracts/workflow.ts';
import { WorkflowVersions } from './versions.ts';

export interface ActiveWorkflow {
  workflowId: string;
  workspaceId: string;
  version: number;
  definition: WorkflowDefinition;
  /** When this version was activated (the state record's occurredAt): schedules start from here. */
  activatedAt: number;
}

interface State { workspaceId: string; status: string; activeVersion: number | null; occurredAt: number }

export class WorkflowIndex {
  private readonly states = new Map<string, State>();
  private readonly versions = new WorkflowVersions();
  private readonly active = new Map<string, ActiveWorkflow>();
  /** workspaceId → "type:object" → workflows. */
  private readonly byRecordTrigger = new Map<string, Map<string, ActiveWorkflow[]>>();

  apply(e: WorkflowChanged): void {
    if (e.kind === 'version') {
      if (e.definition === null) return;
      this.versions.apply(e);
    } else {
      this.states.set(e.workflowId, { workspaceId: e.workspaceId, status: e.status, activeVersion: e.activeVersion, occurredAt: e.occurredAt });
    }
    this.refresh(e.workflowId);
  }

  private refresh(workflowId: string): void {
    const previous = this.active.get(workflowId);
    if (previous) {
      this.active.delete(workflowId);
      const trigger = previous.definition.trigger;
      if (trigger.type.startsWith('record.')) {
        const list = this.byRecordTrigger.get(previous.workspaceId)?.get(recordKey(trigger as RecordTrigger));
        if (list) list.splice(list.indexOf(previous), 1);
      }
    }
    const state = this.states.get(workflowId);
    if (!state || state.status !== 'active' || state.activeVersion === null) return;
    const definition = this.versions.get(workflowId, state.activeVersion);
    // The version record may arrive after the state that names it (another partition).
    if (!definition) return;
    const wf: ActiveWorkflow = { workflowId, workspaceId: state.workspaceId, version: state.activeVersion, definition, activatedAt: state.occurredAt };
    this.active.set(workflowId, wf);
    if (definition.trigger.type.startsWith('record.')) {
      let ws = this.byRecordTrigger.get(wf.workspaceId);
      if (!ws) { ws = new Map(); this.byRecordTrigger.set(wf.workspaceId, ws); }
      const key = recordKey(definition.trigger as RecordTrigger);
      ws.set(key, [...(ws.get(key) ?? []), wf]);
    }
  }

  recordWorkflows(workspaceId: string, type: string, object: string): readonly ActiveWorkflow[] {
    return this.byRecordTrigger.get(workspaceId)?.get(`${type}:${object}`) ?? [];
  }

  workflow(workflowId: string): ActiveWorkflow | undefined {
    return this.active.get(workflowId);
  }

  schedules(): (ActiveWorkflow & { trigger: ScheduleTrigger })[] {
    return [...this.active.values()].filter((w) => w.definition.trigger.type === 'schedule').map((w) => ({ ...w, trigger: w.definition.trigger as ScheduleTrigger }));
  }

  get size(): number {
    return this.active.size;
  }
}

function recordKey(t: RecordTrigger): string {
  return `${t.type}:${t.object}`;
}

/**
 * Every saved version of every workflow, folded from the version records of the
 * compacted hub.workflows topic (`<workflowId>#v<n>`, immutable). Run requests name a
 * version instead of carrying its definition, so their size does not grow with it.
 */
import type { WorkflowChanged } from '../kafka/events.ts';
import type { WorkflowDefinition } from '../contracts/workflow.ts';

export class WorkflowVersions {
  private readonly versions = new Map<string, Map<number, WorkflowDefinition>>();

  apply(e: WorkflowChanged): void {
    if (e.kind !== 'version' || e.definition === null) return;
    let v = this.versions.get(e.workflowId);
    if (!v) { v = new Map(); this.versions.set(e.workflowId, v); }
    v.set(e.version, JSON.parse(e.definition) as WorkflowDefinition);
  }

  get(workflowId: string, version: number): WorkflowDefinition | undefined {
    return this.versions.get(workflowId)?.get(version);
  }
}

/** Where the executor finds a run's definition: in memory, else after catching up with the topic. */
export interface DefinitionSource {
  /** Undefined when the version does not exist even after catching up. */
  definition(workflowId: string, version: number): Promise<WorkflowDefinition | undefined>;
}

export function definitionSource(versions: WorkflowVersions, catchUp: () => Promise<void>): DefinitionSource {
  return {
    async definition(workflowId, version) {
      const known = versions.get(workflowId, version);
      if (known) return known;
      await catchUp();
      return versions.get(workflowId, version);
    },
  };
}

import type { WorkflowDefinition } from '../../../libs/workflow/model.ts';

/** The version of a workflow that manual runs start. */
export interface ActiveWorkflowVersion {
  workflowId: string;
  workspaceId: string;
  version: number;
  definition: WorkflowDefinition;
}

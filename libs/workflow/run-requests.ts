/**
 * The run.requested event for a workflow version and a trigger: what the trigger
 * matcher publishes for record events, webhooks and schedule ticks, and the API for
 * manual runs. Keyed by workspace (one executor owns a workspace's runs); the run id
 * derives from (workflow, version, trigger event id), so asking twice asks for one run.
 * The event names the workflow version and does not copy its definition (the executor
 * reads versions from hub.workflows), so its size does not grow with the definition.
 */
import type { Envelope } from '../kafka/envelope.ts';
import type { RunEvent } from '../kafka/events.ts';
import type { OutgoingEvent } from '../kafka/producer.ts';
import type { WorkflowDefinition } from '../contracts/workflow.ts';
import { deriveRunId, effectId, type RunRequest } from '../contracts/run.ts';

export interface WorkflowVersionRef {
  workflowId: string;
  workspaceId: string;
  version: number;
  definition: WorkflowDefinition;
}

export function runRequested(
  wf: WorkflowVersionRef,
  cause: Pick<Envelope, 'eventId' | 'correlationId' | 'causationDepth'>,
  triggerType: RunRequest['triggerType'],
  trigger: unknown,
  now: number,
): { runId: string; request: RunRequest; message: OutgoingEvent } {
  const runId = deriveRunId(wf.workflowId, wf.version, cause.eventId);
  const request: RunRequest = {
    runId, workspaceId: wf.workspaceId, workflowId: wf.workflowId, version: wf.version,
    definition: wf.definition, triggerType, triggerEventId: cause.eventId, trigger,
    correlationId: cause.correlationId, causationId: cause.eventId, depth: cause.causationDepth, requestedAt: now,
  };
  const { runId: _r, workspaceId: _w, workflowId: _f, version: _v, definition: _d, ...data } = request;
  const value: RunEvent = {
    eventId: effectId(runId, 'requested'), type: 'run.requested', workspaceId: wf.workspaceId, occurredAt: now,
    correlationId: cause.correlationId, causationId: cause.eventId, causationDepth: cause.causationDepth,
    runId, workflowId: wf.workflowId, version: wf.version, stepKey: null, data: JSON.stringify(data),
  };
  return { runId, request, message: { key: wf.workspaceId, value, headers: { 'hub.event-type': 'run.requested', 'hub.run-id': runId } } };
}

/**
 * Runs: manual starts, dry runs of the latest version, reading runs, retry and cancel.
 * Starting, retrying and cancelling are requests on hub.runs (acks=all) that the
 * executor owning the workspace carries out; the projection it writes is what GET
 * reads, so a run shows up there a moment after its 202.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf, type Principal } from '../../../libs/http-server/auth.ts';
import type { RunEvent } from '../../../libs/kafka/events.ts';
import type { OutgoingEvent } from '../../../libs/kafka/producer.ts';
import { runFromRequest, type Run } from '../../../libs/store/runs.ts';
import { isWorkflowId } from '../store/workflows.ts';
import { isRunId, runStatuses, type RunStatus, type StepRecord } from '../../../libs/contracts/run.ts';
import { executeRun } from '../../../libs/workflow/interpreter.ts';
import { runRequested, type WorkflowVersionRef } from '../../../libs/workflow/run-requests.ts';
import { recordView } from '../../../libs/workflow/steps/records.ts';
import { isPlainObject } from '../../../libs/json/index.ts';

const BULK_MAX = 1000;

function stepsInOrder(steps: Record<string, StepRecord>): StepRecord[] {
  return Object.values(steps).sort((a, b) => a.startedAt - b.startedAt || a.endedAt - b.endedAt);
}

export function runView(r: Run) {
  return {
    runId: r.runId, workflowId: r.workflowId, version: r.version, status: r.status, attempt: r.attempt,
    trigger: { type: r.triggerType, eventId: r.triggerEventId, data: r.trigger },
    correlationId: r.correlationId, depth: r.depth,
    queuedAt: r.queuedAt.toISOString(), startedAt: r.startedAt?.toISOString() ?? null, endedAt: r.endedAt?.toISOString() ?? null,
    error: r.error,
    steps: stepsInOrder(r.steps).map((s) => ({ ...s, startedAt: new Date(s.startedAt).toISOString(), endedAt: new Date(s.endedAt).toISOString() })),
  };
}

function runSummary(r: Run) {
  return {
    runId: r.runId, version: r.version, status: r.status, triggerType: r.triggerType, attempt: r.attempt,
    queuedAt: r.queuedAt.toISOString(), startedAt: r.startedAt?.toISOString() ?? null, endedAt: r.endedAt?.toISOString() ?? null,
    error: r.error,
  };
}

function command(type: 'run.retry-requested' | 'run.cancel-requested', run: Run, now: number): OutgoingEvent {
  const value: RunEvent = {
    eventId: randomUUID(), type, workspaceId: run.workspaceId, occurredAt: now, correlationId: run.correlationId,
    causationId: null, causationDepth: run.depth, runId: run.runId, workflowId: run.workflowId, version: run.version, stepKey: null, data: '{}',
  };
  return { key: run.workspaceId, value, headers: { 'hub.event-type': type, 'hub.run-id': run.runId } };
}

/** The last run of a page, from a cursor this API returned (or, as `before` once took, a date-time). */
function runsCursor(text: string, path: string): { queuedAt: Date; runId: string } {
  const m = /^(\d{1,15}):(run_[0-9a-f]{24})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (m) return { queuedAt: new Date(Number(m[1])), runId: m[2]! };
  const at = /^\d{4}-\d{2}-\d{2}T/.test(text) ? new Date(text) : null;
  // Before a date-time: every run queued at it or later is on earlier pages ('' sorts first).
  if (at && !Number.isNaN(at.getTime())) return { queuedAt: at, runId: '' };
  throw raise('QUERY_INVALID', `${path.slice(7)} is not a cursor this API returned (the previous page's nextCursor)`, { path });
}

/** A manual run: the request itself is its trigger event (a new causal chain). */
function requested(wf: WorkflowVersionRef, triggerEventId: string, trigger: unknown, now: number): { runId: string; run: Run; message: OutgoingEvent } {
  const { runId, request, message } = runRequested(wf, { eventId: triggerEventId, correlationId: triggerEventId, causationDepth: 0 }, wf.definition.trigger.type, trigger, now);
  return { runId, run: runFromRequest(request, new Date(now)), message };
}

export function runRoutes(app: FastifyInstance, d: ApiDeps): void {
  const tags = ['runs'];
  const wfParams = { type: 'object', required: ['workflowId'], properties: { workflowId: { type: 'string' } } } as const;
  const runParams = { type: 'object', required: ['runId'], properties: { runId: { type: 'string' } } } as const;
  const startBody = {
    type: 'object', additionalProperties: false, description: 'Optional: a global workflow starts with no body',
    properties: {
      recordIds: { type: 'array', minItems: 1, maxItems: BULK_MAX, items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'single: exactly one; bulk: up to 1000 (one run each)' },
      input: { type: 'object', description: 'Read by the steps as {{trigger.input...}}' },
    },
  } as const;
  const listQuery = {
    type: 'object', additionalProperties: false,
    properties: {
      status: { type: 'string', enum: [...runStatuses] },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
      cursor: { type: 'string', description: 'The previous page\'s `nextCursor`' },
      before: { type: 'string', description: 'Older name of `cursor` (also takes a date-time: runs queued before it)' },
    },
  } as const;
  const testBody = {
    type: 'object', required: ['trigger'], additionalProperties: false,
    properties: { trigger: { type: 'object', description: 'Sample trigger data, read by templates as {{trigger...}} (e.g. {"record": {...}} or {"body": {...}})' } },
  } as const;

  const ownWorkflow = async (principal: Principal, workflowId: string) => {
    const w = isWorkflowId(workflowId) ? await d.workflows.get(workflowId) : null;
    if (!w || w.workspaceId !== principal.workspaceId) throw raise('NOT_FOUND', `no workflow ${workflowId}`, { path: '/params/workflowId' });
    return w;
  };
  const ownRun = async (principal: Principal, runId: string) => {
    const r = isRunId(runId) ? await d.runs.get(runId) : null;
    if (!r || r.workspaceId !== principal.workspaceId) throw raise('NOT_FOUND', `no run ${runId}`, { path: '/params/runId' });
    return r;
  };
  app.post('/v1/workflows/:workflowId/runs', { config: { auth: 'workspace' }, schema: { tags, summary: 'Start runs by hand: {"recordIds"?, "input"?} → 202 {"runIds"} (bulk: one run per record)', params: wfParams, body: startBody } }, async (request, reply) => {
    const principal = principalOf(request);
    const w = await ownWorkflow(principal, (request.params as { workflowId: string }).workflowId);
    const body = request.body ?? {};
    if (!isPlainObject(body)) throw raise('BODY_INVALID', 'body must be a JSON object like {"recordIds": ["..."], "input": {...}}', { path: '' });
    for (const key of Object.keys(body)) if (!['recordIds', 'input'].includes(key)) throw raise('BODY_INVALID', `unknown field "${key}"; allowed: recordIds, input`, { path: `/${key}` });
    if (body.input !== undefined && !isPlainObject(body.input)) throw raise('BODY_INVALID', 'input must be a JSON object', { path: '/input' });
    if (w.status !== 'active' || w.activeVersion === null) throw raise('WORKFLOW_NOT_ACTIVE', `workflow ${w._id} is ${w.status}; activate it first`, { path: '/params/workflowId' });
    const version = await d.workflows.version(w._id, w.activeVersion);
    if (!version) throw raise('NOT_FOUND', `workflow ${w._id} has no version ${w.activeVersion}`, { path: '/params/workflowId' });
    const wf: WorkflowVersionRef = { workflowId: w._id, workspaceId: w.workspaceId, version: version.version, definition: version.definition };
    const trigger = version.definition.trigger;
    if (trigger.type !== 'manual' && trigger.type !== 'schedule') {
      throw raise('WORKFLOW_NOT_MANUAL', `workflow ${w._id} starts on ${trigger.type}; only manual and schedule workflows can be started by hand`, { path: '/params/workflowId' });
    }
    // A retried request with the same Idempotency-Key asks for the same runs.
    const key = request.headers['idempotency-key'];
    const requestId = typeof key === 'string' && key.length > 0 && key.length <= 200
      ? createHash('sha256').update(`${principal.workspaceId}\u0000${w._id}\u0000${key}`).digest('hex').slice(0, 32)
      : randomUUID();
    const input = (body.input ?? {}) as Record<string, unknown>;
    const now = d.now();
    let starts: { runId: string; run: Run; message: OutgoingEvent }[];
    const availability = trigger.type === 'manual' ? trigger.availability : 'global';
    if (availability === 'global') {
      if (body.recordIds !== undefined) throw raise('BODY_INVALID', 'this workflow runs without records (availability "global"); remove recordIds', { path: '/recordIds' });
      starts = [requested(wf, `manual:${requestId}`, trigger.type === 'schedule' ? { scheduledAt: new Date(now).toISOString(), manual: true, input } : { input }, now)];
    } else {
      const max = availability === 'single' ? 1 : BULK_MAX;
      const ids = body.recordIds;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > max) {
        throw raise('BODY_INVALID', availability === 'single' ? 'recordIds must list exactly one record id (availability "single")' : `recordIds must list 1 to ${BULK_MAX} record ids`, { path: '/recordIds' });
      }
      const unique = new Set<string>();
      ids.forEach((id, i) => {
        if (typeof id !== 'string' || id.length === 0 || id.length > 200) throw raise('BODY_INVALID', 'each record id must be a string of 1 to 200 characters', { path: `/recordIds/${i}` });
        if (unique.has(id)) throw raise('BODY_INVALID', `record id ${id} is listed twice`, { path: `/recordIds/${i}` });
        unique.add(id);
      });
      const object = (trigger as { object: string }).object;
      // Every record is checked before anything is requested: all runs start, or none.
      const records = await Promise.all((ids as string[]).map((id) => d.records.get(principal.workspaceId, object, id)));
      records.forEach((r, i) => {
        if (!r || r.deleted) throw raise('NOT_FOUND', `no ${object} record ${(ids as string[])[i]}`, { path: `/recordIds/${i}` });
      });
      starts = records.map((r) => requested(wf, `manual:${requestId}:${r!.recordId}`, { object, record: recordView(r!.recordId, r!.fields), input }, now));
    }
    // Recorded as queued before the request is published, so the run can be read (and
    // cancelled) as soon as the 202 is out; the executor takes the record over.
    const inserted = await Promise.all(starts.map((s) => d.runs.insert(s.run)));
    try {
      await d.bus.publish(d.runsTopic, starts.filter((_, i) => inserted[i]).map((s) => s.message));
    } catch (err) {
      await Promise.all(starts.filter((_, i) => inserted[i]).map((s) => d.runs.remove(s.runId).catch(() => undefined)));
      throw err;
    }
    d.log.info({ workspaceId: principal.workspaceId, workflowId: w._id, runs: starts.length }, 'manual runs requested');
    return reply.code(202).send({ runIds: starts.map((s) => s.runId) });
  });

  app.get('/v1/workflows/:workflowId/runs', { config: { auth: 'workspace' }, schema: { tags, summary: 'Runs of a workflow, newest first (?status=&limit=&cursor=); pages never skip or repeat a run', params: wfParams, querystring: listQuery } }, async (request) => {
    const principal = principalOf(request);
    const w = await ownWorkflow(principal, (request.params as { workflowId: string }).workflowId);
    // Known parameters, status and limit are checked by the route's schema.
    const q = request.query as { status?: RunStatus; limit: number; cursor?: string; before?: string };
    const limit = q.limit;
    const after = q.cursor !== undefined ? runsCursor(q.cursor, '/query/cursor') : q.before !== undefined ? runsCursor(q.before, '/query/before') : undefined;
    const runs = await d.runs.list(principal.workspaceId, w._id, { ...(q.status ? { status: q.status } : {}), limit, ...(after ? { after } : {}) });
    const last = runs.length === limit ? runs[runs.length - 1]! : null;
    const nextCursor = last ? Buffer.from(`${last.queuedAt.getTime()}:${last.runId}`).toString('base64url') : null;
    return { runs: runs.map(runSummary), nextCursor, next: nextCursor };
  });
  app.post('/v1/workflows/:workflowId/test', { config: { auth: 'workspace' }, schema: { tags, summary: 'Dry run of the latest version on a sample trigger: record writes, HTTP calls and emails are computed and shown, not performed', params: wfParams, body: testBody } }, async (request) => {
    const principal = principalOf(request);
    const w = await ownWorkflow(principal, (request.params as { workflowId: string }).workflowId);
    const body = request.body;
    if (!isPlainObject(body)) throw raise('BODY_INVALID', 'body must be a JSON object like {"trigger": {...sample trigger data...}}', { path: '' });
    for (const key of Object.keys(body)) if (key !== 'trigger') throw raise('BODY_INVALID', `unknown field "${key}"; allowed: trigger`, { path: `/${key}` });
    if (!isPlainObject(body.trigger)) throw raise('BODY_INVALID', 'trigger must be an object: the data templates read as {{trigger...}} (e.g. {"record": {...}} or {"body": {...}})', { path: '/trigger' });
    const version = await d.workflows.version(w._id, w.version);
    if (!version) throw raise('NOT_FOUND', `workflow ${w._id} has no version ${w.version}`, { path: '/params/workflowId' });
    const runId = `dry_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    const steps: StepRecord[] = [];
    const outcome = await executeRun({
      runId, workspaceId: principal.workspaceId, workflowId: w._id, version: version.version, definition: version.definition, trigger: body.trigger,
      triggerEventId: `test:${runId}`, correlationId: runId, depth: 0, dryRun: true, recorded: {},
      onStep: async (s) => { steps.push(s); }, signal: AbortSignal.timeout(d.dryRun.timeoutMs),
    }, { handlers: d.dryRun.handlers, stepTimeoutMs: d.dryRun.stepTimeoutMs, stepMaxAttempts: 1, retryBackoffMs: 0, retryBackoffMaxMs: 0, now: d.now, log: d.log });
    return {
      dryRun: true, workflowId: w._id, version: version.version,
      status: outcome.status === 'cancelled' ? 'failed' : outcome.status,
      error: outcome.status === 'failed' ? outcome.error : outcome.status === 'cancelled' ? { code: 'DRY_RUN_TIMEOUT', message: `the dry run did not finish within ${d.dryRun.timeoutMs} ms`, retriable: false, stepKey: null } : null,
      steps: steps.map((s) => ({ ...s, startedAt: new Date(s.startedAt).toISOString(), endedAt: new Date(s.endedAt).toISOString() })),
    };
  });
  app.get('/v1/runs/:runId', { config: { auth: 'workspace' }, schema: { tags, summary: 'A run: status, version, trigger and every step (input, output, error, attempts, start, end)', params: runParams } }, async (request) => {
    const principal = principalOf(request);
    return runView(await ownRun(principal, (request.params as { runId: string }).runId));
  });
  app.post('/v1/runs/:runId/retry', { config: { auth: 'workspace' }, schema: { tags, summary: 'Resume a failed run from its failed step (completed steps are not repeated); no body', params: runParams } }, async (request, reply) => {
    const principal = principalOf(request);
    const run = await ownRun(principal, (request.params as { runId: string }).runId);
    if (run.status !== 'failed') throw raise('RUN_NOT_RETRIABLE', `run ${run.runId} is ${run.status}; only failed runs can be retried`, { path: '/params/runId' });
    await d.bus.publish(d.runsTopic, [command('run.retry-requested', run, d.now())]);
    return reply.code(202).send({ runId: run.runId, status: 'queued', attempt: run.attempt + 1 });
  });
  app.post('/v1/runs/:runId/cancel', { config: { auth: 'workspace' }, schema: { tags, summary: 'Cancel a queued or running run (a running step finishes or is interrupted; no further step starts); no body', params: runParams } }, async (request, reply) => {
    const principal = principalOf(request);
    const run = await ownRun(principal, (request.params as { runId: string }).runId);
    if (run.status !== 'queued' && run.status !== 'running') throw raise('RUN_ALREADY_ENDED', `run ${run.runId} is ${run.status}`, { path: '/params/runId' });
    await d.bus.publish(d.runsTopic, [command('run.cancel-requested', run, d.now())]);
    return reply.code(202).send({ runId: run.runId, status: 'cancelling' });
  });
}

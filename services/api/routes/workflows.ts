import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf, type Principal } from '../../../libs/http-server/auth.ts';
import { parseWorkflowDefinition, workflowDefinitionSchema } from '../../../libs/workflow/validate.ts';
import type { WorkflowDefinition } from '../../../libs/contracts/workflow.ts';
import { externalEnvelope } from '../../../libs/kafka/envelope.ts';
import type { WorkflowChanged } from '../../../libs/kafka/events.ts';
import { isWorkflowId, newWorkflowId, versionKey, type WorkflowDocument, type WorkflowVersionDocument } from '../store/workflows.ts';
import { newHookId, type HookDocument } from '../../../libs/store/hooks.ts';

function stateView(w: WorkflowDocument, publicUrl: string) {
  return {
    workflowId: w._id, name: w.name, status: w.status, version: w.version, activeVersion: w.activeVersion,
    hook: w.hookId ? { hookId: w.hookId, url: `${publicUrl}/hooks/${w.hookId}` } : null,
    createdAt: w.createdAt.toISOString(), updatedAt: w.updatedAt.toISOString(),
  };
}

/** The definition as published and shown: a webhook trigger's secret never leaves the store, sealed. */
function withoutSecret(def: WorkflowDefinition): { definition: WorkflowDefinition; secret: string | null } {
  if (def.trigger.type !== 'webhook' || def.trigger.secret === null) return { definition: def, secret: null };
  return { definition: { ...def, trigger: { ...def.trigger, secret: null } }, secret: def.trigger.secret };
}

/**
 * Workflow definitions and their versions. Every change is published to the compacted
 * hub.workflows topic (acks=all) before the projection is written and the answer sent;
 * a version number is claimed in the store first, so two concurrent saves never both
 * become version n.
 */
export function workflowRoutes(app: FastifyInstance, d: ApiDeps): void {
  const tags = ['workflows'];
  const params = { type: 'object', required: ['workflowId'], properties: { workflowId: { type: 'string' } } } as const;
  // The schema parseWorkflowDefinition validates with, for /docs. The handler is the one
  // to apply it: its 400s (WORKFLOW_INVALID) name the path its own way, so the route's
  // validation skips the body (and still checks the path parameter).
  app.addSchema(workflowDefinitionSchema());
  const body = { $ref: 'WorkflowDefinition#' } as const;
  const shared = app.validatorCompiler!;
  const validatorCompiler: FastifySchemaCompiler<unknown> = (route) => (route.httpPart === 'body' ? () => true : shared(route));
  const saving = { auth: 'workspace' } as const;

  const own = async (principal: Principal, workflowId: string) => {
    const w = isWorkflowId(workflowId) ? await d.workflows.get(workflowId) : null;
    if (!w || w.workspaceId !== principal.workspaceId) throw raise('NOT_FOUND', `no workflow ${workflowId}`, { path: '/params/workflowId' });
    return w;
  };

  const publish = async (type: WorkflowChanged['type'], state: WorkflowDocument, version: WorkflowVersionDocument | null) => {
    const base = externalEnvelope(type, state.workspaceId, d.now());
    const messages = [];
    if (version) {
      messages.push({
        key: versionKey(state._id, version.version),
        value: { ...base, eventId: randomUUID(), type, workflowId: state._id, kind: 'version', name: version.definition.name, status: 'version', version: version.version, activeVersion: null, definition: JSON.stringify(version.definition), hookId: null } satisfies WorkflowChanged,
      });
    }
    messages.push({
      key: state._id,
      value: { ...base, type, workflowId: state._id, kind: 'state', name: state.name, status: state.status, version: state.version, activeVersion: state.activeVersion, definition: null, hookId: state.hookId } satisfies WorkflowChanged,
    });
    await d.bus.publish(d.workflowsTopic, messages);
  };

  /** Claims the next version, publishes it with the new state, then projects the state. */
  const saveVersion = async (principal: Principal, current: WorkflowDocument | null, body: unknown) => {
    const parsed = parseWorkflowDefinition(body);
    const { definition, secret } = withoutSecret(parsed);
    const workflowId = current?._id ?? newWorkflowId();
    const version = (current?.version ?? 0) + 1;
    const now = new Date(d.now());
    const versionDoc: WorkflowVersionDocument = {
      _id: versionKey(workflowId, version), workflowId, workspaceId: principal.workspaceId, version, definition,
      sealedSecret: secret === null ? null : d.secrets.seal(secret, `workflow:${workflowId}`), createdAt: now,
    };
    if (!(await d.workflows.claimVersion(versionDoc))) {
      throw raise('WORKFLOW_CONFLICT', `workflow ${workflowId} was saved concurrently; read it and retry`, { path: '/params/workflowId' });
    }
    const state: WorkflowDocument = current
      ? { ...current, name: definition.name, version, updatedAt: now }
      : { _id: workflowId, workspaceId: principal.workspaceId, name: definition.name, status: 'draft', version, activeVersion: null, hookId: null, createdAt: now, updatedAt: now };
    try {
      await publish('workflow.saved', state, versionDoc);
    } catch (err) {
      await d.workflows.releaseVersion(workflowId, version).catch(() => undefined);
      throw err;
    }
    await d.workflows.putState(state);
    d.log.info({ workspaceId: principal.workspaceId, workflowId, version }, 'workflow saved');
    return state;
  };
  app.post('/v1/workflows', { config: saving, validatorCompiler, schema: { tags, summary: 'Create a workflow: {"name", "trigger", "steps"} → version 1, draft', body } }, async (request, reply) => {
    const principal = principalOf(request);
    const state = await saveVersion(principal, null, request.body);
    return reply.code(201).send({ workflowId: state._id, version: state.version, status: state.status });
  });
  app.get('/v1/workflows', { config: { auth: 'workspace' }, schema: { tags, summary: 'List the workspace\'s workflows' } }, async (request) => {
    const principal = principalOf(request);
    return { workflows: (await d.workflows.list(principal.workspaceId)).map((w) => stateView(w, d.publicUrl)) };
  });
  app.get('/v1/workflows/:workflowId', { config: { auth: 'workspace' }, schema: { tags, summary: 'A workflow with all its versions', params } }, async (request) => {
    const principal = principalOf(request);
    const w = await own(principal, (request.params as { workflowId: string }).workflowId);
    const versions = await d.workflows.versions(w._id);
    return { ...stateView(w, d.publicUrl), versions: versions.map((v) => ({ version: v.version, definition: v.definition, createdAt: v.createdAt.toISOString() })) };
  });
  app.put('/v1/workflows/:workflowId', { config: saving, validatorCompiler, schema: { tags, summary: 'Save a new version (an active workflow keeps running its active version until activated again)', params, body } }, async (request) => {
    const principal = principalOf(request);
    const w = await own(principal, (request.params as { workflowId: string }).workflowId);
    const state = await saveVersion(principal, w, request.body);
    return { workflowId: state._id, version: state.version, status: state.status, activeVersion: state.activeVersion };
  });
  app.post('/v1/workflows/:workflowId/activate', { config: { auth: 'workspace' }, schema: { tags, summary: 'Activate the latest version (a webhook trigger gets its hook URL); no body', params } }, async (request) => {
    const principal = principalOf(request);
    const w = await own(principal, (request.params as { workflowId: string }).workflowId);
    const latest = await d.workflows.version(w._id, w.version);
    if (!latest) throw raise('NOT_FOUND', `workflow ${w._id} has no version ${w.version}`, { path: '/params/workflowId' });
    let hookId = w.hookId;
    const trigger = latest.definition.trigger;
    if (trigger.type === 'webhook') {
      const now = new Date(d.now());
      const id = hookId ?? newHookId();
      const secret = latest.sealedSecret ? d.secrets.open(latest.sealedSecret, `workflow:${w._id}`).reveal() : null;
      const secrets = secret ? [{ id: randomUUID().slice(0, 8), sealed: d.secrets.seal(secret, `hook:${id}`), createdAt: now, expiresAt: null }] : [];
      if (hookId && (await d.hooks.get(hookId))) {
        await d.hooks.update(hookId, { status: 'active', methods: trigger.methods, expectedBody: trigger.expectedBody, secrets, name: `workflow ${w.name}` });
      } else {
        const hook: HookDocument = { _id: id, workspaceId: w.workspaceId, name: `workflow ${w.name}`, methods: trigger.methods, expectedBody: trigger.expectedBody, secrets, status: 'active', workflowId: w._id, createdAt: now, updatedAt: now };
        await d.hooks.insert(hook);
      }
      hookId = id;
    } else if (hookId) {
      await d.hooks.update(hookId, { status: 'disabled' });
      hookId = null;
    }
    const state: WorkflowDocument = { ...w, status: 'active', activeVersion: w.version, hookId, updatedAt: new Date(d.now()) };
    await publish('workflow.activated', state, null);
    await d.workflows.putState(state);
    d.log.info({ workspaceId: w.workspaceId, workflowId: w._id, version: w.version }, 'workflow activated');
    return stateView(state, d.publicUrl);
  });
  app.post('/v1/workflows/:workflowId/deactivate', { config: { auth: 'workspace' }, schema: { tags, summary: 'Deactivate (its hook, if any, answers 410); no body', params } }, async (request) => {
    const principal = principalOf(request);
    const w = await own(principal, (request.params as { workflowId: string }).workflowId);
    if (w.hookId) await d.hooks.update(w.hookId, { status: 'disabled' });
    const state: WorkflowDocument = { ...w, status: 'inactive', updatedAt: new Date(d.now()) };
    await publish('workflow.deactivated', state, null);
    await d.workflows.putState(state);
    d.log.info({ workspaceId: w.workspaceId, workflowId: w._id }, 'workflow deactivated');
    return stateView(state, d.publicUrl);
  });
}

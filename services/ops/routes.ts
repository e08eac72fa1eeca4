/**
 * The ops service's HTTP routes. The api forwards the operator's `/v1/admin/…` routes
 * here unchanged (the admin token travels with them), and the workspace routes as
 * `/internal/workspaces/:ws/…` after it has checked the workspace's key, so a workspace
 * sees only its own parked messages and backfills. Bodies are validated here: a
 * refusal names the field, whichever process the caller reached.
 */
import type { FastifyInstance } from 'fastify';
import { raise } from '../../libs/errors/index.ts';
import { consumerGroups, isHubGroup } from '../../libs/kafka/groups.ts';
import type { Sampler } from './sampler.ts';
import type { Dlq } from './dlq.ts';
import type { Replays } from './replays.ts';
import { alertsSchema, type Alerts, type AlertRule } from './alerts.ts';
import type { OpsMetrics } from './metrics.ts';

export interface OpsRouteDeps {
  sampler: Sampler;
  dlq: Dlq;
  replays: Replays;
  alerts: Alerts;
  metrics: OpsMetrics;
  /** Waits for a first sample when none was taken yet. */
  snapshot(): Promise<NonNullable<ReturnType<Sampler['latest']>>>;
}

const admin = { auth: 'admin' } as const;
const offsetsOrTime = {
  type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1,
  properties: {
    timestamp: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'integer', minimum: 0 }] },
    offsets: { type: 'object', maxProperties: 20, additionalProperties: { type: 'object', maxProperties: 1000, additionalProperties: { type: 'integer', minimum: 0 } } },
  },
} as const;
const replaySchema = {
  type: 'object', additionalProperties: false,
  properties: { group: { type: 'string', minLength: 1, maxLength: 200 }, projection: { type: 'string', minLength: 1, maxLength: 200 }, from: offsetsOrTime, to: offsetsOrTime, dryRun: { type: 'boolean' } },
} as const;
const backfillSchema = {
  type: 'object', additionalProperties: false, required: ['from'],
  properties: { from: offsetsOrTime, to: offsetsOrTime, dryRun: { type: 'boolean' } },
} as const;
const redriveSchema = {
  type: 'object', additionalProperties: false,
  properties: { ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 300 } }, dryRun: { type: 'boolean' } },
} as const;
const listQuery = {
  type: 'object', additionalProperties: false,
  properties: { status: { type: 'string', enum: ['parked', 'redriving', 'redriven'] }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, after: { type: 'string', maxLength: 300 } },
} as const;
const str = (name: string) => ({ type: 'object', required: [name], properties: { [name]: { type: 'string', minLength: 1, maxLength: 300 } } }) as const;
const params = (...names: string[]) => ({ type: 'object', required: names, properties: Object.fromEntries(names.map((n) => [n, { type: 'string', minLength: 1, maxLength: 300 }])) }) as const;

export function opsRoutes(app: FastifyInstance, d: OpsRouteDeps): void {
  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
  app.get('/metrics', { config: { auth: 'public' } }, async (request, reply) => {
    if (request.headers.accept === 'application/json') return reply.send(await d.metrics.registry.getMetricsAsJSON());
    return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });

  /** A hub group that exists (known, or seen by the sampler); else 400 naming the parameter. */
  const knownGroup = async (group: string, path = '/params/group') => {
    const snap = await d.snapshot();
    if (!isHubGroup(group) || (!consumerGroups[group] && !snap.groups.some((g) => g.group === group))) {
      throw raise('GROUP_UNKNOWN', `no consumer group "${group}"; groups: ${snap.groups.map((g) => g.group).join(', ')}`, { path });
    }
  };

  app.get('/v1/admin/topics', { config: admin }, async () => {
    const s = await d.snapshot();
    return { sampledAt: new Date(s.at).toISOString(), topics: s.topics };
  });
  app.get('/v1/admin/consumers', { config: admin }, async () => {
    const s = await d.snapshot();
    return { sampledAt: new Date(s.at).toISOString(), groups: s.groups };
  });
  app.get('/v1/admin/consumers/:group', { config: admin, schema: { params: str('group'), querystring: { type: 'object', additionalProperties: false, properties: { minutes: { type: 'integer', minimum: 1, maximum: 60, default: 60 } } } } }, async (request) => {
    const { group } = request.params as { group: string };
    const { minutes } = request.query as { minutes: number };
    await knownGroup(group);
    const s = await d.snapshot();
    const view = s.groups.find((g) => g.group === group)!;
    return { sampledAt: new Date(s.at).toISOString(), ...view, history: d.sampler.history(group, minutes * 60_000).map((p) => ({ at: new Date(p.at).toISOString(), lagMessages: p.lagMessages, lagSeconds: p.lagSeconds })) };
  });

  app.get('/v1/admin/alerts', { config: admin }, async () => d.alerts.get());
  app.put('/v1/admin/alerts', { config: admin, schema: { body: alertsSchema } }, async (request) => {
    const body = request.body as { rules: AlertRule[]; channels?: { email?: string[]; chat?: string[] } };
    const ids = new Set<string>();
    for (const [i, r] of body.rules.entries()) {
      if (ids.has(r.id)) throw raise('BODY_INVALID', `rule id "${r.id}" is used twice`, { path: `/rules/${i}/id` });
      ids.add(r.id);
      if (r.when === 'lag_seconds_above' && r.seconds === undefined) throw raise('BODY_INVALID', 'a lag_seconds_above rule needs "seconds"', { path: `/rules/${i}/seconds` });
      if (r.group !== undefined) await knownGroup(r.group, `/rules/${i}/group`);
    }
    return d.alerts.put(body);
  });

  app.get('/v1/admin/dlq/:group', { config: admin, schema: { params: str('group'), querystring: listQuery } }, async (request) => {
    const { group } = request.params as { group: string };
    const q = request.query as { status?: string; limit: number; after?: string };
    await knownGroup(group);
    return { group, ...(await d.dlq.list({ group, ...(q.status ? { status: q.status } : {}) }, q.limit, q.after ?? null)) };
  });
  app.get('/v1/admin/dlq/:group/:id', { config: admin, schema: { params: params('group', 'id') } }, async (request) => {
    const { group, id } = request.params as { group: string; id: string };
    await knownGroup(group);
    const e = await d.dlq.get(id);
    if (!e || e.group !== group) throw raise('NOT_FOUND', `no parked message ${id} of ${group}`, { path: '/params/id' });
    return e;
  });
  app.post('/v1/admin/dlq/:group/redrive', { config: admin, schema: { params: str('group'), body: redriveSchema } }, async (request) => {
    const { group } = request.params as { group: string };
    const body = (request.body ?? {}) as { ids?: string[]; dryRun?: boolean };
    await knownGroup(group);
    return d.dlq.redrive({ group, ...(body.ids ? { ids: body.ids } : {}), dryRun: body.dryRun ?? false });
  });

  app.post('/v1/admin/replays', { config: admin, schema: { body: replaySchema } }, async (request, reply) => {
    const body = (request.body ?? {}) as Parameters<Replays['start']>[0];
    const r = await d.replays.start(body);
    return reply.code(r.dryRun ? 200 : 202).send(r);
  });
  app.get('/v1/admin/replays', { config: admin }, async () => ({ replays: await d.replays.list() }));
  app.get('/v1/admin/replays/:replayId', { config: admin, schema: { params: str('replayId') } }, async (request) => {
    const { replayId } = request.params as { replayId: string };
    const r = await d.replays.get(replayId);
    if (!r) throw raise('NOT_FOUND', `no replay ${replayId}`, { path: '/params/replayId' });
    return r;
  });
  app.post('/v1/admin/replays/:replayId/cancel', { config: admin, schema: { params: str('replayId') } }, async (request) => {
    const { replayId } = request.params as { replayId: string };
    const r = await d.replays.cancel(replayId);
    if (!r) throw raise('NOT_FOUND', `no replay ${replayId}`, { path: '/params/replayId' });
    return r;
  });
  app.post('/v1/admin/projections/:projection/verify', { config: admin, schema: { params: str('projection') } }, async (request, reply) => {
    const { projection } = request.params as { projection: string };
    if (projection !== 'records') throw raise('PROJECTION_UNKNOWN', `no projection "${projection}"; projections: records`, { path: '/params/projection' });
    return reply.code(202).send(await d.replays.verify());
  });

  // A workspace's own: the api has checked its key and, for a workflow, that the workflow is the workspace's.
  const ws = '/internal/workspaces/:workspaceId';
  app.get(`${ws}/dlq`, { config: admin, schema: { params: str('workspaceId'), querystring: listQuery } }, async (request) => {
    const { workspaceId } = request.params as { workspaceId: string };
    const q = request.query as { status?: string; limit: number; after?: string };
    return d.dlq.list({ workspaceId, ...(q.status ? { status: q.status } : {}) }, q.limit, q.after ?? null);
  });
  app.post(`${ws}/dlq/redrive`, { config: admin, schema: { params: str('workspaceId'), body: redriveSchema } }, async (request) => {
    const { workspaceId } = request.params as { workspaceId: string };
    const body = (request.body ?? {}) as { ids?: string[]; dryRun?: boolean };
    return d.dlq.redrive({ workspaceId, ...(body.ids ? { ids: body.ids } : {}), dryRun: body.dryRun ?? false });
  });
  app.post(`${ws}/workflows/:workflowId/replay`, { config: admin, schema: { params: params('workspaceId', 'workflowId'), body: backfillSchema } }, async (request, reply) => {
    const { workspaceId, workflowId } = request.params as { workspaceId: string; workflowId: string };
    const body = request.body as { from: never; to?: never; dryRun?: boolean };
    const r = await d.replays.backfill({ workspaceId, workflowId, ...body });
    return reply.code(r.dryRun ? 200 : 202).send(r);
  });
  app.get(`${ws}/workflows/:workflowId/replays`, { config: admin, schema: { params: params('workspaceId', 'workflowId') } }, async (request) => {
    const { workspaceId, workflowId } = request.params as { workspaceId: string; workflowId: string };
    return { replays: await d.replays.list({ workspaceId, workflowId }) };
  });
  app.get(`${ws}/workflows/:workflowId/replays/:replayId`, { config: admin, schema: { params: params('workspaceId', 'workflowId', 'replayId') } }, async (request) => {
    const { workspaceId, workflowId, replayId } = request.params as { workspaceId: string; workflowId: string; replayId: string };
    const r = await d.replays.get(replayId, { workspaceId, workflowId });
    if (!r) throw raise('NOT_FOUND', `no replay ${replayId} of this workflow`, { path: '/params/replayId' });
    return r;
  });
  app.post(`${ws}/workflows/:workflowId/replays/:replayId/cancel`, { config: admin, schema: { params: params('workspaceId', 'workflowId', 'replayId') } }, async (request) => {
    const { workspaceId, workflowId, replayId } = request.params as { workspaceId: string; workflowId: string; replayId: string };
    const r = await d.replays.cancel(replayId, { workspaceId, workflowId });
    if (!r) throw raise('NOT_FOUND', `no replay ${replayId} of this workflow`, { path: '/params/replayId' });
    return r;
  });
}

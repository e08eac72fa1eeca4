/**
 * Operating the hub: monitoring, alerts, DLQ, replays. The ops service computes and
 * answers them (services/ops); the api declares the routes (auth, /docs) and forwards:
 * the operator's `/v1/admin/…` unchanged, a workspace's after its key is checked, as
 * `/internal/workspaces/<its id>/…`, so a workspace reaches only its own. Bodies are
 * validated by ops, so refusals name the field whichever process answered.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/errors/index.ts';
import { principalOf } from '../../../libs/http-server/auth.ts';

export interface OpsClient {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

/** Asks the ops service with the admin token; 503 OPS_UNAVAILABLE when it cannot be reached. */
export function createOpsClient(o: { url: string; adminToken: string; timeoutMs?: number }): OpsClient {
  const base = o.url.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${o.adminToken}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(o.timeoutMs ?? 60_000),
        });
      } catch (err) {
        throw raise('OPS_UNAVAILABLE', 'the ops service did not answer; retry shortly', { cause: err });
      }
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) as unknown : null };
    },
  };
}

const queryOf = (request: FastifyRequest) => {
  const i = request.url.indexOf('?');
  return i < 0 ? '' : request.url.slice(i);
};

export function operateRoutes(app: FastifyInstance, d: ApiDeps): void {
  const admin = { auth: 'admin' } as const;
  const workspace = { auth: 'workspace' } as const;
  const tags = ['operate'];
  const send = async (reply: FastifyReply, method: string, path: string, body?: unknown) => {
    const r = await d.ops.call(method, path, body);
    return reply.code(r.status).send(r.body);
  };
  const same = async (request: FastifyRequest, reply: FastifyReply) => send(reply, request.method, request.url, request.method === 'GET' ? undefined : request.body ?? {});

  // The operator's routes are ops' own, forwarded as they are: (method, url, summary for /docs).
  const adminRoutes: [HTTPMethods, string, string][] = [
    ['GET', '/v1/admin/topics', 'Every hub topic: partitions, offsets, messages/s and bytes/s in (1 and 5 min), retention, compaction'],
    ['GET', '/v1/admin/consumers', 'Every consumer group: state, members, and per partition the committed and end offsets, lag in messages and seconds, status (ok, lagging, stalled, idle)'],
    ['GET', '/v1/admin/consumers/:group', 'One group, with the last hour of its lag (?minutes=)'],
    ['GET', '/v1/admin/alerts', 'Alert rules, channels (chat webhooks by host), what fires now and recent messages'],
    ['PUT', '/v1/admin/alerts', 'Replace the alert rules and channels: {"rules": [{"id", "when": lag_seconds_above|dlq_grew|group_stalled|group_no_members, "group"?, "seconds"?, "forMinutes"?}], "channels": {"email"?, "chat"?}}'],
    ['GET', '/v1/admin/dlq/:group', 'Messages a group parked: origin, key, error, when, the value decoded and masked (?status=&limit=&after=)'],
    ['GET', '/v1/admin/dlq/:group/:id', 'One parked message'],
    ['POST', '/v1/admin/dlq/:group/redrive', 'Put parked messages back on their topic, each once: {"ids"?, "dryRun"?}'],
    ['POST', '/v1/admin/replays', 'Plan (dryRun) or start a replay of a group or a projection rebuild: {"group"|"projection", "from"?: {"timestamp"}|{"offsets"}, "to"?, "dryRun"?}'],
    ['GET', '/v1/admin/replays', 'Recent replays, rebuilds and backfills'],
    ['GET', '/v1/admin/replays/:replayId', 'A replay\'s progress: done of total, rate, eta, result'],
    ['POST', '/v1/admin/replays/:replayId/cancel', 'Cancel a running replay'],
    ['POST', '/v1/admin/projections/:projection/verify', 'Rebuild a projection twice into scratch collections and compare their content hashes (a replay; read its result)'],
  ];
  for (const [method, url, summary] of adminRoutes) app.route({ method, url, config: admin, schema: { tags, summary }, handler: same });

  const own = (request: FastifyRequest) => `/internal/workspaces/${encodeURIComponent(principalOf(request).workspaceId)}`;
  const ownWorkflow = async (request: FastifyRequest) => {
    const { workflowId } = request.params as { workflowId: string };
    const w = await d.workflows.get(workflowId);
    if (!w || w.workspaceId !== principalOf(request).workspaceId) throw raise('NOT_FOUND', `no workflow ${workflowId}`, { path: '/params/workflowId' });
    return `${own(request)}/workflows/${encodeURIComponent(workflowId)}`;
  };
  app.get('/v1/dlq', { config: workspace, schema: { tags, summary: 'The workspace\'s own parked messages (?status=&limit=&after=)' } }, async (request, reply) => send(reply, 'GET', `${own(request)}/dlq${queryOf(request)}`));
  app.post('/v1/dlq/redrive', { config: workspace, schema: { tags, summary: 'Redrive the workspace\'s own parked messages: {"ids"?, "dryRun"?}' } }, async (request, reply) => send(reply, 'POST', `${own(request)}/dlq/redrive`, request.body ?? {}));
  app.post('/v1/workflows/:workflowId/replay', { config: workspace, schema: { tags, summary: 'Backfill: run an active workflow over past events of its trigger: {"from", "to"?, "dryRun"?}; a dry run answers how many runs it would start' } }, async (request, reply) => send(reply, 'POST', `${await ownWorkflow(request)}/replay`, request.body ?? {}));
  app.get('/v1/workflows/:workflowId/replays', { config: workspace, schema: { tags, summary: 'A workflow\'s backfills' } }, async (request, reply) => send(reply, 'GET', `${await ownWorkflow(request)}/replays`));
  app.get('/v1/workflows/:workflowId/replays/:replayId', { config: workspace, schema: { tags, summary: 'A backfill\'s progress' } }, async (request, reply) => {
    const { replayId } = request.params as { replayId: string };
    return send(reply, 'GET', `${await ownWorkflow(request)}/replays/${encodeURIComponent(replayId)}`);
  });
  app.post('/v1/workflows/:workflowId/replays/:replayId/cancel', { config: workspace, schema: { tags, summary: 'Cancel a running backfill' } }, async (request, reply) => {
    const { replayId } = request.params as { replayId: string };
    return send(reply, 'POST', `${await ownWorkflow(request)}/replays/${encodeURIComponent(replayId)}/cancel`, {});
  });
}

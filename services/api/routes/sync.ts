import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { raise as raiseAny } from '../../../libs/errors/index.ts';
import { principalOf } from '../../../libs/http-server/auth.ts';
import {
  enabledObjects, hubObjectsOf, objectConfigSchema, objectConfig, objectView, parseObjectConfig, seedObjects, supports, syncApps,
  type SeedObject, type SyncApp, type SyncConnection,
} from '../../../libs/sync/connections.ts';
import { allowed, statusOf, transitions, type ObjectPhase, type UserAction } from '../../../libs/sync/lifecycle.ts';
import { connectionMessage, inboundMessage } from '../../../libs/sync/messages.ts';
import { appWebhooks } from '../../../libs/sync/webhooks.ts';
import type { SyncInboundType } from '../../../libs/kafka/events.ts';
import { recordStates, type ObjectStateDocument, type RecordState } from '../../../libs/store/sync.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const ID = /^sc_[A-Za-z0-9_-]{10,40}$/;
const HOUR_MS = 3600_000;

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/**
 * Data-sync connections (seed 003): connect an app account, choose objects and their
 * settings, activate (initial sync, then continuous), pause, resume, delete; read the
 * status, counts, latencies and the records by state; resync deleted records. Every
 * change is published on the compacted `sync.connections` topic before it is stored and
 * answered; work for the reconciler goes on `sync.inbound`, keyed by (connection, object).
 */
export function syncRoutes(app: FastifyInstance, d: ApiDeps): void {
  const tags = ['sync'];
  const auth = { auth: 'workspace' } as const;
  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;
  const objectParams = { type: 'object', required: ['id', 'object'], properties: { id: { type: 'string' }, object: { type: 'string', enum: [...seedObjects] } } } as const;
  const webhookUrl = (id: string) => `${d.publicUrl}/hooks/sync/${id}`;

  const own = async (request: FastifyRequest): Promise<SyncConnection> => {
    const principal = principalOf(request);
    const { id } = request.params as { id: string };
    const c = ID.test(id) ? await d.sync.connections.get(id) : null;
    // Another workspace's connection is not there, as far as this key can tell.
    if (!c || c.workspaceId !== principal.workspaceId || c.state === 'deleted') throw raise('NOT_FOUND', `no sync connection ${id}`, { path: '/params/id' });
    return c;
  };

  const phasesOf = (c: SyncConnection, states: ObjectStateDocument[]): (ObjectPhase | undefined)[] =>
    enabledObjects(c).map((o) => states.find((s) => s.object === o)?.phase);

  const view = async (c: SyncConnection, detail: boolean) => {
    const states = await d.sync.state.objectStates(c.connectionId);
    const counts = detail ? await d.sync.state.counts(c.connectionId) : {};
    const now = d.now();
    const status = statusOf(c.state, phasesOf(c, states));
    const objects: Record<string, unknown> = {};
    for (const seed of seedObjects) {
      if (!supports(c.app, seed)) continue;
      const config = objectConfig(c, seed);
      const mine = states.filter((s) => hubObjectsOf[seed].includes(s.object as never));
      const samples = mine.flatMap((s) => s.sampleMs.filter((_, i) => s.sampleAt[i]! > now - HOUR_MS)).sort((a, b) => a - b);
      const last = Math.max(0, ...mine.map((s) => s.lastSyncedAt ?? 0));
      const count = (state: RecordState) => hubObjectsOf[seed].reduce((n, o) => n + (counts[o]?.[state] ?? 0), 0);
      objects[seed] = {
        enabled: config.enabled, direction: config.direction, conflictWinner: config.conflictWinner,
        ...(detail ? { counts: { inSync: count('in-sync'), excluded: count('excluded'), failing: count('failing'), deleted: count('deleted') } } : {}),
        lastSyncedAt: last > 0 ? new Date(last).toISOString() : null,
        latencyMs: { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), samples: samples.length },
        ...(mine.some((s) => s.error) ? { error: mine.find((s) => s.error)!.error } : {}),
      };
    }
    return {
      connectionId: c.connectionId, app: c.app, name: c.name, status, credential: c.credential, webhookCredential: c.webhookCredential,
      baseUrl: c.baseUrl, pollIntervalMs: c.pollIntervalMs, webhookUrl: webhookUrl(c.connectionId), webhookEvents: appWebhooks[c.app].events(enabledObjects(c)), revision: c.revision,
      createdAt: c.createdAt, updatedAt: c.updatedAt, objects,
    };
  };

  /** Publishes the connection (acks=all), then stores it: the topic is the source of truth. */
  const save = async (c: SyncConnection, type: string) => {
    await d.bus.publish(d.sync.connectionsTopic, [connectionMessage(c, type, d.now())]);
    await d.sync.connections.put(c);
  };

  const request = async (c: SyncConnection, type: SyncInboundType, objects: readonly string[], data: Record<string, unknown> = {}) => {
    if (objects.length === 0) return;
    await d.bus.publish(d.sync.inboundTopic, objects.map((object) => inboundMessage({ workspaceId: c.workspaceId, connectionId: c.connectionId, object, type, data }, d.now())));
  };

  const checkCredential = async (workspaceId: string, name: string, types: readonly string[], path: string) => {
    const found = await d.credentials.get(workspaceId, name);
    if (!found) throw raise('BODY_INVALID', `no credential ${name}; store it first with POST /v1/credentials`, { path });
    if (!types.includes(found.type)) throw raise('BODY_INVALID', `credential ${name} is a ${found.type} credential; this needs ${types.join(' or ')}`, { path });
  };

  const createBody = {
    type: 'object', required: ['app', 'name', 'credential'], additionalProperties: false,
    properties: {
      app: { type: 'string', enum: [...syncApps] },
      name: { type: 'string', minLength: 1, maxLength: 200 },
      credential: { type: 'string', pattern: NAME.source, description: 'a stored bearer credential: the app\'s token or API key' },
      webhookCredential: { type: 'string', pattern: NAME.source, description: 'a stored webhook-secret credential: the app\'s webhook signing secret' },
      baseUrl: { type: 'string', maxLength: 500, description: 'default: the app\'s real API' },
      pollIntervalMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, description: 'polling reconciliation interval (default HUB_SYNC_POLL_INTERVAL_MS)' },
    },
  } as const;

  app.post('/v1/sync/connections', { config: auth, schema: { tags, summary: 'Connect an app account (draft): {"app", "name", "credential", "webhookCredential"?, "baseUrl"?}', body: createBody } }, async (req, reply) => {
    const principal = principalOf(req);
    const b = req.body as { app: SyncApp; name: string; credential: string; webhookCredential?: string; baseUrl?: string; pollIntervalMs?: number };
    if (b.baseUrl !== undefined) {
      let u: URL | undefined;
      try { u = new URL(b.baseUrl); } catch { u = undefined; }
      if (!u || !['http:', 'https:'].includes(u.protocol) || u.username || u.password) throw raise('BODY_INVALID', 'baseUrl must be an http(s) URL without credentials', { path: '/baseUrl' });
    }
    await checkCredential(principal.workspaceId, b.credential, ['bearer'], '/credential');
    if (b.webhookCredential !== undefined) await checkCredential(principal.workspaceId, b.webhookCredential, ['webhook-secret'], '/webhookCredential');
    const at = new Date(d.now()).toISOString();
    const c: SyncConnection = {
      connectionId: `sc_${randomBytes(15).toString('base64url')}`, workspaceId: principal.workspaceId, app: b.app, name: b.name,
      credential: b.credential, webhookCredential: b.webhookCredential ?? null, baseUrl: b.baseUrl?.replace(/\/$/, '') ?? null,
      pollIntervalMs: b.pollIntervalMs ?? null, state: 'draft', revision: 1, objects: {}, createdAt: at, updatedAt: at,
    };
    await save(c, 'sync.connection.saved');
    d.log.info({ workspaceId: c.workspaceId, connectionId: c.connectionId, app: c.app }, 'sync connection created');
    return reply.code(201).send({ connectionId: c.connectionId, status: 'draft', webhookUrl: webhookUrl(c.connectionId), webhookEvents: appWebhooks[c.app].events(enabledObjects(c)) });
  });

  app.get('/v1/sync/connections', { config: auth, schema: { tags, summary: 'The workspace\'s sync connections with their status' } }, async (req) => {
    const principal = principalOf(req);
    const list = await d.sync.connections.list(principal.workspaceId);
    return { connections: await Promise.all(list.map((c) => view(c, false))) };
  });

  app.get('/v1/sync/connections/:id', { config: auth, schema: { tags, summary: 'A connection: status, and per object direction, counts, last sync and latency p50/p99 of the last hour', params: idParams } }, async (req) => view(await own(req), true));

  app.delete('/v1/sync/connections/:id', { config: auth, schema: { tags, summary: 'Stop syncing and forget the links (records stay on both sides)', params: idParams } }, async (req, reply) => {
    const c = await own(req);
    const gone: SyncConnection = { ...c, state: transitions.delete.wanted, revision: c.revision + 1, updatedAt: new Date(d.now()).toISOString() };
    await save(gone, 'sync.connection.deleted');
    await request(gone, 'forget', seedObjects.filter((s) => supports(c.app, s)).flatMap((s) => hubObjectsOf[s]));
    d.log.info({ workspaceId: c.workspaceId, connectionId: c.connectionId }, 'sync connection deleted');
    return reply.code(204).send();
  });

  app.get('/v1/sync/connections/:id/objects/:object', { config: auth, schema: { tags, summary: 'One object\'s settings, with the app\'s default mappings', params: objectParams } }, async (req) => {
    const c = await own(req);
    return objectView(c, (req.params as { object: SeedObject }).object);
  });

  app.put('/v1/sync/connections/:id/objects/:object', { config: auth, schema: { tags, summary: 'Set one object\'s settings: {"enabled", "direction", "conflictWinner", "mappings", "rules"}', params: objectParams, body: objectConfigSchema } }, async (req) => {
    const c = await own(req);
    const seed = (req.params as { object: SeedObject }).object;
    const config = parseObjectConfig(c.app, seed, req.body as Record<string, unknown>);
    const wasEnabled = objectConfig(c, seed).enabled;
    const next: SyncConnection = { ...c, objects: { ...c.objects, [seed]: config }, revision: c.revision + 1, updatedAt: new Date(d.now()).toISOString() };
    await save(next, 'sync.connection.saved');
    // An object turned on while the sync runs starts with its own initial sync.
    if (c.state === 'active' && config.enabled && !wasEnabled) await request(next, 'initial-sync', hubObjectsOf[seed]);
    return objectView(next, seed);
  });

  const lifecycle = (action: Exclude<UserAction, 'delete'>, work: SyncInboundType | null) => {
    app.post(`/v1/sync/connections/:id/${action}`, { config: auth, schema: { tags, summary: `${action} the sync (no body)`, params: idParams } }, async (req) => {
      const c = await own(req);
      const status = statusOf(c.state, phasesOf(c, await d.sync.state.objectStates(c.connectionId)));
      if (!allowed(action, status)) throw raiseAny('SYNC_TRANSITION_INVALID', `a ${status} connection cannot ${action}; ${action} works from ${transitions[action].from.join(', ')}`, { path: '/params/id' });
      if (action === 'activate' && enabledObjects(c).length === 0) throw raise('BODY_INVALID', 'no object is enabled; enable one with PUT /v1/sync/connections/:id/objects/:object', { path: '/objects' });
      const next: SyncConnection = { ...c, state: transitions[action].wanted, revision: c.revision + 1, updatedAt: new Date(d.now()).toISOString() };
      await save(next, `sync.connection.${action === 'activate' ? 'activated' : action === 'pause' ? 'paused' : 'resumed'}`);
      if (work) await request(next, work, enabledObjects(next));
      d.log.info({ workspaceId: c.workspaceId, connectionId: c.connectionId, action }, 'sync connection changed');
      return view(next, false);
    });
  };
  lifecycle('activate', 'initial-sync');
  lifecycle('pause', null);
  lifecycle('resume', 'resume');

  app.get('/v1/sync/connections/:id/records', {
    config: auth,
    schema: {
      tags, summary: 'Records of the connection by state, with the reason (code, message, the app\'s own answer for failures)', params: idParams,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          state: { type: 'string', enum: [...recordStates] }, object: { type: 'string', enum: [...seedObjects] },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, cursor: { type: 'string', maxLength: 1000 },
        },
      },
    },
  }, async (req) => {
    const c = await own(req);
    const q = req.query as { state?: RecordState; object?: SeedObject; limit: number; cursor?: string };
    let cursor: { c: 'l' | 'u'; after: string } | undefined;
    if (q.cursor !== undefined) {
      try {
        cursor = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8')) as { c: 'l' | 'u'; after: string };
        if ((cursor.c !== 'l' && cursor.c !== 'u') || typeof cursor.after !== 'string') throw new Error('shape');
      } catch {
        throw raise('QUERY_INVALID', 'cursor is not one this API returned', { path: '/query/cursor' });
      }
    }
    const page = await d.sync.state.records(c.connectionId, {
      limit: q.limit, ...(q.state ? { state: q.state } : {}), ...(q.object ? { objects: hubObjectsOf[q.object] } : {}), ...(cursor ? { cursor } : {}),
    });
    return { records: page.records, nextCursor: page.next ? Buffer.from(JSON.stringify(page.next)).toString('base64url') : null };
  });

  app.post('/v1/sync/connections/:id/resync', {
    config: auth,
    schema: {
      tags, summary: 'Recreate records deleted on one side: {"object", "recordIds"?} (hub ids; all deleted records when absent)', params: idParams,
      body: {
        type: 'object', required: ['object'], additionalProperties: false,
        properties: { object: { type: 'string', enum: [...seedObjects] }, recordIds: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 200 } } },
      },
    },
  }, async (req, reply) => {
    const c = await own(req);
    const b = req.body as { object: SeedObject; recordIds?: string[] };
    if (!objectConfig(c, b.object).enabled || !supports(c.app, b.object)) throw raise('BODY_INVALID', `${b.object} do not sync on this connection`, { path: '/object' });
    const status = statusOf(c.state, phasesOf(c, await d.sync.state.objectStates(c.connectionId)));
    if (status !== 'running') throw raiseAny('SYNC_TRANSITION_INVALID', `a ${status} connection cannot resync; wait until it is running`, { path: '/params/id' });
    await request(c, 'resync', hubObjectsOf[b.object], b.recordIds ? { recordIds: b.recordIds } : {});
    return reply.code(202).send({ requested: true, object: b.object, recordIds: b.recordIds ?? 'all deleted' });
  });
}

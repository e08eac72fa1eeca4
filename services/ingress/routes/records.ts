import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../errors.ts';
import type { RouteTable } from '../http.ts';
import type { Principal } from '../auth.ts';
import type { RecordDocument } from '../../../libs/store/records.ts';

const DEFAULT_LIMIT = 50;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const isStorableName = (s: string) => s.length > 0 && s.length <= 200 && !/[\u0000-\u001f\u007f]/.test(s);
const MAX_LIMIT = 500;

function view(r: RecordDocument) {
  return {
    object: r.object, recordId: r.recordId, record: r.fields, deleted: r.deleted, version: r.version,
    lastEventId: r.eventId, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(),
  };
}

/** The workspace's materialized records, as the record-projector holds them. */
export function recordRoutes(app: FastifyInstance, d: IngressDeps, routes: RouteTable, authenticate: (r: FastifyRequest) => Promise<Principal>): void {
  const tags = ['records'];
  routes.add('GET', '/v1/records/:object/:recordId');
  app.get('/v1/records/:object/:recordId', {
    schema: { tags, summary: 'Read one record (deleted ones answer 404 unless ?includeDeleted=true)', params: { type: 'object', properties: { object: { type: 'string' }, recordId: { type: 'string' } } } },
  }, async (request) => {
    const principal = await authenticate(request);
    const { object, recordId } = request.params as { object: string; recordId: string };
    const { includeDeleted } = request.query as { includeDeleted?: string };
    // Ids that no event could have carried are simply not there.
    const doc = isStorableName(object) && isStorableName(recordId) ? await d.records.get(principal.workspaceId, object, recordId) : null;
    if (!doc || (doc.deleted && includeDeleted !== 'true')) throw raise('NOT_FOUND', `no ${object} record ${recordId}`, { path: '/params/recordId' });
    return view(doc);
  });

  routes.add('GET', '/v1/records/:object');
  app.get('/v1/records/:object', {
    schema: {
      tags, summary: 'List live records of an object in recordId order; follow nextCursor for the next page',
      params: { type: 'object', properties: { object: { type: 'string' } } },
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT }, cursor: { type: 'string' } } },
    },
  }, async (request) => {
    const principal = await authenticate(request);
    const { object } = request.params as { object: string };
    const query = request.query as Record<string, unknown>;
    for (const key of Object.keys(query)) if (!['limit', 'cursor'].includes(key)) throw raise('QUERY_INVALID', `unknown query parameter "${key}"`, { path: `/query/${key}` });
    let limit = DEFAULT_LIMIT;
    if (query.limit !== undefined) {
      if (typeof query.limit !== 'string' || !/^\d{1,4}$/.test(query.limit) || Number(query.limit) < 1 || Number(query.limit) > MAX_LIMIT) {
        throw raise('QUERY_INVALID', `limit must be an integer from 1 to ${MAX_LIMIT}`, { path: '/query/limit' });
      }
      limit = Number(query.limit);
    }
    let after: string | null = null;
    if (query.cursor !== undefined) {
      const decoded = typeof query.cursor === 'string' ? Buffer.from(query.cursor, 'base64url').toString('utf8') : '';
      if (!decoded.startsWith('r:')) throw raise('QUERY_INVALID', 'cursor is not one this API returned', { path: '/query/cursor' });
      after = decoded.slice(2);
    }
    if (!isStorableName(object) || (after !== null && !isStorableName(after))) return { records: [], nextCursor: null };
    const page = await d.records.list(principal.workspaceId, object, { afterRecordId: after, limit: limit + 1 });
    const more = page.length > limit;
    const records = page.slice(0, limit);
    const last = records.at(-1);
    return { records: records.map(view), nextCursor: more && last ? Buffer.from(`r:${last.recordId}`, 'utf8').toString('base64url') : null };
  });
}

import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { principalOf } from '../../../libs/http-server/auth.ts';
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
export function recordRoutes(app: FastifyInstance, d: ApiDeps): void {
  const tags = ['records'];
  app.get('/v1/records/:object/:recordId', { config: { auth: 'workspace' },
    schema: { tags, summary: 'Read one record (deleted ones answer 404 unless ?includeDeleted=true)', params: { type: 'object', required: ['object', 'recordId'], properties: { object: { type: 'string' }, recordId: { type: 'string' } } },
      querystring: { type: 'object', properties: { includeDeleted: { type: 'boolean', default: false } } },
    },
  }, async (request) => {
    const principal = principalOf(request);
    const { object, recordId } = request.params as { object: string; recordId: string };
    const { includeDeleted } = request.query as { includeDeleted: boolean };
    // Ids that no event could have carried are simply not there.
    const doc = isStorableName(object) && isStorableName(recordId) ? await d.records.get(principal.workspaceId, object, recordId) : null;
    if (!doc || (doc.deleted && !includeDeleted)) throw raise('NOT_FOUND', `no ${object} record ${recordId}`, { path: '/params/recordId' });
    return view(doc);
  });
  app.get('/v1/records/:object', { config: { auth: 'workspace' },
    schema: {
      tags, summary: 'List live records of an object in recordId order; follow nextCursor for the next page',
      params: { type: 'object', required: ['object'], properties: { object: { type: 'string' } } },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }, cursor: { type: 'string', description: 'nextCursor of the previous page' } },
      },
    },
  }, async (request) => {
    const principal = principalOf(request);
    const { object } = request.params as { object: string };
    // Checked by the route's schema: known parameters only, limit an integer in range.
    const query = request.query as { limit: number; cursor?: string };
    const limit = query.limit;
    let after: string | null = null;
    if (query.cursor !== undefined) {
      const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
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

import {
  ApiError, bearerToken, decodeCursor, encodeCursor, newId, startHttpEmulator,
  type CommonOptions, type Emulator, type ErrorKind, type Reply, type RouteContext,
} from './base.ts';
import { isPlainObject } from '../../libs/json/index.ts';

/**
 * A data warehouse with product usage metrics (use case 2), mimicking the Google BigQuery
 * REST API v2: OAuth bearer token, Google's JSON error body, rows as `{ f: [{ v }] }` with
 * every scalar as a string (INT64 too), and cursor pagination with opaque `pageToken`s.
 *
 * Routes (all under /bigquery/v2/projects/:projectId):
 * - GET  /datasets/:datasetId/tables/:tableId            tables.get (schema, numRows)
 * - GET  /datasets/:datasetId/tables/:tableId/data       tabledata.list: maxResults, pageToken, startIndex, selectedFields
 * - POST /queries                                        jobs.query: { query, maxResults?, useLegacySql: false, queryParameters? }
 * - GET  /queries/:jobId                                 jobs.getQueryResults: maxResults, pageToken
 *
 * SQL understood by jobs.query (anything else is a 400 invalidQuery, never silently ignored):
 *   SELECT * | col[, col…] FROM `[project.]dataset.table` | dataset.table
 *   [WHERE col op value [AND col op value…]]  op: = != <> < <= > >=; value: number, 'text', TRUE/FALSE, NULL (with = / !=), @param
 *   [ORDER BY col [ASC|DESC]] [LIMIT n]
 * Named query parameters: queryParameters: [{ name, parameterType: { type }, parameterValue: { value } }].
 *
 * Auth: `Authorization: Bearer <token>` (options.token). The default table is
 * `product.usage_metrics`, one row per customer account (see UsageRow).
 */

export type FieldType = 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'DATE' | 'TIMESTAMP';
export interface Field { name: string; type: FieldType; mode?: 'NULLABLE' | 'REQUIRED' }
export type Scalar = string | number | boolean | null;
export interface Table { schema: Field[]; rows: Record<string, Scalar>[] }

export interface UsageRow {
  account_id: string;
  company_domain: string;
  company_name: string;
  active_users: number;
  seats: number;
  api_calls_30d: number;
  /** 0..1 share of key features used in the last 30 days. */
  feature_adoption: number;
  plan: string;
  /** YYYY-MM-DD */
  last_seen_date: string;
}

export const USAGE_SCHEMA: Field[] = [
  { name: 'account_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'company_domain', type: 'STRING', mode: 'REQUIRED' },
  { name: 'company_name', type: 'STRING' },
  { name: 'active_users', type: 'INT64' },
  { name: 'seats', type: 'INT64' },
  { name: 'api_calls_30d', type: 'INT64' },
  { name: 'feature_adoption', type: 'FLOAT64' },
  { name: 'plan', type: 'STRING' },
  { name: 'last_seen_date', type: 'DATE' },
];

/** Deterministic sample accounts: every third one is a low-usage account. */
export function sampleUsage(count = 12): UsageRow[] {
  const names = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Wonka', 'Tyrell', 'Cyberdyne', 'Soylent', 'Vandelay'];
  return Array.from({ length: count }, (_, i) => {
    const base = names[i % names.length]!;
    const name = i < names.length ? base : `${base} ${Math.floor(i / names.length) + 1}`;
    const domain = `${name.toLowerCase().replace(/\s+/g, '')}.example`;
    const seats = 10 + ((i * 7) % 40);
    const low = i % 3 === 2;
    return {
      account_id: `acct_${String(i + 1).padStart(4, '0')}`,
      company_domain: domain,
      company_name: `${name} Inc.`,
      active_users: low ? 1 + (i % 3) : Math.round(seats * 0.8),
      seats,
      api_calls_30d: low ? 40 * (i + 1) : 12_000 + i * 1_500,
      feature_adoption: low ? 0.1 : Math.round((0.55 + (i % 4) * 0.1) * 100) / 100,
      plan: ['starter', 'growth', 'enterprise'][i % 3]!,
      last_seen_date: `2025-01-${String(1 + (i % 28)).padStart(2, '0')}`,
    };
  });
}

export interface WarehouseOptions extends CommonOptions {
  /** OAuth access token expected as Bearer (default `ya29.test-warehouse-token`). */
  token?: string;
  projectId?: string;
  /** Rows of `product.usage_metrics` (default sampleUsage()). */
  usage?: UsageRow[];
  /** Further tables, keyed `dataset.table`. */
  tables?: Record<string, Table>;
  /** tabledata.list / query page size when maxResults is absent (default 100). */
  defaultPageSize?: number;
}

export interface WarehouseEmulator extends Emulator {
  token: string;
  projectId: string;
  /** The tables by `dataset.table`, live (edit to change what the API returns). */
  tables: Map<string, Table>;
  /** `${url}/bigquery/v2/projects/${projectId}/datasets/product/tables/usage_metrics/data` */
  usageDataUrl: string;
  /** Turns an API page's `{ f: [{ v }] }` rows back into typed objects using the schema. */
  decodeRows(schema: Field[], rows: { f: { v: string | null }[] }[]): Record<string, Scalar>[];
}

const MAX_PAGE = 10_000;

function googleError(status: number, message: string, reason: string, extra: Record<string, string> = {}): Reply {
  const statusText: Record<number, string> = {
    400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 409: 'ALREADY_EXISTS',
    413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
  };
  return {
    status,
    body: { error: { code: status, message, errors: [{ message, domain: 'global', reason, ...extra }], status: statusText[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION') } },
    headers: { 'content-type': 'application/json; charset=UTF-8' },
  };
}

function errorReply(status: number, kind: ErrorKind, message: string): Reply {
  switch (kind) {
    case 'rate_limited': return googleError(status, 'Exceeded rate limits: too many api requests per user per method for this user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas', 'rateLimitExceeded');
    case 'server_error': return googleError(status, status === 503 ? 'The service is currently unavailable.' : 'An internal error occurred and the request could not be completed.', status === 503 ? 'backendError' : 'internalError');
    case 'not_found': return googleError(404, `Not found: URL ${message.replace(/^no route \S+ /, '')}`, 'notFound');
    case 'method_not_allowed': return googleError(405, message, 'httpMethodNotAllowed');
    case 'invalid_body': return googleError(400, `Invalid JSON payload received. ${message}`, 'parseError');
    case 'too_large': return googleError(413, message, 'responseTooLarge');
    default: return googleError(status, message, status >= 500 ? 'backendError' : 'invalid');
  }
}

function toWire(value: Scalar, type: FieldType): string | null {
  if (value === null || value === undefined) return null;
  if (type === 'BOOL') return value ? 'true' : 'false';
  if (type === 'TIMESTAMP' && typeof value === 'string') return String(Date.parse(value) / 1000);
  return String(value);
}

function fromWire(value: string | null, type: FieldType): Scalar {
  if (value === null) return null;
  switch (type) {
    case 'INT64': case 'FLOAT64': return Number(value);
    case 'BOOL': return value === 'true';
    case 'TIMESTAMP': return new Date(Number(value) * 1000).toISOString();
    default: return value;
  }
}

// ---- a tiny SQL subset -----------------------------------------------------------------

type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';
interface Condition { column: string; op: Cmp; value: Scalar | { param: string } }
interface Query { columns: string[] | '*'; table: string; where: Condition[]; orderBy?: { column: string; desc: boolean }; limit?: number }

function invalidQuery(message: string): never {
  throw new ApiError(googleError(400, message, 'invalidQuery', { location: 'q', locationType: 'parameter' }));
}

function parseQuery(sql: string, projectId: string): Query {
  const text = sql.trim().replace(/;\s*$/, '');
  const m = /^SELECT\s+(.+?)\s+FROM\s+(`[^`]+`|[A-Za-z0-9_.-]+)(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?)?(?:\s+LIMIT\s+(\d+))?$/is.exec(text);
  if (!m) invalidQuery(`Syntax error: the emulator understands SELECT <columns> FROM <table> [WHERE …] [ORDER BY …] [LIMIT n], not: ${text.slice(0, 200)}`);
  const columns = m[1]!.trim() === '*' ? '*' as const : m[1]!.split(',').map((c) => c.trim());
  if (columns !== '*') for (const c of columns) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c)) invalidQuery(`Syntax error: unsupported select expression "${c}"`);
  const parts = m[2]!.replace(/`/g, '').split('.');
  if (parts.length === 3 && parts[0] !== projectId) invalidQuery(`Access Denied: Project ${parts[0]}: User does not have bigquery.jobs.create permission`);
  if (parts.length < 2 || parts.length > 3) invalidQuery(`Table name "${m[2]}" missing dataset while no default dataset is set in the request.`);
  const table = parts.slice(-2).join('.');
  const where: Condition[] = [];
  if (m[3]) {
    for (const clause of m[3].split(/\s+AND\s+/i)) {
      const c = /^([A-Za-z_][A-Za-z0-9_]*)\s*(=|!=|<>|<=|>=|<|>)\s*('(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|TRUE|FALSE|NULL|@[A-Za-z_][A-Za-z0-9_]*)$/i.exec(clause.trim());
      if (!c) invalidQuery(`Syntax error: unsupported condition "${clause.trim()}" (use col op literal, joined by AND)`);
      const raw = c[3]!;
      let value: Condition['value'];
      if (raw.startsWith("'")) value = raw.slice(1, -1).replace(/\\(.)/g, '$1');
      else if (raw.startsWith('@')) value = { param: raw.slice(1) };
      else if (/^(TRUE|FALSE)$/i.test(raw)) value = raw.toUpperCase() === 'TRUE';
      else if (/^NULL$/i.test(raw)) value = null;
      else value = Number(raw);
      where.push({ column: c[1]!, op: (c[2] === '<>' ? '!=' : c[2]) as Cmp, value });
    }
  }
  return {
    columns, table, where,
    ...(m[4] ? { orderBy: { column: m[4], desc: (m[5] ?? '').toUpperCase() === 'DESC' } } : {}),
    ...(m[6] ? { limit: Number(m[6]) } : {}),
  };
}

function compare(a: Scalar, b: Scalar): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

function matches(row: Record<string, Scalar>, c: Condition, params: Record<string, Scalar>): boolean {
  const value = isPlainObject(c.value) ? params[(c.value as { param: string }).param] ?? null : c.value as Scalar;
  const actual = row[c.column] ?? null;
  if (value === null || actual === null) {
    if (c.op === '=') return actual === value;
    if (c.op === '!=') return actual !== value;
    return false;
  }
  const d = compare(actual, value);
  switch (c.op) {
    case '=': return d === 0;
    case '!=': return d !== 0;
    case '<': return d < 0;
    case '<=': return d <= 0;
    case '>': return d > 0;
    case '>=': return d >= 0;
  }
}

// ---- the emulator ----------------------------------------------------------------------

interface Job { schema: Field[]; rows: Record<string, Scalar>[]; jobId: string; bytes: number }

export async function startWarehouseEmulator(options: WarehouseOptions = {}): Promise<WarehouseEmulator> {
  const token = options.token ?? 'ya29.test-warehouse-token';
  const projectId = options.projectId ?? 'acme-analytics';
  const pageDefault = options.defaultPageSize ?? 100;
  const initial = (): Map<string, Table> => {
    const usage = options.usage ?? sampleUsage();
    const map = new Map<string, Table>([['product.usage_metrics', { schema: USAGE_SCHEMA, rows: usage.map((r) => ({ ...r })) }]]);
    for (const [k, t] of Object.entries(options.tables ?? {})) map.set(k, { schema: t.schema, rows: t.rows.map((r) => ({ ...r })) });
    return map;
  };
  const tables = initial();
  const jobs = new Map<string, Job>();

  const checkProject = (ctx: RouteContext): void => {
    if (ctx.params.projectId !== projectId) {
      throw new ApiError(googleError(404, `Not found: Project ${ctx.params.projectId}`, 'notFound'));
    }
  };
  const tableOf = (ctx: RouteContext): Table => {
    checkProject(ctx);
    const t = tables.get(`${ctx.params.datasetId}.${ctx.params.tableId}`);
    if (!t) throw new ApiError(googleError(404, `Not found: Table ${projectId}:${ctx.params.datasetId}.${ctx.params.tableId} was not found in location US`, 'notFound'));
    return t;
  };
  const pageSize = (raw: string | undefined): number => {
    if (raw === undefined) return pageDefault;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new ApiError(googleError(400, `Invalid value for maxResults: ${raw}`, 'invalid'));
    return Math.min(n, MAX_PAGE);
  };
  const wireRows = (schema: Field[], rows: Record<string, Scalar>[]) =>
    rows.map((row) => ({ f: schema.map((f) => ({ v: toWire(row[f.name] ?? null, f.type) })) }));
  const page = (schema: Field[], rows: Record<string, Scalar>[], salt: string, search: URLSearchParams) => {
    const size = pageSize(search.get('maxResults') ?? undefined);
    let offset = 0;
    const token = search.get('pageToken');
    if (token !== null) {
      const o = decodeCursor(token, salt);
      if (o === undefined) throw new ApiError(googleError(400, 'Invalid page token.', 'invalid'));
      offset = o;
    } else if (search.get('startIndex') !== null) {
      offset = Number(search.get('startIndex'));
      if (!Number.isSafeInteger(offset) || offset < 0) throw new ApiError(googleError(400, `Invalid value for startIndex: ${search.get('startIndex')}`, 'invalid'));
    }
    const slice = rows.slice(offset, offset + size);
    const next = offset + slice.length < rows.length ? encodeCursor(offset + slice.length, salt) : undefined;
    return { totalRows: String(rows.length), ...(next ? { pageToken: next } : {}), rows: wireRows(schema, slice) };
  };

  const routes = [
    {
      method: 'GET', path: '/bigquery/v2/projects/:projectId/datasets/:datasetId/tables/:tableId',
      handle(ctx: RouteContext): Reply {
        const t = tableOf(ctx);
        const { datasetId, tableId } = ctx.params as { datasetId: string; tableId: string };
        return {
          status: 200,
          body: {
            kind: 'bigquery#table', etag: `"${newId('', 22)}"`, id: `${projectId}:${datasetId}.${tableId}`,
            selfLink: `${ctx.baseUrl}/bigquery/v2/projects/${projectId}/datasets/${datasetId}/tables/${tableId}`,
            tableReference: { projectId, datasetId, tableId },
            schema: { fields: t.schema.map((f) => ({ name: f.name, type: f.type === 'INT64' ? 'INTEGER' : f.type === 'FLOAT64' ? 'FLOAT' : f.type === 'BOOL' ? 'BOOLEAN' : f.type, mode: f.mode ?? 'NULLABLE' })) },
            numRows: String(t.rows.length), numBytes: String(JSON.stringify(t.rows).length), type: 'TABLE', location: 'US',
            creationTime: '1735689600000', lastModifiedTime: String(Date.now()),
          },
        };
      },
    },
    {
      method: 'GET', path: '/bigquery/v2/projects/:projectId/datasets/:datasetId/tables/:tableId/data',
      handle(ctx: RouteContext): Reply {
        const t = tableOf(ctx);
        let schema = t.schema;
        const selected = ctx.search.get('selectedFields');
        if (selected) {
          const names = selected.split(',').map((s) => s.trim());
          for (const n of names) if (!t.schema.some((f) => f.name === n)) throw new ApiError(googleError(400, `Invalid field selection ${n}`, 'invalid'));
          schema = t.schema.filter((f) => names.includes(f.name));
        }
        const salt = `${ctx.params.datasetId}.${ctx.params.tableId}:${selected ?? ''}`;
        return { status: 200, body: { kind: 'bigquery#tableDataList', etag: `"${newId('', 22)}"`, ...page(schema, t.rows, salt, ctx.search) } };
      },
    },
    {
      method: 'POST', path: '/bigquery/v2/projects/:projectId/queries',
      handle(ctx: RouteContext): Reply {
        checkProject(ctx);
        const body = ctx.req.body;
        if (!isPlainObject(body)) throw new ApiError(googleError(400, 'Required parameter is missing: query', 'required'));
        if (typeof body.query !== 'string' || body.query.trim() === '') throw new ApiError(googleError(400, 'Required parameter is missing: query', 'required'));
        if (body.useLegacySql !== false) throw new ApiError(googleError(400, 'The emulator runs GoogleSQL only: set "useLegacySql": false', 'invalidQuery'));
        const q = parseQuery(body.query, projectId);
        const t = tables.get(q.table);
        if (!t) throw new ApiError(googleError(404, `Not found: Table ${projectId}:${q.table} was not found in location US`, 'notFound'));
        const params: Record<string, Scalar> = {};
        if (body.queryParameters !== undefined) {
          if (!Array.isArray(body.queryParameters)) throw new ApiError(googleError(400, 'Invalid value for queryParameters', 'invalid'));
          for (const p of body.queryParameters as unknown[]) {
            if (!isPlainObject(p) || typeof p.name !== 'string' || !isPlainObject(p.parameterType) || !isPlainObject(p.parameterValue)) {
              throw new ApiError(googleError(400, 'Query parameters must have name, parameterType and parameterValue', 'invalid'));
            }
            const type = String(p.parameterType.type).toUpperCase();
            const v = p.parameterValue.value;
            params[p.name] = v === undefined || v === null ? null : ['INT64', 'INTEGER', 'FLOAT64', 'FLOAT', 'NUMERIC'].includes(type) ? Number(v) : type === 'BOOL' || type === 'BOOLEAN' ? String(v) === 'true' : String(v);
          }
        }
        const columns = q.columns === '*' ? t.schema.map((f) => f.name) : q.columns;
        for (const c of [...columns, ...q.where.map((w) => w.column), ...(q.orderBy ? [q.orderBy.column] : [])]) {
          if (!t.schema.some((f) => f.name === c)) invalidQuery(`Unrecognized name: ${c} at [1:1]`);
        }
        for (const w of q.where) if (isPlainObject(w.value) && !((w.value as { param: string }).param in params)) invalidQuery(`Query parameter '${(w.value as { param: string }).param}' not found at [1:1]`);
        let rows = t.rows.filter((r) => q.where.every((w) => matches(r, w, params)));
        if (q.orderBy) {
          const { column, desc } = q.orderBy;
          rows = [...rows].sort((a, b) => (desc ? -1 : 1) * compare(a[column] ?? null, b[column] ?? null));
        }
        if (q.limit !== undefined) rows = rows.slice(0, q.limit);
        const schema = columns.map((c) => t.schema.find((f) => f.name === c)!);
        const job: Job = { jobId: `job_${newId('', 27)}`, schema, rows: rows.map((r) => ({ ...r })), bytes: JSON.stringify(rows).length };
        jobs.set(job.jobId, job);
        const search = new URLSearchParams();
        if (body.maxResults !== undefined) search.set('maxResults', String(body.maxResults));
        return { status: 200, body: queryBody('bigquery#queryResponse', job, page(schema, job.rows, job.jobId, search)) };
      },
    },
    {
      method: 'GET', path: '/bigquery/v2/projects/:projectId/queries/:jobId',
      handle(ctx: RouteContext): Reply {
        checkProject(ctx);
        const job = jobs.get(ctx.params.jobId!);
        if (!job) throw new ApiError(googleError(404, `Not found: Job ${projectId}:US.${ctx.params.jobId}`, 'notFound'));
        return { status: 200, body: { ...queryBody('bigquery#getQueryResultsResponse', job, page(job.schema, job.rows, job.jobId, ctx.search)), etag: `"${newId('', 22)}"` } };
      },
    },
  ];

  function queryBody(kind: string, job: Job, p: ReturnType<typeof page>) {
    return {
      kind,
      schema: { fields: job.schema.map((f) => ({ name: f.name, type: f.type === 'INT64' ? 'INTEGER' : f.type === 'FLOAT64' ? 'FLOAT' : f.type === 'BOOL' ? 'BOOLEAN' : f.type, mode: f.mode ?? 'NULLABLE' })) },
      jobReference: { projectId, jobId: job.jobId, location: 'US' },
      ...p,
      totalBytesProcessed: String(job.bytes), jobComplete: true, cacheHit: false,
    };
  }

  return startHttpEmulator({
    name: 'warehouse',
    routes,
    authenticate(req) {
      const given = bearerToken(req.headers);
      if (given === undefined) {
        return googleError(401, 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'required', { location: 'Authorization', locationType: 'header' });
      }
      if (given !== token) {
        return googleError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'authError', { location: 'Authorization', locationType: 'header' });
      }
      return null;
    },
    errorReply,
    resetState() {
      tables.clear();
      for (const [k, v] of initial()) tables.set(k, v);
      jobs.clear();
    },
  }, options, {
    token, projectId, tables,
    usageDataUrl: '',
    decodeRows(schema: Field[], rows: { f: { v: string | null }[] }[]) {
      return rows.map((row) => Object.fromEntries(schema.map((f, i) => {
        const type = ({ INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' } as Record<string, FieldType>)[f.type] ?? f.type;
        return [f.name, fromWire(row.f[i]?.v ?? null, type)];
      })));
    },
  }).then((e) => {
    e.usageDataUrl = `${e.url}/bigquery/v2/projects/${projectId}/datasets/product/tables/usage_metrics/data`;
    return e;
  });
}

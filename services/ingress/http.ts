import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyError } from 'fastify';
import { HubError } from '../../libs/errors/index.ts';
import type { Logger } from '../../libs/log/index.ts';
import { raise } from './errors.ts';
import type { IngressMetrics } from './metrics.ts';

export interface ErrorBody { error: { code: string; message: string; path?: string } }

export function sendError(reply: FastifyReply, err: HubError): FastifyReply {
  const retryAfterS = (err as HubError & { retryAfterS?: number }).retryAfterS;
  if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
  else if (err.status === 503) void reply.header('retry-after', '1');
  return reply.code(err.status).send({ error: err.toJSON() } satisfies ErrorBody);
}

/** Fastify's own refusals (body too large, bad JSON, bad media type) in our error shape. */
function fromFastify(err: FastifyError): HubError | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return raise('BODY_TOO_LARGE', 'request body is larger than this route accepts', { path: '' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? raise('MEDIA_TYPE_UNSUPPORTED', 'send application/json (or, for hooks, application/x-www-form-urlencoded)', { path: '/headers/content-type' })
        : raise('BODY_INVALID', 'content-length does not match the body', { path: '/headers/content-length' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return raise('JSON_INVALID', 'body is empty; send a JSON object', { path: '' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return raise('JSON_INVALID', `body is not valid JSON: ${err.message}`, { path: '' });
    // Raised by the router, before any route or handler: see frameworkErrorHandler.
    case 'FST_ERR_BAD_URL':
      return raise('NOT_FOUND', 'no route: the URL path is not valid percent-encoded UTF-8', { path: '/url' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return raise('NOT_FOUND', 'no route: a path segment is longer than this server accepts', { path: '/url' });
    default:
      break;
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON|prototype|constructor/i.test(err.message))) {
    return raise('JSON_INVALID', `body is not valid JSON: ${err.message}`, { path: '' });
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return raise('BODY_INVALID', err.message, { path: '' });
  }
  return null;
}

/**
 * Every error leaves as `{"error": {code, message, path}}`. Bad input is never a 500;
 * an unexpected failure is logged with its stack and answered 500 INTERNAL.
 */
export function installErrorHandling(app: FastifyInstance, log: Logger, metrics: IngressMetrics, routes: RouteTable): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const known = err instanceof HubError ? err : fromFastify(err);
    if (known) {
      metrics.rejected.inc({ code: known.code });
      if (known.status >= 500 || known.code.startsWith('STORE_')) log.warn({ code: known.code, err: known.message, route: request.routeOptions.url }, 'request failed');
      // The store's own words (driver and SQL details) stay in our logs.
      return sendError(reply, known.code.startsWith('STORE_') ? new HubError(known.code, known, known.status >= 500 ? 'the store is unavailable; retry shortly' : 'the store refused this request') : known);
    }
    log.error({ err, route: request.routeOptions.url }, 'unexpected error');
    metrics.rejected.inc({ code: 'INTERNAL' });
    return sendError(reply, raise('INTERNAL', 'internal error; the request was not applied'));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = routes.methodsFor(path);
    const err = allowed.length > 0
      ? raise('METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use ${allowed.join(', ')}`, { path: '/method' })
      : raise('NOT_FOUND', `no route ${request.method} ${path}`, { path: '/url' });
    if (allowed.length > 0) void reply.header('allow', allowed.join(', '));
    metrics.rejected.inc({ code: err.code });
    return sendError(reply, err);
  });
}

/**
 * Fastify's refusals before routing (a path that is not valid percent-encoding, a path
 * segment longer than maxParamLength) skip the error handler and, by default, answer in
 * fastify's own shape; passed as the `frameworkErrors` option, this answers in ours.
 */
export function frameworkErrorHandler(metrics: IngressMetrics) {
  return (err: FastifyError, _request: unknown, reply: FastifyReply): void => {
    const known = fromFastify(err) ?? raise('INTERNAL', 'internal error; the request was not applied');
    metrics.rejected.inc({ code: known.code });
    void sendError(reply, known);
  };
}

/** Known URL patterns and their methods, to tell 405 from 404. */
export class RouteTable {
  private readonly patterns = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(method: string | string[], url: string): void {
    let entry = this.patterns.get(url);
    if (!entry) {
      const re = new RegExp(`^${url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
      entry = { re, methods: new Set() };
      this.patterns.set(url, entry);
    }
    for (const m of Array.isArray(method) ? method : [method]) {
      entry.methods.add(m);
      if (m === 'GET') entry.methods.add('HEAD');
    }
  }

  methodsFor(path: string): string[] {
    const out = new Set<string>();
    for (const { re, methods } of this.patterns.values()) if (re.test(path)) for (const m of methods) out.add(m);
    return [...out].sort();
  }
}

export function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

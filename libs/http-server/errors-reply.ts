import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyError } from 'fastify';
import { HubError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { raise } from './errors.ts';
import { fromValidation, type ValidationFailure } from './validation.ts';
import type { RouteTable } from './route-table.ts';
import type { HttpMetrics } from './metrics.ts';

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
      return raise('MEDIA_TYPE_UNSUPPORTED', 'send application/json (or, for hooks, application/x-www-form-urlencoded)', { path: '/headers/content-type' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return raise('BODY_INVALID', 'content-length does not match the body', { path: '/headers/content-length' });
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
 * an unexpected failure is logged with its stack and answered 500 INTERNAL. Schema
 * failures (Ajv) become the route's 400 code, naming the field (see validation.ts).
 */
export function installErrorHandling(app: FastifyInstance, log: Logger, metrics: HttpMetrics, routes: RouteTable, unmatched?: (request: FastifyRequest, reply: FastifyReply) => unknown): void {
  app.setErrorHandler((err: FastifyError & Partial<ValidationFailure>, request, reply) => {
    const known = err instanceof HubError
      ? err
      : err.validation
        ? fromValidation(err as ValidationFailure, request.routeOptions.config.invalidBody)
        : fromFastify(err);
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
  app.setNotFoundHandler(unmatched ?? ((request, reply) => {
    const err = notFoundOrNotAllowed(routes, request.method, request.url);
    if (err.code === 'METHOD_NOT_ALLOWED') void reply.header('allow', routes.methodsFor(pathOf(request.url)).join(', '));
    metrics.rejected.inc({ code: err.code });
    return sendError(reply, err);
  }));
}

export const pathOf = (url: string): string => url.split('?')[0] ?? '';

/** 405 (the caller then sets `Allow`) when the path is known with other methods, else 404. */
export function notFoundOrNotAllowed(routes: RouteTable, method: string, url: string): HubError {
  const path = pathOf(url);
  const allowed = routes.methodsFor(path);
  return allowed.length > 0
    ? raise('METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${allowed.join(', ')}`, { path: '/method' })
    : raise('NOT_FOUND', `no route ${method} ${path}`, { path: '/url' });
}

/**
 * Fastify's refusals before routing (a path that is not valid percent-encoding, a path
 * segment longer than maxParamLength) skip the error handler and, by default, answer in
 * fastify's own shape; passed as the `frameworkErrors` option, this answers in ours.
 */
export function frameworkErrorHandler(metrics: HttpMetrics) {
  return (err: FastifyError, _request: unknown, reply: FastifyReply): void => {
    const known = fromFastify(err) ?? raise('INTERNAL', 'internal error; the request was not applied');
    metrics.rejected.inc({ code: known.code });
    void sendError(reply, known);
  };
}

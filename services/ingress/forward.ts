/**
 * Everything the ingress does not serve itself goes to the api, as n8n's webhook
 * processes leave the rest to its main process: one address (HUB_HTTP_PORT) for users
 * and scripts. Status, headers and body (streamed) come back as the api sent them; when
 * the api cannot be reached the answer is 503 API_UNAVAILABLE with Retry-After.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import replyFrom from '@fastify/reply-from';
import { raise } from '../../libs/http-server/errors.ts';
import { notFoundOrNotAllowed, pathOf, sendError } from '../../libs/http-server/errors-reply.ts';
import type { RouteTable } from '../../libs/http-server/route-table.ts';
import type { IngressDeps } from './deps.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Answered by the api: counted there, not here. */
    forwarded: boolean;
  }
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and framing the forwarding request sets itself. */
const NOT_FORWARDED = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'http2-settings', 'content-length'];
/**
 * Node's HTTP server refuses a request head larger than 16 KiB with a bare 431; the
 * ingress's own server would have refused it the same way, so a head that could not
 * reach the api is refused here, in our shape.
 */
const MAX_HEAD_BYTES = 12 * 1024;
const RETRY_AFTER_S = 2;

function headBytes(request: FastifyRequest): number {
  let n = request.method.length + request.url.length + 12;
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i++) n += raw[i]!.length + 2;
  return n;
}

/** The path and query as sent, with what an HTTP request line cannot carry percent-encoded. */
function requestTarget(url: string): string {
  return url.replace(/[^\x21-\x7e]/gu, (c) => {
    try { return encodeURIComponent(c); } catch { return '%EF%BF%BD'; }
  });
}

/**
 * Sets the ingress up to forward: the reply-from client and, since forwarded bodies pass
 * as sent, a root parser that reads any body whole (within the ingress's body limit) as
 * bytes; the api applies each route's own limit and parsing.
 */
export async function installForwarding(app: FastifyInstance, d: IngressDeps): Promise<void> {
  await app.register(replyFrom, {
    base: d.api.url,
    undici: { connections: 64, headersTimeout: d.api.timeoutMs, bodyTimeout: d.api.timeoutMs },
    disableRequestLogging: true,
  });
  app.decorateRequest('forwarded', false);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

/**
 * The ingress's handler of requests no ingress route matched: 405 (with `Allow`) when
 * the path is the ingress's own, else forwarded to the api.
 */
export function forwardUnmatched(d: IngressDeps, routes: RouteTable) {
  const unavailable = (reply: FastifyReply, why: string) => {
    d.metrics.rejected.inc({ code: 'API_UNAVAILABLE' });
    // The client learns that the control plane is away; where it runs and why stays in our logs.
    d.log.warn({ url: d.api.url, why }, 'api unavailable');
    return sendError(reply, Object.assign(raise('API_UNAVAILABLE', 'the api (control plane) did not answer; the hot path (events, webhooks) still works; retry shortly'), { retryAfterS: RETRY_AFTER_S }));
  };

  return (request: FastifyRequest, reply: FastifyReply) => {
    const path = pathOf(request.url);
    if (routes.methodsFor(path).length > 0 || !path.startsWith('/') || /(^|\/)\.\.?(\/|$)/.test(path) || request.method === 'CONNECT') {
      // The ingress's own path with another method, or what no api route can be: dot
      // segments, and CONNECT (a tunnel request, which the HTTP client cannot forward).
      const err = notFoundOrNotAllowed(routes, request.method, request.url);
      if (err.code === 'METHOD_NOT_ALLOWED') void reply.header('allow', routes.methodsFor(path).join(', '));
      d.metrics.rejected.inc({ code: err.code });
      return sendError(reply, err);
    }
    if (headBytes(request) > MAX_HEAD_BYTES) {
      d.metrics.rejected.inc({ code: 'REQUEST_HEADERS_TOO_LARGE' });
      return sendError(reply, raise('REQUEST_HEADERS_TOO_LARGE', `the URL and headers of this request exceed ${MAX_HEAD_BYTES} bytes`, { path: '/headers' }));
    }
    request.forwarded = true;
    const body = Buffer.isBuffer(request.body) && request.body.length > 0 && request.method !== 'GET' && request.method !== 'HEAD' ? request.body : undefined;
    const contentType = request.headers['content-type'];
    const target = requestTarget(request.url);
    const q = target.indexOf('?');
    return reply.from(q >= 0 ? target.slice(0, q) : target, {
      // Explicit, so reply-from never re-encodes a body nor parses its content type itself.
      // (A GET or HEAD carries none; an empty body keeps its content type.)
      ...(body
        ? { body, contentType: contentType || 'application/octet-stream' }
        : contentType && request.method !== 'GET' && request.method !== 'HEAD' ? { body: '', contentType } : { body: null }),
      queryString: () => (q >= 0 ? target.slice(q + 1) : ''),
      rewriteRequestHeaders: (_req, headers) => {
        const out = { ...headers };
        for (const h of NOT_FORWARDED) delete out[h];
        if (body) out['content-length'] = String(body.length);
        return out;
      },
      // A retry is the caller's decision (a POST may have been applied): none here.
      retryDelay: () => null,
      onResponse: (_request, res, upstream) => {
        d.metrics.forwarded.inc({ status: String(upstream.statusCode) });
        void res.send(upstream.stream);
      },
      onError: (res, { error }) => {
        const e = error as Error & { code?: string; cause?: Error & { code?: string } };
        void unavailable(res as unknown as FastifyReply, e.cause ? `${e.cause.code ?? e.cause.name}: ${e.cause.message}` : e.code ?? e.message);
      },
    });
  };
}

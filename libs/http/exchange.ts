import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { HubError } from '../errors/index.ts';
import { raise } from './errors.ts';
import type { AddressGuard } from './address-guard.ts';
import { bareHost } from './ip.ts';

/** One request and its answer on a fresh connection: no redirects, no retries. */
export interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

export interface HopContext {
  guard: AddressGuard;
  agents: { http: http.Agent; https: https.Agent };
  /** Aborted with the error to raise (timeout, caller cancelled). */
  signal: AbortSignal;
  maxResponseBytes: number;
  /** True for an answer that will not be read (a redirect about to be followed). */
  skipBody(status: number, headers: Record<string, string>): boolean;
}

export interface HopResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

function toHubError(err: unknown, host: string): HubError {
  if (err instanceof HubError) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const detail = code || (err instanceof Error ? err.message : String(err));
  if (code.startsWith('ERR_INVALID_') || code.startsWith('ERR_HTTP_INVALID')) {
    return raise('HTTP_REQUEST_INVALID', `request to ${host} is invalid: ${err instanceof Error ? err.message : detail}`, { cause: err });
  }
  if (TLS_CODE.test(code)) return raise('HTTP_TLS_FAILED', `TLS with ${host} failed: ${detail}`, { cause: err });
  return raise('HTTP_CONNECTION_FAILED', `connection to ${host} failed: ${detail}`, { cause: err });
}

export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function exchange(hop: Hop, ctx: HopContext): Promise<HopResult> {
  const host = hop.url.hostname;
  return new Promise<HopResult>((resolve, reject) => {
    let req: http.ClientRequest | undefined;
    let settled = false;
    const finish = (err: unknown, result?: HopResult): void => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', onAbort);
      if (result) { resolve(result); return; }
      req?.destroy(); // also ends the response and its socket
      reject(toHubError(err, host));
    };
    const onAbort = (): void => finish(ctx.signal.reason);
    if (ctx.signal.aborted) { onAbort(); return; }
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    const secure = hop.url.protocol === 'https:';
    try {
      req = (secure ? https : http).request({
        protocol: hop.url.protocol,
        hostname: bareHost(hop.url.hostname),
        port: hop.url.port === '' ? undefined : Number(hop.url.port),
        path: hop.url.pathname + hop.url.search,
        method: hop.method,
        headers: hop.body === undefined ? hop.headers : { ...hop.headers, 'content-length': String(hop.body.length) },
        agent: secure ? ctx.agents.https : ctx.agents.http,
        lookup: ctx.guard.lookup,
      });
    } catch (err) {
      finish(err);
      return;
    }
    req.on('error', finish);
    // Backstop: should any path ever connect without our lookup, drop it before a byte is sent.
    req.on('socket', (socket) => socket.once('connect', () => {
      const refused = ctx.guard.refusal(host, socket.remoteAddress);
      if (refused) finish(refused);
    }));
    req.on('response', (res) => {
      res.on('error', finish);
      res.on('close', () => { if (!res.complete) finish(new Error(`${host} closed the connection before the response ended`)); });
      const headers = flattenHeaders(res.headers);
      const status = res.statusCode ?? 0;
      if (ctx.skipBody(status, headers)) {
        res.destroy();
        finish(undefined, { status, headers, body: Buffer.alloc(0) });
        return;
      }
      const tooLarge = (): HubError => raise('HTTP_RESPONSE_TOO_LARGE', `the response from ${host} exceeds ${ctx.maxResponseBytes} bytes`);
      if (Number(headers['content-length']) > ctx.maxResponseBytes) { finish(tooLarge()); return; }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > ctx.maxResponseBytes) finish(tooLarge());
        else chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, { status, headers, body: Buffer.concat(chunks, size) }));
    });
    req.end(hop.body);
  });
}

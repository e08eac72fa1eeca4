/**
 * Email over SMTP with nodemailer, one connection per message (no pool: a stored
 * credential's server is used rarely, and a fresh connection is what a retry wants).
 * Failures come back classified: a 4xx reply or a connection that was never made or
 * dropped is temporary, a 5xx reply is permanent.
 */
import net from 'node:net';
import nodemailer from 'nodemailer';
import type { AddressGuard } from '../../libs/http/index.ts';
import type { HubError } from '../../libs/errors/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import { raiseNotifier } from './errors.ts';
import type { SmtpSettings } from './deps.ts';

export interface EmailContent {
  to: string[];
  cc: string[];
  subject: string;
  text: string | null;
  html: string | null;
}

export interface SentEmail {
  messageId: string;
  accepted: string[];
  rejected: string[];
  /** The server's final reply ("250 …"). */
  response: string;
}

export interface Mailer {
  /** Resolves once the server accepted the message (250); rejects with a classified HubError. `mail.from` is the From header as the caller chose it. */
  send(server: SmtpSettings, mail: EmailContent & { from: string; messageId: string }): Promise<SentEmail>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

const UNREACHABLE: ReadonlySet<string> = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Maps a nodemailer error to the notifier's codes; the message keeps the server's reply text. */
export function classifySmtpError(err: unknown): HubError {
  const e = (err ?? {}) as { code?: unknown; responseCode?: unknown; response?: unknown };
  const reply = typeof e.response === 'string' && e.response.trim() !== '' ? e.response.trim() : errorMessage(err);
  const status = typeof e.responseCode === 'number' ? e.responseCode : null;
  const code = typeof e.code === 'string' ? e.code : '';
  if (status !== null && status >= 400 && status < 500) return raiseNotifier('SMTP_TEMPORARY_FAILURE', `the SMTP server answered ${reply}`, { cause: err });
  // 503 is a bad command sequence, not a verdict on the message: a new connection may pass.
  if (status === 503) return raiseNotifier('SMTP_TEMPORARY_FAILURE', `the SMTP server answered ${reply}`, { cause: err });
  if (code === 'EAUTH' || code === 'ENOAUTH') return raiseNotifier('SMTP_AUTH_FAILED', `the SMTP server refused the login: ${reply}`, { cause: err });
  if (status !== null && status >= 500) return raiseNotifier('SMTP_REJECTED', `the SMTP server refused the message: ${reply}`, { cause: err });
  if (UNREACHABLE.has(code)) return raiseNotifier('SMTP_UNREACHABLE', `the SMTP server could not be reached: ${reply}`, { cause: err });
  return raiseNotifier('SMTP_FAILED', `sending failed: ${reply}`, { cause: err });
}

/**
 * A connection to a workspace's own SMTP server through the address guard, checked at
 * connect time as http steps are (the resolved addresses, then the peer once connected),
 * so a stored host that resolves to a private, loopback or metadata address is refused
 * with HTTP_ADDRESS_BLOCKED before a byte is sent.
 */
function guardedSocket(guard: AddressGuard, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    try {
      guard.checkHost(host);
    } catch (err) {
      reject(err);
      return;
    }
    const socket = net.connect({ host, port, lookup: guard.lookup, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.setTimeout(0);
      const refused = guard.refusal(host, socket.remoteAddress);
      if (refused) { socket.destroy(); reject(refused); } else resolve(socket);
    });
    socket.once('timeout', () => { socket.destroy(); reject(Object.assign(new Error(`connecting to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })); });
    socket.once('error', (err) => reject(err));
  });
}

export function createSmtpMailer(options: { timeoutMs: number; guard?: AddressGuard }): Mailer {
  return {
    async send(server, mail) {
      const guard = server.guarded ? options.guard : undefined;
      if (server.guarded && !guard) throw raiseNotifier('SMTP_FAILED', 'no address guard for a workspace\'s SMTP server');
      const transport = nodemailer.createTransport({
        ...(guard ? {
          getSocket: (_o: unknown, callback: (err: Error | null, socket?: { connection: net.Socket }) => void) => {
            guardedSocket(guard, server.host, server.port, options.timeoutMs).then((connection) => callback(null, { connection }), (err: Error) => callback(err));
          },
        } : {}),
        host: server.host,
        port: server.port,
        secure: server.secure,
        ...(server.username === undefined ? {} : { auth: { user: server.username, pass: server.password?.reveal() ?? '' } }),
        // A password crosses the network only encrypted: STARTTLS is required unless the server is this host.
        ...(server.username !== undefined && !server.secure && !LOOPBACK.test(server.host) ? { requireTLS: true } : {}),
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
        // Messages are user data: nothing in them may make the notifier read a file or fetch a URL.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      try {
        const info = await transport.sendMail({
          from: mail.from,
          to: mail.to,
          ...(mail.cc.length > 0 ? { cc: mail.cc } : {}),
          subject: mail.subject,
          ...(mail.text === null ? {} : { text: mail.text }),
          ...(mail.html === null ? {} : { html: mail.html }),
          messageId: mail.messageId,
        });
        return {
          messageId: info.messageId,
          accepted: info.accepted.map(String),
          rejected: info.rejected.map(String),
          response: info.response,
        };
      } catch (err) {
        // The guard's refusal keeps its own code: it is the workspace's setting, not the server, that is wrong.
        if (err instanceof Error && (err as { code?: unknown }).code === 'HTTP_ADDRESS_BLOCKED') throw err;
        throw classifySmtpError(err);
      } finally {
        transport.close();
      }
    },
  };
}

import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { sleep } from '../../libs/time/sleep.ts';

/**
 * The one mail catcher: the local stack's (stack/smtp/server.ts, which keeps messages on
 * disk and lists them over HTTP) and the tests' capture for the notifier's emails. A real
 * SMTP server (smtp-server) on 127.0.0.1 that parses each message (mailparser) and keeps
 * it in memory; never a relay.
 *
 * - With `user`/`pass`, AUTH PLAIN and LOGIN are required and checked (535 when wrong);
 *   without them, auth is optional and any credentials are accepted.
 * - No TLS: STARTTLS is not offered and auth is allowed in clear text, which is fine on
 *   the loopback interface only.
 * - `failNext(n, { code: 451 | 550, message })` answers the next n messages' DATA with
 *   that reply: 451 is a temporary failure a sender should retry, 550 a permanent one.
 *   Refused messages go to `rejected`, not to `messages`.
 */

export interface CapturedMessage {
  /** The From header's address (lower case). */
  from: string;
  /** Header addresses (lower case). */
  to: string[];
  cc: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string;
  /** Lower-cased header names; repeated headers joined by "\n". */
  headers: Record<string, string>;
  /** SMTP envelope: MAIL FROM and every RCPT TO (Bcc recipients appear only here). */
  envelope: { from: string; to: string[] };
  /** The authenticated user, if the client logged in. */
  user: string | undefined;
  attachments: { filename: string | undefined; contentType: string; size: number }[];
  date: Date | undefined;
  /** The message as received. */
  raw: string;
}

export interface SmtpFailure { code: 451 | 550 | number; message: string }

export interface SmtpCaptureOptions {
  user?: string;
  pass?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Largest accepted message in bytes (default 10 MiB). */
  maxSize?: number;
  /** Called with each accepted message, as received and as parsed (e.g. to keep it on disk). */
  onMessage?(raw: Buffer, message: CapturedMessage): void;
}

export interface SmtpCapture {
  host: '127.0.0.1';
  port: number;
  user: string | undefined;
  pass: string | undefined;
  messages: CapturedMessage[];
  rejected: { envelope: { from: string; to: string[] }; subject: string; code: number; message: string }[];
  failNext(n: number, failure: SmtpFailure): void;
  /** Resolves with the messages once at least `count` were captured (default timeout 5 s). */
  waitForMessages(count: number, timeoutMs?: number): Promise<CapturedMessage[]>;
  /** Forgets messages, rejections and pending failures. */
  reset(): void;
  close(): Promise<void>;
}

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  if (!value) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  const walk = (items: { address?: string | undefined; group?: { address?: string | undefined }[] | undefined }[]) => {
    for (const a of items) {
      if (a.address) out.push(a.address.toLowerCase());
      if (a.group) walk(a.group);
    }
  };
  for (const obj of list) walk(obj.value);
  return out;
}

function headersOf(mail: ParsedMail): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, line } of mail.headerLines) {
    const colon = line.indexOf(':');
    const value = (colon >= 0 ? line.slice(colon + 1) : line).replace(/\r?\n[ \t]+/g, ' ').trim();
    const k = key.toLowerCase();
    out[k] = out[k] === undefined ? value : `${out[k]}\n${value}`;
  }
  return out;
}

class SmtpReplyError extends Error {
  constructor(message: string, readonly responseCode: number) {
    super(message);
  }
}

export async function startSmtpCapture(options: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const messages: CapturedMessage[] = [];
  const rejected: SmtpCapture['rejected'] = [];
  let pending: { remaining: number; failure: SmtpFailure }[] = [];
  const needAuth = options.user !== undefined || options.pass !== undefined;

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err: Error) => callback(err));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks);
      const envelope = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address.toLowerCase() : '',
        to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
      };
      if ((stream as SMTPServerDataStream & { sizeExceeded?: boolean }).sizeExceeded) {
        callback(new SmtpReplyError('Message exceeds the fixed maximum message size', 552));
        return;
      }
      simpleParser(raw, { skipImageLinks: true }).then((mail) => {
        const first = pending[0];
        if (first) {
          first.remaining -= 1;
          if (first.remaining <= 0) pending.shift();
          rejected.push({ envelope, subject: mail.subject ?? '', code: first.failure.code, message: first.failure.message });
          callback(new SmtpReplyError(first.failure.message, first.failure.code));
          return;
        }
        const message: CapturedMessage = {
          from: addresses(mail.from)[0] ?? '',
          to: addresses(mail.to),
          cc: addresses(mail.cc),
          subject: mail.subject ?? '',
          text: mail.text ?? '',
          html: typeof mail.html === 'string' ? mail.html : '',
          messageId: mail.messageId ?? '',
          headers: headersOf(mail),
          envelope,
          user: typeof session.user === 'string' ? session.user : undefined,
          attachments: mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size })),
          date: mail.date,
          raw: raw.toString('utf8'),
        };
        messages.push(message);
        options.onMessage?.(raw, message);
        callback();
      }, (err: unknown) => callback(new SmtpReplyError(`Message could not be parsed: ${(err as Error).message}`, 554)));
    });
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: !needAuth,
    authMethods: ['PLAIN', 'LOGIN'],
    size: options.maxSize ?? 10 * 1024 * 1024,
    banner: 'crm-hub mail catcher',
    logger: false,
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      if (!needAuth) {
        callback(null, { user: auth.username ?? 'anonymous' });
        return;
      }
      if (auth.username === options.user && auth.password === options.pass) callback(null, { user: auth.username });
      else callback(new SmtpReplyError('Invalid username or password', 535));
    },
    onData,
  });
  server.on('error', (err: Error) => console.error('[smtp capture] server error', err));

  await new Promise<void>((resolve, reject) => {
    const net = server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    net.once('error', reject);
  });
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;

  return {
    host: '127.0.0.1',
    port,
    user: options.user,
    pass: options.pass,
    messages,
    rejected,
    failNext(n, failure) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError('failNext needs a positive integer count');
      pending.push({ remaining: n, failure });
    },
    async waitForMessages(count, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}`);
        await sleep(20);
      }
      return messages;
    },
    reset() {
      messages.length = 0;
      rejected.length = 0;
      pending = [];
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

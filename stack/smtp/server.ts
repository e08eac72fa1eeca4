/**
 * The local stack's mail catcher: the one catcher (catcher.ts) on 127.0.0.1, accepting
 * every message (any login or none) and keeping it, so workflows' emails can be read
 * during development: `curl 127.0.0.1:8025/messages` lists the latest,
 * `/messages/<n>.eml` gives one as received. Messages are files in $STACK_DIR/smtp/mail.
 */
import http from 'node:http';
import { appendFileSync, mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSmtpCapture } from './catcher.ts';

const dir = process.env.SMTP_DATA_DIR ?? '.stack/smtp';
const smtpPort = Number(process.env.SMTP_PORT ?? 2525);
const webPort = Number(process.env.SMTP_WEB_PORT ?? 8025);
const mailDir = path.join(dir, 'mail');
const index = path.join(dir, 'messages.jsonl');
mkdirSync(mailDir, { recursive: true });

interface Entry { n: number; at: string; from: string; to: string[]; subject: string; messageId: string }
const entries = (): Entry[] => (existsSync(index) ? readFileSync(index, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry) : []);
let next = entries().length + 1;

const catcher = await startSmtpCapture({
  port: smtpPort,
  maxSize: 25 * 1024 * 1024,
  onMessage(raw, message) {
    const n = next++;
    writeFileSync(path.join(mailDir, `${n}.eml`), raw);
    const entry: Entry = { n, at: new Date().toISOString(), from: message.envelope.from, to: message.envelope.to, subject: message.subject, messageId: message.messageId };
    appendFileSync(index, `${JSON.stringify(entry)}\n`);
    // The catcher's memory is only for tests; here the files are the record.
    catcher.reset();
    console.log(`message ${n}: ${entry.from} → ${entry.to.join(', ')}: ${entry.subject}`);
  },
});
console.log(`smtp listening on 127.0.0.1:${catcher.port}`);

http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const eml = /^\/messages\/(\d+)\.eml$/.exec(url.pathname);
  if (url.pathname === '/messages' || url.pathname === '/') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ messages: entries().slice(-100).reverse() }, null, 2));
  } else if (eml && existsSync(path.join(mailDir, `${eml[1]}.eml`))) {
    res.setHeader('content-type', 'message/rfc822');
    res.end(readFileSync(path.join(mailDir, `${eml[1]}.eml`)));
  } else {
    res.statusCode = 404;
    res.end('{"error":"not found"}');
  }
}).listen(webPort, '127.0.0.1', () => console.log(`messages at http://127.0.0.1:${webPort}/messages`));

const stop = () => { void catcher.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

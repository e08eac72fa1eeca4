/**
 * Load for liveness tests: numbered webhook deliveries posted by concurrent clients as
 * fast as the ingress takes them, each with its own `webhook-id` (so a retry is the
 * same delivery), retried like a well-behaved sender: after `Retry-After` on 503, and
 * after a pause when the connection fails. And a local server counting the effects
 * that an http step sends for each delivery.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from '../../libs/time/sleep.ts';

export interface LoadResult {
  accepted: number;
  /** 503 answers, and how many of them carried Retry-After. */
  unavailable: number;
  unavailableWithRetryAfter: number;
  connectionErrors: number;
  elapsedMs: number;
}

export async function postDeliveries(hookUrl: string, total: number, options: { clients?: number; onAccepted?(n: number): void } = {}): Promise<LoadResult> {
  const result: LoadResult = { accepted: 0, unavailable: 0, unavailableWithRetryAfter: 0, connectionErrors: 0, elapsedMs: 0 };
  const started = Date.now();
  let next = 0;
  async function client(): Promise<void> {
    for (let n = next++; n < total; n = next++) {
      for (;;) {
        let res: Response;
        try {
          res = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': `delivery-${n}` }, body: JSON.stringify({ n }), signal: AbortSignal.timeout(60_000) });
        } catch {
          result.connectionErrors += 1;
          await sleep(500);
          continue;
        }
        const text = await res.text();
        if (res.status === 202) { result.accepted += 1; options.onAccepted?.(n); break; }
        if (res.status === 503) {
          result.unavailable += 1;
          const retryAfter = res.headers.get('retry-after');
          if (retryAfter !== null) result.unavailableWithRetryAfter += 1;
          await sleep(Math.min(5, Number(retryAfter ?? 1)) * 1000);
          continue;
        }
        throw new Error(`delivery ${n}: ${res.status} ${text}`);
      }
    }
  }
  await Promise.all(Array.from({ length: options.clients ?? 10 }, client));
  result.elapsedMs = Date.now() - started;
  return result;
}

export interface EffectCounter {
  url: string;
  /** Per delivery number: the Idempotency-Key of each request that arrived for it. */
  effects: Map<number, string[]>;
  requests: number;
  close(): Promise<void>;
}

/** Answers 200 to every POST of `{n}` and remembers it with its Idempotency-Key. */
export async function startEffectCounter(): Promise<EffectCounter> {
  const counter: EffectCounter = { url: '', effects: new Map(), requests: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += String(d); });
    req.on('end', () => {
      counter.requests += 1;
      try {
        const { n } = JSON.parse(body) as { n: number };
        const keys = counter.effects.get(n) ?? [];
        keys.push(String(req.headers['idempotency-key'] ?? ''));
        counter.effects.set(n, keys);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  counter.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/effects`;
  counter.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return counter;
}

/**
 * Fuzzing the ingress on the real stack: many random and malformed requests against
 * every public route; none may answer 5xx or crash, every refusal has our error shape,
 * and, every request being invalid by construction, nothing is published or created.
 * FUZZ_SEED=<n> replays a run's request stream; FUZZ_REQUESTS=<n> changes its length.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestIngress, type TestIngress } from '../support/ingress.ts';
import { topicSize } from '../support/topic.ts';
import { topics } from '../../libs/kafka/topics.ts';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const TOTAL = Math.max(1, Number(process.env.FUZZ_REQUESTS ?? 10_500));
const CONCURRENCY = 20;

/** mulberry32: small, fast, good enough to spread requests; the same seed gives the same stream. */
class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  range(min: number, max: number): number { return min + this.int(max - min + 1); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }
}

interface FuzzRequest {
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

let t: TestIngress;
let ws: { workspaceId: string; apiKey: string; keyId: string };

before(async () => {
  t = await startTestIngress('fuzz', { env: { HUB_RATE_LIMIT_RPS: '1000000', HUB_RATE_LIMIT_BURST: '1000000' } });
  ws = await t.createWorkspace('fuzz');
});
after(async () => {
  await t?.close();
});

function generate(rng: Rng): FuzzRequest {
  const auth = rng.chance(0.8) ? { authorization: `Bearer ${ws.apiKey}` } : {};
  return { kind: 'events/text', method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: rng.pick(['{', '[]', '', 'null', '{"type":1}']) };
}

const trunc = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

function problemWith(req: FuzzRequest, status: number, body: string): string | null {
  if (status >= 500) return `status ${status}`;
  if (status < 400 || req.method === 'HEAD') return null;
  let parsed: unknown;
  try { parsed = JSON.parse(body); } catch { return 'error body is not JSON'; }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== 'string' || !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(error.code)) return 'error.code is not an UPPER_SNAKE string';
  if (typeof error.message !== 'string') return 'error.message is not a string';
  return null;
}

test(`${TOTAL} random and malformed requests: no 5xx, no crash, our error shape, nothing published (seed ${SEED})`, { timeout: 180_000 }, async (ctx) => {
  const rng = new Rng(SEED);
  const failures: string[] = [];
  let sent = 0;
  const started = Date.now();
  const worker = async () => {
    while (sent < TOTAL) {
      const i = sent++;
      const req = generate(rng);
      let problem: string | null;
      let status = 0;
      let body = '';
      try {
        const res = await t.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
        status = res.statusCode;
        body = res.body;
        problem = problemWith(req, status, body);
      } catch (err) {
        problem = `inject threw: ${(err as Error).stack ?? String(err)}`;
      }
      if (problem) {
        const payload = req.payload === undefined ? '(none)' : Buffer.isBuffer(req.payload) ? `<${req.payload.length} bytes> ${req.payload.toString('hex', 0, 60)}` : JSON.stringify(trunc(req.payload, 200));
        const headers = JSON.stringify(Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, trunc(v, 80)])));
        failures.push(`#${i} [${req.kind}] ${req.method} ${trunc(req.url, 160)} headers=${headers} body=${payload} -> ${status} ${trunc(body, 300)}: ${problem}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  ctx.diagnostic(`seed ${SEED}: ${sent} requests in ${Date.now() - started} ms`);
  assert.equal(failures.length, 0, `FUZZ_SEED=${SEED}: ${failures.length} of ${sent} requests failed; the first ones:\n${failures.slice(0, 10).join('\n')}`);

  // Still serving, and nothing was published or created.
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: { authorization: `Bearer ${ws.apiKey}` } })).statusCode, 200);
  assert.equal(await topicSize(t.runtime, t.runtime.topic(topics.records)), 0, `FUZZ_SEED=${SEED}: something was published on ${topics.records.name}`);
  assert.equal(await topicSize(t.runtime, t.runtime.topic(topics.webhooks)), 0, `FUZZ_SEED=${SEED}: something was published on ${topics.webhooks.name}`);
  assert.equal(await t.store.db.collection('workspaces').countDocuments(), 1, `FUZZ_SEED=${SEED}: a workspace was created`);
});

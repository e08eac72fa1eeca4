/**
 * A steady mixed load on the hub, as its users' systems send it: producer events (one at
 * a time and in batches) that create people, and signed webhook deliveries. Every
 * request is retried as a well-behaved client retries (after Retry-After on 503 or 429,
 * after a pause when the connection fails), with the same ids, so a retry is the same
 * event. What was acknowledged is remembered: it is what the end state is checked against.
 */
import { randomUUID } from 'node:crypto';
import { sign } from '../../libs/webhooks/standard.ts';
import { sleep } from '../../libs/time/sleep.ts';

export interface LoadTarget {
  url: string;
  apiKey: string;
  hookUrl: string;
  hookSecret: string;
}

export interface Acknowledged {
  /** Producer event id → the person it created (`p-<n>`). */
  events: Map<string, string>;
  /** Delivery key (`d-<n>`) → the hub's delivery id. */
  deliveries: Map<string, string>;
}

export interface LoadFigures {
  /** Units (events or deliveries) offered, and per second over the load's time. */
  offered: number;
  acknowledged: number;
  /** Answers that asked the client to come back later (503/429), and how many said when. */
  unavailable: number;
  unavailableWithRetryAfter: number;
  connectionErrors: number;
  /** Any other answer: each one is a defect, and the request is retried until it passes. */
  unexpectedCount: number;
  /** The first few of them. */
  unexpected: { status: number; body: string }[];
  elapsedMs: number;
}

export interface MixedLoad {
  acknowledged: Acknowledged;
  figures: LoadFigures;
  /** Stops offering new work and waits until every request under way is acknowledged. */
  stop(): Promise<LoadFigures>;
}

const BATCH = 10;
const MAX_IN_FLIGHT = 64;

/** Offers `ratePerSecond` units per second: a third single events, a third in batches of ten, a third deliveries. */
export function startMixedLoad(target: LoadTarget, ratePerSecond: number): MixedLoad {
  const acknowledged: Acknowledged = { events: new Map(), deliveries: new Map() };
  const figures: LoadFigures = { offered: 0, acknowledged: 0, unavailable: 0, unavailableWithRetryAfter: 0, connectionErrors: 0, unexpectedCount: 0, unexpected: [], elapsedMs: 0 };
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  let stopping = false;

  /** Sends until the hub acknowledges; returns the answer's body. */
  async function send(url: string, init: () => RequestInit): Promise<unknown> {
    for (;;) {
      let res: Response;
      try {
        res = await fetch(url, { ...init(), signal: AbortSignal.timeout(60_000) });
      } catch {
        figures.connectionErrors += 1;
        await sleep(500);
        continue;
      }
      const text = await res.text();
      if (res.status === 202) return JSON.parse(text) as unknown;
      if (res.status === 503 || res.status === 429) {
        figures.unavailable += 1;
        const retryAfter = res.headers.get('retry-after');
        if (retryAfter !== null) figures.unavailableWithRetryAfter += 1;
        await sleep(Math.min(5, Number(retryAfter ?? 1)) * 1000);
        continue;
      }
      figures.unexpectedCount += 1;
      if (figures.unexpected.length < 20) figures.unexpected.push({ status: res.status, body: text.slice(0, 300) });
      // A refusal of the request itself is the load's bug or the hub's; retrying it would only hide it.
      if (res.status < 500) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 500)}`);
      await sleep(1000);
    }
  }

  // Event ids are UUIDs (the hub's idempotency keys): this load's prefix, then n.
  const prefix = randomUUID().slice(0, 24);
  const eventId = (n: number) => `${prefix}${n.toString(16).padStart(12, '0')}`;
  const person = (n: number) => ({
    id: eventId(n), type: 'record.created', object: 'people', recordId: `p-${n}`,
    record: { email: `p-${n}@load.test`, firstName: 'Load', lastName: `Person ${n}`, key: `p-${n}`, n },
  });

  async function events(ns: number[]): Promise<void> {
    const body = JSON.stringify(ns.length === 1 ? person(ns[0]!) : { events: ns.map(person) });
    await send(`${target.url}/v1/events`, () => ({ method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}` }, body }));
    for (const n of ns) acknowledged.events.set(eventId(n), `p-${n}`);
    figures.acknowledged += ns.length;
  }

  async function delivery(n: number): Promise<void> {
    const key = `d-${n}`;
    const body = JSON.stringify({ key, n });
    const answer = await send(target.hookUrl, () => {
      // A retry is signed again (the timestamp must be fresh), with the same webhook-id.
      const now = Math.floor(Date.now() / 1000);
      return { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': key, 'webhook-timestamp': String(now), 'webhook-signature': sign(target.hookSecret, key, now, body) }, body };
    }) as { deliveryId: string };
    acknowledged.deliveries.set(key, answer.deliveryId);
    figures.acknowledged += 1;
  }

  function offer(kind: number): void {
    let work: Promise<void>;
    if (kind === 1) {
      const ns = Array.from({ length: BATCH }, () => next++);
      figures.offered += BATCH;
      work = events(ns);
    } else {
      const n = next++;
      figures.offered += 1;
      work = kind === 0 ? events([n]) : delivery(n);
    }
    const tracked = work.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }

  // Every 100 ms, what the rate owes since the start; a client that is behind (too many
  // requests waiting) offers less, as a real one would.
  let owed = 0;
  let kind = 0;
  const ticker = setInterval(() => {
    if (stopping) return;
    owed = (Date.now() - started) / 1000 * ratePerSecond - figures.offered;
    while (owed > 0 && inFlight.size < MAX_IN_FLIGHT) {
      const before = figures.offered;
      offer(kind % 3);
      kind += 1;
      owed -= figures.offered - before;
    }
  }, 100);

  return {
    acknowledged,
    figures,
    async stop() {
      stopping = true;
      clearInterval(ticker);
      figures.elapsedMs = Date.now() - started;
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return figures;
    },
  };
}

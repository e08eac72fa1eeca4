/**
 * Offsets tools for replays and lag: watermarks, the offsets a timestamp falls on, the
 * timestamp of the message at an offset (by timestamps: Kafka's time index answers
 * "first offset at or after T", so a bounded search finds the time of offset N), and a
 * replay plan checked against what each partition holds.
 */
import type { Admin } from 'kafkajs';
import { raise } from '../errors/index.ts';

export interface Watermarks { low: bigint; high: bigint }

export async function watermarks(admin: Admin, topic: string): Promise<Map<number, Watermarks>> {
  const out = new Map<number, Watermarks>();
  for (const p of await admin.fetchTopicOffsets(topic)) out.set(p.partition, { low: BigInt(p.low), high: BigInt(p.high) });
  return out;
}

/** Per partition, the first offset whose timestamp is at or after `ts` (the high watermark when none is). */
export async function offsetsAt(admin: Admin, topic: string, ts: number, marks?: Map<number, Watermarks>): Promise<Map<number, bigint>> {
  const known = marks ?? await watermarks(admin, topic);
  const out = new Map<number, bigint>();
  for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, ts)) {
    const o = BigInt(p.offset);
    out.set(p.partition, o < 0n ? known.get(p.partition)?.high ?? 0n : o);
  }
  return out;
}

/**
 * The (producer) timestamp of the message at `offset`, found by timestamps between
 * `loMs` and `hiMs`: the largest T whose first offset at or after T is at most
 * `offset`. About log2((hi - lo) / 1 ms) requests of one partition's offsets.
 */
export async function timestampOf(admin: Admin, topic: string, partition: number, offset: bigint, loMs: number, hiMs: number): Promise<number> {
  let lo = Math.floor(loMs);
  let hi = Math.ceil(hiMs);
  const at = async (t: number) => {
    const found = (await admin.fetchTopicOffsetsByTimestamp(topic, t)).find((p) => p.partition === partition);
    const o = BigInt(found?.offset ?? '-1');
    return o < 0n ? null : o;
  };
  // Invariant: first(lo) <= offset; first(hi + 1) > offset (or none).
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    const o = await at(mid);
    if (o !== null && o <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface PlanEntry { topic: string; partition: number; fromOffset: number; toOffset: number; messages: number }

export type ReplayFrom = { timestamp: string | number } | { offsets: Record<string, Record<string, number>> };
export type ReplayTo = { timestamp: string | number } | { offsets: Record<string, Record<string, number>> };

/** A timestamp given as ISO-8601 text or epoch milliseconds; `path` names it in refusals. */
export function parseTimestamp(value: unknown, path: string, now: number): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) throw raise('BODY_INVALID', 'a timestamp is an ISO-8601 date-time with a zone (or epoch milliseconds)', { path });
  if (ms > now) throw raise('REPLAY_WINDOW_INVALID', 'this time is in the future: a replay reads what the log already holds', { path });
  return ms;
}

export interface PlanInput {
  /** Logical name → physical name of the topics to plan. */
  topics: ReadonlyMap<string, string>;
  from: ReplayFrom;
  to?: ReplayTo;
  /** Upper bounds per physical topic and partition (e.g. the live group's committed offsets: a replay never overtakes it). */
  cap?: ReadonlyMap<string, ReadonlyMap<number, bigint>>;
  /** Where the body's fields are, for refusals (e.g. "" or "/window"). */
  at?: string;
  now: number;
}

const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** From and to offsets per partition, checked: offsets out of what a partition holds, unknown topics or partitions and windows in the future are 400s naming the field. */
export async function planRanges(admin: Admin, p: PlanInput): Promise<PlanEntry[]> {
  const at = p.at ?? '';
  const entries: PlanEntry[] = [];
  const bound = async (spec: ReplayFrom | ReplayTo, field: 'from' | 'to', logical: string, physical: string, marks: Map<number, Watermarks>): Promise<Map<number, bigint>> => {
    if ('timestamp' in spec) {
      const ts = parseTimestamp(spec.timestamp, `${at}/${field}/timestamp`, p.now);
      return offsetsAt(admin, physical, ts, marks);
    }
    const given = spec.offsets;
    const out = new Map<number, bigint>();
    for (const t of Object.keys(given)) {
      if (!p.topics.has(t)) throw raise('OFFSETS_OUT_OF_RANGE', `topic ${t} is not read here; topics: ${[...p.topics.keys()].join(', ')}`, { path: `${at}/${field}/offsets/${esc(t)}` });
    }
    const mine = given[logical];
    for (const [k, v] of Object.entries(mine ?? {})) {
      const partition = Number(k);
      const path = `${at}/${field}/offsets/${esc(logical)}/${esc(k)}`;
      const m = marks.get(partition);
      if (!Number.isInteger(partition) || !m) throw raise('OFFSETS_OUT_OF_RANGE', `${logical} has no partition ${k} (it has ${marks.size})`, { path });
      if (typeof v !== 'number' || !Number.isInteger(v)) throw raise('BODY_INVALID', 'an offset is an integer', { path });
      if (BigInt(v) < m.low || BigInt(v) > m.high) throw raise('OFFSETS_OUT_OF_RANGE', `offset ${v} is outside ${logical}/${k}, which holds ${m.low} to ${m.high}`, { path });
      out.set(partition, BigInt(v));
    }
    // Partitions not named are not replayed (from) or read to their end (to), as kafka-consumer-groups does per partition.
    for (const [partition, m] of marks) if (!out.has(partition)) out.set(partition, m.high);
    return out;
  };
  for (const [logical, physical] of p.topics) {
    const marks = await watermarks(admin, physical);
    const from = await bound(p.from, 'from', logical, physical, marks);
    const to = p.to ? await bound(p.to, 'to', logical, physical, marks) : new Map([...marks].map(([k, m]) => [k, m.high]));
    const cap = p.cap?.get(physical);
    for (const [partition, m] of [...marks].sort((a, b) => a[0] - b[0])) {
      let f = from.get(partition)!;
      let t = to.get(partition)!;
      if (f < m.low) f = m.low;
      const c = cap?.get(partition);
      if (c !== undefined && t > c) t = c;
      if (t < f) t = f;
      entries.push({ topic: logical, partition, fromOffset: Number(f), toOffset: Number(t), messages: Number(t - f) });
    }
  }
  if (p.to && 'timestamp' in p.to && 'timestamp' in p.from) {
    const f = parseTimestamp(p.from.timestamp, `${at}/from/timestamp`, p.now);
    const t = parseTimestamp(p.to.timestamp, `${at}/to/timestamp`, p.now);
    if (t < f) throw raise('REPLAY_WINDOW_INVALID', 'the window ends before it starts', { path: `${at}/to/timestamp` });
  }
  return entries;
}

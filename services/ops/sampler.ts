/**
 * Reads every hub topic's end offsets and every hub group's state and committed offsets
 * each `sampleMs`, and keeps an hour of them: rates (messages/s, bytes/s over 1 and 5
 * minutes), lag in messages and in seconds (the age of the oldest unconsumed message:
 * the timestamp of the message at the committed offset, found by timestamps and cached,
 * since a message's time never changes) and a status per partition (lag.ts).
 */
import type { Admin } from 'kafkajs';
import type { Logger } from '../../libs/log/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import { topics as catalogue } from '../../libs/kafka/topics.ts';
import { consumerGroups, groupTopics, isHubGroup } from '../../libs/kafka/groups.ts';
import { timestampOf, watermarks, type Watermarks } from '../../libs/kafka/offsets.ts';
import { lagMessages, partitionStatus, position, rate, worst, type LagThresholds, type PartitionStatus } from './lag.ts';

const HOUR_MS = 60 * 60 * 1000;
const KEEP_MS = HOUR_MS + 5 * 60 * 1000;

export interface TopicView {
  topic: string;
  partitions: { partition: number; startOffset: number; endOffset: number }[];
  messages: number;
  endOffset: number;
  messagesInPerSec: { '1m': number | null; '5m': number | null };
  bytesInPerSec: { '1m': number | null; '5m': number | null };
  retentionMs: number | null;
  compacted: boolean;
  dlq: boolean;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  committedOffset: number | null;
  endOffset: number;
  lagMessages: number;
  lagSeconds: number;
  status: PartitionStatus;
  consumedPerSec: number | null;
}

export interface GroupView {
  group: string;
  state: string;
  members: { clientId: string; host: string }[];
  status: PartitionStatus;
  lagMessages: number;
  lagSeconds: number;
  consumedPerSec: { '1m': number | null; '5m': number | null };
  partitions: PartitionLag[];
}

export interface Snapshot { at: number; topics: TopicView[]; groups: GroupView[] }

export interface GroupPoint { at: number; lagMessages: number; lagSeconds: number }

interface Series { at: number; value: number }

export interface SamplerDeps {
  admin: Admin;
  prefix: string;
  log: Logger;
  thresholds: LagThresholds;
  /** Bytes read so far per physical "topic:partition" by the tail reader (tail.ts). */
  bytesSeen(): ReadonlyMap<string, number>;
  now?(): number;
}

export interface Sampler {
  sample(): Promise<Snapshot>;
  latest(): Snapshot | null;
  /** Total lag and oldest waiting message of a group, one point per sample, for the last `ms`. */
  history(group: string, ms?: number): GroupPoint[];
  /** Physical names of the hub's topics as last seen (the tail reader follows them). */
  physicalTopics(): string[];
}

const trim = <T extends { at: number }>(list: T[], now: number) => {
  while (list.length > 0 && list[0]!.at < now - KEEP_MS) list.shift();
};

export function createSampler(d: SamplerDeps): Sampler {
  const now = d.now ?? Date.now;
  const ends = new Map<string, Series[]>();
  const bytes = new Map<string, Series[]>();
  const consumed = new Map<string, Series[]>();
  const committedSince = new Map<string, { offset: bigint | null; since: number }>();
  const timestamps = new Map<string, number>();
  const groupHistory = new Map<string, GroupPoint[]>();
  let configs: { at: number; byTopic: Map<string, { retentionMs: number | null; compacted: boolean }> } = { at: 0, byTopic: new Map() };
  let last: Snapshot | null = null;
  let physical: string[] = [];

  const push = (map: Map<string, Series[]>, key: string, at: number, value: number) => {
    let list = map.get(key);
    if (!list) { list = []; map.set(key, list); }
    list.push({ at, value });
    trim(list, at);
  };

  async function readConfigs(names: string[], at: number) {
    if (at - configs.at < 60_000 && names.every((n) => configs.byTopic.has(n))) return;
    const byTopic = new Map<string, { retentionMs: number | null; compacted: boolean }>();
    try {
      const res = await d.admin.describeConfigs({ includeSynonyms: false, resources: names.map((name) => ({ type: 2, name, configNames: ['retention.ms', 'cleanup.policy'] })) });
      for (const r of res.resources) {
        const get = (n: string) => r.configEntries.find((e) => e.configName === n)?.configValue;
        const retention = Number(get('retention.ms'));
        byTopic.set(r.resourceName, { retentionMs: Number.isFinite(retention) ? retention : null, compacted: (get('cleanup.policy') ?? '').includes('compact') });
      }
      configs = { at, byTopic };
    } catch (err) {
      d.log.warn({ err: errorMessage(err) }, 'cannot read topic configs');
    }
  }

  /** Seconds since the message at `pos` was produced; the timestamp is searched once per offset. */
  async function oldestAge(topic: string, partition: number, pos: bigint, at: number): Promise<number> {
    const key = `${topic}:${partition}:${pos}`;
    let ts = timestamps.get(key);
    if (ts === undefined) {
      // Narrow the search with the samples: the message appeared between two of them.
      const list = ends.get(`${topic}:${partition}`) ?? [];
      const firstAfter = list.findIndex((s) => BigInt(s.value) > pos);
      const lo = firstAfter > 0 ? list[firstAfter - 1]!.at - 1000 : at - 45 * 24 * HOUR_MS;
      const hi = firstAfter >= 0 ? list[firstAfter]!.at + 1000 : at;
      ts = await timestampOf(d.admin, topic, partition, pos, lo, hi);
      if (timestamps.size > 20_000) timestamps.clear();
      timestamps.set(key, ts);
    }
    // Now, not the sample's start: messages may have arrived while the sample was being read.
    return Math.max(0, Math.round((Math.max(at, now()) - ts) / 100) / 10);
  }

  async function sample(): Promise<Snapshot> {
    const at = now();
    const existing = new Set(await d.admin.listTopics());
    const own = Object.values(catalogue).map((t) => `${d.prefix}${t.name}`).filter((t) => existing.has(t));
    const dlqs = [...existing].filter((t) => t.startsWith(d.prefix) && t.endsWith('.dlq') && isHubGroup(t.slice(d.prefix.length, -4))).sort();
    physical = [...own, ...dlqs];
    await readConfigs(physical, at);
    const marks = new Map<string, Map<number, Watermarks>>();
    const seen = d.bytesSeen();
    const topicViews: TopicView[] = [];
    for (const t of physical) {
      const m = await watermarks(d.admin, t);
      marks.set(t, m);
      let total = 0;
      let end = 0;
      for (const [p, w] of m) {
        push(ends, `${t}:${p}`, at, Number(w.high));
        total += Number(w.high - w.low);
        end += Number(w.high);
      }
      push(ends, t, at, end);
      push(bytes, t, at, [...seen].filter(([k]) => k.startsWith(`${t}:`)).reduce((n, [, v]) => n + v, 0));
      const cfg = configs.byTopic.get(t);
      const e = ends.get(t)!;
      const b = bytes.get(t)!;
      topicViews.push({
        topic: t.slice(d.prefix.length),
        partitions: [...m].sort((a, b_) => a[0] - b_[0]).map(([partition, w]) => ({ partition, startOffset: Number(w.low), endOffset: Number(w.high) })),
        messages: total, endOffset: end,
        messagesInPerSec: { '1m': rate(e, 60_000, at), '5m': rate(e, 300_000, at) },
        bytesInPerSec: { '1m': rate(b, 60_000, at), '5m': rate(b, 300_000, at) },
        retentionMs: cfg?.compacted ? null : cfg?.retentionMs ?? null, compacted: cfg?.compacted ?? false, dlq: t.endsWith('.dlq'),
      });
    }

    const listed = (await d.admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(d.prefix)).map((g) => g.slice(d.prefix.length)).filter(isHubGroup);
    const names = [...new Set([...Object.keys(consumerGroups), ...listed])].sort();
    const described = new Map((await d.admin.describeGroups(names.map((n) => `${d.prefix}${n}`))).groups.map((g) => [g.groupId.slice(d.prefix.length), g]));
    const groupViews: GroupView[] = [];
    for (const name of names) {
      const g = described.get(name);
      const members = (g?.members ?? []).map((m) => ({ clientId: m.clientId, host: m.clientHost }));
      const committed = new Map<string, bigint | null>();
      const fetched = await d.admin.fetchOffsets({ groupId: `${d.prefix}${name}` }).catch(() => []);
      for (const t of fetched) for (const p of t.partitions) committed.set(`${t.topic}:${p.partition}`, BigInt(p.offset) < 0n ? null : BigInt(p.offset));
      const topicNames = new Set([...(groupTopics(name) ?? []).map((t) => `${d.prefix}${t}`), ...fetched.map((t) => t.topic)]);
      // A group nobody runs and that never committed is not worth a row (e.g. a service not deployed).
      if (!g || (g.state === 'Dead' && fetched.length === 0 && !consumerGroups[name])) continue;
      const partitions: PartitionLag[] = [];
      for (const t of [...topicNames].sort()) {
        const m = marks.get(t) ?? (existing.has(t) ? await watermarks(d.admin, t) : new Map<number, Watermarks>());
        for (const [p, w] of [...m].sort((a, b_) => a[0] - b_[0])) {
          const key = `${name}|${t}:${p}`;
          const c = committed.get(`${t}:${p}`) ?? null;
          const prev = committedSince.get(key);
          if (!prev || prev.offset !== c) committedSince.set(key, { offset: c, since: at });
          const pos = position(c, w.low);
          push(consumed, key, at, Number(pos));
          const lag = lagMessages({ committed: c, low: w.low, end: w.high });
          let age = 0;
          if (lag > 0) age = await oldestAge(t, p, pos, at).catch(() => 0);
          const input = { committed: c, low: w.low, end: w.high, committedSince: committedSince.get(key)!.since, oldestWaitingSeconds: age, members: members.length, now: at };
          partitions.push({
            topic: t.slice(d.prefix.length), partition: p, committedOffset: c === null ? null : Number(c), endOffset: Number(w.high),
            lagMessages: lag, lagSeconds: age, status: partitionStatus(input, d.thresholds), consumedPerSec: rate(consumed.get(key)!, 60_000, at),
          });
        }
      }
      const sum = (f: (p: PartitionLag) => number | null) => partitions.reduce((n, p) => n + (f(p) ?? 0), 0);
      const view: GroupView = {
        group: name, state: g.state, members, status: worst(partitions.map((p) => p.status)),
        lagMessages: sum((p) => p.lagMessages), lagSeconds: partitions.reduce((n, p) => Math.max(n, p.lagSeconds), 0),
        consumedPerSec: {
          '1m': partitions.length ? sum((p) => p.consumedPerSec) : null,
          '5m': partitions.length ? partitions.reduce((n, p) => n + (rate(consumed.get(`${name}|${d.prefix}${p.topic}:${p.partition}`)!, 300_000, at) ?? 0), 0) : null,
        },
        partitions,
      };
      groupViews.push(view);
      let h = groupHistory.get(name);
      if (!h) { h = []; groupHistory.set(name, h); }
      h.push({ at, lagMessages: view.lagMessages, lagSeconds: view.lagSeconds });
      trim(h, at);
    }
    last = { at, topics: topicViews, groups: groupViews };
    return last;
  }

  return {
    sample,
    latest: () => last,
    history: (group, ms = HOUR_MS) => (groupHistory.get(group) ?? []).filter((p) => p.at >= now() - ms),
    physicalTopics: () => physical,
  };
}

/**
 * What a reliability run watches while it runs: the consumer lag of the hub's groups
 * (messages not yet committed, summed) and the resident memory of each service process.
 */
import { readFileSync } from 'node:fs';
import type { Admin } from 'kafkajs';
import type { E2EHub } from '../support/e2e-hub.ts';
import { createLogger } from '../../libs/log/index.ts';
import { startKafkaRuntime, type KafkaRuntime } from '../../libs/kafka/runtime.ts';
import { topics } from '../../libs/kafka/topics.ts';
import { consumerGroups } from '../../libs/kafka/groups.ts';

async function lagOf(admin: Admin, runtime: KafkaRuntime): Promise<number> {
  let total = 0;
  for (const [group, keys] of Object.entries(consumerGroups)) {
    const physical = keys.map((k) => runtime.topic(topics[k]));
    const committed = await admin.fetchOffsets({ groupId: runtime.group(group), topics: physical });
    for (const t of committed) {
      const highs = new Map((await admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)]));
      for (const p of t.partitions) {
        const at = Number(p.offset);
        // -1: nothing committed yet; the group reads from the beginning (low is 0 in a test's fresh topic).
        total += Math.max(0, (highs.get(p.partition) ?? 0) - (at < 0 ? 0 : at));
      }
    }
  }
  return total;
}

export interface LagSampler { max(): number; stop(): void }

export function startConsumerLagSampler(hub: E2EHub, everyMs = 2000): LagSampler {
  let max = 0;
  let stopped = false;
  void (async () => {
    // Silent: during a broker outage every sample fails, which the scenario expects.
    const runtime = await startKafkaRuntime(hub.config, createLogger({ service: 'reliability-lag', level: 'silent' }));
    const admin = runtime.kafka.admin();
    try {
      await admin.connect();
      while (!stopped) {
        // A broker outage makes a sample fail: the lag then is what it was before and after.
        try { max = Math.max(max, await lagOf(admin, runtime)); } catch { /* sampled again shortly */ }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
      await runtime.close().catch(() => undefined);
    }
  })().catch(() => undefined);
  return { max: () => max, stop: () => { stopped = true; } };
}

export type MemoryReport = Record<string, { startMiB: number; endMiB: number; growthPer10MinMiB: number }>;

export interface MemorySampler { report(): MemoryReport; stop(): void }

function rssMiB(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

/** Least-squares slope of (seconds, MiB), in MiB per 10 minutes. */
function slopePer10Min(points: [number, number][]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  if (sxx === 0) return 0;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return Math.round(sxy / sxx * 600);
}

/**
 * Samples each service's RSS every `everyMs`. A service's growth is measured on the
 * samples of its latest process after the first fifth of the run (warm-up: caches,
 * JIT, connection pools), so a restart or the start itself does not read as a leak.
 */
export function startMemorySampler(hub: E2EHub, everyMs = 10_000): MemorySampler {
  const started = Date.now();
  const samples = new Map<string, { pid: number; t: number; mib: number }[]>();
  const sample = () => {
    for (const [name, p] of hub.services) {
      const pid = p.child.pid;
      const mib = pid ? rssMiB(pid) : null;
      if (pid && mib !== null) samples.set(name, [...samples.get(name) ?? [], { pid, t: (Date.now() - started) / 1000, mib }]);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => clearInterval(timer),
    report() {
      sample();
      const out: MemoryReport = {};
      for (const [name, list] of samples) {
        const last = list[list.length - 1]!;
        const own = list.filter((s) => s.pid === last.pid);
        const warm = own.filter((s) => s.t >= last.t / 5);
        out[name] = { startMiB: list[0]!.mib, endMiB: last.mib, growthPer10MinMiB: slopePer10Min((warm.length >= 2 ? warm : own).map((s) => [s.t, s.mib])) };
      }
      return out;
    },
  };
}

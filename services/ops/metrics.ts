import { Counter, Gauge } from 'prom-client';
import { createHttpMetrics } from '../../libs/http-server/metrics.ts';
import type { Snapshot } from './sampler.ts';

/**
 * The ops service's Prometheus series, from the sampler's latest snapshot and the DLQ
 * index, read at each scrape (the api adds them to its answer, the ingress to the hub's
 * /metrics, so one target at :8080 covers them).
 */
export function createOpsMetrics(o: { latest(): Snapshot | null; parked(): Promise<{ group: string; topic: string; partition: number; count: number }[]>; firing(): number }) {
  const m = createHttpMetrics({ processPrefix: 'hub_ops_' });
  const registers = [m.registry];
  new Gauge({
    name: 'hub_consumer_lag_messages', help: 'Messages not yet consumed by a group, per topic and partition', labelNames: ['group', 'topic', 'partition'], registers,
    collect() {
      this.reset();
      for (const g of o.latest()?.groups ?? []) for (const p of g.partitions) this.set({ group: g.group, topic: p.topic, partition: String(p.partition) }, p.lagMessages);
    },
  });
  new Gauge({
    name: 'hub_consumer_lag_seconds', help: 'Age in seconds of the oldest message a group has not consumed (0 when none waits)', labelNames: ['group', 'topic', 'partition'], registers,
    collect() {
      this.reset();
      for (const g of o.latest()?.groups ?? []) for (const p of g.partitions) this.set({ group: g.group, topic: p.topic, partition: String(p.partition) }, p.lagSeconds);
    },
  });
  new Counter({
    name: 'hub_topic_messages_in_total', help: 'Messages ever written to a hub topic partition (its end offset)', labelNames: ['topic', 'partition'], registers,
    collect() {
      this.reset();
      for (const t of o.latest()?.topics ?? []) for (const p of t.partitions) this.inc({ topic: t.topic, partition: String(p.partition) }, p.endOffset);
    },
  });
  new Gauge({
    name: 'hub_dlq_messages', help: 'Messages parked on a group\'s DLQ and not redriven, by the topic and partition they came from', labelNames: ['group', 'topic', 'partition'], registers,
    async collect() {
      this.reset();
      for (const p of await o.parked().catch(() => [])) this.set({ group: p.group, topic: p.topic, partition: String(p.partition) }, p.count);
    },
  });
  new Gauge({
    name: 'hub_alerts_firing', help: 'Alert rule instances (rule and group) firing now', registers,
    collect() { this.set(o.firing()); },
  });
  return m;
}

export type OpsMetrics = ReturnType<typeof createOpsMetrics>;

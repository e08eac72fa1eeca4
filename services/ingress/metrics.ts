import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The ingress's Prometheus metrics, one registry per app (tests build several).
 * `dlqDepths`, when given, is read at each scrape: messages parked per consumer group.
 */
export function createIngressMetrics(o: { dlqDepths?: () => Promise<Map<string, number>> } = {}) {
  const registry = new Registry();
  if (o.dlqDepths) {
    const read = o.dlqDepths;
    new Gauge({
      name: 'hub_dlq_messages', help: 'Messages parked on each consumer group\'s DLQ (<group>.dlq)', labelNames: ['group'], registers: [registry],
      async collect() {
        // The broker away: no figure rather than a stale one.
        this.reset();
        const depths = await read().catch(() => new Map<string, number>());
        for (const [group, n] of depths) this.set({ group }, n);
      },
    });
  }
  collectDefaultMetrics({ register: registry, prefix: 'hub_ingress_' });
  return {
    registry,
    requests: new Counter({ name: 'hub_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'hub_http_request_duration_seconds', help: 'HTTP request latency by route and method', labelNames: ['route', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
    }),
    published: new Counter({ name: 'hub_events_published_total', help: 'Events acknowledged by Kafka, by topic', labelNames: ['topic'], registers: [registry] }),
    duplicates: new Counter({ name: 'hub_events_duplicates_total', help: 'Events not published again because their id was already accepted', labelNames: ['kind'], registers: [registry] }),
    rejected: new Counter({ name: 'hub_requests_rejected_total', help: 'Refused requests by error code', labelNames: ['code'], registers: [registry] }),
  };
}

export type IngressMetrics = ReturnType<typeof createIngressMetrics>;

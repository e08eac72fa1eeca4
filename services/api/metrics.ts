import { Gauge } from 'prom-client';
import { createHttpMetrics } from '../../libs/http-server/metrics.ts';

/**
 * The api's Prometheus metrics: the shared request metrics and, read at each scrape,
 * the messages parked on each consumer group's DLQ (`dlqDepths`, when given).
 */
export function createApiMetrics(o: { dlqDepths?: () => Promise<Map<string, number>> } = {}) {
  const m = createHttpMetrics({ processPrefix: 'hub_api_' });
  if (o.dlqDepths) {
    const read = o.dlqDepths;
    new Gauge({
      name: 'hub_dlq_messages', help: 'Messages parked on each consumer group\'s DLQ (<group>.dlq)', labelNames: ['group'], registers: [m.registry],
      async collect() {
        // The broker away: no figure rather than a stale one.
        this.reset();
        const depths = await read().catch(() => new Map<string, number>());
        for (const [group, n] of depths) this.set({ group }, n);
      },
    });
  }
  return m;
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

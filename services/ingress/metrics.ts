import { AggregatorRegistry, Counter, Gauge } from 'prom-client';
import { createHttpMetrics } from '../../libs/http-server/metrics.ts';

/**
 * The ingress's Prometheus metrics: the shared request metrics, events published and
 * duplicates, and what was forwarded to the api. `scrape` answers /metrics with the
 * api's series added (fetched at each scrape), so one target covers both processes.
 */
export function createIngressMetrics() {
  const m = createHttpMetrics({ processPrefix: 'hub_ingress_' });
  const apiUp = new Gauge({ name: 'hub_api_up', help: '1 when the ingress read the api\'s metrics at this scrape, else 0', registers: [m.registry] });
  return {
    ...m,
    published: new Counter({ name: 'hub_events_published_total', help: 'Events acknowledged by Kafka, by topic', labelNames: ['topic'], registers: [m.registry] }),
    duplicates: new Counter({ name: 'hub_events_duplicates_total', help: 'Events not published again because their id was already accepted', labelNames: ['kind'], registers: [m.registry] }),
    forwarded: new Counter({ name: 'hub_api_forwarded_total', help: 'Requests the ingress forwarded to the api, by status of the answer', labelNames: ['status'], registers: [m.registry] }),
    /** Both processes' series in the text format; series the two share (refusals by code) are summed. */
    async scrape(readApi: () => Promise<object[] | null>): Promise<{ contentType: string; text: string }> {
      const api = await readApi().catch(() => null);
      apiUp.set(api ? 1 : 0);
      const own = await m.registry.getMetricsAsJSON();
      const merged = AggregatorRegistry.aggregate(api ? [own, api] : [own]);
      return { contentType: m.registry.contentType, text: await merged.metrics() };
    },
  };
}

export type IngressMetrics = ReturnType<typeof createIngressMetrics>;

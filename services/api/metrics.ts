import { createHttpMetrics } from '../../libs/http-server/metrics.ts';

/**
 * The api's Prometheus metrics: the shared request metrics. The hub's topic, lag and DLQ
 * series are the ops service's (its /metrics; the api's JSON answer includes them).
 */
export function createApiMetrics() {
  return createHttpMetrics({ processPrefix: 'hub_api_' });
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

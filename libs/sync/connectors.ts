/**
 * The connector of a connection: one per (connection, revision), built from the stored
 * credential's secret. Connectors of one account share its rate limiters (HubSpot's ten-
 * second window is per account, whatever the number of callers in this process).
 */
import { createHash } from 'node:crypto';
import type { HttpClient } from '../http/index.ts';
import type { Secret } from '../secrets/crypto.ts';
import type { Connector } from './connector.ts';
import { customProperties, type SyncConnection } from './connections.ts';
import { createHubSpotConnector, hubspotPolicy, hubspotSearchPolicy } from './hubspot/connector.ts';
import { createStripeConnector, stripePolicy } from './stripe/connector.ts';
import { createRateLimiter, type RateLimiter } from './rate-limit.ts';

export interface ConnectorFactory {
  /** The connector of this connection as configured now (cached until its revision changes). */
  connectorOf(connection: SyncConnection, secret: Secret): Connector;
  forget(connectionId: string): void;
}

export function createConnectorFactory(http: HttpClient): ConnectorFactory {
  const cache = new Map<string, { key: string; connector: Connector }>();
  const limiters = new Map<string, { main: RateLimiter; search: RateLimiter }>();
  const limitersOf = (c: SyncConnection) => {
    let l = limiters.get(c.connectionId);
    if (!l) {
      l = c.app === 'hubspot'
        ? { main: createRateLimiter(hubspotPolicy), search: createRateLimiter(hubspotSearchPolicy) }
        : { main: createRateLimiter(stripePolicy), search: createRateLimiter(stripePolicy) };
      limiters.set(c.connectionId, l);
    }
    return l;
  };
  return {
    connectorOf(c, secret) {
      // A rotated credential builds a new connector; the key holds a digest, never the secret.
      const key = `${c.revision}:${createHash('sha256').update(secret.reveal()).digest('base64url')}`;
      const hit = cache.get(c.connectionId);
      if (hit && hit.key === key) return hit.connector;
      const l = limitersOf(c);
      const connector = c.app === 'hubspot'
        ? createHubSpotConnector({
          connectionId: c.connectionId, token: secret, http, limiter: l.main, searchLimiter: l.search, properties: customProperties(c),
          ...(c.baseUrl ? { baseUrl: c.baseUrl } : {}),
        })
        : createStripeConnector({ connectionId: c.connectionId, apiKey: secret, http, limiter: l.main, ...(c.baseUrl ? { baseUrl: c.baseUrl } : {}) });
      cache.set(c.connectionId, { key, connector });
      return connector;
    },
    forget(connectionId) {
      cache.delete(connectionId);
      limiters.delete(connectionId);
    },
  };
}

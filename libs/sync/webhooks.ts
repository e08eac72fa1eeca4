/**
 * The apps' webhook schemes without a connector (which needs credentials and HTTP): the
 * ingress verifies and parses app webhooks with these, and the connectors expose the same
 * functions as `verifyWebhook` / `parseWebhook`.
 */
import type { ChangeNotice, WebhookRequest } from './connector.ts';
import type { Secret } from '../secrets/crypto.ts';
import type { SyncApp } from './connections.ts';
import { parseHubSpotWebhook, verifyHubSpotWebhook } from './hubspot/webhooks.ts';
import { parseStripeWebhook, verifyStripeWebhook } from './stripe/webhooks.ts';

export const appWebhooks: Readonly<Record<SyncApp, { verify(request: WebhookRequest, secrets: readonly Secret[], nowMs: number): void; parse(body: Buffer): ChangeNotice[] }>> = {
  hubspot: { verify: verifyHubSpotWebhook, parse: parseHubSpotWebhook },
  stripe: { verify: verifyStripeWebhook, parse: parseStripeWebhook },
};

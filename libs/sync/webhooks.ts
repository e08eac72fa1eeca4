/**
 * The apps' webhook schemes without a connector (which needs credentials and HTTP): the
 * ingress verifies and parses app webhooks with these, and the connectors expose the same
 * functions as `verifyWebhook` / `parseWebhook`.
 */
import type { ChangeNotice, SyncObject, WebhookRequest } from './connector.ts';
import type { Secret } from '../secrets/crypto.ts';
import type { SyncApp } from './connections.ts';
import { hubspotWebhookEvents, parseHubSpotWebhook, verifyHubSpotWebhook } from './hubspot/webhooks.ts';
import { parseStripeWebhook, stripeWebhookEvents, verifyStripeWebhook } from './stripe/webhooks.ts';

export interface AppWebhookScheme {
  verify(request: WebhookRequest, secrets: readonly Secret[], nowMs: number): void;
  parse(body: Buffer): ChangeNotice[];
  /** The event types to subscribe to in the app for these synced objects (shown with the webhook URL). */
  events(objects: readonly SyncObject[]): string[];
}

export const appWebhooks: Readonly<Record<SyncApp, AppWebhookScheme>> = {
  hubspot: { verify: verifyHubSpotWebhook, parse: parseHubSpotWebhook, events: hubspotWebhookEvents },
  stripe: { verify: verifyStripeWebhook, parse: parseStripeWebhook, events: stripeWebhookEvents },
};

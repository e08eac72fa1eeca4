/**
 * Stripe's webhooks: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(endpoint
 * secret, "t.payload")>` (several v1 during a secret roll), refused beyond 5 minutes; the
 * body is one Event whose `data.object` is the object after the change.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { raise } from '../../errors/index.ts';
import type { Secret } from '../../secrets/crypto.ts';
import type { AppRecord, ChangeNotice, SyncObject, WebhookRequest } from '../connector.ts';
import { raiseSync } from '../transport.ts';
import { webhookJson } from '../webhook-json.ts';
import { flatten } from './values.ts';

const TOLERANCE_SECONDS = 300;
const MAX_HEADER = 4096;

export function stripeSignatureOf(secret: string, timestampSeconds: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
}

export function verifyStripeWebhook(request: WebhookRequest, secrets: readonly Secret[], nowMs: number): void {
  const header = request.headers['stripe-signature']?.trim();
  if (!header || header.length > MAX_HEADER) throw raise('WEBHOOK_SIGNATURE_MISSING', 'Stripe-Signature is missing', { path: '/headers/stripe-signature' });
  const parts = header.split(',').map((p) => p.split('=', 2) as [string, string | undefined]);
  const t = parts.find(([k]) => k.trim() === 't')?.[1]?.trim();
  const v1 = parts.filter(([k, v]) => k.trim() === 'v1' && v).map(([, v]) => v!.trim());
  if (v1.length === 0) throw raise('WEBHOOK_SIGNATURE_MISSING', 'Stripe-Signature has no v1 signature', { path: '/headers/stripe-signature' });
  if (!t || !/^\d{1,12}$/.test(t) || Math.abs(nowMs / 1000 - Number(t)) > TOLERANCE_SECONDS) {
    throw raise('WEBHOOK_TIMESTAMP_INVALID', 'the Stripe-Signature timestamp is not within 5 minutes of now', { path: '/headers/stripe-signature' });
  }
  const given = v1.filter((v) => /^[0-9a-f]{64}$/i.test(v)).map((v) => Buffer.from(v, 'hex'));
  const ok = secrets.some((s) => {
    const expected = Buffer.from(stripeSignatureOf(s.reveal(), Number(t), request.body), 'hex');
    return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
  });
  if (!ok) throw raise('WEBHOOK_SIGNATURE_INVALID', 'no Stripe-Signature v1 matches the endpoint secret', { path: '/headers/stripe-signature' });
}

const OBJECT_OF: Record<string, SyncObject> = { customer: 'people', product: 'products', invoice: 'invoices' };

/** The event types to enable on the Stripe webhook endpoint for these synced objects (an invoice's status moves with events of their own). */
export function stripeWebhookEvents(objects: readonly SyncObject[]): string[] {
  const prefixes = Object.entries(OBJECT_OF).filter(([, o]) => objects.includes(o)).map(([prefix]) => prefix);
  const actions = (prefix: string) => ['created', 'updated', 'deleted', ...(prefix === 'invoice' ? ['finalized', 'paid', 'voided', 'marked_uncollectible'] : [])];
  return prefixes.flatMap((prefix) => actions(prefix).map((action) => `${prefix}.${action}`));
}

/** A Stripe object as an AppRecord (`modifiedAt`: the event time, else `updated` or `created`). */
export function stripeRecord(object: SyncObject, o: Record<string, unknown>, atSeconds?: number): AppRecord {
  const seconds = atSeconds ?? (typeof o.updated === 'number' ? o.updated : typeof o.created === 'number' ? o.created : 0);
  return { id: String(o.id), object, properties: flatten(o), modifiedAt: seconds * 1000, archived: o.deleted === true };
}

export function parseStripeEvent(e: unknown): ChangeNotice | null {
  const ev = e as { id?: unknown; type?: unknown; created?: unknown; data?: { object?: unknown }; request?: { id?: unknown } } | null;
  if (!ev || typeof ev.id !== 'string' || typeof ev.type !== 'string' || typeof ev.created !== 'number' || typeof ev.data?.object !== 'object' || ev.data.object === null) {
    throw raiseSync('SYNC_WEBHOOK_PAYLOAD_INVALID', 'the Stripe webhook body is not an Event (id, type, created, data.object)');
  }
  const [prefix, ...rest] = ev.type.split('.');
  const object = OBJECT_OF[prefix!];
  if (!object || rest.length !== 1) return null; // an event the sync does not use (charges, customer.source.*…)
  const action = rest[0]!;
  const kind: ChangeNotice['kind'] = action === 'created' ? 'created' : action === 'deleted' ? 'deleted' : 'updated';
  const record = stripeRecord(object, ev.data.object as Record<string, unknown>, ev.created);
  if (kind === 'deleted') record.archived = true;
  return { object, id: record.id, kind, occurredAt: ev.created * 1000, eventId: ev.id, record, byIntegration: typeof ev.request?.id === 'string' };
}

export function parseStripeWebhook(body: Buffer): ChangeNotice[] {
  const parsed = webhookJson('Stripe', body);
  const notice = parseStripeEvent(parsed);
  return notice ? [notice] : [];
}

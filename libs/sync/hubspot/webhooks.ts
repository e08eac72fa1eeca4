/**
 * HubSpot's webhooks (v3): `X-HubSpot-Signature-v3` is base64(HMAC-SHA256(client secret,
 * method + uri + body + timestamp)), the timestamp (epoch ms) in
 * `X-HubSpot-Request-Timestamp`; a request older than 5 minutes is refused. Bodies are
 * arrays of events (`contact.propertyChange`, `company.deletion`, …), one object per
 * event; one object alone is read too.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { raise } from '../../errors/index.ts';
import type { Secret } from '../../secrets/crypto.ts';
import type { ChangeNotice, SyncObject, WebhookRequest } from '../connector.ts';
import { raiseSync } from '../transport.ts';
import { webhookJson } from '../webhook-json.ts';

export const TOLERANCE_MS = 5 * 60_000;
const MAX_HEADER = 512;

/** HubSpot signs the URI with these characters decoded. */
const DECODED: Record<string, string> = { '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';' };

export function hubspotSignature(secret: string, method: string, uri: string, body: Buffer | string, timestamp: string): string {
  const url = uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODED[m.toUpperCase()]!);
  return createHmac('sha256', secret).update(`${method.toUpperCase()}${url}`).update(body).update(timestamp).digest('base64');
}

export function verifyHubSpotWebhook(request: WebhookRequest, secrets: readonly Secret[], nowMs: number): void {
  const signature = request.headers['x-hubspot-signature-v3']?.trim();
  const timestamp = request.headers['x-hubspot-request-timestamp']?.trim();
  if (!signature) throw raise('WEBHOOK_SIGNATURE_MISSING', 'X-HubSpot-Signature-v3 is missing', { path: '/headers/x-hubspot-signature-v3' });
  if (!timestamp) throw raise('WEBHOOK_SIGNATURE_MISSING', 'X-HubSpot-Request-Timestamp is missing', { path: '/headers/x-hubspot-request-timestamp' });
  if (!/^\d{1,15}$/.test(timestamp) || Math.abs(nowMs - Number(timestamp)) > TOLERANCE_MS) {
    throw raise('WEBHOOK_TIMESTAMP_INVALID', 'X-HubSpot-Request-Timestamp is not epoch milliseconds within 5 minutes of now', { path: '/headers/x-hubspot-request-timestamp' });
  }
  const given = signature.length <= MAX_HEADER ? Buffer.from(signature, 'base64') : Buffer.alloc(0);
  const ok = secrets.some((s) => {
    const expected = Buffer.from(hubspotSignature(s.reveal(), request.method, request.url, request.body, timestamp), 'base64');
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!ok) throw raise('WEBHOOK_SIGNATURE_INVALID', 'X-HubSpot-Signature-v3 does not match the app\'s client secret', { path: '/headers/x-hubspot-signature-v3' });
}

const OBJECT_OF: Record<string, SyncObject> = { contact: 'people', company: 'companies', deal: 'opportunities', product: 'products' };
const KIND_OF: Record<string, ChangeNotice['kind']> = {
  creation: 'created', propertyChange: 'updated', deletion: 'deleted', privacyDeletion: 'deleted', restore: 'restored', merge: 'updated', associationChange: 'associations',
};

/**
 * The subscriptions to create in the HubSpot app for these synced objects. associationChange
 * matters: an association moves no modification date, so neither a property change nor a
 * poll would see it.
 */
export function hubspotWebhookEvents(objects: readonly SyncObject[]): string[] {
  const singulars = Object.entries(OBJECT_OF).filter(([, o]) => objects.includes(o)).map(([singular]) => singular);
  return singulars.flatMap((s) => ['creation', 'propertyChange', 'deletion', 'restore', 'merge', 'associationChange'].map((action) => `${s}.${action}`));
}

export function parseHubSpotWebhook(body: Buffer): ChangeNotice[] {
  const parsed = webhookJson('HubSpot', body);
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const out: ChangeNotice[] = [];
  events.forEach((e: unknown, i) => {
    const ev = e as Record<string, unknown> | null;
    const type = typeof ev?.subscriptionType === 'string' ? ev.subscriptionType : undefined;
    // associationChange events name their record as fromObjectId (and the other end as toObjectId), not objectId.
    const objectId = type?.endsWith('.associationChange') ? ev?.fromObjectId : ev?.objectId;
    if (!ev || !type || (typeof objectId !== 'number' && typeof objectId !== 'string') || typeof ev.occurredAt !== 'number') {
      throw raiseSync('SYNC_WEBHOOK_PAYLOAD_INVALID', `HubSpot event ${i} lacks subscriptionType, objectId (fromObjectId) or occurredAt`);
    }
    const [singular, action] = type.split('.') as [string, string | undefined];
    const object = OBJECT_OF[singular];
    const kind = action ? KIND_OF[action] : undefined;
    if (!object || !kind) return; // a subscription the sync does not use (tickets, conversations…)
    const property = typeof ev.propertyName === 'string' ? { [ev.propertyName]: ev.propertyValue ?? null } : undefined;
    out.push({
      object, id: String(objectId), kind, occurredAt: ev.occurredAt, eventId: String(ev.eventId ?? `${type}:${String(objectId)}:${ev.occurredAt}`),
      ...(property && kind === 'updated' ? { properties: property } : {}),
      ...(kind === 'associations' && ev.associationRemoved === true ? { associationRemoved: true } : {}),
      byIntegration: ev.changeSource === 'INTEGRATION' || ev.changeSource === 'API',
    });
  });
  return out;
}

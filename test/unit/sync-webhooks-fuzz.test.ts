/**
 * Fuzzed webhook bodies and signature headers for both connectors: whatever arrives, the
 * parsers return notices or throw SYNC_WEBHOOK_PAYLOAD_INVALID, and verification throws
 * only WEBHOOK_* codes; never another exception. Seeded, so a failure replays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import { Secret } from '../../libs/secrets/crypto.ts';
import { hubspotSignature, parseHubSpotWebhook, verifyHubSpotWebhook } from '../../libs/sync/hubspot/webhooks.ts';
import { parseStripeWebhook, stripeSignatureOf, verifyStripeWebhook } from '../../libs/sync/stripe/webhooks.ts';
import { seededRandom } from '../support/random.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const rand = seededRandom(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

function randomValue(depth = 0): unknown {
  const kinds = depth > 3 ? ['s', 'n', 'b', 'z'] : ['s', 'n', 'b', 'z', 'a', 'o', 'o'];
  switch (pick(kinds)) {
    case 's': return pick(['', 'contact.propertyChange', 'customer.updated', 'x'.repeat(Math.floor(rand() * 50)), '\u0000', '🦄']);
    case 'n': return pick([0, -1, 1.5, Number.MAX_SAFE_INTEGER, 1714521600000]);
    case 'b': return rand() < 0.5;
    case 'z': return null;
    case 'a': return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
    default: {
      const keys = ['subscriptionType', 'objectId', 'occurredAt', 'eventId', 'propertyName', 'propertyValue', 'id', 'type', 'created', 'data', 'object', 'request'];
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 6) }, () => [pick(keys), randomValue(depth + 1)]));
    }
  }
}

function randomBody(): Buffer {
  const r = rand();
  if (r < 0.2) return Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
  if (r < 0.3) return Buffer.from(JSON.stringify(randomValue()).slice(0, Math.floor(rand() * 40)));
  return Buffer.from(JSON.stringify(randomValue()));
}

const allowed = (codes: string[]) => (err: unknown) => err instanceof HubError && codes.includes(err.code);

test(`webhook bodies: the parsers return notices or refuse with SYNC_WEBHOOK_PAYLOAD_INVALID (seed ${SEED})`, () => {
  for (let i = 0; i < 2000; i++) {
    const body = randomBody();
    for (const parse of [parseHubSpotWebhook, parseStripeWebhook]) {
      try {
        const notices = parse(body);
        assert.ok(Array.isArray(notices));
        for (const n of notices) assert.ok(typeof n.id === 'string' && typeof n.occurredAt === 'number' && typeof n.eventId === 'string');
      } catch (err) {
        assert.ok(allowed(['SYNC_WEBHOOK_PAYLOAD_INVALID'])(err), `${parse.name} on ${body.toString('base64')}: ${String(err)}`);
      }
    }
  }
});

test(`signature headers: verification passes only the real signature and refuses the rest with WEBHOOK_* codes (seed ${SEED})`, () => {
  const secret = new Secret('s3cret');
  const now = 1_800_000_000_000;
  const body = Buffer.from('[{"eventId":1}]');
  const junk = () => pick(['', ' ', 't=', 'v1=', 'abc', '=,=,', `t=${Math.floor(now / 1000)},v1=${'0'.repeat(64)}`, String(now), 'x'.repeat(5000), hubspotSignature('s3cret', 'POST', 'http://h/x', body, String(now))]);
  for (let i = 0; i < 1000; i++) {
    const headers: Record<string, string | undefined> = {};
    if (rand() < 0.8) headers['x-hubspot-signature-v3'] = junk();
    if (rand() < 0.8) headers['x-hubspot-request-timestamp'] = pick([String(now), String(now - 400_000), 'NaN', '-1', junk()]);
    if (rand() < 0.8) headers['stripe-signature'] = junk();
    const request = { method: 'POST', url: 'http://h/x', headers, body };
    for (const verify of [verifyHubSpotWebhook, verifyStripeWebhook]) {
      try {
        verify(request, [secret], now);
        // Only the genuine HubSpot signature with a fresh timestamp may pass.
        assert.equal(verify, verifyHubSpotWebhook);
        assert.equal(headers['x-hubspot-signature-v3'], hubspotSignature('s3cret', 'POST', 'http://h/x', body, String(now)));
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(allowed(['WEBHOOK_SIGNATURE_MISSING', 'WEBHOOK_TIMESTAMP_INVALID', 'WEBHOOK_SIGNATURE_INVALID'])(err), String(err));
      }
    }
  }
  const t = Math.floor(now / 1000);
  verifyStripeWebhook({ method: 'POST', url: 'http://h/x', headers: { 'stripe-signature': `t=${t},v1=${stripeSignatureOf('s3cret', t, body)}` }, body }, [secret], now);
});

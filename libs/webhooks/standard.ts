import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { errorFactory, pickErrors } from '../errors/index.ts';

/**
 * Standard Webhooks (standardwebhooks.com) signing and verification, pure logic.
 *
 * The signed content is `${webhook-id}.${webhook-timestamp}.${body}` and the signature is
 * `v1,` + base64(HMAC-SHA256). Consumers already have libraries for this format, so what
 * we send must reproduce the reference implementations bit for bit (see the test vector).
 *
 * Secrets: `whsec_<base64>` is the published form and its base64 part is the HMAC key.
 * A secret WITHOUT that prefix is taken as a plain string whose UTF-8 bytes are the key,
 * for partners that hand out passwords rather than generated keys. Note that the
 * reference libraries instead base64-decode an unprefixed secret, so give such partners
 * the same string on both sides and do not strip `whsec_` from a generated secret.
 *
 * Why our own HMAC and not the spec's `standardwebhooks` package: the package decodes
 * a Buffer body as UTF-8 text before signing or verifying, so a body that is not UTF-8
 * (a form post in another encoding, binary) gets a signature over other bytes than were
 * sent, and verification of a correct sender fails; its `verify` also reads the clock
 * itself, takes one secret (not the several of a rotation), caps no header and throws one
 * undifferentiated error where callers need the header at fault. The package is our
 * reference instead: tests check that it verifies what we sign and that we verify what
 * it signs (test/unit/standard-webhooks.test.ts).
 */

export const webhookErrors = pickErrors('WEBHOOK_SIGNATURE_MISSING', 'WEBHOOK_TIMESTAMP_INVALID', 'WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_SECRET_INVALID');

export const raiseWebhook = errorFactory(webhookErrors);

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 24;
const DEFAULT_TOLERANCE_SECONDS = 300;
// Real values are tens of characters; a cap bounds the work an unauthenticated request can cause.
const MAX_HEADER_LENGTH = 4096;
const V1_PREFIX = 'v1,';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

type HeaderName = 'webhook-id' | 'webhook-timestamp' | 'webhook-signature';

export type WebhookHeaders = { readonly [K in HeaderName]?: string | undefined };

export interface VerifyOptions {
  /** Every secret currently valid for the sender; during a rotation, old and new. */
  readonly secrets: readonly string[];
  readonly headers: WebhookHeaders;
  /** The raw request body, exactly as received: re-serialised JSON will not verify. */
  readonly body: Buffer;
  readonly nowSeconds: number;
  readonly toleranceSeconds?: number;
}

export interface VerifiedWebhook {
  readonly webhookId: string;
  readonly timestamp: number;
}

/** A new secret in the published form: 24 random bytes, base64, behind `whsec_`. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The `webhook-signature` value for one secret: `v1,<base64 HMAC-SHA256>`. */
export function sign(secret: string, webhookId: string, timestampSeconds: number, body: Buffer | string): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    // A caller bug, not bad input: no verifier would accept a fractional or negative timestamp.
    throw new RangeError(`webhook timestamp must be a non-negative integer of seconds, got ${timestampSeconds}`);
  }
  return V1_PREFIX + signatureOf(keyOf(secret, 'secret'), webhookId, timestampSeconds, body);
}

/**
 * Checks the three headers against the body and returns the id (for deduplication) and
 * the timestamp. Throws a HubError with one of the WEBHOOK_* codes, whose `path` names
 * the offending header, or WEBHOOK_SECRET_INVALID when `secrets` itself is unusable.
 */
export function verify(options: VerifyOptions): VerifiedWebhook {
  const { secrets, headers, body, nowSeconds, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS } = options;
  if (!Number.isFinite(nowSeconds) || !Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) {
    // NaN would make every tolerance comparison false and so accept any timestamp.
    throw new RangeError('webhook verification needs a finite nowSeconds and a non-negative toleranceSeconds');
  }
  // Configuration first, so a broken deployment shows as 500 and not as senders' 401s.
  if (secrets.length === 0) throw raiseWebhook('WEBHOOK_SECRET_INVALID', 'no webhook secret is configured');
  const keys = secrets.map((secret, i) => keyOf(secret, `secret #${i}`));

  const webhookId = requireHeader(headers, 'webhook-id');
  const timestampText = requireHeader(headers, 'webhook-timestamp');
  const signatureText = requireHeader(headers, 'webhook-signature');
  // An id this long cannot have been signed by a real sender; it is the signature that fails.
  limitLength(webhookId, 'webhook-id', 'WEBHOOK_SIGNATURE_INVALID');
  limitLength(timestampText, 'webhook-timestamp', 'WEBHOOK_TIMESTAMP_INVALID');
  limitLength(signatureText, 'webhook-signature', 'WEBHOOK_SIGNATURE_INVALID');

  // Before any HMAC: replays and stale retries are refused cheaply.
  const timestamp = checkTimestamp(timestampText, nowSeconds, toleranceSeconds);

  // Space-separated `<version>,<value>` entries; versions other than v1 are someone else's.
  const candidates = signatureText
    .split(' ')
    .filter((entry) => entry.startsWith(V1_PREFIX))
    .map((entry) => Buffer.from(entry.slice(V1_PREFIX.length), 'utf8'));
  if (candidates.length === 0) {
    throw raiseWebhook('WEBHOOK_SIGNATURE_INVALID', 'webhook-signature holds no v1 signature', { path: headerPath('webhook-signature') });
  }

  let matched = false;
  for (const key of keys) {
    const expected = Buffer.from(signatureOf(key, webhookId, timestamp, body), 'utf8');
    // No early exit: which secret or entry matched is not worth a timing signal.
    for (const candidate of candidates) matched = sameSignature(expected, candidate) || matched;
  }
  if (!matched) {
    throw raiseWebhook('WEBHOOK_SIGNATURE_INVALID', 'no webhook signature matches a configured secret', { path: headerPath('webhook-signature') });
  }
  return { webhookId, timestamp };
}

function signatureOf(key: Buffer, webhookId: string, timestamp: number, body: Buffer | string): string {
  // Two updates rather than one concatenated string, so a binary body is hashed as bytes.
  return createHmac('sha256', key).update(`${webhookId}.${timestamp}.`, 'utf8').update(body).digest('base64');
}

function keyOf(secret: string, what: string): Buffer {
  // Messages name the secret's position only: the secret itself must never reach a log.
  if (typeof secret !== 'string' || secret === '') throw raiseWebhook('WEBHOOK_SECRET_INVALID', `webhook ${what} is empty`);
  if (!secret.startsWith(SECRET_PREFIX)) return Buffer.from(secret, 'utf8');
  const encoded = secret.slice(SECRET_PREFIX.length);
  const key = Buffer.from(encoded, 'base64');
  // Buffer skips characters it does not know; re-encoding catches a mangled secret that
  // would otherwise sign with a different key and fail every request without saying why.
  const canonical = key.toString('base64').replace(/=+$/, '');
  if (!BASE64.test(encoded) || key.length === 0 || canonical !== encoded.replace(/=+$/, '')) {
    throw raiseWebhook('WEBHOOK_SECRET_INVALID', `webhook ${what} is not base64 after "${SECRET_PREFIX}"`);
  }
  return key;
}

function requireHeader(headers: WebhookHeaders, name: HeaderName): string {
  // `unknown` because callers pass Node's header objects, where a value may be an array.
  const value: unknown = headers[name];
  if (typeof value !== 'string' || value === '') {
    throw raiseWebhook('WEBHOOK_SIGNATURE_MISSING', `${name} header is missing`, { path: headerPath(name) });
  }
  return value;
}

function limitLength(value: string, name: HeaderName, code: 'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_TIMESTAMP_INVALID'): void {
  if (value.length > MAX_HEADER_LENGTH) {
    throw raiseWebhook(code, `${name} header is longer than ${MAX_HEADER_LENGTH} characters`, { path: headerPath(name) });
  }
}

function checkTimestamp(text: string, nowSeconds: number, toleranceSeconds: number): number {
  const path = headerPath('webhook-timestamp');
  // Digits only: Number() would also take '1e9', '0x10', ' 12' or '12.0'.
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw raiseWebhook('WEBHOOK_TIMESTAMP_INVALID', 'webhook-timestamp is not an integer number of seconds', { path });
  }
  // Exactly `toleranceSeconds` away is still accepted, as in the reference libraries.
  if (nowSeconds - value > toleranceSeconds) {
    throw raiseWebhook('WEBHOOK_TIMESTAMP_INVALID', `webhook-timestamp is more than ${toleranceSeconds} s in the past`, { path });
  }
  if (value - nowSeconds > toleranceSeconds) {
    throw raiseWebhook('WEBHOOK_TIMESTAMP_INVALID', `webhook-timestamp is more than ${toleranceSeconds} s in the future`, { path });
  }
  return value;
}

function sameSignature(expected: Buffer, candidate: Buffer): boolean {
  // timingSafeEqual needs equal lengths; compare a copy cut or zero-padded to the expected
  // length so the full width is always compared, and check the length only afterwards.
  const sameWidth = Buffer.alloc(expected.length);
  candidate.copy(sameWidth, 0, 0, expected.length);
  return timingSafeEqual(sameWidth, expected) && candidate.length === expected.length;
}

function headerPath(name: HeaderName): string {
  return `/headers/${name}`;
}

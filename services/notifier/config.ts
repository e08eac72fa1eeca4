import { baseConfigSpec, custom, int, type ConfigOf } from '../../libs/config/index.ts';
import { parseAllowlist } from '../../libs/http/index.ts';
import { errorMessage } from '../../libs/errors/index.ts';
import { Secret, parseEncryptionKey, type EncryptionKey } from '../../libs/secrets/crypto.ts';
import type { SmtpSettings } from './deps.ts';

/** `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS). Reasons never show the URL: it holds a password. */
export function parseSmtpUrl(text: string): { value: SmtpSettings } | { reason: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { reason: 'is not a URL (smtp://user:pass@host:port or smtps://…)' };
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return { reason: `must use smtp: or smtps:, got ${url.protocol}` };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') return { reason: 'names no host' };
  const secure = url.protocol === 'smtps:';
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    return { reason: 'has a user name or password that is not URL-encoded properly' };
  }
  return {
    value: Object.freeze({
      host,
      // Submission ports: 587 (STARTTLS) and 465 (implicit TLS).
      port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
      secure,
      ...(username === '' ? {} : { username }),
      ...(password === '' ? {} : { password: new Secret(password) }),
    }),
  };
}

const FROM = /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>]+\s*>|[^\s@<>]+@[^\s@<>]+)$/;

export const notifierConfigSpec = {
  ...baseConfigSpec,
  /** The hub's SMTP server, used when a notification names no credential. */
  smtp: custom('HUB_SMTP_URL', 'smtp://127.0.0.1:2525', parseSmtpUrl),
  smtpFrom: custom<string>('HUB_SMTP_FROM', 'CRM hub <hub@localhost>', (text) => (FROM.test(text) ? { value: text } : { reason: `must be "Name <address>" or an address, got "${text}"` })),
  /** Attempts per email (the first included) on 4xx replies and connection trouble. */
  smtpMaxAttempts: int('HUB_SMTP_MAX_ATTEMPTS', 5, { min: 1, max: 20 }),
  /** Delay before the second attempt; doubles each time, at most 30 s. */
  smtpRetryBackoffMs: int('HUB_SMTP_RETRY_BACKOFF_MS', 1000, { min: 0, max: 60_000 }),
  /** Connection, greeting and socket inactivity limit of one SMTP attempt. */
  smtpTimeoutMs: int('HUB_SMTP_TIMEOUT_MS', 20_000, { min: 1000, max: 120_000 }),
  /** One chat webhook POST. */
  chatTimeoutMs: int('HUB_CHAT_TIMEOUT_MS', 10_000, { min: 100, max: 120_000 }),
  /**
   * A 'sending' claim not renewed for this long is taken over (its notifier stopped
   * mid-delivery). 0: twice the longest attempt plus backoff, at least a minute.
   */
  claimStaleMs: int('HUB_NOTIFIER_CLAIM_STALE_MS', 0, { min: 0, max: 3_600_000 }),
  /** Operator-allowed addresses for chat webhooks (loopback and private ones are refused otherwise). */
  httpAllowlist: custom<string[]>('HUB_HTTP_ALLOWLIST', '', (text) => {
    try {
      return { value: parseAllowlist(text) };
    } catch (err) {
      return { reason: errorMessage(err) };
    }
  }),
  /** Opens stored credentials (a workspace's own SMTP server); the key the ingress seals them with. */
  secretsKey: custom<EncryptionKey>('HUB_SECRETS_KEY', undefined, (text) => {
    const key = parseEncryptionKey(text);
    return typeof key === 'string' ? { reason: key } : { value: key };
  }),
} as const;

export type NotifierConfig = ConfigOf<typeof notifierConfigSpec>;

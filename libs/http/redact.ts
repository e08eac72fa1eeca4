/**
 * Redaction for what a run log records of an HTTP exchange: secret-bearing headers by name,
 * and known secret values (credentials resolved for the step) wherever they appear.
 */
export const REDACTED = '[redacted]';
import { isPlainObject } from '../json/index.ts';

const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key']);
const SECRET_PARTS = ['token', 'secret', 'password', 'passwd', 'key', 'auth', 'session', 'credential', 'signature'];

export function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_HEADERS.has(n) || SECRET_PARTS.some((part) => n.includes(part));
}

/** A copy of the headers with every secret-bearing value replaced by "[redacted]". */
export function redactHeaders<V>(headers: Readonly<Record<string, V>>): Record<string, V | typeof REDACTED> {
  const out: Record<string, V | typeof REDACTED> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isSecretHeader(name) ? REDACTED : value;
  return out;
}

/** The forms a secret takes in recorded text: as is, and URL-encoded (in a query or a form). */
function needles(secrets: Iterable<string>): string[] {
  const all = new Set<string>();
  for (const s of secrets) {
    if (typeof s !== 'string' || s === '') continue;
    all.add(s);
    all.add(encodeURIComponent(s));
  }
  return [...all].sort((a, b) => b.length - a.length); // longest first, so no fragment is left behind
}

function redactString(text: string, list: readonly string[]): string {
  let out = text;
  for (const n of list) if (out.includes(n)) out = out.split(n).join(REDACTED);
  return out;
}

function walk(value: unknown, list: readonly string[]): unknown {
  if (typeof value === 'string') return redactString(value, list);
  if (Array.isArray(value)) return value.map((v) => walk(v, list));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactString(k, list), walk(v, list)]));
  }
  return value;
}

/**
 * A deep copy of a JSON value where every occurrence of a secret value, in strings and in
 * object keys, is replaced by "[redacted]". The input is not changed.
 */
export function redactSecrets<T>(value: T, secrets: Iterable<string>): T {
  return walk(value, needles(secrets)) as T;
}

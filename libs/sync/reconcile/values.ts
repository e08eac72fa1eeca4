/**
 * Hub-side values, normalised so that the two sides compare fairly: the same email in
 * other case, a number sent as a string, a date as an instant all compare equal.
 */
import { createHash } from 'node:crypto';
import type { HubValue, ValueType } from '../connector.ts';

/** Null, undefined, '' and whitespace are empty: the "no value" of seed 003's conflict rule. */
export function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '');
}

const EMAIL = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/;

/** A syntactically valid address (what "contacts with a valid email" means here). */
export function isValidEmail(value: unknown): boolean {
  return typeof value === 'string' && value.length <= 254 && EMAIL.test(value.trim());
}

/** `https://www.Acme.com/about` → `acme.com`; an email gives its domain. */
export function normalizeDomain(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  let v = value.trim().toLowerCase();
  if (v.includes('@')) v = v.slice(v.lastIndexOf('@') + 1);
  v = v.replace(/^[a-z][a-z0-9+.-]*:\/\//, '').replace(/[/?#:].*$/, '').replace(/^www\./, '').replace(/\.$/, '');
  return v === '' ? null : v;
}

/** Lower case, single spaces: `  ACME  Inc ` → `acme inc`. */
export function normalizeName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim().replace(/\s+/g, ' ').toLowerCase();
  return v === '' ? null : v;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A value in its hub form for `type`: null when empty or unreadable. */
export function normalize(value: unknown, type: ValueType): HubValue {
  if (isEmpty(value)) return null;
  switch (type) {
    case 'email': return typeof value === 'string' ? value.trim().toLowerCase() : null;
    case 'number':
    case 'money': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
      return Number.isFinite(n) ? n : null;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true') return true;
      if (value === 'false') return false;
      return null;
    case 'date': {
      if (typeof value === 'string' && DAY.test(value.trim())) return value.trim();
      const ms = instant(value);
      return ms === null ? null : new Date(ms).toISOString().slice(0, 10);
    }
    case 'datetime': {
      const ms = instant(value);
      return ms === null ? null : new Date(ms).toISOString();
    }
    case 'fullName':
    case 'string':
      return typeof value === 'string' ? value.trim().replace(/\s+/g, ' ') : typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
  }
}

/** Epoch ms from an ISO string, a Date or a number of ms; null otherwise. */
export function instant(value: unknown): number | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const v = value.trim();
  const ms = /^-?\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

export function sameValue(a: HubValue | undefined, b: HubValue | undefined): boolean {
  return (a ?? null) === (b ?? null);
}

/** A stable hash of mapped values (keys sorted): what echo suppression remembers. */
export function valuesHash(values: Readonly<Record<string, HubValue>>): string {
  const text = JSON.stringify(Object.keys(values).sort().map((k) => [k, values[k] ?? null]));
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

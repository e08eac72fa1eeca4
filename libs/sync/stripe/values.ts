/**
 * Stripe's values: amounts are integers in the currency's minor unit (cents; yen have
 * none), times are Unix seconds, booleans and numbers are JSON on reads and strings in
 * the form-encoded bodies Stripe takes (`metadata[sku]=…`, `address[city]=…`); an empty
 * string clears a field. Records are flattened to `address.city`, `metadata.sku`.
 */
import type { HubValue, ValueCodec, ValueType } from '../connector.ts';
import { instant } from '../reconcile/values.ts';

/** Currencies without a minor unit (Stripe's list of zero-decimal currencies). */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

export function minorUnitFactor(currency: unknown): number {
  return typeof currency === 'string' && ZERO_DECIMAL.has(currency.toLowerCase()) ? 1 : 100;
}

export const stripeCodec: ValueCodec = {
  toApp(value: HubValue, type: ValueType, record): unknown {
    if (value === null || value === '') return '';
    switch (type) {
      case 'money': return Math.round(Number(value) * minorUnitFactor(record.currency));
      case 'number': return Number(value);
      case 'boolean': return value === true || value === 'true';
      case 'date': {
        const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : instant(value);
        return ms === null ? '' : Math.floor(ms / 1000);
      }
      case 'datetime': {
        const ms = instant(value);
        return ms === null ? '' : Math.floor(ms / 1000);
      }
      case 'email': return String(value).trim().toLowerCase();
      default: return String(value);
    }
  },
  toHub(value: unknown, type: ValueType, record): HubValue {
    if (value === null || value === undefined || value === '') return null;
    switch (type) {
      case 'money': {
        const n = Number(value);
        return Number.isFinite(n) ? n / minorUnitFactor(record.currency) : null;
      }
      case 'number': return Number.isFinite(Number(value)) ? Number(value) : null;
      case 'boolean': return value === true || value === 'true' ? true : value === false || value === 'false' ? false : null;
      case 'date':
      case 'datetime': {
        const n = Number(value);
        if (!Number.isFinite(n)) return null;
        const iso = new Date(n * 1000).toISOString();
        return type === 'date' ? iso.slice(0, 10) : iso;
      }
      default: return typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
  },
};

/** `{ address: { city: 'X' }, metadata: { sku: 'Y' } }` → `{ 'address.city': 'X', 'metadata.sku': 'Y' }`; arrays and lists are left out. */
export function flatten(obj: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) continue;
    if (v !== null && typeof v === 'object') {
      if ((v as { object?: unknown }).object === 'list') continue;
      flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
    } else out[`${prefix}${k}`] = v;
  }
  return out;
}

/** Flat properties as Stripe's form body: `address.city` → `address[city]`; null → '' (clears). */
export function formBody(properties: Readonly<Record<string, unknown>>): string {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(properties)) {
    if (v === undefined) continue;
    const [head, ...rest] = k.split('.');
    form.append(`${head}${rest.map((r) => `[${r}]`).join('')}`, v === null ? '' : String(v));
  }
  return form.toString();
}

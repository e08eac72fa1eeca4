/**
 * HubSpot's values: every property is a string; dates and date-times are epoch
 * milliseconds (a date at UTC midnight), though HubSpot answers ISO strings for some;
 * booleans are "true"/"false"; an empty string clears a property.
 */
import type { HubValue, ValueCodec, ValueType } from '../connector.ts';
import { instant } from '../reconcile/values.ts';

export const hubspotCodec: ValueCodec = {
  toApp(value: HubValue, type: ValueType): string {
    if (value === null || value === '') return '';
    switch (type) {
      case 'date': {
        const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : instant(value);
        return ms === null ? '' : String(Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), new Date(ms).getUTCDate()));
      }
      case 'datetime': {
        const ms = instant(value);
        return ms === null ? '' : String(ms);
      }
      case 'email': return String(value).trim().toLowerCase();
      default: return String(value);
    }
  },
  toHub(value: unknown, type: ValueType): HubValue {
    if (value === null || value === undefined || value === '') return null;
    const text = String(value);
    switch (type) {
      case 'number':
      case 'money': {
        const n = Number(text);
        return Number.isFinite(n) ? n : null;
      }
      case 'boolean': return text === 'true' ? true : text === 'false' ? false : null;
      case 'date': {
        const ms = instant(text);
        return ms === null ? null : new Date(ms).toISOString().slice(0, 10);
      }
      case 'datetime': {
        const ms = instant(text);
        return ms === null ? null : new Date(ms).toISOString();
      }
      default: return text;
    }
  },
};

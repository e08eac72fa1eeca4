/**
 * What the Stripe connector syncs and its default mappings. Hub field names:
 * people ↔ customers `{ email, firstName + lastName ↔ name, phone, city, country }`,
 * products ↔ products `{ name, description, active, sku ↔ metadata.sku }`,
 * invoices ↔ invoices `{ number, status, currency, total, amountDue, dueDate, description, personId ↔ customer }`
 * (Stripe computes number, status and amounts: they flow from the app only).
 * Stripe has no companies, deals or activities; invoices associate with customers only.
 */
import type { ObjectSupport, SyncObject } from '../connector.ts';

export const STRIPE_OBJECTS: Readonly<Partial<Record<SyncObject, { path: string; event: string }>>> = {
  people: { path: 'customers', event: 'customer' },
  products: { path: 'products', event: 'product' },
  invoices: { path: 'invoices', event: 'invoice' },
};

export const stripeObjects: Readonly<Partial<Record<SyncObject, ObjectSupport>>> = {
  people: {
    appObject: 'customers', matchBy: ['email', 'name'], hasDomain: false, associations: [],
    mappings: [
      { hub: 'email', app: 'email', type: 'email' },
      { hub: ['firstName', 'lastName'], app: 'name', type: 'fullName' },
      { hub: 'phone', app: 'phone', type: 'string' },
      { hub: 'city', app: 'address.city', type: 'string' },
      { hub: 'country', app: 'address.country', type: 'string' },
    ],
  },
  products: {
    appObject: 'products', matchBy: ['sku', 'name'], hasDomain: false, associations: [],
    mappings: [
      { hub: 'name', app: 'name', type: 'string' },
      { hub: 'description', app: 'description', type: 'string' },
      { hub: 'active', app: 'active', type: 'boolean' },
      { hub: 'sku', app: 'metadata.sku', type: 'string' },
    ],
  },
  invoices: {
    appObject: 'invoices', matchBy: [], hasDomain: false, associations: ['invoice-person'],
    mappings: [
      { hub: 'number', app: 'number', type: 'string', direction: 'from-app' },
      { hub: 'status', app: 'status', type: 'string', direction: 'from-app' },
      { hub: 'currency', app: 'currency', type: 'string', direction: 'from-app' },
      { hub: 'total', app: 'total', type: 'money', direction: 'from-app' },
      { hub: 'amountDue', app: 'amount_due', type: 'money', direction: 'from-app' },
      { hub: 'dueDate', app: 'due_date', type: 'date' },
      { hub: 'description', app: 'description', type: 'string' },
    ],
  },
};

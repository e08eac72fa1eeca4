/**
 * What the Stripe connector syncs and its default mappings. Hub field names:
 * people ↔ customers `{ email, firstName + lastName ↔ name, phone, city, country }`,
 * products ↔ products `{ name, description, active, sku ↔ metadata.sku }`,
 * invoices ↔ invoices `{ number, status, currency, total, amountDue, dueDate, description, personId ↔ customer }`
 * (Stripe computes number, status and amounts: they flow from the app only).
 * Stripe has no companies, deals or activities; invoices associate with customers only.
 */
import { field, type ObjectSupport, type SyncObject } from '../connector.ts';

/** The fields Stripe computes flow from the app only. */
const FROM_APP = { direction: 'from-app' } as const;

export const STRIPE_OBJECTS: Readonly<Partial<Record<SyncObject, { path: string; event: string }>>> = {
  people: { path: 'customers', event: 'customer' },
  products: { path: 'products', event: 'product' },
  invoices: { path: 'invoices', event: 'invoice' },
};

export const stripeObjects: Readonly<Partial<Record<SyncObject, ObjectSupport>>> = {
  people: {
    appObject: 'customers', matchBy: ['email', 'name'], hasDomain: false, associations: [],
    mappings: [
      field('email', 'email', 'email'),
      field(['firstName', 'lastName'], 'name', 'fullName'),
      field('phone', 'phone'),
      field('city', 'address.city'),
      field('country', 'address.country'),
    ],
  },
  products: {
    appObject: 'products', matchBy: ['sku', 'name'], hasDomain: false, associations: [],
    mappings: [
      field('name', 'name'),
      field('description', 'description'),
      field('active', 'active', 'boolean'),
      field('sku', 'metadata.sku'),
    ],
  },
  invoices: {
    appObject: 'invoices', matchBy: [], hasDomain: false, associations: ['invoice-person'],
    mappings: [
      field('number', 'number', 'string', FROM_APP),
      field('status', 'status', 'string', FROM_APP),
      field('currency', 'currency', 'string', FROM_APP),
      field('total', 'total', 'money', FROM_APP),
      field('amountDue', 'amount_due', 'money', FROM_APP),
      field('dueDate', 'due_date', 'date'),
      field('description', 'description'),
    ],
  },
};

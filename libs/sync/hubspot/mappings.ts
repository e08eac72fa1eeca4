/**
 * What the HubSpot connector syncs and its default mappings. Hub field names:
 * people `{ email, workEmail, firstName, lastName, phone, jobTitle, lifecycleStage, city, country, companyId }`,
 * companies `{ name, domain, industry, phone, city, country, employees, annualRevenue }`,
 * opportunities `{ name, amount, stage, pipeline, closeDate, companyId, personId }`,
 * products `{ name, sku, description, price }`, notes `{ body, timestamp, personId }`,
 * tasks `{ subject, body, status, priority, dueAt, personId }`.
 */
import { field, type ObjectSupport, type SyncObject } from '../connector.ts';

export const LIFECYCLE_STAGES = {
  subscriber: 'subscriber', lead: 'lead', mql: 'marketingqualifiedlead', sql: 'salesqualifiedlead',
  opportunity: 'opportunity', customer: 'customer', evangelist: 'evangelist', other: 'other',
} as const;

export const DEAL_STAGES = {
  'Appointment Scheduled': 'appointmentscheduled', 'Qualified To Buy': 'qualifiedtobuy', 'Presentation Scheduled': 'presentationscheduled',
  'Decision Maker Bought-In': 'decisionmakerboughtin', 'Contract Sent': 'contractsent', 'Closed Won': 'closedwon', 'Closed Lost': 'closedlost',
} as const;

/** The app object behind each hub object, with the property that holds its modification time. */
export const HUBSPOT_OBJECTS: Readonly<Partial<Record<SyncObject, { type: string; modified: string }>>> = {
  people: { type: 'contacts', modified: 'lastmodifieddate' },
  companies: { type: 'companies', modified: 'hs_lastmodifieddate' },
  opportunities: { type: 'deals', modified: 'hs_lastmodifieddate' },
  products: { type: 'products', modified: 'hs_lastmodifieddate' },
  notes: { type: 'notes', modified: 'hs_lastmodifieddate' },
  tasks: { type: 'tasks', modified: 'hs_lastmodifieddate' },
};

export const hubspotObjects: Readonly<Partial<Record<SyncObject, ObjectSupport>>> = {
  people: {
    appObject: 'contacts', matchBy: ['email', 'name'], hasDomain: true, uniqueKey: 'email',
    associations: ['person-company'],
    mappings: [
      field('email', 'email', 'email'),
      field('workEmail', 'work_email', 'email'),
      field('firstName', 'firstname'),
      field('lastName', 'lastname'),
      field('phone', 'phone'),
      field('jobTitle', 'jobtitle'),
      field('lifecycleStage', 'lifecyclestage', 'string', { values: LIFECYCLE_STAGES }),
      field('city', 'city'),
      field('country', 'country'),
    ],
  },
  companies: {
    appObject: 'companies', matchBy: ['domain', 'name'], hasDomain: true, associations: [],
    mappings: [
      field('name', 'name'),
      field('domain', 'domain'),
      field('industry', 'industry'),
      field('phone', 'phone'),
      field('city', 'city'),
      field('country', 'country'),
      field('employees', 'numberofemployees', 'number'),
      field('annualRevenue', 'annualrevenue', 'number'),
    ],
  },
  opportunities: {
    appObject: 'deals', matchBy: [], hasDomain: false, associations: ['opportunity-company', 'opportunity-person'],
    mappings: [
      field('name', 'dealname'),
      field('amount', 'amount', 'money'),
      field('stage', 'dealstage', 'string', { values: DEAL_STAGES }),
      field('pipeline', 'pipeline'),
      field('closeDate', 'closedate', 'date'),
    ],
  },
  products: {
    appObject: 'products', matchBy: ['sku', 'name'], hasDomain: false, associations: [],
    mappings: [
      field('name', 'name'),
      field('sku', 'hs_sku'),
      field('description', 'description'),
      field('price', 'price', 'money'),
    ],
  },
  notes: {
    appObject: 'notes', matchBy: [], hasDomain: false, associations: ['note-person'],
    mappings: [
      field('body', 'hs_note_body'),
      field('timestamp', 'hs_timestamp', 'datetime'),
    ],
  },
  tasks: {
    appObject: 'tasks', matchBy: [], hasDomain: false, associations: ['task-person'],
    mappings: [
      field('subject', 'hs_task_subject'),
      field('body', 'hs_task_body'),
      field('status', 'hs_task_status', 'string', { values: { open: 'NOT_STARTED', 'in progress': 'IN_PROGRESS', waiting: 'WAITING', done: 'COMPLETED' } }),
      field('priority', 'hs_task_priority', 'string', { values: { low: 'LOW', medium: 'MEDIUM', high: 'HIGH' } }),
      field('dueAt', 'hs_timestamp', 'datetime'),
    ],
  },
};

/**
 * What the HubSpot connector syncs and its default mappings. Hub field names:
 * people `{ email, workEmail, firstName, lastName, phone, jobTitle, lifecycleStage, city, country, companyId }`,
 * companies `{ name, domain, industry, phone, city, country, employees, annualRevenue }`,
 * opportunities `{ name, amount, stage, pipeline, closeDate, companyId, personId }`,
 * products `{ name, sku, description, price }`, notes `{ body, timestamp, personId }`,
 * tasks `{ subject, body, status, priority, dueAt, personId }`.
 */
import type { ObjectSupport, SyncObject } from '../connector.ts';

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
      { hub: 'email', app: 'email', type: 'email' },
      { hub: 'workEmail', app: 'work_email', type: 'email' },
      { hub: 'firstName', app: 'firstname', type: 'string' },
      { hub: 'lastName', app: 'lastname', type: 'string' },
      { hub: 'phone', app: 'phone', type: 'string' },
      { hub: 'jobTitle', app: 'jobtitle', type: 'string' },
      { hub: 'lifecycleStage', app: 'lifecyclestage', type: 'string', values: LIFECYCLE_STAGES },
      { hub: 'city', app: 'city', type: 'string' },
      { hub: 'country', app: 'country', type: 'string' },
    ],
  },
  companies: {
    appObject: 'companies', matchBy: ['domain', 'name'], hasDomain: true, associations: [],
    mappings: [
      { hub: 'name', app: 'name', type: 'string' },
      { hub: 'domain', app: 'domain', type: 'string' },
      { hub: 'industry', app: 'industry', type: 'string' },
      { hub: 'phone', app: 'phone', type: 'string' },
      { hub: 'city', app: 'city', type: 'string' },
      { hub: 'country', app: 'country', type: 'string' },
      { hub: 'employees', app: 'numberofemployees', type: 'number' },
      { hub: 'annualRevenue', app: 'annualrevenue', type: 'number' },
    ],
  },
  opportunities: {
    appObject: 'deals', matchBy: [], hasDomain: false, associations: ['opportunity-company', 'opportunity-person'],
    mappings: [
      { hub: 'name', app: 'dealname', type: 'string' },
      { hub: 'amount', app: 'amount', type: 'money' },
      { hub: 'stage', app: 'dealstage', type: 'string', values: DEAL_STAGES },
      { hub: 'pipeline', app: 'pipeline', type: 'string' },
      { hub: 'closeDate', app: 'closedate', type: 'date' },
    ],
  },
  products: {
    appObject: 'products', matchBy: ['sku', 'name'], hasDomain: false, associations: [],
    mappings: [
      { hub: 'name', app: 'name', type: 'string' },
      { hub: 'sku', app: 'hs_sku', type: 'string' },
      { hub: 'description', app: 'description', type: 'string' },
      { hub: 'price', app: 'price', type: 'money' },
    ],
  },
  notes: {
    appObject: 'notes', matchBy: [], hasDomain: false, associations: ['note-person'],
    mappings: [
      { hub: 'body', app: 'hs_note_body', type: 'string' },
      { hub: 'timestamp', app: 'hs_timestamp', type: 'datetime' },
    ],
  },
  tasks: {
    appObject: 'tasks', matchBy: [], hasDomain: false, associations: ['task-person'],
    mappings: [
      { hub: 'subject', app: 'hs_task_subject', type: 'string' },
      { hub: 'body', app: 'hs_task_body', type: 'string' },
      { hub: 'status', app: 'hs_task_status', type: 'string', values: { open: 'NOT_STARTED', 'in progress': 'IN_PROGRESS', waiting: 'WAITING', done: 'COMPLETED' } },
      { hub: 'priority', app: 'hs_task_priority', type: 'string', values: { low: 'LOW', medium: 'MEDIUM', high: 'HIGH' } },
      { hub: 'dueAt', app: 'hs_timestamp', type: 'datetime' },
    ],
  },
};

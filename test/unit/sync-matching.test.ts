/**
 * Initial sync and associations (seed 003), one test per rule: both databases compared,
 * matches linked and merged instead of duplicated; contacts by email, then company email,
 * then name and domain; companies by domain or name; associations kept only when the
 * associated object syncs, primary company only, invoices with contacts only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppRecord, Association, SyncObject } from '../../libs/sync/connector.ts';
import { hubspotObjects } from '../../libs/sync/hubspot/mappings.ts';
import { hubspotCodec } from '../../libs/sync/hubspot/values.ts';
import {
  associationKindOf, decideAssociation, effectiveMappings, planInitialSync, primaryTarget,
  type Decision, type SyncSettings,
} from '../../libs/sync/reconcile/index.ts';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const appRec = (object: SyncObject, id: string, properties: Record<string, unknown>): AppRecord => ({ id, object, properties, modifiedAt: NOW, archived: false });
const settingsFor = (objects: SyncObject[], direction: 'two-way' | 'to-app' | 'from-app' = 'two-way'): SyncSettings => ({
  connectionId: 'conn_1', enabled: true,
  objects: Object.fromEntries(objects.map((o) => [o, { direction, mappings: effectiveMappings(hubspotObjects[o]!.mappings) }])),
});
const kinds = (ds: Decision[]) => ds.map((d) => (d.kind === 'link' ? `link ${d.hubId}-${d.appId} by ${d.matchedBy}` : d.kind === 'create' ? `create ${d.side} from ${d.sourceId}` : d.kind === 'skip' ? `skip ${d.hubId ?? d.appId} ${d.reason}` : `${d.kind} ${'side' in d ? d.side : ''}`));

function initial(object: SyncObject, hub: { id: string; fields: Record<string, unknown> }[], app: AppRecord[], hasDomain = true, direction: 'two-way' | 'to-app' | 'from-app' = 'two-way') {
  return planInitialSync({ settings: settingsFor([object], direction), object, codec: hubspotCodec, support: { hasDomain }, hub, app, now: NOW });
}

test('initial sync compares both databases: matches are linked and updated instead of duplicated, the rest created on the other side', () => {
  const ds = initial('people', [
    { id: 'p1', fields: { email: 'ada@acme.example', firstName: 'Ada', jobTitle: 'Analyst' } },
    { id: 'p2', fields: { email: 'hub-only@acme.example' } },
  ], [
    appRec('people', '101', { email: 'ADA@acme.example', firstname: 'Ada', lastname: 'Lovelace', jobtitle: '' }),
    appRec('people', '102', { email: 'app-only@navy.example' }),
  ]);
  assert.deepEqual(kinds(ds), ['link p1-101 by email', 'update app', 'update hub', 'create app from p2', 'create hub from 102']);
  const [toApp, toHub] = ds.filter((d): d is Extract<Decision, { kind: 'update' }> => d.kind === 'update');
  assert.deepEqual(toApp!.fields, { jobtitle: 'Analyst' }, 'properties merged: the app\'s empty field takes the hub value');
  assert.deepEqual(toHub!.fields, { lastName: 'Lovelace' });
});

test('initial sync of contacts: email first, then company email, then name and domain', () => {
  const ds = initial('people', [
    { id: 'p1', fields: { email: 'ada@acme.example', firstName: 'Ada', lastName: 'Lovelace' } },
    { id: 'p2', fields: { email: 'grace@home.example', workEmail: 'grace@navy.example', firstName: 'Grace' } },
    { id: 'p3', fields: { email: 'alan@bletchley.example', firstName: 'Alan', lastName: 'Turing' } },
  ], [
    // Same name and domain as p1, but p1's exact email is matched first.
    appRec('people', '100', { email: 'a.lovelace@acme.example', firstname: 'Ada', lastname: 'Lovelace' }),
    appRec('people', '101', { email: 'ada@acme.example', firstname: 'Ada', lastname: 'Lovelace' }),
    appRec('people', '102', { email: 'grace@navy.example' }),
    appRec('people', '103', { email: 'turing@bletchley.example', firstname: 'Alan', lastname: 'Turing' }),
  ]);
  assert.deepEqual(kinds(ds).filter((k) => k.startsWith('link')), ['link p1-101 by email', 'link p2-102 by company-email', 'link p3-103 by name-and-domain']);
  assert.ok(kinds(ds).includes('create hub from 100'), 'the weaker candidate is a record of its own');
});

test('initial sync of companies: by domain, and when both have a domain a different domain never matches on the same name', () => {
  const ds = initial('companies', [
    { id: 'c1', fields: { name: 'Acme', domain: 'acme.example' } },
    { id: 'c2', fields: { name: 'Globex', domain: 'globex.example' } },
    { id: 'c3', fields: { name: 'Initech' } },
  ], [
    appRec('companies', '201', { name: 'ACME Corporation', domain: 'https://www.acme.example/' }),
    appRec('companies', '202', { name: 'Globex', domain: 'globex-other.example' }),
    appRec('companies', '203', { name: 'initech' }),
  ]);
  assert.deepEqual(kinds(ds).filter((k) => k.startsWith('link')), ['link c1-201 by domain', 'link c3-203 by name']);
  assert.ok(kinds(ds).includes('create hub from 202') && kinds(ds).includes('create app from c2'), 'same name, different domains: two companies');
});

test('initial sync of companies: an app without a domain field matches on name alone', () => {
  const ds = initial('companies', [{ id: 'c1', fields: { name: 'Acme  Inc', domain: 'acme.example' } }], [appRec('companies', '201', { name: 'acme inc' })], false);
  assert.deepEqual(kinds(ds).filter((k) => k.startsWith('link')), ['link c1-201 by name']);
});

test('initial sync never duplicates: a second record with a key already matched is left out, listed', () => {
  const ds = initial('people', [{ id: 'p1', fields: { email: 'ada@acme.example' } }], [
    appRec('people', '101', { email: 'ada@acme.example' }),
    appRec('people', '102', { email: 'Ada@Acme.example' }),
  ]);
  assert.deepEqual(kinds(ds), ['link p1-101 by email', 'skip 102 duplicate']);
  const ds2 = initial('people', [{ id: 'p1', fields: { email: 'x@acme.example' } }, { id: 'p2', fields: { email: 'X@acme.example' } }], []);
  assert.deepEqual(kinds(ds2), ['create app from p1', 'skip p2 duplicate']);
});

test('initial sync honours the direction and the sync rules (excluded records named, not created)', () => {
  const ds = initial('people', [{ id: 'p1', fields: { email: 'hub@acme.example' } }, { id: 'p2', fields: { firstName: 'No email' } }], [appRec('people', '101', { email: 'app@acme.example' })], true, 'from-app');
  assert.deepEqual(kinds(ds), ['skip p2 excluded', 'create hub from 101']);
});

// ---- associations ----------------------------------------------------------------

const links = { companies: new Map([['c1', '201'], ['c2', '202']]) };
const assoc = (toId: string, primary: boolean): Association => ({ kind: 'person-company', fromId: '101', toId, primary });
function association(settings: SyncSettings, changed: 'hub' | 'app', hubTarget: string | null, app: Association[]) {
  return decideAssociation({
    settings, kind: 'person-company', changed, fromHubId: 'p1', fromAppId: '101', hubTarget, app,
    appIdOf: (h) => links.companies.get(h), hubIdOf: (a) => [...links.companies].find(([, v]) => v === a)?.[0],
  });
}

test('associations are kept when the associated object syncs too (company ↔ contact)', () => {
  const s = settingsFor(['people', 'companies']);
  assert.deepEqual(association(s, 'hub', 'c1', []), [{ kind: 'associate', object: 'people', side: 'app', association: { kind: 'person-company', fromId: '101', toId: '201', primary: true } }]);
  assert.deepEqual(association(s, 'app', null, [assoc('202', true)]), [{ kind: 'associate', object: 'people', side: 'hub', hubField: 'companyId', association: { kind: 'person-company', fromId: 'p1', toId: 'c2', primary: true } }]);
  assert.deepEqual(association(s, 'hub', 'c1', [assoc('201', true)]), [], 'already in place');
});

test('associations: a contact sync without a company sync carries no company', () => {
  const ds = association(settingsFor(['people']), 'hub', 'c1', []);
  assert.deepEqual(ds.map((d) => d.kind === 'skip' && d.reason), ['association-not-synced']);
});

test('associations: with several companies only the primary one syncs', () => {
  const s = settingsFor(['people', 'companies']);
  assert.equal(primaryTarget([assoc('201', false), assoc('202', true), assoc('203', false)]), '202');
  assert.deepEqual(association(s, 'app', null, [assoc('201', false), assoc('202', true)]).map((d) => d.kind === 'associate' && d.association.toId), ['c2']);
  assert.equal(primaryTarget([assoc('201', false), assoc('202', false)]), null, 'none marked primary among several: none syncs');
});

test('associations: invoices associate with contacts only, never with companies', () => {
  assert.equal(associationKindOf('invoices', 'people'), 'invoice-person');
  assert.equal(associationKindOf('invoices', 'companies'), undefined);
  assert.equal(associationKindOf('people', 'companies'), 'person-company');
  assert.equal(associationKindOf('opportunities', 'companies'), 'opportunity-company');
});

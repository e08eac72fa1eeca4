/**
 * The reconcile rules of seed 003 (HubSpot's data sync guide), one test per rule, on
 * plain data: no app, no store. Records use the hub's field names and the HubSpot
 * connector's default mappings and codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppRecord, FieldMapping } from '../../libs/sync/connector.ts';
import { hubspotObjects } from '../../libs/sync/hubspot/mappings.ts';
import { hubspotCodec } from '../../libs/sync/hubspot/values.ts';
import { idempotencyKey } from '../../libs/sync/idempotency.ts';
import {
  decideChange, decideDeletion, effectiveMappings, planResync, projectApp, projectHub, tallyHealth, valuesHash,
  type Decision, type Direction, type LinkState, type ObjectSettings, type SyncSettings,
} from '../../libs/sync/reconcile/index.ts';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const people = hubspotObjects.people!.mappings;

function settings(o: Partial<ObjectSettings> & { direction?: Direction } = {}, enabled = true): SyncSettings {
  return { connectionId: 'conn_1', enabled, objects: { people: { direction: 'two-way', mappings: effectiveMappings(people), ...o } } };
}
const hub = (fields: Record<string, unknown>, id = 'p1') => ({ id, fields });
const app = (properties: Record<string, unknown>, id = '101', modifiedAt = NOW): AppRecord => ({ id, object: 'people', properties, modifiedAt, archived: false });

/** A link whose base is what both sides held at the last sync. */
function linkOf(s: SyncSettings, fields: Record<string, unknown>): LinkState {
  return { hubId: 'p1', appId: '101', base: projectHub(fields, s.objects.people!.mappings) };
}
const ada = { email: 'ada@acme.example', firstName: 'Ada', lastName: 'Lovelace', jobTitle: 'Analyst', lifecycleStage: 'lead' };
const adaApp = { email: 'ada@acme.example', firstname: 'Ada', lastname: 'Lovelace', jobtitle: 'Analyst', lifecyclestage: 'lead' };

function change(s: SyncSettings, changed: 'hub' | 'app', h: Record<string, unknown> | null, a: Record<string, unknown> | null, link: LinkState | null): Decision[] {
  return decideChange({ settings: s, object: 'people', codec: hubspotCodec, changed, link, hub: h ? hub(h) : null, app: a ? app(a) : null, now: NOW });
}
const only = <K extends Decision['kind']>(ds: Decision[], kind: K): Extract<Decision, { kind: K }>[] => ds.filter((d): d is Extract<Decision, { kind: K }> => d.kind === kind);

test('sync direction two-way: a change on either side flows to the other, new records are created on the other side', () => {
  const s = settings();
  const link = linkOf(s, ada);
  const fromHub = change(s, 'hub', { ...ada, jobTitle: 'Countess' }, adaApp, link);
  assert.deepEqual(fromHub.map((d) => [d.kind, 'side' in d ? d.side : '']), [['update', 'app']]);
  assert.deepEqual(only(fromHub, 'update')[0]!.fields, { jobtitle: 'Countess' });
  const fromApp = change(s, 'app', ada, { ...adaApp, lifecyclestage: 'customer' }, link);
  assert.deepEqual(only(fromApp, 'update')[0]!.fields, { lifecycleStage: 'customer' }, 'app values come back in hub terms');
  assert.equal(only(fromApp, 'update')[0]!.side, 'hub');
  const created = only(change(s, 'hub', { ...ada, email: 'new@acme.example' }, null, null), 'create')[0]!;
  assert.equal(created.side, 'app');
  assert.equal(created.fields.email, 'new@acme.example');
  assert.deepEqual(created.keys, { email: 'new@acme.example', name: 'Ada Lovelace', domain: 'acme.example' });
  assert.equal(only(change(s, 'app', null, { email: 'grace@navy.example' }, null), 'create')[0]!.side, 'hub');
});

test('sync direction app to hub only: changes in the hub never write the app', () => {
  const s = settings({ direction: 'from-app' });
  const link = linkOf(s, ada);
  assert.deepEqual(change(s, 'hub', { ...ada, jobTitle: 'Countess' }, adaApp, link).map((d) => [d.kind, d.kind === 'skip' && d.reason]), [['skip', 'direction']]);
  assert.equal(only(change(s, 'app', ada, { ...adaApp, jobtitle: 'Countess' }, link), 'update')[0]!.side, 'hub');
});

test('sync direction hub to app only: changes in the app never write the hub', () => {
  const s = settings({ direction: 'to-app' });
  const link = linkOf(s, ada);
  assert.deepEqual(change(s, 'app', ada, { ...adaApp, jobtitle: 'Countess' }, link).map((d) => d.kind === 'skip' && d.reason), ['direction']);
  assert.equal(only(change(s, 'hub', { ...ada, jobTitle: 'Countess' }, adaApp, link), 'update')[0]!.side, 'app');
});

test('conflict resolution: when both sides changed a field differently, the default app (the app by default) wins', () => {
  const s = settings();
  const link = linkOf(s, ada);
  const ds = change(s, 'hub', { ...ada, jobTitle: 'Hub title' }, { ...adaApp, jobtitle: 'App title' }, link);
  const toHub = only(ds, 'update').find((d) => d.side === 'hub')!;
  assert.deepEqual(toHub.fields, { jobTitle: 'App title' });
  assert.equal(only(ds, 'update').find((d) => d.side === 'app'), undefined, 'the app keeps its value');
  assert.deepEqual(toHub.conflicts, [{ mapping: 'jobTitle=jobtitle', hub: 'Hub title', app: 'App title', winner: 'app', value: 'App title' }]);
  const hubWins = change(settings({ winner: 'hub' }), 'hub', { ...ada, jobTitle: 'Hub title' }, { ...adaApp, jobtitle: 'App title' }, link);
  assert.deepEqual(only(hubWins, 'update').map((d) => [d.side, d.fields]), [['app', { jobtitle: 'Hub title' }]]);
});

test('conflict resolution: when the default app has no value for a field, the other side\'s value is kept', () => {
  const s = settings();
  const link = linkOf(s, ada);
  const ds = change(s, 'hub', { ...ada, jobTitle: 'Countess' }, { ...adaApp, jobtitle: '' }, link);
  assert.equal(only(ds, 'update').find((d) => d.side === 'hub'), undefined, 'the hub value is not blanked');
  assert.deepEqual(only(ds, 'update').find((d) => d.side === 'app')!.fields, { jobtitle: 'Countess' }, 'and the empty side is filled (properties merged)');
});

test('conflict resolution never overrides the chosen sync direction', () => {
  // App wins, but the object syncs hub → app only: the hub is never written.
  const toApp = settings({ direction: 'to-app', winner: 'app' });
  const ds = change(toApp, 'hub', { ...ada, jobTitle: 'Hub title' }, { ...adaApp, jobtitle: 'App title' }, linkOf(toApp, ada));
  assert.ok(ds.every((d) => !(d.kind === 'update' && d.side === 'hub')));
  assert.deepEqual(ds.map((d) => d.kind === 'skip' && d.reason), ['unchanged']);
  // Hub wins, but the object syncs app → hub only: the app is never written.
  const fromApp = settings({ direction: 'from-app', winner: 'hub' });
  const ds2 = change(fromApp, 'app', { ...ada, jobTitle: 'Hub title' }, { ...adaApp, jobtitle: 'App title' }, linkOf(fromApp, ada));
  assert.ok(ds2.every((d) => !(d.kind === 'update' && d.side === 'app')));
});

test('field mappings: default mappings per object convert values both ways (HubSpot strings, epoch-ms dates)', () => {
  const deals = hubspotObjects.opportunities!.mappings;
  const projected = projectApp({ dealname: 'Acme - Platform', amount: '120000.50', dealstage: 'closedwon', closedate: '1714521600000' }, deals, hubspotCodec);
  assert.deepEqual(projected, { 'name=dealname': 'Acme - Platform', 'amount=amount': 120000.5, 'stage=dealstage': 'Closed Won', 'pipeline=pipeline': null, 'closeDate=closedate': '2024-05-01' });
  assert.deepEqual(projectApp({ closedate: '2024-05-01T00:00:00.000Z' }, deals, hubspotCodec)['closeDate=closedate'], '2024-05-01', 'ISO answers read too');
  const s: SyncSettings = { connectionId: 'c', enabled: true, objects: { opportunities: { direction: 'two-way', mappings: deals } } };
  const created = decideChange({ settings: s, object: 'opportunities', codec: hubspotCodec, changed: 'hub', link: null, hub: hub({ name: 'Acme', amount: 99.5, stage: 'Closed Won', closeDate: '2024-05-01' }, 'o1'), app: null, now: NOW });
  assert.deepEqual(only(created, 'create')[0]!.fields, { dealname: 'Acme', amount: '99.5', dealstage: 'closedwon', pipeline: '', closedate: '1714521600000' });
});

test('field mappings: a mapping turned off syncs nothing', () => {
  const s = settings({ mappings: effectiveMappings(people, { off: ['jobTitle=jobtitle'] }) });
  const link = linkOf(s, ada);
  assert.deepEqual(change(s, 'hub', { ...ada, jobTitle: 'Countess' }, adaApp, link).map((d) => d.kind === 'skip' && d.reason), ['unchanged']);
  assert.ok(!('jobtitle' in only(change(s, 'hub', ada, null, null), 'create')[0]!.fields));
});

test('field mappings: a custom mapping picks a field on each side, and can be turned off', () => {
  const custom: FieldMapping = { hub: 'score', app: 'hs_lead_score', type: 'number' };
  const on = settings({ mappings: effectiveMappings(people, { custom: [custom] }) });
  const ds = change(on, 'hub', { ...ada, score: 87 }, adaApp, linkOf(on, ada));
  assert.deepEqual(only(ds, 'update')[0]!.fields, { hs_lead_score: '87' });
  const off = settings({ mappings: effectiveMappings(people, { custom: [{ ...custom, enabled: false }] }) });
  assert.deepEqual(change(off, 'hub', { ...ada, score: 87 }, adaApp, linkOf(off, ada)).map((d) => d.kind === 'skip' && d.reason), ['unchanged']);
  assert.throws(() => effectiveMappings(people, { custom: [{ hub: 'jobTitle', app: 'hs_title', type: 'string' }] }), { code: 'SYNC_MAPPING_INVALID' });
});

test('sync rules: by default only contacts with a valid email address sync (excluded, naming the rule)', () => {
  const s = settings();
  const noEmail = change(s, 'hub', { firstName: 'Nobody' }, null, null);
  assert.deepEqual(noEmail.map((d) => d.kind === 'skip' && [d.reason, d.rule]), [['excluded', 'valid-email']]);
  const bad = change(s, 'app', null, { email: 'not-an-email', firstname: 'X' }, null);
  assert.deepEqual(bad.map((d) => d.kind === 'skip' && [d.reason, d.rule]), [['excluded', 'valid-email']]);
});

test('sync rules: the "only contacts with an email" default can be turned off', () => {
  const s = settings({ rules: { requireEmail: false } });
  assert.equal(only(change(s, 'hub', { firstName: 'Nobody' }, null, null), 'create').length, 1);
});

test('sync rules: filters limit which records sync in each direction', () => {
  const s = settings({ rules: { toApp: { '==': [{ var: 'record.lifecycleStage' }, 'customer'] }, fromApp: { in: ['@acme.example', { var: 'record.email' }] } } });
  assert.deepEqual(change(s, 'hub', ada, null, null).map((d) => d.kind === 'skip' && d.rule), ['filter:toApp']);
  assert.equal(only(change(s, 'hub', { ...ada, lifecycleStage: 'customer' }, null, null), 'create').length, 1);
  assert.deepEqual(change(s, 'app', null, { email: 'x@other.example' }, null).map((d) => d.kind === 'skip' && d.rule), ['filter:fromApp']);
  assert.equal(only(change(s, 'app', null, { email: 'x@acme.example' }, null), 'create').length, 1);
});

test('echo suppression: a change equal to what the sync itself last wrote is dropped', () => {
  const s = settings();
  const link = linkOf(s, ada);
  const [update] = only(change(s, 'hub', { ...ada, jobTitle: 'Countess' }, adaApp, link), 'update');
  assert.ok(update);
  // The link after the write: the new base and the hash of what was written to the app.
  const after: LinkState = { ...link, base: update.base, written: { app: update.writtenHash } };
  const echo = change(s, 'app', { ...ada, jobTitle: 'Countess' }, { ...adaApp, jobtitle: 'Countess' }, after);
  assert.deepEqual(echo.map((d) => d.kind === 'skip' && d.reason), ['echo']);
  assert.equal(update.writtenHash, valuesHash(projectApp({ ...adaApp, jobtitle: 'Countess' }, s.objects.people!.mappings, hubspotCodec)));
  // A real edit in the app after our write is not an echo.
  assert.equal(only(change(s, 'app', { ...ada, jobTitle: 'Countess' }, { ...adaApp, jobtitle: 'Queen' }, after), 'update')[0]!.side, 'hub');
});

test('an older app snapshot than one already seen is stale and dropped', () => {
  const s = settings();
  const link = { ...linkOf(s, ada), appSeenAt: NOW + 1000 };
  assert.deepEqual(change(s, 'app', ada, { ...adaApp, jobtitle: 'Old' }, link).map((d) => d.kind === 'skip' && d.reason), ['stale']);
});

test('deleted records: a delete on either side is listed, never propagated; resync recreates them one by one or all at once', () => {
  const s = settings();
  const link = linkOf(s, ada);
  assert.deepEqual(decideDeletion('people', link, 'app').map((d) => d.kind === 'skip' && d.reason), ['deleted-in-app']);
  assert.deepEqual(change(s, 'hub', ada, null, { ...link, deletedOn: 'app' }).map((d) => d.kind === 'skip' && d.reason), ['deleted-in-app']);
  const items = [
    { link, deletedOn: 'app' as const, hub: hub(ada) },
    { link: { ...link, hubId: 'p2', appId: '102' }, deletedOn: 'hub' as const, app: app({ email: 'grace@navy.example' }, '102') },
  ];
  const all = planResync(s, 'people', hubspotCodec, items, NOW);
  assert.deepEqual(all.map((d) => d.kind === 'create' && [d.side, d.sourceId]), [['app', 'p1'], ['hub', '102']]);
  assert.deepEqual(planResync(s, 'people', hubspotCodec, items, NOW, ['p2']).map((d) => d.kind === 'create' && d.side), ['hub']);
  // A one-way object recreates only where its direction writes.
  assert.deepEqual(planResync(settings({ direction: 'to-app' }), 'people', hubspotCodec, items, NOW).map((d) => d.kind), ['create', 'skip']);
});

test('failed records are counted and listed with their reasons (sync health)', () => {
  const health = tallyHealth(
    [{ kind: 'skip', object: 'people', reason: 'excluded', hubId: 'p9', rule: 'valid-email' }, { kind: 'skip', object: 'people', reason: 'unchanged', hubId: 'p1' }],
    [
      { ref: 'p2', status: 'created', id: '5', record: app({}, '5') },
      { ref: 'p3', status: 'refused', error: { status: 400, code: 'VALIDATION_ERROR', message: 'Email address nope is invalid', body: {} } },
    ],
  );
  assert.deepEqual(health, { inSync: 2, excluded: [{ id: 'p9', rule: 'valid-email' }], failing: [{ ref: 'p3', code: 'VALIDATION_ERROR', message: 'Email address nope is invalid' }] });
});

test('sync can be turned off (and back on); objects not chosen for the connection never sync', () => {
  const off = settings({}, false);
  assert.deepEqual(change(off, 'hub', ada, null, null).map((d) => d.kind === 'skip' && d.reason), ['sync-off']);
  assert.equal(only(change(settings(), 'hub', ada, null, null), 'create').length, 1, 'on again');
  const companies = decideChange({ settings: settings(), object: 'companies', codec: hubspotCodec, changed: 'hub', link: null, hub: hub({ name: 'Acme' }), app: null, now: NOW });
  assert.deepEqual(companies.map((d) => d.kind === 'skip' && d.reason), ['object-not-synced']);
});

test('several accounts of the same app: each connection derives its own idempotency keys', () => {
  const a = idempotencyKey('conn_1', 'create', 'people', 'p1', 3);
  assert.equal(a, idempotencyKey('conn_1', 'create', 'people', 'p1', 3), 'derived, so a retry carries the same key');
  assert.notEqual(a, idempotencyKey('conn_2', 'create', 'people', 'p1', 3));
  assert.notEqual(a, idempotencyKey('conn_1', 'create', 'people', 'p1', 4));
  assert.match(a, /^hub-sync-[A-Za-z0-9_-]{40}$/);
});

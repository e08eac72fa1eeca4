import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';
import { createStepRegistry, stepTypes, type StepTypeSpec } from '../../libs/workflow/step-types.ts';
import { parseWorkflowDefinition } from '../../libs/workflow/validate.ts';
import type { BranchStep, HttpStep, IteratorStep, RecordSearchStep } from '../../libs/contracts/workflow.ts';
import { seededRandom as rng } from '../support/random.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const step = (id: string, type: string, input: Json): Json => ({ id, type, input });
const def = (trigger: Json, steps: Json[], name = 'test'): Record<string, Json> => ({ name, trigger, steps });
const created = (object: string, filter?: Json): Json => ({ type: 'record.created', object, ...(filter === undefined ? {} : { filter }) });
const note = step('note', 'record.create', { object: 'notes', values: { body: 'hi' } });

// The ten use cases of MISSION.md, in the shapes the engine will run.
const useCases: Record<string, Record<string, Json>> = {
  'web form submission': def(
    { type: 'webhook', methods: ['POST'], expectedBody: { email: { type: 'string', required: true, format: 'email' }, name: { type: 'string' }, company: { type: 'string' } } },
    [
      step('find', 'record.search', { object: 'people', filter: { '==': [{ lower: { var: 'record.email' } }, { lower: { var: 'trigger.body.email' } }] }, limit: 1 }),
      step('upsert', 'branch', {
        branches: [{ if: { '>': [{ var: 'steps.find.count' }, 0] }, steps: [step('update', 'record.update', { object: 'people', recordId: '{{steps.find.records.0.id}}', values: { name: '{{trigger.body.name}}' } })] }],
        else: [step('create', 'record.create', { object: 'people', values: { email: '{{trigger.body.email}}', name: '{{trigger.body.name}}', company: '{{trigger.body.company}}' } })],
      }),
      step('task', 'record.create', { object: 'tasks', values: { title: 'Follow up with {{trigger.body.name}}', personId: '{{steps.create.record.id}}', existingId: '{{steps.update.record.id}}', assignee: 'rep-1' } }),
      step('notify', 'email', { to: ['sales@example.com'], subject: 'New lead: {{trigger.body.email}}', text: 'Task {{steps.task.record.id}} created.' }),
    ],
  ),
  'product data sync': def({ type: 'schedule', cron: 'daily', timezone: 'Europe/Paris' }, [
    step('fetch', 'http', { method: 'GET', url: 'https://warehouse.example.com/usage', query: { since: '{{trigger.scheduledAt}}', limit: 500 }, auth: { credential: 'warehouse' }, timeoutMs: 30_000, retry: { maxAttempts: 3, backoffMs: 2000 } }),
    step('format', 'code', { source: 'return input.rows.map((r) => ({ domain: r.domain, seats: r.seats }));', input: { rows: '{{steps.fetch.body.rows}}' } }),
    step('each', 'iterator', {
      items: '{{steps.format.result}}', maxItems: 5000, steps: [
        step('company', 'record.search', { object: 'companies', filter: { '==': [{ var: 'record.domain' }, { var: 'item.domain' }] }, limit: 1 }),
        step('usage', 'record.update', { object: 'companies', recordId: '{{steps.company.records.0.id}}', values: { seats: '{{item.seats}}', syncedAt: '{{trigger.scheduledAt}}' } }),
        step('low', 'branch', { branches: [{ if: { '<': [{ var: 'item.seats' }, 5] }, steps: [step('lowTask', 'record.create', { object: 'tasks', values: { title: 'Low usage at {{item.domain}} (#{{index}})' } })] }] }),
      ],
    }),
  ]),
  'meeting notes': def({ type: 'webhook', expectedBody: { transcript: { type: 'string', required: true }, participants: { type: 'array' } } }, [
    step('extract', 'code', { source: 'return { summary: input.t.slice(0, 200), actions: [] };', input: { t: '{{trigger.body.transcript}}' } }),
    step('opportunity', 'record.search', { object: 'opportunities', filter: { in: [{ var: 'record.contactEmail' }, { var: 'trigger.body.participants' }] }, sort: [{ field: 'updatedAt', direction: 'desc' }], limit: 1 }),
    step('note', 'record.create', { object: 'notes', values: { body: '{{steps.extract.result.summary}}', opportunityId: '{{steps.opportunity.records.0.id}}' } }),
    step('actions', 'iterator', { items: '{{steps.extract.result.actions}}', steps: [step('followUp', 'record.create', { object: 'tasks', values: { title: '{{item.title}}', noteId: '{{steps.note.record.id}}' } })] }),
    step('mail', 'email', { to: '{{trigger.body.participants}}', subject: 'Meeting notes', html: '<p>{{steps.extract.result.summary}}</p>' }),
  ]),
  'data enrichment': def(created('companies'), [
    step('enrich', 'http', { method: 'POST', url: 'https://enrich.example.com/v1/companies', headers: { 'content-type': 'application/json' }, body: { domain: '{{trigger.record.domain}}' }, auth: { credential: 'enrich-key' } }),
    step('shape', 'code', { source: 'return { size: input.body.employees, signal: input.body.intent > 0.8 };', input: { body: '{{steps.enrich.body}}' } }),
    step('save', 'record.update', { object: 'companies', recordId: '{{trigger.recordId}}', values: { employees: '{{steps.shape.result.size}}' } }),
    step('valuable', 'branch', { branches: [{ if: { '>=': [{ var: 'steps.shape.result.size' }, 1000] }, steps: [step('salesTask', 'record.create', { object: 'tasks', values: { title: 'High-value: {{trigger.record.name}}' } })] }] }),
    step('signal', 'branch', { branches: [{ if: { var: 'steps.shape.result.signal' }, steps: [step('alert', 'email', { to: 'alerts@example.com', subject: 'Buying signal at {{trigger.record.name}}', text: 'Task: {{steps.salesTask.record.id}}' })] }] }),
  ]),
  'newsletter subscribers': def({ type: 'manual', availability: 'global' }, [
    step('subscribers', 'record.search', { object: 'people', filter: { and: [{ var: 'record.newsletter' }, { matches: [{ var: 'record.email' }, '^[^@\\s]+@[^@\\s]+$'] }] }, limit: 1000 }),
    step('emails', 'code', { source: 'return input.people.map((p) => p.email);', input: { people: '{{steps.subscribers.records}}' } }),
    step('push', 'http', { method: 'PUT', url: 'https://mail.example.com/lists/42/members', body: { emails: '{{steps.emails.result}}' }, auth: { credential: 'mailer' } }),
    step('campaign', 'record.create', { object: 'campaigns', values: { name: 'Newsletter', count: '{{steps.subscribers.count}}' } }),
    step('confirm', 'email', { to: 'marketing@example.com', cc: [], subject: 'Sent to {{steps.subscribers.count}} people', text: 'Campaign {{steps.campaign.record.id}}' }),
  ]),
  'email sequence triggers': def(created('people', { and: [{ '==': [{ var: 'record.source' }, 'webinar'] }, { ends_with: [{ lower: { var: 'record.email' } }, '.com'] }] }), [
    step('pick', 'code', { source: 'return input.role === "cto" ? "tech" : "general";', input: { role: '{{trigger.record.jobTitle}}' } }),
    step('enrol', 'http', { method: 'POST', url: 'https://seq.example.com/enrol', body: { email: '{{trigger.record.email}}', sequence: '{{steps.pick.result}}' }, auth: { credential: 'seq' } }),
    step('mark', 'record.update', { object: 'people', recordId: '{{trigger.recordId}}', values: { sequence: '{{steps.pick.result}}' } }),
    step('watch', 'record.create', { object: 'tasks', values: { title: 'Check enrolment of {{trigger.record.email}}' } }),
  ]),
  'lead scoring': def({ type: 'record.updated', object: 'people', fields: ['employees', 'industry', 'lastVisitAt'] }, [
    step('score', 'code', { source: 'return 0;', input: {} }),
    step('hot', 'branch', {
      branches: [{
        if: { '>=': [{ score: [[{ '>': [{ var: 'trigger.record.employees' }, 500] }, 30], [{ in: [{ var: 'trigger.record.industry' }, ['saas', 'fintech']] }, 20], [{ '<=': [{ days_since: { var: 'trigger.record.lastVisitAt' } }, 7] }, 25]] }, 50] },
        steps: [
          step('saveHot', 'record.update', { object: 'people', recordId: '{{trigger.recordId}}', values: { leadStatus: 'hot' } }),
          step('repTask', 'record.create', { object: 'tasks', values: { title: 'Call {{trigger.record.name}}' } }),
          step('repMail', 'email', { to: '{{trigger.record.ownerEmail}}', subject: 'Hot lead', text: '{{trigger.record.name}} scored high' }),
        ],
      }],
      else: [step('saveCold', 'record.update', { object: 'people', recordId: '{{trigger.recordId}}', values: { leadStatus: 'nurture' } })],
    }),
  ]),
  'invoice generation': def({ type: 'record.updated', object: 'opportunities', fields: ['stage'], filter: { and: [{ '==': [{ var: 'record.stage' }, 'Closed Won'] }, { '!=': [{ var: 'before.stage' }, 'Closed Won'] }] } }, [
    step('customer', 'record.search', { object: 'companies', filter: { '==': [{ var: 'record.id' }, { var: 'trigger.record.companyId' }] }, limit: 1 }),
    step('billing', 'code', { source: 'return { name: input.c.name, amount: input.amount };', input: { c: '{{steps.customer.records.0}}', amount: '{{trigger.record.amount}}' } }),
    step('billingCustomer', 'http', { method: 'POST', url: 'https://billing.example.com/customers', body: '{{steps.billing.result}}', auth: { credential: 'billing' } }),
    step('invoice', 'http', { method: 'POST', url: 'https://billing.example.com/invoices', body: { customer: '{{steps.billingCustomer.body.id}}', amount: '{{steps.billing.result.amount}}' }, auth: { credential: 'billing' }, retry: { maxAttempts: 5 } }),
    step('reference', 'record.update', { object: 'opportunities', recordId: '{{trigger.recordId}}', values: { invoiceRef: '{{steps.invoice.body.number}}' } }),
    step('finance', 'email', { to: ['finance@example.com'], subject: 'Invoice {{steps.invoice.body.number}}', text: 'For {{steps.customer.records.0.name}}' }),
  ]),
  'two-way sync (out)': def({ type: 'record.updated', object: 'people', fields: ['email', 'phone'] }, [
    step('push', 'http', { method: 'PATCH', url: 'https://crm2.example.com/contacts/{{trigger.record.externalId}}', body: { email: '{{trigger.record.email}}' }, auth: { credential: 'crm2' } }),
    step('status', 'record.update', { object: 'people', recordId: '{{trigger.recordId}}', values: { syncStatus: 'ok', syncedAt: '{{steps.push.headers.date}}' } }),
  ]),
  'two-way sync (in)': def({ type: 'webhook', methods: ['POST'], expectedBody: { id: { type: 'string', required: true }, email: { type: 'string' } }, secret: 'whsec_abcdefghijklmnop' }, [
    step('match', 'record.search', { object: 'people', filter: { '==': [{ var: 'record.externalId' }, { var: 'trigger.body.id' }] }, limit: 1 }),
    step('apply', 'record.update', { object: 'people', recordId: '{{steps.match.records.0.id}}', values: { email: '{{trigger.body.email}}' } }),
    step('conflict', 'branch', { branches: [{ if: { '!=': [{ var: 'steps.match.records.0.email' }, { var: 'trigger.body.email' }] }, steps: [step('resolve', 'record.create', { object: 'tasks', values: { title: 'Resolve conflict on {{steps.match.records.0.id}}' } })] }] }),
  ]),
  'multi-step processing': def({ type: 'schedule', cron: '0 */6 * * MON-FRI', timezone: 'America/New_York' }, [
    step('load', 'http', { method: 'GET', url: 'https://feed.example.com/batch' }),
    step('validate', 'code', { source: 'return input.rows.filter(Boolean);', input: { rows: '{{steps.load.body}}' } }),
    step('transform', 'code', { source: 'return input.rows;', input: { rows: '{{steps.validate.result}}' } }),
    step('rules', 'code', { source: 'return { rows: input.rows, problems: [] };', input: { rows: '{{steps.transform.result}}' } }),
    step('each', 'iterator', {
      items: '{{steps.rules.result.rows}}', steps: [
        step('dupes', 'record.search', { object: 'companies', filter: { or: [{ '==': [{ var: 'record.domain' }, { var: 'item.domain' }] }, { '==': [{ lower: { var: 'record.name' } }, { lower: { var: 'item.name' } }] }] } }),
        step('upsert', 'branch', {
          branches: [{ if: { var: 'steps.dupes.count' }, steps: [step('merge', 'record.update', { object: 'companies', recordId: '{{steps.dupes.records.0.id}}', values: { name: '{{item.name}}' } })] }],
          else: [step('insert', 'record.create', { object: 'companies', values: { name: '{{item.name}}', domain: '{{item.domain}}' } })],
        }),
      ],
    }),
    step('quality', 'branch', { branches: [{ if: { '>': [{ length: { var: 'steps.rules.result.problems' } }, 0] }, steps: [step('qualityMail', 'email', { to: 'data@example.com', subject: 'Data quality', text: '{{steps.rules.result.problems}}' })] }] }),
  ]),
  'manual bulk': def({ type: 'manual', availability: 'bulk', object: 'people' }, [note]),
};

function refused(body: unknown, path: string, message: RegExp): void {
  assert.throws(() => parseWorkflowDefinition(body), (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, 'WORKFLOW_INVALID', err.message);
    assert.equal(err.status, 400);
    assert.equal(err.retriable, false);
    assert.equal(err.path, path, err.message);
    assert.match(err.message, message);
    return true;
  });
}

test('the shapes of the ten use cases parse', () => {
  for (const [name, body] of Object.entries(useCases)) {
    const parsed = parseWorkflowDefinition(body);
    assert.equal(parsed.name, 'test', name);
    assert.ok(Object.isFrozen(parsed) && Object.isFrozen(parsed.steps[0]), name);
  }
});

test('normalisation: defaults filled in, input untouched, result frozen', () => {
  const body = useCases['web form submission'] as Record<string, Json>;
  const before = JSON.stringify(body);
  const parsed = parseWorkflowDefinition(body);
  assert.equal(JSON.stringify(body), before);
  assert.deepEqual(parsed.trigger, { type: 'webhook', methods: ['POST'], expectedBody: { email: { type: 'string', required: true, format: 'email' }, name: { type: 'string' }, company: { type: 'string' } }, secret: null });
  const find = parsed.steps[0] as RecordSearchStep;
  assert.deepEqual(find.input.sort, []);
  assert.equal(find.input.limit, 1);
  const sync = parseWorkflowDefinition(useCases['product data sync']);
  assert.deepEqual(sync.trigger, { type: 'schedule', cron: 'daily', timezone: 'Europe/Paris' });
  assert.equal((sync.steps[2] as IteratorStep).input.maxItems, 5000);
  const notes = parseWorkflowDefinition(useCases['meeting notes']);
  assert.equal((notes.steps[3] as IteratorStep).input.maxItems, 1000);
  assert.deepEqual(notes.trigger, { type: 'webhook', methods: ['POST'], expectedBody: { transcript: { type: 'string', required: true }, participants: { type: 'array' } }, secret: null });
  const enrich = parseWorkflowDefinition(useCases['data enrichment']);
  const http = enrich.steps[0] as HttpStep;
  assert.deepEqual({ ...http.input, body: undefined }, { method: 'POST', url: 'https://enrich.example.com/v1/companies', headers: { 'content-type': 'application/json' }, query: {}, body: undefined, auth: { credential: 'enrich-key' }, timeoutMs: 10_000, retry: { maxAttempts: 1, backoffMs: 1000 } });
  assert.deepEqual((enrich.steps[3] as BranchStep).input.else, []);
  assert.deepEqual(parseWorkflowDefinition(def({ type: 'schedule', cron: '@weekly', timezone: 'america/new_york' }, [note])).trigger, { type: 'schedule', cron: '@weekly', timezone: 'America/New_York' });
  assert.deepEqual(parseWorkflowDefinition(def({ type: 'schedule', cron: ' 0 9 * * 1 ' }, [note])).trigger, { type: 'schedule', cron: '0 9 * * 1', timezone: 'UTC' });
  const mail = parseWorkflowDefinition(def(created('people'), [step('m', 'email', { to: 'a@example.com', subject: 's', text: 't' })])).steps[0];
  assert.deepEqual(mail?.input, { to: ['a@example.com'], subject: 's', text: 't' });
  assert.equal((parseWorkflowDefinition(def(created('x'), [step('h', 'http', { method: 'get', url: 'http://x.example' })])).steps[0] as HttpStep).input.method, 'GET');
  assert.equal(parseWorkflowDefinition({ ...def(created('x'), [note]), name: '  Spaces  ' }).name, 'Spaces');
});

const ok = useCases['web form submission'] as Record<string, Json>;
const withSteps = (steps: Json[], trigger: Json = created('people')) => def(trigger, steps);
const withTrigger = (trigger: Json) => def(trigger, [note]);

test('top level: body, fields, name, steps', () => {
  refused(null, '', /must be a JSON object/);
  refused([ok], '', /got array/);
  refused({ ...ok, enabled: true }, '/enabled', /unknown field "enabled"; allowed: name, trigger, steps/);
  refused({ trigger: ok.trigger, steps: ok.steps }, '/name', /name is required/);
  refused({ ...ok, name: '  ' }, '/name', /non-empty string/);
  refused({ ...ok, name: 'x'.repeat(201) }, '/name', /at most 200/);
  refused({ name: 'x', steps: [] }, '/trigger', /trigger is required/);
  refused({ name: 'x', trigger: ok.trigger }, '/steps', /steps is required/);
  refused({ ...ok, steps: {} }, '/steps', /must be an array/);
  refused({ ...ok, steps: [] }, '/steps', /at least 1 step/);
  let deep: Json = 'x';
  for (let i = 0; i < 70; i++) deep = { d: deep };
  refused({ ...ok, steps: [deep] }, `/steps/0${'/d'.repeat(62)}`, /deeper than 64/);
  refused({ ...ok, name: Number.NaN }, '/name', /finite/);
  refused({ ...ok, name: () => 1 }, '/name', /JSON value/);
});

test('triggers: record triggers', () => {
  refused(withTrigger('record.created'), '/trigger', /trigger must be an object/);
  refused(withTrigger({ object: 'people' }), '/trigger/type', /trigger type must be one of record\.created, record\.updated, record\.deleted, webhook, schedule, manual/);
  refused(withTrigger({ type: 'record.upserted', object: 'people' }), '/trigger/type', /one of/);
  refused(withTrigger({ type: 'record.created' }), '/trigger/object', /object is required/);
  refused(withTrigger({ type: 'record.created', object: 'peo ple' }), '/trigger/object', /object name/);
  refused(withTrigger({ type: 'record.created', object: 'people', cron: '@daily' }), '/trigger/cron', /unknown field "cron"; allowed: type, object, filter, fields/);
  refused(withTrigger({ type: 'record.created', object: 'people', fields: ['stage'] }), '/trigger/fields', /record\.updated only/);
  refused(withTrigger({ type: 'record.updated', object: 'people', fields: [] }), '/trigger/fields', /1 to 100 field names/);
  refused(withTrigger({ type: 'record.updated', object: 'people', fields: ['a', 7] }), '/trigger/fields/1', /strings/);
  refused(withTrigger({ type: 'record.updated', object: 'people', fields: ['a', 'a'] }), '/trigger/fields/1', /listed twice/);
  refused(withTrigger({ type: 'record.updated', object: 'people', filter: { '===': [{ var: 'record.stage' }] } }), '/trigger/filter/===', /exactly 2 arguments/);
  refused(withTrigger({ type: 'record.updated', object: 'people', filter: { regex: ['a', 'b'] } }), '/trigger/filter/regex', /unknown operator "regex"/);
  refused(withTrigger({ type: 'record.updated', object: 'people', filter: { '==': [{ var: 'stage' }, 'won'] } }), '/trigger/filter/==/0/var', /var reads record, before here \(e\.g\. "record\.email"\), not "stage"/);
  refused(withTrigger({ type: 'record.updated', object: 'people', filter: { '==': [{ var: 'trigger.record.stage' }, 'won'] } }), '/trigger/filter/==/0/var', /not "trigger"/);
  refused(withTrigger({ type: 'record.updated', object: 'people', filter: { '==': [{ var: 'record.stage' }, '{{trigger.x}}'] } }), '/trigger/filter/==/1', /rules are not templated/);
  assert.ok(parseWorkflowDefinition(withTrigger({ type: 'record.deleted', object: 'people', filter: { missing: ['record.email'] } })));
});

test('triggers: webhook (validated by the hook API parser)', () => {
  refused(withTrigger({ type: 'webhook', name: 'x' }), '/trigger/name', /unknown field "name"; allowed: type, methods, expectedBody, secret/);
  refused(withTrigger({ type: 'webhook', methods: ['PUT'] }), '/trigger/methods/0', /POST or GET/);
  refused(withTrigger({ type: 'webhook', methods: [] }), '/trigger/methods', /\["POST"\], \["GET"\] or both/);
  refused(withTrigger({ type: 'webhook', methods: ['POST', 'post'] }), '/trigger/methods', /must not repeat/);
  refused(withTrigger({ type: 'webhook', expectedBody: { email: { type: 'text' } } }), '/trigger/expectedBody/email/type', /type must be one of/);
  refused(withTrigger({ type: 'webhook', expectedBody: { 'a/b': { type: 'string', format: 'email', extra: 1 } } }), '/trigger/expectedBody/a~1b/extra', /unknown field "extra"/);
  refused(withTrigger({ type: 'webhook', expectedBody: { n: { type: 'number', format: 'email' } } }), '/trigger/expectedBody/n/format', /string fields only/);
  refused(withTrigger({ type: 'webhook', secret: 'short' }), '/trigger/secret', /16 to 200 characters/);
  assert.deepEqual(parseWorkflowDefinition(withTrigger({ type: 'webhook', methods: ['get', 'POST'] })).trigger, { type: 'webhook', methods: ['GET', 'POST'], expectedBody: {}, secret: null });
});

test('triggers: schedule and manual', () => {
  refused(withTrigger({ type: 'schedule' }), '/trigger/cron', /cron is required/);
  refused(withTrigger({ type: 'schedule', cron: '* * *' }), '/trigger/cron', /must have 5 fields/);
  refused(withTrigger({ type: 'schedule', cron: '0 25 * * *' }), '/trigger/cron', /hour field "25"/);
  refused(withTrigger({ type: 'schedule', cron: 'fortnightly' }), '/trigger/cron', /5 fields/);
  refused(withTrigger({ type: 'schedule', cron: 5 }), '/trigger/cron', /must be a string/);
  refused(withTrigger({ type: 'schedule', cron: '0 0 31 2 *' }), '/trigger/cron', /never fires/);
  refused(withTrigger({ type: 'schedule', cron: '@daily', timezone: 'Paris' }), '/trigger/timezone', /IANA name/);
  refused(withTrigger({ type: 'schedule', cron: '@daily', timezone: 'CET; rm -rf' }), '/trigger/timezone', /IANA name/);
  refused(withTrigger({ type: 'schedule', cron: '@daily', timezone: 3 }), '/trigger/timezone', /IANA name/);
  refused(withTrigger({ type: 'schedule', cron: '@daily', every: 'day' }), '/trigger/every', /unknown field/);
  refused(withTrigger({ type: 'manual' }), '/trigger/availability', /availability is required/);
  refused(withTrigger({ type: 'manual', availability: 'all' }), '/trigger/availability', /"single" \(one record\), "bulk" \(a selection\) or "global"/);
  refused(withTrigger({ type: 'manual', availability: 'single' }), '/trigger/object', /required for single availability/);
  refused(withTrigger({ type: 'manual', availability: 'bulk', object: '' }), '/trigger/object', /object name/);
  assert.deepEqual(parseWorkflowDefinition(withTrigger({ type: 'manual', availability: 'single', object: 'people' })).trigger, { type: 'manual', availability: 'single', object: 'people' });
});

test('steps: shape, ids, types', () => {
  refused(withSteps(['x']), '/steps/0', /a step must be an object, got string/);
  refused(withSteps([{ id: 'a', type: 'record.create', input: {}, name: 'x' }]), '/steps/0/name', /unknown field "name"; allowed: id, type, input/);
  refused(withSteps([{ type: 'record.create', input: {} }]), '/steps/0/id', /id is required/);
  refused(withSteps([{ id: 'a', input: {} }]), '/steps/0/type', /type is required/);
  refused(withSteps([{ id: 'a', type: 'record.create' }]), '/steps/0/input', /input is required/);
  for (const bad of ['1a', '', 'a b', 'a.b', 'x'.repeat(65), 7]) refused(withSteps([step(bad as string, 'code', { source: 'x' })]), '/steps/0/id', /start with a letter/);
  assert.ok(parseWorkflowDefinition(withSteps([step('x'.repeat(64), 'code', { source: 'x' }), step('A_b-9', 'code', { source: 'x' })])));
  refused(withSteps([step('a', 'record.upsert', {})]), '/steps/0/type', /unknown step type "record\.upsert"; known: record\.search, record\.create, record\.update, record\.delete, branch, iterator, code, http, email/);
  refused(withSteps([note, note]), '/steps/1/id', /duplicate step id "note" \(first used at \/steps\/0\)/);
  refused(withSteps([step('b', 'branch', { branches: [{ if: true, steps: [note] }], else: [note] })]), '/steps/0/input/else/0/id', /duplicate step id "note" \(first used at \/steps\/0\/input\/branches\/0\/steps\/0\)/);
  refused(withSteps([step('loop', 'iterator', { items: [], steps: [step('loop', 'code', { source: 'x' })] })]), '/steps/0/input/steps/0/id', /duplicate step id "loop"/);
  refused(withSteps([step('a', 'record.create', 'x')]), '/steps/0/input', /input must be an object, got string/);
});

test('limits: steps in total, nesting depth, iterator items', () => {
  const many = Array.from({ length: 101 }, (_, i) => step(`s${i}`, 'code', { source: 'x' }));
  refused(withSteps(many), '/steps/100', /at most 100 steps/);
  assert.ok(parseWorkflowDefinition(withSteps(many.slice(0, 100))));
  const nestedCount = [step('b', 'branch', { branches: [{ if: true, steps: many.slice(0, 99) }], else: [step('last', 'code', { source: 'x' })] })];
  refused(withSteps(nestedCount), '/steps/0/input/else/0', /at most 100 steps, counting nested ones/);
  const nest = (depth: number): Json => depth === 1 ? step(`d${depth}`, 'code', { source: 'x' }) : step(`d${depth}`, 'branch', { branches: [{ if: true, steps: [nest(depth - 1)] }] });
  assert.ok(parseWorkflowDefinition(withSteps([nest(5)])));
  refused(withSteps([nest(6)]), `/steps/0${'/input/branches/0/steps/0'.repeat(5)}`, /nest at most 5 levels/);
  const loop = (input: Json) => withSteps([step('loop', 'iterator', input)]);
  refused(loop({ items: [], steps: [note], maxItems: 10_001 }), '/steps/0/input/maxItems', /integer from 1 to 10000/);
  refused(loop({ items: [], steps: [note], maxItems: 0 }), '/steps/0/input/maxItems', /integer from 1 to 10000/);
  refused(loop({ items: [], steps: [note], maxItems: 2.5 }), '/steps/0/input/maxItems', /integer/);
  refused(loop({ items: [1, 2, 3], steps: [note], maxItems: 2 }), '/steps/0/input/items', /more than maxItems \(2\)/);
  assert.ok(parseWorkflowDefinition(loop({ items: [], steps: [note], maxItems: 10_000 })));
  assert.throws(() => parseWorkflowDefinition(loop({ items: [], steps: [note], maxItems: 600 }), { limits: { iteratorMaxItems: 500 } }), /1 to 500/);
  assert.throws(() => parseWorkflowDefinition(withSteps(many.slice(0, 3)), { limits: { maxSteps: 2 } }), /at most 2 steps/);
});

test('templates: order of execution decides what a step may name', () => {
  const code = (id: string, ref: string) => step(id, 'code', { source: 'x', input: { v: ref } });
  refused(withSteps([code('a', '{{steps.b.result}}'), code('b', '1')]), '/steps/0/input/input/v', /template \{\{steps\.b\.result\}\} names steps\.b: the step at \/steps\/1, which does not run before this one/);
  refused(withSteps([code('a', '{{steps.a.result}}')]), '/steps/0/input/input/v', /names steps\.a: the step itself/);
  refused(withSteps([code('a', 'x {{steps.ghost.result}}')]), '/steps/0/input/input/v', /names steps\.ghost: no step of this workflow/);
  refused(withSteps([code('a', '{{item.x}}')]), '/steps/0/input/input/v', /names item, which exists only inside an iterator/);
  refused(withSteps([code('a', '{{index}}')]), '/steps/0/input/input/v', /exists only inside an iterator/);
  refused(withSteps([code('a', '{{trigger.x')]), '/steps/0/input/input/v', /bad template: unclosed \{\{/);
  refused(withSteps([code('a', '{{record.x}}')]), '/steps/0/input/input/v', /bad template: .*unknown root "record"/);
  // Inside a branch: steps before the branch and earlier steps of the same branch.
  const branch = (steps: Json[], elseSteps: Json[] = []) => step('br', 'branch', { branches: [{ if: true, steps }], else: elseSteps });
  assert.ok(parseWorkflowDefinition(withSteps([code('a', '1'), branch([code('b', '{{steps.a.result}}'), code('c', '{{steps.b.result}}')])])));
  refused(withSteps([branch([code('b', '{{steps.c.result}}'), code('c', '1')])]), '/steps/0/input/branches/0/steps/0/input/input/v', /names steps\.c/);
  refused(withSteps([branch([code('b', '1')], [code('c', '{{steps.b.result}}')])]), '/steps/0/input/else/0/input/input/v', /names steps\.b: the step at \/steps\/0\/input\/branches\/0\/steps\/0/);
  refused(withSteps([branch([code('b', '{{steps.br.branch}}')])]), '/steps/0/input/branches/0/steps/0/input/input/v', /names steps\.br/);
  // After a branch: the steps of any of its branches (possibly absent), and the branch itself.
  assert.ok(parseWorkflowDefinition(withSteps([branch([code('b', '1')], [code('c', '1')]), code('d', '{{steps.b.result}} {{steps.c.result}} {{steps.br.branch}}')])));
  const nestedBranch = step('outer', 'branch', { branches: [{ if: true, steps: [branch([code('deep', '1')])] }] });
  assert.ok(parseWorkflowDefinition(withSteps([nestedBranch, code('d', '{{steps.deep.result}}')])));
  // Iterators: item/index inside, nested iterators, the loop's inner steps stay inside.
  const loop = (id: string, items: Json, steps: Json[]) => step(id, 'iterator', { items, steps });
  assert.ok(parseWorkflowDefinition(withSteps([code('a', '1'), loop('l', '{{steps.a.result}}', [code('b', '{{item.x}} {{index}} {{steps.a.result}}'), code('c', '{{steps.b.result}}')]), code('after', '{{steps.l.count}}')])));
  refused(withSteps([loop('l', [1], [code('b', '1')]), code('after', '{{steps.b.result}}')]), '/steps/1/input/input/v', /names steps\.b/);
  refused(withSteps([loop('l', '{{item}}', [code('b', '1')])]), '/steps/0/input/items', /names item/);
  refused(withSteps([loop('l', '{{steps.l.count}}', [code('b', '1')])]), '/steps/0/input/items', /the step itself/);
  refused(withSteps([loop('l', [1], [branch([code('b', '{{item.x}}')]), code('c', '{{steps.b.result}}')]), code('d', '{{item}}')]), '/steps/1/input/input/v', /exists only inside an iterator/);
  assert.ok(parseWorkflowDefinition(withSteps([loop('l', [1], [loop('m', '{{item.children}}', [code('b', '{{item.name}}')])])])));
});

test('rules in steps: var paths follow the same visibility', () => {
  const search = (filter: Json) => step('s', 'record.search', { object: 'people', filter });
  refused(withSteps([search({ '==': [{ var: 'email' }, 'x'] })]), '/steps/0/input/filter/==/0/var', /var reads record, trigger, steps, item, index here/);
  refused(withSteps([search({ '==': [{ var: 'steps.later.x' }, 1] }), note]), '/steps/0/input/filter/==/0/var', /var "steps\.later\.x" names steps\.later: no step/);
  refused(withSteps([search({ '==': [{ var: 'item.x' }, 1] })]), '/steps/0/input/filter/==/0/var', /var "item\.x" names item, which exists only inside an iterator/);
  refused(withSteps([search({ '==': [{ var: 'record.x' }, '{{trigger.x}}'] })]), '/steps/0/input/filter/==/1', /not templated/);
  refused(withSteps([search({ matches: [{ var: 'record.x' }, '(a|b)*c'] })]), '/steps/0/input/filter/matches/1', /alternation/);
  refused(withSteps([search({ '!': [] })]), '/steps/0/input/filter/!', /exactly 1 argument, got 0/);
  // Inside map/filter/some…, var reads the item: not checked against the scope.
  assert.ok(parseWorkflowDefinition(withSteps([search({ some: [{ var: 'record.tags' }, { '==': [{ var: '' }, 'vip'] }] })])));
  const br = (cond: Json) => step('b', 'branch', { branches: [{ if: cond, steps: [note] }] });
  refused(withSteps([br({ var: 'record.x' })]), '/steps/0/input/branches/0/if/var', /var reads trigger, steps, item, index here/);
  refused(withSteps([br({ var: 'steps.b.branch' })]), '/steps/0/input/branches/0/if/var', /the step itself/);
  refused(withSteps([br({ var: 'steps.note.record' })]), '/steps/0/input/branches/0/if/var', /names steps\.note: the step at \/steps\/0\/input\/branches\/0\/steps\/0/);
  refused(withSteps([br({ score: [[true, 'high']] })]), '/steps/0/input/branches/0/if/score/0/1', /weight must be a finite number/);
  refused(withSteps([step('b', 'branch', { branches: [{ steps: [note] }] })]), '/steps/0/input/branches/0/if', /if is required/);
});

test('record steps', () => {
  const one = (type: string, input: Json) => withSteps([step('s', type, input)]);
  refused(one('record.search', {}), '/steps/0/input/object', /object is required/);
  refused(one('record.search', { object: '{{trigger.object}}' }), '/steps/0/input/object', /not a template/);
  refused(one('record.search', { object: 'people', where: {} }), '/steps/0/input/where', /unknown field "where"; allowed: object, filter, sort, limit/);
  refused(one('record.search', { object: 'people', limit: 0 }), '/steps/0/input/limit', /integer from 1 to 1000/);
  refused(one('record.search', { object: 'people', limit: 1001 }), '/steps/0/input/limit', /1 to 1000/);
  refused(one('record.search', { object: 'people', sort: 'name' }), '/steps/0/input/sort', /array of at most 5/);
  refused(one('record.search', { object: 'people', sort: [{ field: 'name', direction: 'up' }] }), '/steps/0/input/sort/0/direction', /"asc" or "desc"/);
  refused(one('record.search', { object: 'people', sort: [{ direction: 'asc' }] }), '/steps/0/input/sort/0/field', /field is required/);
  refused(one('record.create', { object: 'people' }), '/steps/0/input/values', /values is required/);
  refused(one('record.create', { object: 'people', values: [] }), '/steps/0/input/values', /must be an object/);
  refused(one('record.create', { object: 'people', values: { '': 1 } }), '/steps/0/input/values/', /1 to 200 characters/);
  refused(one('record.create', { object: 'people', values: { a: { b: ['{{steps.s.x}}'] } } }), '/steps/0/input/values/a/b/0', /the step itself/);
  refused(one('record.update', { object: 'people', values: {} }), '/steps/0/input/recordId', /recordId is required/);
  refused(one('record.update', { object: 'people', recordId: 5, values: {} }), '/steps/0/input/recordId', /non-empty string/);
  refused(one('record.delete', { object: 'people', recordId: '' }), '/steps/0/input/recordId', /non-empty string/);
  refused(one('record.delete', { object: 'people', recordId: '{{steps.x.id}}' }), '/steps/0/input/recordId', /no step/);
  assert.ok(parseWorkflowDefinition(one('record.delete', { object: 'people', recordId: '{{trigger.recordId}}' })));
});

test('branch and iterator inputs', () => {
  const one = (type: string, input: Json) => withSteps([step('s', type, input)]);
  refused(one('branch', { else: [] }), '/steps/0/input/branches', /branches is required/);
  refused(one('branch', { branches: [] }), '/steps/0/input/branches', /1 to 20/);
  refused(one('branch', { branches: Array.from({ length: 21 }, () => ({ if: true, steps: [] })) }), '/steps/0/input/branches', /1 to 20/);
  refused(one('branch', { branches: [{ if: true, steps: [], then: 1 }] }), '/steps/0/input/branches/0/then', /unknown field "then"; allowed: if, steps/);
  refused(one('branch', { branches: [{ if: true, steps: {} }] }), '/steps/0/input/branches/0/steps', /must be an array/);
  refused(one('branch', { branches: [{ if: true, steps: [] }], else: 'x' }), '/steps/0/input/else', /must be an array/);
  refused(one('iterator', { items: [] }), '/steps/0/input/steps', /steps is required/);
  refused(one('iterator', { items: [], steps: [] }), '/steps/0/input/steps', /at least 1 step/);
  refused(one('iterator', { items: 'people', steps: [note] }), '/steps/0/input/items', /one template such as "\{\{steps\.find\.records\}\}", or an array/);
  refused(one('iterator', { items: 'all {{trigger.list}}', steps: [note] }), '/steps/0/input/items', /one template/);
  refused(one('iterator', { items: { a: 1 }, steps: [note] }), '/steps/0/input/items', /one template/);
  refused(one('iterator', { items: '{{trigger.list', steps: [note] }), '/steps/0/input/items', /bad template: unclosed/);
});

test('code, http and email inputs', () => {
  const one = (type: string, input: Json) => withSteps([step('s', type, input)]);
  refused(one('code', {}), '/steps/0/input/source', /source is required/);
  refused(one('code', { source: '  ' }), '/steps/0/input/source', /non-empty JavaScript/);
  refused(one('code', { source: 'x'.repeat(100_001) }), '/steps/0/input/source', /at most 100000/);
  refused(one('code', { source: 'x', input: 'y' }), '/steps/0/input/input', /input must be an object/);
  refused(one('code', { source: 'x', input: { a: '{{steps.zz}}' } }), '/steps/0/input/input/a', /no step/);
  assert.ok(parseWorkflowDefinition(one('code', { source: 'return `{{ not a template }}`' })), 'source is never templated');
  refused(one('http', { url: 'https://x.example' }), '/steps/0/input/method', /method is required/);
  refused(one('http', { method: 'TRACE', url: 'https://x.example' }), '/steps/0/input/method', /GET, POST, PUT, PATCH, DELETE, HEAD/);
  refused(one('http', { method: 'GET', url: 'ftp://x.example' }), '/steps/0/input/url', /absolute http\(s\) URL/);
  refused(one('http', { method: 'GET', url: '/relative' }), '/steps/0/input/url', /absolute http\(s\) URL/);
  refused(one('http', { method: 'GET', url: 'https://x.example/{{item.id}}' }), '/steps/0/input/url', /only inside an iterator/);
  refused(one('http', { method: 'GET', url: 'https://x.example', headers: { 'bad header': 'x' } }), '/steps/0/input/headers/bad header', /not a valid header name/);
  refused(one('http', { method: 'GET', url: 'https://x.example', headers: { Authorization: 'Bearer abc' } }), '/steps/0/input/headers/Authorization', /store it as a credential and name it in auth\.credential/);
  refused(one('http', { method: 'GET', url: 'https://x.example', headers: { 'X-Api-Key': 'abc' } }), '/steps/0/input/headers/X-Api-Key', /credential/);
  refused(one('http', { method: 'GET', url: 'https://x.example', headers: { a: 1 } }), '/steps/0/input/headers/a', /strings/);
  refused(one('http', { method: 'GET', url: 'https://x.example', query: { a: {} } }), '/steps/0/input/query/a', /strings, numbers or booleans/);
  refused(one('http', { method: 'GET', url: 'https://x.example', body: {} }), '/steps/0/input/body', /GET requests have no body/);
  refused(one('http', { method: 'POST', url: 'https://x.example', body: { a: '{{steps.s}}' } }), '/steps/0/input/body/a', /the step itself/);
  refused(one('http', { method: 'GET', url: 'https://x.example', auth: { token: 'x' } }), '/steps/0/input/auth/token', /unknown field "token"; allowed: credential/);
  refused(one('http', { method: 'GET', url: 'https://x.example', auth: { credential: 'a b' } }), '/steps/0/input/auth/credential', /stored credential/);
  refused(one('http', { method: 'GET', url: 'https://x.example', timeoutMs: 60_001 }), '/steps/0/input/timeoutMs', /100 to 60000/);
  refused(one('http', { method: 'GET', url: 'https://x.example', retry: { maxAttempts: 11 } }), '/steps/0/input/retry/maxAttempts', /1 to 10/);
  refused(one('http', { method: 'GET', url: 'https://x.example', accept: [200] }), '/steps/0/input/accept', /400 to 599/);
  refused(one('http', { method: 'GET', url: 'https://x.example', accept: '404' }), '/steps/0/input/accept', /list of up to 20/);
  refused(one('http', { method: 'GET', url: 'https://x.example', retry: { attempts: 2 } }), '/steps/0/input/retry/attempts', /unknown field/);
  refused(one('email', { subject: 's', text: 't' }), '/steps/0/input/to', /to is required/);
  refused(one('email', { to: [], subject: 's', text: 't' }), '/steps/0/input/to', /1 to 50 addresses/);
  refused(one('email', { to: 'not-an-address', subject: 's', text: 't' }), '/steps/0/input/to', /"not-an-address" is not an email address/);
  refused(one('email', { to: ['a@example.com', 'b@'], subject: 's', text: 't' }), '/steps/0/input/to/1', /not an email address/);
  refused(one('email', { to: 'a@example.com', cc: [5], subject: 's', text: 't' }), '/steps/0/input/cc/0', /each recipient must be a string/);
  refused(one('email', { to: 'a@example.com', subject: '', text: 't' }), '/steps/0/input/subject', /non-empty string/);
  refused(one('email', { to: 'a@example.com', subject: 's' }), '/steps/0/input', /needs text, html or both/);
  refused(one('email', { to: 'a@example.com', subject: 's', text: 't', bcc: 'x' }), '/steps/0/input/bcc', /unknown field "bcc"; allowed: to, cc, subject, text, html/);
  assert.ok(parseWorkflowDefinition(one('email', { to: ['{{trigger.record.email}}'], subject: 's', html: '<b>hi</b>' })));
});

test('the step-type registry is extensible', () => {
  const sleep: StepTypeSpec = {
    type: 'sleep',
    description: 'Waits ms milliseconds',
    inputSchema: () => ({ type: 'object', additionalProperties: false, required: ['ms'], properties: { ms: { type: 'integer', minimum: 0 } } }),
  };
  const registry = createStepRegistry([...stepTypes.values(), sleep]);
  const body = withSteps([step('nap', 'sleep', { ms: 5 })]);
  refused(body, '/steps/0/type', /unknown step type "sleep"/);
  assert.deepEqual(parseWorkflowDefinition(body, { stepTypes: registry }).steps[0], { id: 'nap', type: 'sleep', input: { ms: 5 } });
  assert.throws(() => parseWorkflowDefinition(withSteps([step('nap', 'sleep', { ms: -1 })]), { stepTypes: registry }), (err: unknown) => err instanceof HubError && err.path === '/steps/0/input/ms');
  const narrow = new Map([...stepTypes].filter(([type]) => !['code', 'http', 'email'].includes(type)));
  assert.throws(() => parseWorkflowDefinition(useCases['data enrichment'], { stepTypes: narrow }), (err: unknown) => err instanceof HubError && err.path === '/steps/0/type');
});

// ---- fuzz: random definitions either parse or fail with WORKFLOW_INVALID and a path into the body ----

const ATOMS: Json[] = [
  null, true, false, 0, -1, 1.5, 1e308, 10_001, '', 'x', 'people', '{{', '}}', '{{trigger.x}}', '{{steps.find.records}}',
  '{{item.name}}', '{{index}}', '{{steps.nope.x}}', '{{ bad expr }}', '\\{{x}}', '@daily', 'daily', '0 9 * * MON', '61 * * * *',
  'Europe/Paris', 'Nowhere/X', 'https://x.example', 'POST', 'GET', 'a@example.com', '__proto__', 'constructor', 'é', '(a+)+', [], {},
];
const KEYS = ['name', 'trigger', 'steps', 'type', 'object', 'filter', 'fields', 'methods', 'expectedBody', 'secret', 'cron', 'timezone', 'availability',
  'id', 'input', 'values', 'recordId', 'branches', 'else', 'if', 'items', 'maxItems', 'source', 'method', 'url', 'headers', 'query', 'body', 'auth',
  'credential', 'to', 'subject', 'text', 'html', 'limit', 'sort', 'var', '==', 'and', 'score', 'matches', 'contains', 'log', 'x', '__proto__', 'a/b'];

function randomJson(r: () => number, depth: number): Json {
  const p = r();
  if (depth <= 0 || p < 0.45) return ATOMS[Math.floor(r() * ATOMS.length)] as Json;
  if (p < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth - 1));
  const obj: Record<string, Json> = {};
  for (let i = Math.floor(r() * 4); i > 0; i--) obj[KEYS[Math.floor(r() * KEYS.length)] as string] = randomJson(r, depth - 1);
  return obj;
}

/** Mutates a random node of a deep copy: replace, delete a key, add a key, or duplicate an array item. */
function mutate(value: Json, r: () => number): Json {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  const nodes: Json[] = [];
  const walk = (v: Json) => {
    if (typeof v === 'object' && v !== null) {
      nodes.push(v);
      for (const child of Object.values(v)) walk(child);
    }
  };
  walk(copy);
  const target = nodes[Math.floor(r() * nodes.length)];
  if (Array.isArray(target)) {
    const i = Math.floor(r() * (target.length + 1));
    const op = r();
    if (op < 0.3 && target.length) target.splice(i % target.length, 1);
    else if (op < 0.6 && target.length) target.push(JSON.parse(JSON.stringify(target[i % target.length])) as Json);
    else target[i] = randomJson(r, 3);
  } else if (target && typeof target === 'object') {
    const keys = Object.keys(target);
    const op = r();
    if (op < 0.3 && keys.length) delete target[keys[Math.floor(r() * keys.length)] as string];
    else if (op < 0.7 && keys.length) target[keys[Math.floor(r() * keys.length)] as string] = randomJson(r, 3);
    else target[KEYS[Math.floor(r() * KEYS.length)] as string] = randomJson(r, 3);
  }
  return copy;
}

/** Whether `path` names a value of `body`, or a missing key of an object in it. */
function pointsInto(body: unknown, path: string): boolean {
  if (path === '') return true;
  const tokens = path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = body;
  for (let i = 0; i < tokens.length; i++) {
    if (typeof node !== 'object' || node === null) return false;
    const key = tokens[i] as string;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return i === tokens.length - 1 && !Array.isArray(node);
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

test('fuzz: thousands of random and mutated definitions parse or fail with WORKFLOW_INVALID and a path into the body', () => {
  const r = rng(20240510);
  const seeds = Object.values(useCases);
  let parsed = 0;
  let refusedCount = 0;
  for (let i = 0; i < 4000; i++) {
    let body: Json;
    if (i % 4 === 0) body = randomJson(r, 6);
    else {
      body = seeds[Math.floor(r() * seeds.length)] as Json;
      for (let m = 1 + Math.floor(r() * 3); m > 0; m--) body = mutate(body, r);
    }
    try {
      const out = parseWorkflowDefinition(body);
      assert.ok(Object.isFrozen(out));
      parsed++;
    } catch (err) {
      if (!(err instanceof HubError) || err.code !== 'WORKFLOW_INVALID' || typeof err.path !== 'string') {
        assert.fail(`case ${i}: ${String(err)}\n${JSON.stringify(body).slice(0, 2000)}`);
      }
      assert.ok(err.path === '' || err.path.startsWith('/'), err.path);
      assert.ok(pointsInto(body, err.path), `case ${i}: ${err.path} is not in the body (${err.message})`);
      assert.ok(err.message.length > 0);
      refusedCount++;
    }
  }
  assert.ok(parsed > 200 && refusedCount > 2000, `parsed ${parsed}, refused ${refusedCount}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { verify } from '../../libs/webhooks/standard.ts';
import {
  createWebFormPoster, parseForm, postForm, sampleUsage, startBillingEmulator, startCallRecorderEmulator, startEmailMarketingEmulator,
  startEnrichmentEmulator, startExternalCrmEmulator, startScoringEmulator, startSequencesEmulator, startSmtpCapture, startWarehouseEmulator,
  type Emulator, type ReceivedRequest,
} from '../emulators/index.ts';
import { startHttpEmulator } from '../emulators/base.ts';

// ---- helpers ---------------------------------------------------------------------------

interface Answer { status: number; headers: Headers; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(url: string, init: { method?: string; headers?: Record<string, string>; json?: unknown; form?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = init.form;
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

function lastReceived(e: Emulator): ReceivedRequest {
  const r = e.received.at(-1);
  assert.ok(r, 'a request was recorded');
  return r;
}

/** An injected 429 with Retry-After, then an injected 503, both recorded; then a normal answer. */
async function checkInjectedFailures(e: Emulator, url: string, headers: Record<string, string>, errorShape: (body: unknown) => void): Promise<void> {
  e.failNext(1, { status: 429, retryAfterSeconds: 7 });
  e.failNext(1, { status: 503 });
  const limited = await call(url, { headers });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '7');
  errorShape(limited.body);
  assert.equal(lastReceived(e).status, 429);
  assert.equal(lastReceived(e).injected, true);
  const down = await call(url, { headers });
  assert.equal(down.status, 503);
  errorShape(down.body);
  const ok = await call(url, { headers });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(lastReceived(e).injected, false);
}

/** A local webhook receiver built on the emulator base: records deliveries, answers 202. */
async function startReceiver() {
  return startHttpEmulator({
    name: 'receiver',
    routes: [{ method: 'POST', path: '/hook', handle: () => ({ status: 202, body: { accepted: true } }) }, { method: 'GET', path: '/hook', handle: () => ({ status: 202, body: { accepted: true } }) }],
    authenticate: () => null,
    errorReply: (status, _kind, message) => ({ status, body: { error: message } }),
    resetState: () => undefined,
  }, {}, {});
}

const SECRET = 'whsec_' + Buffer.alloc(24, 9).toString('base64');

function assertSigned(r: ReceivedRequest, secret: string, signedBody = r.rawBody): void {
  const verified = verify({
    secrets: [secret],
    headers: { 'webhook-id': r.headers['webhook-id'], 'webhook-timestamp': r.headers['webhook-timestamp'], 'webhook-signature': r.headers['webhook-signature'] },
    body: Buffer.from(signedBody, 'utf8'),
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  assert.equal(verified.webhookId, r.headers['webhook-id']);
}

// ---- base ------------------------------------------------------------------------------

test('base: form bodies with Stripe-style nesting', () => {
  assert.deepEqual(parseForm('a=1&b[c]=2&d[]=3&d[]=4&e[0][f]=5&e[1][f]=6&g=x&g=y&__proto__[x]=1'), {
    a: '1', b: { c: '2' }, d: ['3', '4'], e: [{ f: '5' }, { f: '6' }], g: ['x', 'y'],
  });
  assert.equal(({} as Record<string, unknown>).x, undefined, 'no prototype pollution');
});

test('base: failNext by path prefix, records, rate limit, reset', async () => {
  const e = await startScoringEmulator({ rateLimit: { max: 3, windowMs: 60_000 } });
  try {
    const auth = basic(e.apiKey, '');
    e.failNext(2, { status: 500, body: { custom: true } }, '/v1/companies');
    const person = await call(`${e.url}/v1/persons?email=ada@acme.example`, { headers: auth });
    assert.equal(person.status, 200, 'another path is not affected');
    const failed = await call(`${e.url}/v1/companies?domain=acme.example`, { headers: auth });
    assert.deepEqual([failed.status, failed.body], [500, { custom: true }]);
    // Injected failures do not count against the API's own rate limit.
    await call(`${e.url}/v1/companies?domain=acme.example`, { headers: auth });
    assert.equal((await call(`${e.url}/v1/companies?domain=acme.example`, { headers: auth })).status, 200);
    assert.equal((await call(`${e.url}/v1/companies?domain=acme.example`, { headers: auth })).status, 200);
    const limited = await call(`${e.url}/v1/companies?domain=acme.example`, { headers: auth });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.deepEqual(e.received.map((r) => [r.path, r.status, r.injected]), [
      ['/v1/persons', 200, false], ['/v1/companies', 500, true], ['/v1/companies', 500, true], ['/v1/companies', 200, false], ['/v1/companies', 200, false], ['/v1/companies', 429, false],
    ]);
    assert.equal(e.received[0]!.query.email, 'ada@acme.example');
    assert.match(e.received[0]!.headers.authorization!, /^Basic /);
    e.reset();
    assert.equal(e.received.length, 0);
    assert.equal((await call(`${e.url}/v1/companies?domain=acme.example`, { headers: auth })).status, 200, 'reset clears the rate window');
    assert.equal((await call(`${e.url}/v1/nothing`, { headers: auth })).status, 404);
    assert.equal((await call(`${e.url}/v1/persons`, { method: 'DELETE', headers: auth })).status, 405);
  } finally {
    await e.close();
  }
});

// ---- web form poster -------------------------------------------------------------------

test('web form: JSON and urlencoded posts, Standard Webhooks signatures, retries keep the id', async () => {
  const r = await startReceiver();
  try {
    const plain = await postForm(`${r.url}/hook`, { name: 'Ada Lovelace', email: 'ada@acme.example', company: 'Acme' });
    assert.equal(plain.status, 202);
    assert.deepEqual(plain.body, { accepted: true });
    let got = lastReceived(r);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.deepEqual(got.body, { name: 'Ada Lovelace', email: 'ada@acme.example', company: 'Acme' });
    assert.equal(got.headers['webhook-signature'], undefined, 'unsigned without a secret');

    await postForm(`${r.url}/hook`, { name: 'Grace', email: 'grace@navy.example', interests: ['crm', 'sync'], newsletter: true }, { encoding: 'form', secret: SECRET });
    got = lastReceived(r);
    assert.equal(got.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(got.rawBody, 'name=Grace&email=grace%40navy.example&interests=crm&interests=sync&newsletter=true');
    assert.match(got.headers['webhook-id']!, /^msg_/);
    assert.match(got.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]+=*$/);
    assertSigned(got, SECRET);
    assert.throws(() => assertSigned(got, 'whsec_' + Buffer.alloc(24, 1).toString('base64')), /no webhook signature matches/);

    // GET forms: the signed "body" is the query string.
    await postForm(`${r.url}/hook?source=landing`, { email: 'x@y.example' }, { method: 'GET', secret: SECRET });
    got = lastReceived(r);
    assert.equal(got.method, 'GET');
    assert.deepEqual(got.query, { source: 'landing', email: 'x@y.example' });
    assertSigned(got, SECRET, 'source=landing&email=x%40y.example');

    r.failNext(2, { status: 503 });
    const poster = createWebFormPoster(`${r.url}/hook`, { secret: SECRET, retries: 3, retryDelayMs: 10 });
    const retried = await poster.submit({ email: 'retry@acme.example' });
    assert.equal(retried.status, 202);
    assert.equal(retried.attempts, 3);
    const attempts = r.received.slice(-3);
    assert.deepEqual(attempts.map((a) => a.status), [503, 503, 202]);
    assert.equal(new Set(attempts.map((a) => a.headers['webhook-id'])).size, 1, 'every retry carries the same webhook-id');
    for (const a of attempts) assertSigned(a, SECRET);
    assert.equal(poster.deliveries.length, 1);
  } finally {
    await r.close();
  }
});

// ---- warehouse (BigQuery) --------------------------------------------------------------

test('warehouse: auth, tabledata.list paginated to the end, jobs.query, failures', async () => {
  const e = await startWarehouseEmulator();
  try {
    const none = await call(e.usageDataUrl);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.status, 'UNAUTHENTICATED');
    assert.equal(none.body.error.errors[0].reason, 'required');
    const wrong = await call(e.usageDataUrl, { headers: bearer('nope') });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.errors[0].reason, 'authError');
    const auth = bearer(e.token);

    const table = await call(e.usageDataUrl.replace(/\/data$/, ''), { headers: auth });
    assert.equal(table.status, 200);
    assert.equal(table.body.numRows, '12');
    const schema = table.body.schema.fields;
    assert.deepEqual(schema.slice(0, 4).map((f: { name: string; type: string }) => `${f.name}:${f.type}`), ['account_id:STRING', 'company_domain:STRING', 'company_name:STRING', 'active_users:INTEGER']);

    const rows: Record<string, unknown>[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await call(`${e.usageDataUrl}?maxResults=5${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`, { headers: auth });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.equal(page.body.kind, 'bigquery#tableDataList');
      assert.equal(page.body.totalRows, '12');
      assert.equal(typeof page.body.rows[0].f[3].v, 'string', 'INT64 values come as strings');
      rows.push(...e.decodeRows(schema, page.body.rows));
      pageToken = page.body.pageToken;
      pages += 1;
    } while (pageToken);
    assert.equal(pages, 3);
    assert.deepEqual(rows, sampleUsage());

    const badToken = await call(`${e.usageDataUrl}?pageToken=garbage`, { headers: auth });
    assert.equal(badToken.status, 400);
    const missing = await call(e.usageDataUrl.replace('usage_metrics', 'nope'), { headers: auth });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /Not found: Table acme-analytics:product\.nope/);

    const queryUrl = `${e.url}/bigquery/v2/projects/${e.projectId}/queries`;
    const q = await call(queryUrl, {
      headers: auth,
      json: { query: 'SELECT company_domain, active_users FROM `acme-analytics.product.usage_metrics` WHERE active_users < @min ORDER BY active_users ASC', useLegacySql: false, maxResults: 2, queryParameters: [{ name: 'min', parameterType: { type: 'INT64' }, parameterValue: { value: '5' } }] },
    });
    assert.equal(q.status, 200, JSON.stringify(q.body));
    assert.equal(q.body.jobComplete, true);
    assert.equal(q.body.totalRows, '4');
    const low = e.decodeRows(q.body.schema.fields, q.body.rows);
    const next = await call(`${queryUrl}/${q.body.jobReference.jobId}?pageToken=${encodeURIComponent(q.body.pageToken)}`, { headers: auth });
    assert.equal(next.status, 200);
    assert.equal(next.body.pageToken, undefined);
    low.push(...e.decodeRows(next.body.schema.fields, next.body.rows));
    const expected = sampleUsage().filter((u) => u.active_users < 5).sort((a, b) => a.active_users - b.active_users).map((u) => ({ company_domain: u.company_domain, active_users: u.active_users }));
    assert.deepEqual(low, expected);

    const bad = await call(queryUrl, { headers: auth, json: { query: 'DELETE FROM product.usage_metrics', useLegacySql: false } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.errors[0].reason, 'invalidQuery');
    const noQuery = await call(queryUrl, { headers: auth, json: { useLegacySql: false } });
    assert.equal(noQuery.status, 400);
    assert.match(noQuery.body.error.message, /Required parameter is missing: query/);

    await checkInjectedFailures(e, e.usageDataUrl, auth, (b) => assert.ok((b as { error: { code: number } }).error.code >= 429));
  } finally {
    await e.close();
  }
});

// ---- call recorder (Gong) --------------------------------------------------------------

test('call recorder: Basic auth, calls, transcript, extensive content, webhook notify', async () => {
  const e = await startCallRecorderEmulator({ pageSize: 1 });
  const r = await startReceiver();
  try {
    const refused = await call(`${e.url}/v2/calls`, { headers: basic(e.accessKey, 'wrong') });
    assert.equal(refused.status, 401);
    assert.ok(Array.isArray(refused.body.errors) && typeof refused.body.requestId === 'string');
    const auth = { authorization: e.authorization };

    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(`${e.url}/v2/calls${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: auth });
      assert.equal(page.status, 200);
      assert.equal(page.body.records.totalRecords, 2);
      ids.push(...page.body.calls.map((c: { id: string }) => c.id));
      cursor = page.body.records.cursor;
    } while (cursor);
    assert.deepEqual(ids, ['7782342274025937895', '7782342274025937896']);

    const transcript = await call(`${e.url}/v2/calls/transcript`, { headers: auth, json: { filter: { callIds: ['7782342274025937895'] } } });
    assert.equal(transcript.status, 200);
    assert.equal(transcript.body.callTranscripts[0].callId, '7782342274025937895');
    assert.ok(transcript.body.callTranscripts[0].transcript[0].sentences[0].text.length > 0);

    const extensive = await call(`${e.url}/v2/calls/extensive`, {
      headers: auth,
      json: { filter: { callIds: ['7782342274025937895'] }, contentSelector: { context: 'Extended', exposedFields: { parties: true, content: { brief: true, keyPoints: true, pointsOfInterest: true } } } },
    });
    assert.equal(extensive.status, 200);
    const c = extensive.body.calls[0];
    assert.match(c.content.brief, /Acme/);
    assert.equal(c.content.pointsOfInterest.actionItems.length, 2);
    assert.deepEqual(c.parties.filter((p: { affiliation: string }) => p.affiliation === 'External').map((p: { emailAddress: string }) => p.emailAddress), ['ada@acme.example', 'grace@acme.example']);
    assert.equal(c.context[0].objects[0].objectType, 'Opportunity');

    const noFilter = await call(`${e.url}/v2/calls/transcript`, { headers: auth, json: {} });
    assert.deepEqual([noFilter.status, noFilter.body.errors], [400, ['filter: must not be null']]);
    const none = await call(`${e.url}/v2/calls/transcript`, { headers: auth, json: { filter: { callIds: ['1'] } } });
    assert.equal(none.status, 404);

    const added = e.addCall({ title: 'Initech renewal' });
    const sent = await e.notify(`${r.url}/hook`, added.id, { secret: SECRET });
    assert.equal(sent.status, 202);
    const delivered = lastReceived(r);
    assertSigned(delivered, SECRET);
    const payload = delivered.body as { isTest: boolean; callData: { metaData: { id: string; title: string }; content: { brief: string } } };
    assert.equal(payload.isTest, false);
    assert.deepEqual([payload.callData.metaData.id, payload.callData.metaData.title], [added.id, 'Initech renewal']);

    await checkInjectedFailures(e, `${e.url}/v2/calls/${added.id}`, auth, (b) => assert.ok(Array.isArray((b as { errors: unknown }).errors)));
  } finally {
    await Promise.all([e.close(), r.close()]);
  }
});

// ---- enrichment (Clearbit) -------------------------------------------------------------

test('enrichment: auth, combined lookup, seeded high-value company, 404, 422, queued 202', async () => {
  const e = await startEnrichmentEmulator({
    companies: { 'bigco.example': { name: 'BigCo', metrics: { employees: 25_000, raised: 250_000_000 }, tags: ['SAAS', 'Enterprise'] } },
    queued: ['slow@acme.example'],
  });
  try {
    const none = await call(`${e.url}/v2/combined/find?email=ada@acme.example`);
    assert.deepEqual([none.status, none.body.error.type], [401, 'auth_required']);
    const wrong = await call(`${e.url}/v2/combined/find?email=ada@acme.example`, { headers: bearer('sk_wrong') });
    assert.deepEqual([wrong.status, wrong.body.error.type], [401, 'unauthorized']);
    const auth = bearer(e.apiKey);

    const combined = await call(`${e.url}/v2/combined/find?email=Ada.Lovelace@bigco.example`, { headers: auth });
    assert.equal(combined.status, 200);
    assert.equal(combined.body.person.name.fullName, 'Ada Lovelace');
    assert.equal(combined.body.person.employment.domain, 'bigco.example');
    assert.equal(combined.body.company.name, 'BigCo');
    assert.equal(combined.body.company.metrics.employees, 25_000);
    assert.equal(combined.body.company.metrics.raised, 250_000_000);
    assert.equal(typeof combined.body.company.category.industry, 'string');
    const again = await call(`${e.url}/v2/combined/find?email=ada.lovelace@bigco.example`, { headers: basic(e.apiKey, '') });
    assert.deepEqual(again.body, combined.body, 'deterministic, and Basic auth with the key as user works');

    const webmail = await call(`${e.url}/v2/combined/find?email=someone@gmail.com`, { headers: auth });
    assert.equal(webmail.body.company, null);
    assert.equal(webmail.body.person.emailProvider, true);
    const company = await call(`${e.url}/v2/companies/find?domain=globex.example`, { headers: auth });
    assert.equal(company.status, 200);
    assert.equal(company.body.domain, 'globex.example');

    const unknown = await call(`${e.url}/v2/people/find?email=ghost@nowhere.invalid`, { headers: auth });
    assert.deepEqual([unknown.status, unknown.body.error.type], [404, 'unknown_record']);
    const invalid = await call(`${e.url}/v2/people/find?email=not-an-email`, { headers: auth });
    assert.deepEqual([invalid.status, invalid.body.error.type], [422, 'email_invalid']);
    const noParam = await call(`${e.url}/v2/people/find`, { headers: auth });
    assert.equal(noParam.status, 422);

    const queued = await call(`${e.url}/v2/people/find?email=slow@acme.example`, { headers: auth });
    assert.deepEqual([queued.status, queued.body.error.type], [202, 'queued']);
    assert.equal((await call(`${e.url}/v2/people/find?email=slow@acme.example`, { headers: auth })).status, 200);

    await checkInjectedFailures(e, `${e.url}/v2/companies/find?domain=acme.example`, auth, (b) => assert.equal(typeof (b as { error: { type: string } }).error.type, 'string'));
  } finally {
    await e.close();
  }
});

// ---- email marketing (Mailchimp) -------------------------------------------------------

test('email marketing: auth, add member, Member Exists, upsert, batch subscribe, validation', async () => {
  const e = await startEmailMarketingEmulator();
  try {
    const list = e.lists[0]!.id;
    const members = `${e.url}/3.0/lists/${list}/members`;
    const none = await call(members);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('content-type')!, /application\/problem\+json/);
    assert.equal(none.body.title, 'API Key Missing');
    const wrong = await call(members, { headers: basic('any', 'bad-us21') });
    assert.deepEqual([wrong.status, wrong.body.title], [401, 'API Key Invalid']);
    const auth = basic('anystring', e.apiKey);

    const added = await call(members, { headers: auth, json: { email_address: 'Ada@Acme.example', status: 'subscribed', merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' }, tags: ['newsletter'] } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.id, e.subscriberHash('ada@acme.example'));
    assert.equal(added.body.full_name, 'Ada Lovelace');
    assert.deepEqual(added.body.tags.map((t: { name: string }) => t.name), ['newsletter']);

    const dup = await call(members, { headers: auth, json: { email_address: 'ada@acme.example', status: 'subscribed' } });
    assert.deepEqual([dup.status, dup.body.title], [400, 'Member Exists']);
    assert.match(dup.body.detail, /Use PUT to insert or update list members/);

    const invalid = await call(members, { headers: auth, json: { email_address: 'grace@navy.example', merge_fields: { NOPE: 1 } } });
    assert.deepEqual([invalid.status, invalid.body.title], [400, 'Invalid Resource']);
    assert.deepEqual(invalid.body.errors.map((x: { field: string }) => x.field).sort(), ['merge_fields.NOPE', 'status']);

    const put = await call(`${members}/${e.subscriberHash('grace@navy.example')}`, { method: 'PUT', headers: auth, json: { email_address: 'grace@navy.example', status_if_new: 'pending', merge_fields: { FNAME: 'Grace' } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.status, 'pending');
    const putAgain = await call(`${members}/grace@navy.example`, { method: 'PUT', headers: auth, json: { email_address: 'grace@navy.example', status_if_new: 'subscribed', merge_fields: { LNAME: 'Hopper' } } });
    assert.equal(putAgain.body.status, 'pending', 'status_if_new does not change an existing member');
    assert.equal(putAgain.body.full_name, 'Grace Hopper');

    const batch = await call(`${e.url}/3.0/lists/${list}`, {
      headers: auth,
      json: { members: [
        { email_address: 'new1@acme.example', status: 'subscribed' },
        { email_address: 'new2@acme.example', status: 'subscribed', merge_fields: { COMPANY: 'Acme' } },
        { email_address: 'ada@acme.example', status: 'subscribed' },
        { email_address: 'broken', status: 'subscribed' },
      ] },
    });
    assert.equal(batch.status, 200);
    assert.deepEqual([batch.body.total_created, batch.body.total_updated, batch.body.error_count], [2, 0, 2]);
    assert.deepEqual(batch.body.errors.map((x: { error_code: string }) => x.error_code), ['ERROR_CONTACT_EXISTS', 'ERROR_GENERIC']);
    const updated = await call(`${e.url}/3.0/lists/${list}`, { headers: auth, json: { members: [{ email_address: 'ada@acme.example', status: 'unsubscribed' }], update_existing: true } });
    assert.deepEqual([updated.body.total_created, updated.body.total_updated], [0, 1]);

    const page = await call(`${members}?count=2&offset=0`, { headers: auth });
    assert.equal(page.body.total_items, 4);
    assert.equal(page.body.members.length, 2);
    const tags = await call(`${members}/${e.subscriberHash('new1@acme.example')}/tags`, { headers: auth, json: { tags: [{ name: 'vip', status: 'active' }] } });
    assert.equal(tags.status, 204);
    assert.deepEqual(e.members.get(list)!.get(e.subscriberHash('new1@acme.example'))!.tags.map((t) => t.name), ['vip']);
    const missingList = await call(`${e.url}/3.0/lists/nope/members`, { headers: auth });
    assert.deepEqual([missingList.status, missingList.body.title], [404, 'Resource Not Found']);

    await checkInjectedFailures(e, `${e.url}/3.0/ping`, auth, (b) => assert.equal(typeof (b as { title: string }).title, 'string'));
  } finally {
    await e.close();
  }
});

// ---- sequences (Outreach) --------------------------------------------------------------

test('sequences: auth, prospect, duplicate 422, enrolment, paging by links.next', async () => {
  const e = await startSequencesEmulator();
  try {
    const refused = await call(`${e.url}/api/v2/sequences`, { headers: bearer('expired') });
    assert.deepEqual([refused.status, refused.body.errors[0].id], [401, 'unauthorizedOauthToken']);
    const auth = bearer(e.token);
    const jsonApi = { ...auth, 'content-type': 'application/vnd.api+json' };

    const created = await fetch(`${e.url}/api/v2/prospects`, {
      method: 'POST', headers: jsonApi,
      body: JSON.stringify({ data: { type: 'prospect', attributes: { emails: ['ada@acme.example'], firstName: 'Ada', lastName: 'Lovelace', title: 'CTO', company: 'Acme' } } }),
    });
    assert.equal(created.status, 201);
    const prospect = (await created.json() as { data: { id: number; attributes: { emails: string[] } } }).data;
    assert.deepEqual(prospect.attributes.emails, ['ada@acme.example']);

    const dup = await call(`${e.url}/api/v2/prospects`, { headers: auth, json: { data: { type: 'prospect', attributes: { emails: ['ADA@acme.example'] } } } });
    assert.deepEqual([dup.status, dup.body.errors[0].id], [422, 'validationDuplicateValueError']);
    const unknownAttr = await call(`${e.url}/api/v2/prospects`, { headers: auth, json: { data: { type: 'prospect', attributes: { shoeSize: 9 } } } });
    assert.equal(unknownAttr.status, 422);
    const found = await call(`${e.url}/api/v2/prospects?filter[emails]=ada@acme.example`, { headers: auth });
    assert.equal(found.body.data[0].id, prospect.id);

    const enrol = (sequence: number, mailbox?: number) => call(`${e.url}/api/v2/sequenceStates`, {
      headers: auth,
      json: { data: { type: 'sequenceState', relationships: {
        prospect: { data: { type: 'prospect', id: prospect.id } },
        sequence: { data: { type: 'sequence', id: sequence } },
        ...(mailbox === undefined ? {} : { mailbox: { data: { type: 'mailbox', id: mailbox } } }),
      } } },
    });
    const noMailbox = await enrol(1);
    assert.equal(noMailbox.status, 422);
    assert.equal(noMailbox.body.errors[0].source.pointer, '/data/relationships/mailbox');
    const state = await enrol(1, 1);
    assert.equal(state.status, 201, JSON.stringify(state.body));
    assert.equal(state.body.data.attributes.state, 'active');
    assert.equal(state.body.data.relationships.sequence.data.id, 1);
    assert.equal((await enrol(1, 1)).status, 422, 'already active in that sequence');
    const disabled = await enrol(4, 1);
    assert.equal(disabled.status, 422);
    assert.match(disabled.body.errors[0].detail, /not enabled/);
    assert.equal(e.sequenceStates.size, 1);

    for (let i = 0; i < 4; i++) await call(`${e.url}/api/v2/prospects`, { headers: auth, json: { data: { type: 'prospect', attributes: { emails: [`p${i}@acme.example`] } } } });
    const seen: number[] = [];
    let next: string | undefined = `${e.url}/api/v2/prospects?page[size]=2`;
    while (next) {
      const page = await call(next, { headers: auth });
      assert.equal(page.status, 200);
      assert.equal(page.body.meta.count, 5);
      seen.push(...page.body.data.map((p: { id: number }) => p.id));
      next = page.body.links.next;
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);

    await checkInjectedFailures(e, `${e.url}/api/v2/sequences/1`, auth, (b) => assert.ok(Array.isArray((b as { errors: unknown }).errors)));
  } finally {
    await e.close();
  }
});

// ---- scoring (MadKudu) -----------------------------------------------------------------

test('scoring: auth, deterministic fit and behaviour scores, validation', async () => {
  const e = await startScoringEmulator({ scores: { 'pinned@acme.example': 42 } });
  try {
    const refused = await call(`${e.url}/v1/persons?email=ada@acme.example`, { headers: basic('wrong', '') });
    assert.deepEqual([refused.status, refused.body.error], [401, 'Unauthorized']);
    const auth = basic(e.apiKey, '');

    const hot = await call(`${e.url}/v1/persons`, {
      headers: auth,
      json: { email: 'ada@bigco.example', title: 'VP Engineering', company: { name: 'BigCo', employees: 5000, industry: 'Software' }, traits: { requested_demo: true, pageviews_30d: 30 } },
    });
    assert.equal(hot.status, 200, JSON.stringify(hot.body));
    assert.equal(hot.body.object_type, 'person');
    assert.equal(hot.body.properties.customer_fit.score, 80);
    assert.equal(hot.body.properties.customer_fit.segment, 'good');
    assert.equal(hot.body.properties.likelihood_to_buy.segment, 'good');
    assert.ok(hot.body.properties.customer_fit.top_signals.some((s: { name: string }) => s.name === 'industry'));
    const remembered = await call(`${e.url}/v1/persons?email=ada@bigco.example`, { headers: auth });
    assert.deepEqual(remembered.body, hot.body, 'what was POSTed is used for later lookups');

    const cold = await call(`${e.url}/v1/persons?email=someone@gmail.com`, { headers: auth });
    assert.equal(cold.body.properties.customer_fit.segment, 'low');
    assert.equal(cold.body.properties.is_personal_email, true);
    const pinned = await call(`${e.url}/v1/persons?email=pinned@acme.example`, { headers: auth });
    assert.equal(pinned.body.properties.customer_fit.score, 42);

    const noEmail = await call(`${e.url}/v1/persons`, { headers: auth, json: { title: 'CTO' } });
    assert.deepEqual([noEmail.status, noEmail.body.message], [400, 'email is required']);
    const badBody = await call(`${e.url}/v1/persons`, { headers: auth, json: { email: 'a@b.example', company: { employees: -1 } } });
    assert.equal(badBody.status, 400);

    await checkInjectedFailures(e, `${e.url}/v1/companies?domain=acme.example`, auth, (b) => assert.equal(typeof (b as { message: string }).message, 'string'));
  } finally {
    await e.close();
  }
});

// ---- billing (Stripe) ------------------------------------------------------------------

test('billing: auth, customer + invoice item + invoice, finalize, validation', async () => {
  const e = await startBillingEmulator();
  try {
    const none = await call(`${e.url}/v1/customers`, { form: 'email=a@b.example' });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.type, 'invalid_request_error');
    assert.match(none.body.error.message, /You did not provide an API key/);
    const wrong = await call(`${e.url}/v1/customers`, { headers: bearer('sk_test_wrongwrongwrong1234') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error.message, /Invalid API Key provided: sk_test_.*1234/);
    const auth = bearer(e.apiKey);

    const customer = await call(`${e.url}/v1/customers`, { headers: auth, form: 'email=finance%40acme.example&name=Acme%20Inc.&metadata[crm_company_id]=c_42' });
    assert.equal(customer.status, 200, JSON.stringify(customer.body));
    assert.match(customer.body.id, /^cus_[A-Za-z0-9]{14}$/);
    assert.deepEqual(customer.body.metadata, { crm_company_id: 'c_42' });
    assert.match(customer.headers.get('request-id')!, /^req_/);

    const item = await call(`${e.url}/v1/invoiceitems`, { headers: auth, json: { customer: customer.body.id, amount: 120_000, currency: 'usd', description: 'Platform - 50 seats' } });
    assert.equal(item.status, 200, JSON.stringify(item.body));
    assert.match(item.body.id, /^ii_/);
    const invoice = await call(`${e.url}/v1/invoices`, { headers: auth, form: `customer=${customer.body.id}&collection_method=send_invoice&days_until_due=30&pending_invoice_items_behavior=include&metadata[deal_id]=opp_1` });
    assert.equal(invoice.status, 200, JSON.stringify(invoice.body));
    assert.match(invoice.body.id, /^in_/);
    assert.equal(invoice.body.status, 'draft');
    assert.equal(invoice.body.amount_due, 120_000);
    assert.equal(invoice.body.lines.data[0].invoice_item, item.body.id);
    assert.equal(invoice.body.customer_email, 'finance@acme.example');
    const finalized = await call(`${e.url}/v1/invoices/${invoice.body.id}/finalize`, { headers: auth, method: 'POST' });
    assert.equal(finalized.body.status, 'open');
    assert.match(finalized.body.number, /^[A-Z0-9]{8}-0001$/);
    assert.match(finalized.body.hosted_invoice_url, /^http:\/\/127\.0\.0\.1:\d+\/i\/in_/);
    const again = await call(`${e.url}/v1/invoices/${invoice.body.id}/finalize`, { headers: auth, method: 'POST' });
    assert.deepEqual([again.status, again.body.error.code], [400, 'invoice_not_editable']);

    const noCustomer = await call(`${e.url}/v1/invoices`, { headers: auth, form: 'description=x' });
    assert.equal(noCustomer.status, 400);
    assert.deepEqual(noCustomer.body.error, { code: 'parameter_missing', doc_url: 'https://stripe.com/docs/error-codes/parameter-missing', message: 'Missing required param: customer.', param: 'customer', type: 'invalid_request_error' });
    const ghost = await call(`${e.url}/v1/invoices`, { headers: auth, json: { customer: 'cus_nope' } });
    assert.deepEqual([ghost.status, ghost.body.error.code, ghost.body.error.message], [400, 'resource_missing', "No such customer: 'cus_nope'"]);
    const unknownParam = await call(`${e.url}/v1/customers`, { headers: auth, json: { emial: 'typo@acme.example' } });
    assert.deepEqual([unknownParam.status, unknownParam.body.error.code, unknownParam.body.error.param], [400, 'parameter_unknown', 'emial']);
    const noDays = await call(`${e.url}/v1/invoices`, { headers: auth, json: { customer: customer.body.id, collection_method: 'send_invoice' } });
    assert.deepEqual([noDays.status, noDays.body.error.param], [400, 'days_until_due']);
    const get404 = await call(`${e.url}/v1/customers/cus_nope`, { headers: auth });
    assert.equal(get404.status, 404);

    const search = await call(`${e.url}/v1/customers/search?query=${encodeURIComponent("email:'finance@acme.example'")}`, { headers: auth });
    assert.deepEqual(search.body.data.map((c: { id: string }) => c.id), [customer.body.id]);
    const listed = await call(`${e.url}/v1/invoices?customer=${customer.body.id}`, { headers: auth });
    assert.equal(listed.body.object, 'list');
    assert.equal(listed.body.data.length, 1);

    await checkInjectedFailures(e, `${e.url}/v1/customers`, auth, (b) => assert.equal(typeof (b as { error: { type: string } }).error.type, 'string'));
  } finally {
    await e.close();
  }
});

test('billing: Idempotency-Key replays the first answer and creates nothing new', async () => {
  const e = await startBillingEmulator();
  try {
    const auth = bearer(e.apiKey);
    const customer = (await call(`${e.url}/v1/customers`, { headers: auth, json: { email: 'ap@globex.example' } })).body;
    const create = (key: string, description = 'Closed Won: Globex') => call(`${e.url}/v1/invoices`, {
      headers: { ...auth, 'idempotency-key': key }, json: { customer: customer.id, description, metadata: { deal_id: 'opp_7' } },
    });

    const first = await create('deal-opp_7-invoice');
    assert.equal(first.status, 200);
    const replay = await create('deal-opp_7-invoice');
    assert.equal(replay.status, 200);
    assert.equal(replay.body.id, first.body.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.equal(e.invoices.size, 1);

    const conflict = await create('deal-opp_7-invoice', 'something else');
    assert.deepEqual([conflict.status, conflict.body.error.type], [400, 'idempotency_error']);
    assert.equal(e.invoices.size, 1);

    // The same params as form-encoding are the same request.
    const formReplay = await call(`${e.url}/v1/invoices`, { headers: { ...auth, 'idempotency-key': 'deal-opp_7-invoice' }, form: `customer=${customer.id}&description=Closed%20Won%3A%20Globex&metadata[deal_id]=opp_7` });
    assert.equal(formReplay.body.id, first.body.id);

    // A rate-limited attempt saves nothing: the retry with the same key runs for real.
    e.failNext(1, { status: 429, retryAfterSeconds: 1 }, '/v1/invoices');
    assert.equal((await create('deal-opp_8-invoice')).status, 429);
    assert.equal(e.invoices.size, 1);
    const afterLimit = await create('deal-opp_8-invoice');
    assert.equal(afterLimit.status, 200);
    assert.equal(afterLimit.headers.get('idempotent-replayed'), null);
    assert.equal(e.invoices.size, 2);

    // The invoice was created but the answer was lost: the retry gets the saved answer.
    e.failNext(1, { status: 502, afterProcessing: true }, '/v1/invoices');
    const lost = await create('deal-opp_9-invoice');
    assert.equal(lost.status, 502);
    assert.equal(lastReceived(e).injected, true);
    assert.equal(e.invoices.size, 3, 'the API did the work');
    const retried = await create('deal-opp_9-invoice');
    assert.equal(retried.status, 200);
    assert.equal(retried.headers.get('idempotent-replayed'), 'true');
    assert.equal(e.invoices.size, 3, 'no double invoice');

    // Without a key, a retry is a second invoice.
    await call(`${e.url}/v1/invoices`, { headers: auth, json: { customer: customer.id } });
    await call(`${e.url}/v1/invoices`, { headers: auth, json: { customer: customer.id } });
    assert.equal(e.invoices.size, 5);
    e.reset();
    assert.equal(e.invoices.size + e.customers.size + e.idempotency.size + e.received.length, 0);
  } finally {
    await e.close();
  }
});

// ---- external CRM (HubSpot) ------------------------------------------------------------

test('external CRM: auth, CRUD, conflict, validation, paging walked fully, search', async () => {
  const e = await startExternalCrmEmulator({ customProperties: { contacts: ['crm_hub_id'] } });
  try {
    const contacts = `${e.url}/crm/v3/objects/contacts`;
    const none = await call(contacts);
    assert.equal(none.status, 401);
    assert.deepEqual([none.body.status, none.body.category], ['error', 'INVALID_AUTHENTICATION']);
    assert.equal(typeof none.body.correlationId, 'string');
    assert.equal((await call(contacts, { headers: bearer('pat-na1-wrong') })).status, 401);
    const auth = bearer(e.token);

    const batch = await call(`${contacts}/batch/create`, {
      headers: auth,
      json: { inputs: Array.from({ length: 23 }, (_, i) => ({ properties: { email: `person${i}@acme.example`, firstname: `P${i}`, lastname: 'Test', crm_hub_id: `h_${i}` } })) },
    });
    assert.equal(batch.status, 201, JSON.stringify(batch.body));
    assert.equal(batch.body.status, 'COMPLETE');
    assert.equal(batch.body.results.length, 23);

    const ids: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await call(`${contacts}?limit=10&properties=email,crm_hub_id${after ? `&after=${encodeURIComponent(after)}` : ''}`, { headers: auth });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      for (const r of page.body.results) {
        assert.deepEqual(Object.keys(r.properties).sort(), ['createdate', 'crm_hub_id', 'email', 'hs_object_id', 'lastmodifieddate']);
        assert.equal(r.archived, false);
        ids.push(r.id);
      }
      after = page.body.paging?.next?.after;
      if (after) assert.match(page.body.paging.next.link, /after=/);
      pages += 1;
    } while (after);
    assert.equal(pages, 3);
    assert.equal(ids.length, 23);
    assert.equal(new Set(ids).size, 23);

    const created = await call(contacts, { headers: auth, json: { properties: { email: 'Ada@Acme.example', firstname: 'Ada', lifecyclestage: 'lead' } } });
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    assert.equal(created.body.properties.email, 'ada@acme.example');
    const conflict = await call(contacts, { headers: auth, json: { properties: { email: 'ada@acme.example' } } });
    assert.deepEqual([conflict.status, conflict.body.category], [409, 'CONFLICT']);
    assert.equal(conflict.body.message, `Contact already exists. Existing ID: ${id}`);

    const invalid = await call(`${contacts}/${id}`, { method: 'PATCH', headers: auth, json: { properties: { favourite_colour: 'blue', email: 'nope', hs_object_id: '1' } } });
    assert.deepEqual([invalid.status, invalid.body.category], [400, 'VALIDATION_ERROR']);
    assert.match(invalid.body.message, /^Property values were not valid: /);
    const details = JSON.parse(invalid.body.message.replace('Property values were not valid: ', '')) as { error: string }[];
    assert.deepEqual(details.map((d) => d.error), ['PROPERTY_DOESNT_EXIST', 'INVALID_EMAIL', 'READ_ONLY_VALUE']);

    const before = (await call(`${contacts}/${id}`, { headers: auth })).body;
    const patched = await call(`${contacts}/${id}`, { method: 'PATCH', headers: auth, json: { properties: { lifecyclestage: 'customer', crm_hub_id: 'h_ada' } } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.properties.lifecyclestage, 'customer');
    assert.ok(Date.parse(patched.body.updatedAt) > Date.parse(before.updatedAt));
    const byEmail = await call(`${contacts}/ada@acme.example?idProperty=email&properties=crm_hub_id`, { headers: auth });
    assert.equal(byEmail.body.properties.crm_hub_id, 'h_ada');

    const search = await call(`${contacts}/search`, {
      headers: auth,
      json: { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'ADA@acme.example' }] }], properties: ['email', 'lifecyclestage'] },
    });
    assert.equal(search.status, 200);
    assert.deepEqual([search.body.total, search.body.results[0].id, search.body.results[0].properties.lifecyclestage], [1, id, 'customer']);
    const since = await call(`${contacts}/search`, {
      headers: auth,
      json: { filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(Date.parse(before.updatedAt)) }] }], sorts: [{ propertyName: 'lastmodifieddate', direction: 'DESCENDING' }], limit: 200 },
    });
    assert.deepEqual(since.body.results.map((r: { id: string }) => r.id), [id], 'changed since a timestamp');
    const searchIds: string[] = [];
    let searchAfter: string | undefined;
    do {
      const page = await call(`${contacts}/search`, { headers: auth, json: { filterGroups: [{ filters: [{ propertyName: 'lastname', operator: 'EQ', value: 'Test' }] }], limit: 7, ...(searchAfter ? { after: searchAfter } : {}) } });
      assert.equal(page.body.total, 23);
      searchIds.push(...page.body.results.map((r: { id: string }) => r.id));
      searchAfter = page.body.paging?.next?.after;
    } while (searchAfter);
    assert.deepEqual(searchIds, ids);
    const badOp = await call(`${contacts}/search`, { headers: auth, json: { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'LIKE', value: 'x' }] }] } });
    assert.equal(badOp.status, 400);

    assert.equal((await call(`${contacts}/${id}`, { method: 'DELETE', headers: auth })).status, 204);
    const gone = await call(`${contacts}/${id}`, { headers: auth });
    assert.deepEqual([gone.status, gone.body.category], [404, 'OBJECT_NOT_FOUND']);
    const archived = await call(`${contacts}/${id}?archived=true`, { headers: auth });
    assert.equal(archived.body.archived, true);
    assert.equal((await call(contacts, { headers: auth, json: { properties: { email: 'ada@acme.example' } } })).status, 201, 'an archived contact\'s email is free again');

    const company = await call(`${e.url}/crm/v3/objects/companies`, { headers: auth, json: { properties: { name: 'Acme', domain: 'acme.example' } } });
    const deal = await call(`${e.url}/crm/v3/objects/deals`, {
      headers: auth,
      json: { properties: { dealname: 'Acme - Platform', amount: 120000, dealstage: 'closedwon' }, associations: [{ to: { id: company.body.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 341 }] }] },
    });
    assert.equal(deal.status, 201, JSON.stringify(deal.body));
    assert.equal(deal.body.properties.amount, '120000', 'values come back as strings');
    const withAssoc = await call(`${e.url}/crm/v3/objects/companies/${company.body.id}?associations=deals`, { headers: auth });
    assert.deepEqual(withAssoc.body.associations.deals.results.map((x: { id: string }) => x.id), [deal.body.id]);
    assert.equal((await call(`${e.url}/crm/v3/objects/tickets`, { headers: auth })).status, 400);

    e.failNext(1, { status: 429, retryAfterSeconds: 2 }, '/crm/v3/objects/contacts');
    const limited = await call(contacts, { headers: auth });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '2');
    assert.deepEqual([limited.body.status, limited.body.errorType, limited.body.policyName], ['error', 'RATE_LIMIT', 'TEN_SECONDLY_ROLLING']);
    await checkInjectedFailures(e, contacts, auth, (b) => assert.equal((b as { status: string }).status, 'error'));
  } finally {
    await e.close();
  }
});

test('external CRM: rate limit, and user edits sent as signed webhook events', async () => {
  const r = await startReceiver();
  const clientSecret = 'hubspot-app-client-secret';
  const e = await startExternalCrmEmulator({ rateLimit: { max: 3, windowMs: 10_000 }, webhook: { url: `${r.url}/hook`, secret: SECRET, clientSecret } });
  try {
    const auth = bearer(e.token);
    const contacts = `${e.url}/crm/v3/objects/contacts`;
    const seeded = e.seed('contacts', { email: 'grace@navy.example', firstname: 'Grace' });
    assert.equal(r.received.length, 0, 'seeding is silent');
    await call(contacts, { headers: auth });
    await call(contacts, { headers: auth });
    await call(contacts, { headers: auth });
    const limited = await call(contacts, { headers: auth });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.errorType, 'RATE_LIMIT');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(lastReceived(e).injected, false, 'the API\'s own limit, not an injected failure');

    const edited = await e.userEdit('contacts', seeded.id, { lastname: 'Hopper', jobtitle: 'Rear Admiral' });
    assert.equal(edited.properties.lastname, 'Hopper');
    assert.equal(r.received.length, 2, 'one request per event');
    const events = r.received.map((x) => x.body as { subscriptionType: string; objectId: number; propertyName: string; propertyValue: string; changeSource: string });
    assert.deepEqual(events.map((x) => [x.subscriptionType, x.objectId, x.propertyName, x.propertyValue, x.changeSource]), [
      ['contact.propertyChange', Number(seeded.id), 'lastname', 'Hopper', 'CRM_UI'],
      ['contact.propertyChange', Number(seeded.id), 'jobtitle', 'Rear Admiral', 'CRM_UI'],
    ]);
    for (const x of r.received) {
      assertSigned(x, SECRET);
      assert.match(x.headers['x-hubspot-signature-v3']!, /^[A-Za-z0-9+/]+=*$/);
    }

    const createdByUser = await e.userEdit('contacts', undefined, { email: 'new@acme.example' });
    const kinds = r.received.slice(2).map((x) => (x.body as { subscriptionType: string }).subscriptionType);
    assert.deepEqual(kinds, ['contact.creation', 'contact.propertyChange']);
    await e.userDelete('contacts', createdByUser.id);
    assert.equal((lastReceived(r).body as { subscriptionType: string }).subscriptionType, 'contact.deletion');
    assert.ok(e.webhookDeliveries.every((d) => 'status' in d.result && d.result.status === 202));
  } finally {
    await Promise.all([e.close(), r.close()]);
  }
});

// ---- SMTP capture ----------------------------------------------------------------------

test('smtp capture: AUTH PLAIN/LOGIN, parsed messages, 451 and 550 on demand', async () => {
  const smtp = await startSmtpCapture({ user: 'notifier', pass: 's3cret' });
  const transport = (auth: { user: string; pass: string }, method?: 'PLAIN' | 'LOGIN') => nodemailer.createTransport({
    host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true, auth: { ...auth, ...(method ? { method } : {}) },
  });
  try {
    const t = transport({ user: 'notifier', pass: 's3cret' }, 'PLAIN');
    const info = await t.sendMail({
      from: '"CRM Hub" <hub@ourco.example>', to: ['sales@ourco.example', 'Rep <rep@ourco.example>'], cc: 'manager@ourco.example', bcc: 'audit@ourco.example',
      subject: 'New lead: Ada Lovelace (Acme)', text: 'A new lead arrived.', html: '<p>A new lead <b>arrived</b>.</p>', headers: { 'X-Hub-Workflow': 'wf_web_form' },
    });
    assert.match(info.response, /^250/);
    const [m] = await smtp.waitForMessages(1);
    assert.ok(m);
    assert.equal(m.from, 'hub@ourco.example');
    assert.deepEqual(m.to, ['sales@ourco.example', 'rep@ourco.example']);
    assert.deepEqual(m.cc, ['manager@ourco.example']);
    assert.deepEqual(m.envelope.to, ['sales@ourco.example', 'rep@ourco.example', 'manager@ourco.example', 'audit@ourco.example']);
    assert.equal(m.subject, 'New lead: Ada Lovelace (Acme)');
    assert.equal(m.text.trim(), 'A new lead arrived.');
    assert.match(m.html, /<b>arrived<\/b>/);
    assert.equal(m.messageId, info.messageId);
    assert.equal(m.headers['x-hub-workflow'], 'wf_web_form');
    assert.equal(m.user, 'notifier');
    t.close();

    const login = transport({ user: 'notifier', pass: 's3cret' }, 'LOGIN');
    await login.sendMail({ from: 'hub@ourco.example', to: 'finance@ourco.example', subject: 'Invoice in_1', text: 'x' });
    assert.equal(smtp.messages.length, 2);
    login.close();

    const bad = transport({ user: 'notifier', pass: 'wrong' });
    await assert.rejects(bad.sendMail({ from: 'hub@ourco.example', to: 'x@ourco.example', subject: 's', text: 't' }), (err: { code?: string; responseCode?: number }) => {
      assert.equal(err.code, 'EAUTH');
      assert.equal(err.responseCode, 535);
      return true;
    });
    bad.close();

    smtp.failNext(1, { code: 451, message: 'Temporary local problem, try again later' });
    smtp.failNext(1, { code: 550, message: 'Mailbox unavailable' });
    const t2 = transport({ user: 'notifier', pass: 's3cret' });
    await assert.rejects(t2.sendMail({ from: 'hub@ourco.example', to: 'sales@ourco.example', subject: 'first', text: 't' }), (err: { responseCode?: number; response?: string }) => {
      assert.equal(err.responseCode, 451);
      assert.match(err.response ?? '', /Temporary local problem/);
      return true;
    });
    await assert.rejects(t2.sendMail({ from: 'hub@ourco.example', to: 'sales@ourco.example', subject: 'second', text: 't' }), (err: { responseCode?: number }) => err.responseCode === 550);
    await t2.sendMail({ from: 'hub@ourco.example', to: 'sales@ourco.example', subject: 'third', text: 't' });
    assert.deepEqual(smtp.rejected.map((x) => [x.subject, x.code]), [['first', 451], ['second', 550]]);
    assert.deepEqual(smtp.messages.map((x) => x.subject), ['New lead: Ada Lovelace (Acme)', 'Invoice in_1', 'third']);
    t2.close();
    smtp.reset();
    assert.equal(smtp.messages.length + smtp.rejected.length, 0);
  } finally {
    await smtp.close();
  }
});

test('smtp capture without credentials accepts anonymous senders', async () => {
  const smtp = await startSmtpCapture();
  try {
    const t = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true });
    await t.sendMail({ from: 'hub@ourco.example', to: 'ops@ourco.example', subject: 'Data quality: 3 problems', text: 'details' });
    t.close();
    const [m] = await smtp.waitForMessages(1);
    assert.equal(m?.user, undefined);
    assert.equal(m?.subject, 'Data quality: 3 problems');
  } finally {
    await smtp.close();
  }
});

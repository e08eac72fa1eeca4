/** Secrets written into workflow definitions: high-confidence patterns are refused at their path; ordinary text is not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findSecret, secretMessage } from '../../libs/workflow/secrets-scan.ts';
import { parseWorkflowDefinition } from '../../libs/workflow/validate.ts';
import { assertRefused } from '../support/errors.ts';

// Built by concatenation, so this file itself does not look like it holds live secrets.
const j = (...parts: string[]) => parts.join('');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const HITS: [string, string][] = [
  ['bearer token', j('Bearer ', 'a1b2c3d4e5f6g7h8i9j0k1l2')],
  ['bearer, lower-case scheme', j('bearer ', 'ya29.A0ARrdaM9x-long_token1234')],
  ['basic credentials', j('Basic ', b64('alice:s3cret-pass'))],
  ['stripe live', j('sk_', 'live_', '51H8abcdEFGHijklMNOP')],
  ['stripe test', j('sk_', 'test_', '4eC39HqLyjWDarjtT1zdp7dc')],
  ['stripe restricted', j('rk_', 'live_', '51H8abcdEFGHijkl')],
  ['slack bot', j('xox', 'b-', '1234567890-0987654321-AbCdEf')],
  ['slack user', j('xox', 'p-', '1234567890-abcdef')],
  ['github classic', j('gh', 'p_', 'A'.repeat(20), '1234567890123456')],
  ['github oauth', j('gh', 'o_', 'b'.repeat(30), '123456')],
  ['github fine-grained', j('github_', 'pat_', '11ABCDEFG0123456789_abcdefghijkl')],
  ['aws key id', j('AKIA', 'IOSFODNN7EXAMPLE')],
  ['google api key', j('AIza', 'SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY')],
  ['private key', j('-----BEGIN ', 'RSA PRIVATE KEY-----\nMIIEow...')],
  ['openssh private key', j('-----BEGIN ', 'OPENSSH PRIVATE KEY-----')],
  ['hubspot', j('pat-', 'na1-', '1a2b3c4d-1a2b-1a2b-1a2b-1a2b3c4d5e6f')],
  ['sendgrid', j('SG', '.ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr')],
  ['jwt', j('eyJ', 'hbGciOiJIUzI1NiJ9', '.', 'eyJ', 'zdWIiOiIxMjM0NTY3ODkwIn0', '.', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U')],
  ['url with password', 'https://admin:hunter2@db.example.com/x'],
  ['url with password, no user', 'postgres://:pw123@db.example.com/x'],
  ['api_key query parameter', 'https://api.example.com/v1/x?api_key=abcd1234'],
  ['access_token query parameter', 'https://api.example.com/v1/x?a=1&access_token=xyz987'],
  ['token query parameter', 'see https://x.example.com/?TOKEN=q1w2e3'],
  ['password query parameter', 'https://x.example.com/login?user=a&password=letmein'],
  ['secret query parameter', 'https://x.example.com/?secret=s'],
];

const NON_HITS: string[] = [
  'Bearer {{steps.login.body.access_token}}',
  'Bearer short',
  'The bearer of this letter is trusted and welcome',
  'Bearer abcdefghijklmnopqrstuvwxyz', // no digit: a word, not a token
  'Basic information about the account',
  'Basic {{steps.encode.result}}',
  'Basic plan',
  'sk_live_ is the prefix of Stripe keys',
  'pk_live_51H8abcdEFGHijklMNOP', // publishable: not a secret
  'AKIA is how AWS key ids start',
  'ghp_short',
  'whsec_ secrets sign webhooks',
  'https://user@example.com/path', // user, no password
  'https://example.com:8443/path',
  'https://{{trigger.body.user}}:{{trigger.body.pass}}@example.com/',
  'https://api.example.com/v1/x?api_key={{trigger.body.key}}',
  'https://api.example.com/v1/x?api_key=%7B%7Btrigger.key%7D%7D',
  'https://api.example.com/v1/x?token=', // empty
  'https://api.example.com/v1/x?tokens=1&page_token_hint=2',
  'mailto:alice@example.com',
  'eyJ is how JSON in base64 starts',
  'Message SG.short',
  'Dear {{trigger.record.firstName}}, your password reset link is below.',
  'SELECT * FROM users WHERE password = ?',
  'pat-na1-not-a-uuid',
  '-----BEGIN PUBLIC KEY-----',
  'A'.repeat(5000),
];

test('each pattern is found, with its kind, and nothing of the value in it', () => {
  for (const [label, text] of HITS) {
    const hit = findSecret({ name: 'w', trigger: { type: 'manual', availability: 'global' }, steps: [{ id: 'a', type: 'code', input: { source: 'return 1', input: { note: text } } }] });
    assert.ok(hit, `${label}: not found in ${JSON.stringify(text)}`);
    assert.equal(hit.path, '/steps/0/input/input/note', label);
    assert.ok(!secretMessage(hit).includes(text), `${label}: the message repeats the value`);
  }
});

test('ordinary text, templates and placeholders are not hits', () => {
  for (const text of NON_HITS) {
    assert.equal(findSecret({ steps: [{ id: 'a', type: 'code', input: { source: text, input: { text } } }] }), undefined, JSON.stringify(text));
  }
});

test('object keys are scanned; arrays and nesting give the exact path', () => {
  const key = j('sk_', 'live_', 'abcdefghij1234');
  assert.deepEqual(findSecret({ steps: [{ input: { values: { [key]: 1 } } }] })?.path, `/steps/0/input/values/${key}`);
  assert.equal(findSecret({ steps: [{ input: { to: ['a@b.co', 'x/y', j('AKIA', 'IOSFODNN7EXAMPLE')] } }] })?.path, '/steps/0/input/to/2');
  assert.equal(findSecret({ steps: [{ input: { 'a/b~c': { note: j('AKIA', 'IOSFODNN7EXAMPLE') } } }] })?.path, '/steps/0/input/a~1b~0c/note');
});

test('whsec_ is a hit in steps only; the webhook trigger\'s own secret is never scanned', () => {
  const whsec = j('whsec_', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  assert.equal(findSecret({ trigger: { type: 'webhook', secret: whsec }, steps: [] }), undefined);
  assert.equal(findSecret({ trigger: { type: 'webhook', secret: j('sk_', 'live_', 'abcdefghij1234') }, steps: [] }), undefined);
  assert.equal(findSecret({ name: whsec, steps: [] }), undefined);
  assert.equal(findSecret({ trigger: { type: 'webhook', secret: whsec }, steps: [{ input: { headers: { 'x-sig': whsec } } }] })?.path, '/steps/0/input/headers/x-sig');
});

test('an http step\'s query: secret-named parameters with literal values, at any nesting', () => {
  const http = (query: Record<string, unknown>) => ({ id: 'h', type: 'http', input: { method: 'GET', url: 'https://x.example.com', query } });
  assert.equal(findSecret({ steps: [http({ api_key: 'abc' })] })?.path, '/steps/0/input/query/api_key');
  assert.equal(findSecret({ steps: [http({ page: 2, AccessToken: 'abc' })] })?.path, '/steps/0/input/query/AccessToken');
  assert.equal(findSecret({ steps: [http({ password: 1234 })] })?.path, '/steps/0/input/query/password');
  assert.equal(findSecret({ steps: [http({ api_key: '{{trigger.body.key}}', token: '', secret: false, q: 'password' })] }), undefined);
  const nested = { steps: [{ id: 'b', type: 'branch', input: { branches: [{ if: true, steps: [] }, { if: true, steps: [{ id: 'i', type: 'iterator', input: { items: [], steps: [http({ client_secret: 'x' })] } }] }] } }] };
  assert.equal(findSecret(nested)?.path, '/steps/0/input/branches/1/steps/0/input/steps/0/input/query/client_secret');
  // The same names elsewhere are data, not query parameters.
  assert.equal(findSecret({ steps: [{ id: 'c', type: 'code', input: { source: 'return 1', input: { query: { token: 'abc' } } } }] }), undefined);
});

const manual = { type: 'manual', availability: 'global' } as const;

test('parseWorkflowDefinition refuses a definition embedding a secret, at its path, pointing to credentials', () => {
  const token = j('sk_', 'live_', '51H8abcdEFGHijklMNOP');
  assertRefused(
    () => parseWorkflowDefinition({ name: 'charge', trigger: manual, steps: [{ id: 'pay', type: 'http', input: { method: 'POST', url: 'https://api.stripe.com/v1/charges', body: { note: `key ${token}` } } }] }),
    'WORKFLOW_INVALID', '/steps/0/input/body/note', /Stripe secret key.*POST \/v1\/credentials.*auth\.credential/,
  );
  assertRefused(
    () => parseWorkflowDefinition({ name: 'q', trigger: manual, steps: [{ id: 'get', type: 'http', input: { method: 'GET', url: 'https://api.example.com/x', query: { api_key: 'abc123' } } }] }),
    'WORKFLOW_INVALID', '/steps/0/input/query/api_key', /query parameter "api_key".*POST \/v1\/credentials/,
  );
  assertRefused(
    () => parseWorkflowDefinition({ name: 'c', trigger: manual, steps: [{ id: 'c', type: 'code', input: { source: `const t = "${j('xox', 'b-', '1234567890-abcdefghij')}"; return t;` } }] }),
    'WORKFLOW_INVALID', '/steps/0/input/source', /Slack token/,
  );
  try {
    parseWorkflowDefinition({ name: 'u', trigger: manual, steps: [{ id: 'get', type: 'http', input: { method: 'GET', url: 'https://admin:hunter2@example.com/' } }] });
    assert.fail('accepted');
  } catch (err) {
    assert.doesNotMatch((err as Error).message, /hunter2/);
    assert.equal((err as { path?: string }).path, '/steps/0/input/url');
  }
});

test('structural problems are reported first; clean definitions and webhook secrets pass', () => {
  // An unknown field comes before the secret scan.
  assertRefused(
    () => parseWorkflowDefinition({ name: 'x', trigger: manual, steps: [{ id: 'a', type: 'code', input: { source: 'return 1', extra: j('AKIA', 'IOSFODNN7EXAMPLE') } }] }),
    'WORKFLOW_INVALID', '/steps/0/input/extra', /unknown field/,
  );
  const def = parseWorkflowDefinition({
    name: 'ok',
    trigger: { type: 'webhook', secret: j('whsec_', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') },
    steps: [{ id: 'call', type: 'http', input: { method: 'POST', url: 'https://api.example.com/x?page=2', headers: { 'x-trace': '{{trigger.body.id}}' }, body: { text: 'Bearer of good news' }, auth: { credential: 'api' } } }],
  });
  assert.equal(def.steps.length, 1);
});

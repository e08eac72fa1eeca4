import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { HubError } from '../../libs/errors/index.ts';
import { generateSecret, sign, verify, webhookErrors, type WebhookHeaders } from '../../libs/webhooks/standard.ts';
import { seededRandom as mulberry32 } from '../support/random.ts';

// The published Standard Webhooks vector, reproduced by the reference libraries.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const NOW = 1_700_000_000;
const SECRET = 'whsec_' + Buffer.alloc(24, 7).toString('base64');
const ID = 'msg_2XyZ';
const BODY = Buffer.from('{"type":"contact.updated","data":{"id":"c_1"}}');

function headersFor(opts: { secret?: string; id?: string; timestamp?: number; body?: Buffer | string } = {}): WebhookHeaders {
  const id = opts.id ?? ID;
  const timestamp = opts.timestamp ?? NOW;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(opts.secret ?? SECRET, id, timestamp, opts.body ?? BODY),
  };
}

function refused(code: keyof typeof webhookErrors, path: string | undefined, fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.path, path);
    assert.equal(err.retriable, false);
    assert.equal(err.status, webhookErrors[code].status);
    return true;
  });
}

test('the published Standard Webhooks test vector is reproduced and verifies', () => {
  assert.equal(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
  assert.equal(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, Buffer.from(VECTOR.body)), VECTOR.signature);
  const result = verify({
    secrets: [VECTOR.secret],
    headers: { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature },
    body: Buffer.from(VECTOR.body),
    nowSeconds: VECTOR.timestamp,
  });
  assert.deepEqual(result, { webhookId: VECTOR.id, timestamp: VECTOR.timestamp });
});

test('a secret without the whsec_ prefix is used as its UTF-8 bytes', () => {
  const expected = createHmac('sha256', Buffer.from('pässwörd', 'utf8')).update(`${ID}.${NOW}.`).update(BODY).digest('base64');
  assert.equal(sign('pässwörd', ID, NOW, BODY), `v1,${expected}`);
  // Unlike the reference libraries, an unprefixed base64 string is NOT decoded.
  assert.notEqual(sign('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
  const headers = headersFor({ secret: 'pässwörd' });
  assert.equal(verify({ secrets: ['pässwörd'], headers, body: BODY, nowSeconds: NOW }).webhookId, ID);
});

test('generateSecret gives 24 random bytes in the whsec_ form, usable for signing', () => {
  const a = generateSecret();
  const b = generateSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]{32}$/);
  assert.equal(Buffer.from(a.slice('whsec_'.length), 'base64').length, 24);
  assert.notEqual(a, b);
  const headers = headersFor({ secret: a });
  assert.deepEqual(verify({ secrets: [a], headers, body: BODY, nowSeconds: NOW }), { webhookId: ID, timestamp: NOW });
});

test('sign and verify round-trip on text and binary bodies', () => {
  for (const body of [Buffer.alloc(0), BODY, Buffer.from([0, 0xff, 0xfe, 0x80, 0x0a, 0x2e]), Buffer.from('héllo ✓ 🚀')]) {
    const headers = headersFor({ body });
    assert.deepEqual(verify({ secrets: [SECRET], headers, body, nowSeconds: NOW }), { webhookId: ID, timestamp: NOW });
  }
  // A string body is hashed as its UTF-8 bytes, so it matches the same Buffer.
  assert.equal(sign(SECRET, ID, NOW, 'héllo'), sign(SECRET, ID, NOW, Buffer.from('héllo')));
});

test('key rotation: old and new secrets are both accepted, a removed one is refused', () => {
  const oldSecret = generateSecret();
  const newSecret = generateSecret();
  const byOld = headersFor({ secret: oldSecret });
  const byNew = headersFor({ secret: newSecret });
  for (const headers of [byOld, byNew]) {
    assert.equal(verify({ secrets: [newSecret, oldSecret], headers, body: BODY, nowSeconds: NOW }).webhookId, ID);
  }
  refused('WEBHOOK_SIGNATURE_INVALID', '/headers/webhook-signature', () =>
    verify({ secrets: [newSecret], headers: byOld, body: BODY, nowSeconds: NOW }),
  );
});

test('a header with several signatures passes when any v1 one matches', () => {
  const oldSecret = generateSecret();
  const newSecret = generateSecret();
  const good = sign(newSecret, ID, NOW, BODY);
  const stale = sign(oldSecret, ID, NOW, BODY);
  const other = 'v1a,' + good.slice(3);
  for (const signature of [`${stale} ${good}`, `${good} ${stale}`, `${other} v2,abc ${good}`, `  ${good}  `, `v1,AAAA ${good}`]) {
    const headers = { ...headersFor(), 'webhook-signature': signature };
    assert.equal(verify({ secrets: [newSecret], headers, body: BODY, nowSeconds: NOW }).webhookId, ID, signature);
  }
});

test('signatures of other versions are ignored even when their value would match', () => {
  const good = sign(SECRET, ID, NOW, BODY).slice(3);
  for (const signature of [`v1a,${good}`, `V1,${good}`, `v2,${good}`, `v1a,${good} v2,${good}`]) {
    const headers = { ...headersFor(), 'webhook-signature': signature };
    refused('WEBHOOK_SIGNATURE_INVALID', '/headers/webhook-signature', () => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }));
  }
});

test('timestamps up to the tolerance either way are accepted, one second more is refused', () => {
  for (const offset of [-300, -299, 0, 299, 300]) {
    const headers = headersFor({ timestamp: NOW + offset });
    assert.equal(verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }).timestamp, NOW + offset);
  }
  for (const [offset, pattern] of [[-301, /in the past/], [301, /in the future/], [-86_400, /in the past/], [86_400, /in the future/]] as const) {
    const headers = headersFor({ timestamp: NOW + offset });
    refused('WEBHOOK_TIMESTAMP_INVALID', '/headers/webhook-timestamp', () => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }));
    assert.throws(() => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }), pattern);
  }
});

test('a custom tolerance is honoured', () => {
  const headers = headersFor({ timestamp: NOW - 10 });
  assert.equal(verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW, toleranceSeconds: 10 }).timestamp, NOW - 10);
  refused('WEBHOOK_TIMESTAMP_INVALID', '/headers/webhook-timestamp', () =>
    verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW, toleranceSeconds: 9 }),
  );
});

for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
  test(`a missing or empty ${name} header is refused naming it`, () => {
    for (const value of [undefined, '']) {
      const headers = { ...headersFor(), [name]: value };
      refused('WEBHOOK_SIGNATURE_MISSING', `/headers/${name}`, () => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }));
    }
    const { [name]: _dropped, ...rest } = headersFor();
    refused('WEBHOOK_SIGNATURE_MISSING', `/headers/${name}`, () => verify({ secrets: [SECRET], headers: rest, body: BODY, nowSeconds: NOW }));
  });
}

test('a header given as an array (duplicate header) counts as missing', () => {
  const headers = { ...headersFor(), 'webhook-id': [ID, ID] } as unknown as WebhookHeaders;
  refused('WEBHOOK_SIGNATURE_MISSING', '/headers/webhook-id', () => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }));
});

test('a tampered body, id or timestamp is refused', () => {
  const headers = headersFor();
  const check = (h: WebhookHeaders, body: Buffer) =>
    refused('WEBHOOK_SIGNATURE_INVALID', '/headers/webhook-signature', () => verify({ secrets: [SECRET], headers: h, body, nowSeconds: NOW }));
  check(headers, Buffer.from(BODY.toString().replace('c_1', 'c_2')));
  check(headers, Buffer.concat([BODY, Buffer.from(' ')]));
  check(headers, BODY.subarray(1));
  check({ ...headers, 'webhook-id': ID + 'x' }, BODY);
  check({ ...headers, 'webhook-id': ID.toUpperCase() }, BODY);
  check({ ...headers, 'webhook-timestamp': String(NOW + 1) }, BODY);
  check({ ...headers, 'webhook-timestamp': String(NOW - 1) }, BODY);
});

test('a timestamp that is not a plain integer is refused', () => {
  for (const value of [`${NOW}.0`, `${NOW}.5`, `-${NOW}`, `+${NOW}`, '1.7e9', '0x6553F100', `${NOW} `, ` ${NOW}`, 'now', 'NaN', 'Infinity', '99999999999999999999']) {
    const headers = { ...headersFor(), 'webhook-timestamp': value };
    refused('WEBHOOK_TIMESTAMP_INVALID', '/headers/webhook-timestamp', () => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }));
  }
});

test('garbage signature values are refused as invalid', () => {
  const good = sign(SECRET, ID, NOW, BODY);
  const garbage = [
    'nocomma',
    good.slice(3),
    'v1,',
    'v1',
    ',',
    ' ',
    'v1,!!!not base64!!!',
    'v1,' + Buffer.from('short').toString('base64'),
    good.replace(/=$/, ''), // right bytes, non-canonical (unpadded) text
    good + '=',
    good + 'A',
    good.slice(0, -2) + (good.at(-2) === 'A' ? 'B' : 'A') + '=',
    'v1,' + 'A'.repeat(44),
    'v1, ' + good.slice(3),
    good.replace(',', ';'),
    good.replace('v1,', 'v1,,'),
  ];
  for (const signature of garbage) {
    const headers = { ...headersFor(), 'webhook-signature': signature };
    refused('WEBHOOK_SIGNATURE_INVALID', '/headers/webhook-signature', () => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW }));
  }
});

test('absurdly long header values are refused with the code of the header', () => {
  const headers = headersFor();
  const good = headers['webhook-signature'] ?? '';
  const filler = (length: number) => 'v1a,' + 'x'.repeat(length - 4);
  // Exactly at the cap still passes; one character more is refused even with a valid signature in it.
  const atCap = `${filler(4096 - good.length - 1)} ${good}`;
  assert.equal(atCap.length, 4096);
  assert.equal(verify({ secrets: [SECRET], headers: { ...headers, 'webhook-signature': atCap }, body: BODY, nowSeconds: NOW }).webhookId, ID);
  const overCap = `${filler(4096 - good.length)} ${good}`;
  refused('WEBHOOK_SIGNATURE_INVALID', '/headers/webhook-signature', () =>
    verify({ secrets: [SECRET], headers: { ...headers, 'webhook-signature': overCap }, body: BODY, nowSeconds: NOW }),
  );
  const longId = 'm'.repeat(4097);
  refused('WEBHOOK_SIGNATURE_INVALID', '/headers/webhook-id', () =>
    verify({ secrets: [SECRET], headers: headersFor({ id: longId }), body: BODY, nowSeconds: NOW }),
  );
  refused('WEBHOOK_TIMESTAMP_INVALID', '/headers/webhook-timestamp', () =>
    verify({ secrets: [SECRET], headers: { ...headers, 'webhook-timestamp': '0'.repeat(5000) + NOW }, body: BODY, nowSeconds: NOW }),
  );
});

test('errors carry stable codes, 401, not retriable, and serialise with the header path', () => {
  try {
    verify({ secrets: [SECRET], headers: { ...headersFor(), 'webhook-signature': undefined }, body: BODY, nowSeconds: NOW });
    assert.fail('expected a refusal');
  } catch (err) {
    assert.ok(err instanceof HubError);
    assert.deepEqual(err.toJSON(), { code: 'WEBHOOK_SIGNATURE_MISSING', message: 'webhook-signature header is missing', path: '/headers/webhook-signature' });
  }
  for (const code of ['WEBHOOK_SIGNATURE_MISSING', 'WEBHOOK_TIMESTAMP_INVALID', 'WEBHOOK_SIGNATURE_INVALID'] as const) {
    assert.deepEqual({ status: webhookErrors[code].status, retriable: webhookErrors[code].retriable }, { status: 401, retriable: false });
  }
});

test('unusable secrets are a configuration error, never shown in the message', () => {
  const headers = headersFor();
  for (const secrets of [[], [''], ['whsec_'], ['whsec_not base64!'], ['whsec_QUJD*'], [SECRET, 'whsec_A']]) {
    assert.throws(() => verify({ secrets, headers, body: BODY, nowSeconds: NOW }), (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.code, 'WEBHOOK_SECRET_INVALID');
      assert.equal(err.status, 500);
      for (const secret of secrets) if (secret.length > 8) assert.ok(!err.message.includes(secret.slice(6)), err.message);
      return true;
    });
  }
  assert.throws(() => sign('whsec_%%%', ID, NOW, BODY), (err: unknown) => err instanceof HubError && err.code === 'WEBHOOK_SECRET_INVALID');
  // Padded and unpadded base64 both decode to the same key.
  const unpadded = 'whsec_' + Buffer.from('abcd').toString('base64').replace(/=+$/, '');
  assert.equal(sign(unpadded, ID, NOW, BODY), sign('whsec_' + Buffer.from('abcd').toString('base64'), ID, NOW, BODY));
});

test('caller bugs in sign and verify arguments are thrown as RangeError', () => {
  for (const ts of [1.5, -1, NaN, Number.MAX_SAFE_INTEGER + 2]) assert.throws(() => sign(SECRET, ID, ts, BODY), RangeError);
  const headers = headersFor();
  assert.throws(() => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NaN }), RangeError);
  assert.throws(() => verify({ secrets: [SECRET], headers, body: BODY, nowSeconds: NOW, toleranceSeconds: -1 }), RangeError);
});

test('2,000 random inputs only ever pass when genuine or fail with one of the three codes', () => {
  const seed = Date.now() >>> 0;
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const secrets = [generateSecret(), generateSecret(), 'plain-secret'];
  const allowed = new Set(['WEBHOOK_SIGNATURE_MISSING', 'WEBHOOK_TIMESTAMP_INVALID', 'WEBHOOK_SIGNATURE_INVALID']);
  let passed = 0;

  for (let i = 0; i < 2000; i++) {
    const body = bytes(int(300));
    const id = pick([ID, bytes(int(40)).toString('latin1'), bytes(int(40)).toString('base64'), '', 'x'.repeat(4000 + int(200))]);
    const timestamp = NOW + int(1000) - 500;
    const genuine = sign(pick(secrets), id || ID, timestamp, body);
    const headers: Record<string, string | undefined> = {
      'webhook-id': pick([id, id, undefined]),
      'webhook-timestamp': pick([String(timestamp), String(timestamp), bytes(int(20)).toString('latin1'), String(random() * 1e10), undefined, '']),
      'webhook-signature': pick([
        genuine,
        `v1a,xyz ${genuine}`,
        genuine.slice(0, 3 + int(44)),
        'v1,' + bytes(32).toString('base64'),
        bytes(int(200)).toString('latin1'),
        bytes(int(100)).toString('utf8'),
        Array.from({ length: int(8) }, () => pick(['v1,', 'v1a,', ',', ' ', '=']) + bytes(int(40)).toString('base64')).join(' '),
        undefined,
      ]),
    };
    const tamper = int(4);
    const verifiedBody = tamper === 0 && body.length > 0 ? Buffer.concat([body.subarray(1), body.subarray(0, 1)]) : body;
    try {
      const result = verify({ secrets: secrets.slice(0, 1 + int(3)), headers, body: verifiedBody, nowSeconds: NOW });
      // Anything accepted must be exactly what some secret signed.
      assert.equal(result.webhookId, headers['webhook-id'], `seed ${seed}`);
      assert.equal(result.timestamp, Number(headers['webhook-timestamp']), `seed ${seed}`);
      const signature = headers['webhook-signature'] ?? '';
      assert.ok(
        secrets.some((s) => signature.split(' ').includes(sign(s, result.webhookId, result.timestamp, verifiedBody))),
        `seed ${seed}: accepted a signature no secret produced`,
      );
      passed++;
    } catch (err) {
      assert.ok(err instanceof HubError, `seed ${seed}: threw ${String(err)}`);
      assert.ok(allowed.has(err.code), `seed ${seed}: unexpected code ${err.code}`);
      assert.match(err.path ?? '', /^\/headers\/webhook-(id|timestamp|signature)$/, `seed ${seed}`);
      assert.equal(err.retriable, false);
    }
  }
  // The generator is meant to exercise the accepting path too, not only refusals.
  assert.ok(passed > 0, `seed ${seed}: no input was accepted`);
});

test('conformance with the spec\'s own package: it verifies what we sign, we verify what it signs', () => {
  const secret = generateSecret();
  const now = Math.floor(Date.now() / 1000);
  const reference = new Webhook(secret);
  for (const body of ['{"type":"contact.updated"}', 'héllo ✓ 🚀', '']) {
    const id = `msg_${Math.random().toString(36).slice(2)}`;
    const ours = { 'webhook-id': id, 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, id, now, body) };
    assert.doesNotThrow(() => reference.verify(body, ours, { jsonParse: false }), `the package verifies our signature of ${JSON.stringify(body)}`);
    const theirs = { 'webhook-id': id, 'webhook-timestamp': String(now), 'webhook-signature': reference.sign(id, new Date(now * 1000), body) };
    assert.equal(verify({ secrets: [secret], headers: theirs, body: Buffer.from(body), nowSeconds: now }).webhookId, id);
  }
  // Where we differ on purpose: a body that is not UTF-8 is signed over its bytes by us; the
  // package signs its UTF-8 decoding, which a sender hashing the bytes would not match.
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
  assert.notEqual(reference.sign('m', new Date(now * 1000), latin1), sign(secret, 'm', now, latin1));
});

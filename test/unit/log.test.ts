import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../libs/log/index.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { lines, destination };
}

test('child loggers carry their bindings', () => {
  const { lines, destination } = capture();
  const log = createLogger({ service: 'svc', destination }).child({ workspaceId: 'ws1', eventId: 'e1' });
  log.info('hello');
  const entry = JSON.parse(lines[0] ?? '{}');
  assert.equal(entry.service, 'svc');
  assert.equal(entry.workspaceId, 'ws1');
  assert.equal(entry.eventId, 'e1');
  assert.equal(entry.msg, 'hello');
});

test('secrets are redacted wherever they sit in the first levels', () => {
  const { lines, destination } = capture();
  const log = createLogger({ service: 'svc', destination });
  log.info({
    apiKey: 'k-123', headers: { authorization: 'Bearer abc', 'webhook-signature': 'v1,sig' },
    credential: { password: 'hunter2', token: 't0k' }, request: { body: { secret: 's3' } },
  }, 'x');
  const text = lines.join('');
  for (const secret of ['k-123', 'Bearer abc', 'v1,sig', 'hunter2', 't0k', 's3']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.ok(text.includes('[redacted]'));
});

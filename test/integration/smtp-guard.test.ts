/**
 * A workspace's own SMTP server (a stored credential) is reached through the same
 * address guard as http steps: a host on a loopback, private or metadata address is
 * refused before any connection is made, unless the operator's allowlist names it. The
 * operator's own server (HUB_SMTP_URL) is not guarded.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createSmtpMailer } from '../../services/notifier/smtp.ts';
import { createAddressGuard } from '../../libs/http/index.ts';
import { startSmtpCapture } from '../../stack/smtp/catcher.ts';
import { HubError } from '../../libs/errors/index.ts';

const capture = await startSmtpCapture();
after(() => capture.close());
const mail = (n: number) => ({ from: 'hub@example.test', to: ['someone@example.test'], cc: [], subject: `guarded ${n}`, text: 'hello', html: null, messageId: `<guard-${n}@example.test>` });

test('a stored SMTP host on a loopback address is refused with HTTP_ADDRESS_BLOCKED, no connection made', async () => {
  let connections = 0;
  const counting = net.createServer((s) => { connections += 1; s.destroy(); });
  await new Promise<void>((resolve) => counting.listen(0, '127.0.0.1', resolve));
  const port = (counting.address() as net.AddressInfo).port;
  try {
    const mailer = createSmtpMailer({ timeoutMs: 5000, guard: createAddressGuard({ allowlist: [] }) });
    for (const host of ['127.0.0.1', 'localhost', '::ffff:127.0.0.1']) {
      await assert.rejects(mailer.send({ host, port, secure: false, guarded: true }, mail(1)), (err: unknown) => {
        assert.ok(err instanceof HubError, String(err));
        assert.equal(err.code, 'HTTP_ADDRESS_BLOCKED', err.message);
        assert.equal(err.retriable, false);
        return true;
      });
    }
    assert.equal(connections, 0, 'nothing connected');
  } finally {
    counting.close();
  }
});

test('the operator allowlist lets a stored host through; the operator\'s own server is not guarded', async () => {
  const allowed = createSmtpMailer({ timeoutMs: 5000, guard: createAddressGuard({ allowlist: ['127.0.0.1'] }) });
  const sent = await allowed.send({ host: '127.0.0.1', port: capture.port, secure: false, guarded: true }, mail(2));
  assert.match(sent.response, /^250/);
  const unguarded = createSmtpMailer({ timeoutMs: 5000, guard: createAddressGuard({ allowlist: [] }) });
  await unguarded.send({ host: '127.0.0.1', port: capture.port, secure: false }, mail(3));
  assert.deepEqual(capture.messages.map((m) => m.subject), ['guarded 2', 'guarded 3']);
});

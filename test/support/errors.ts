import assert from 'node:assert/strict';
import { HubError } from '../../libs/errors/index.ts';

/** Asserts that `fn` throws a non-retriable 400 HubError with this code, path and message. */
export function assertRefused(fn: () => unknown, code: string, path: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, 400);
    assert.equal(err.retriable, false);
    assert.equal(err.path, path);
    assert.match(err.message, message);
    return true;
  });
}

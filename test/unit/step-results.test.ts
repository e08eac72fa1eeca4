/** The step-result mailbox: results that arrive after the step asks, before it asks, after it gave up, and old ones let go. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepResultMailbox } from '../../services/action-executor/step-results.ts';
import type { StepResult } from '../../libs/workflow/interpreter.ts';

const ok = (output: unknown): StepResult => ({ status: 'succeeded', output, error: null });

test('a result arriving after the step asked ends its wait', async () => {
  const box = new StepResultMailbox();
  const waiting = box.wait('r1', new AbortController().signal);
  assert.deepEqual(box.pending, { waiting: 1, early: 0 });
  box.deliver('r1', ok(1));
  assert.deepEqual(await waiting, ok(1));
  assert.deepEqual(box.pending, { waiting: 0, early: 0 });
});

test('a result arriving before the step asks is kept for it, and given once', async () => {
  const box = new StepResultMailbox();
  box.deliver('r2', ok(2));
  assert.deepEqual(await box.wait('r2', new AbortController().signal), ok(2));
  const again = new AbortController();
  const second = box.wait('r2', again.signal);
  assert.deepEqual(box.pending, { waiting: 1, early: 0 }, 'taken: a second ask waits for a new result');
  again.abort();
  await assert.rejects(second);
});

test('a step that stops waiting (cancelled, timed out) rejects with its reason; a result after that is kept for a resumed step', async () => {
  const box = new StepResultMailbox();
  const controller = new AbortController();
  const waiting = box.wait('r3', controller.signal);
  controller.abort(new Error('step timed out'));
  await assert.rejects(waiting, /step timed out/);
  box.deliver('r3', ok(3));
  assert.deepEqual(await box.wait('r3', new AbortController().signal), ok(3));
});

test('results nobody asks for are let go after keepMs', () => {
  let now = 0;
  const box = new StepResultMailbox(() => now, 60_000);
  box.deliver('old', ok('old'));
  now = 61_000;
  box.deliver('new', ok('new'));
  assert.deepEqual(box.pending, { waiting: 0, early: 1 }, 'the old one is gone, the new one kept');
});

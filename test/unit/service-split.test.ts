/**
 * What each HTTP service loads, read from the import graph: the ingress (the hot path,
 * scaled by replicas) never loads the control plane, the code sandbox, the workflow
 * steps or the credentials store; the api never serves the hot path's handlers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Every module reachable from `entry` through relative imports (type-only imports included). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [path.resolve(entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
      const target = path.resolve(path.dirname(file), m[1] ?? m[2]!);
      if (target.endsWith('.ts')) pending.push(target);
    }
  }
  return new Set([...seen].map((f) => path.relative(process.cwd(), f)));
}

// The credentials store is read by the ingress for one thing: the webhook-secret of a sync
// connection, to check an app's webhook signature (it never writes credentials).
test('the ingress loads no control-plane code: no api module, code sandbox, step handlers or runs store', () => {
  const modules = [...reachable('services/ingress/main.ts')];
  for (const forbidden of ['services/api/', 'libs/sandbox/', 'libs/workflow/steps/', 'libs/workflow/interpreter.ts', 'libs/store/runs.ts']) {
    assert.deepEqual(modules.filter((m) => m.startsWith(forbidden)), [], `services/ingress reaches ${forbidden}`);
  }
});

test('the api does not load the hot path\'s handlers', () => {
  const modules = [...reachable('services/api/main.ts')];
  assert.deepEqual(modules.filter((m) => m.startsWith('services/ingress/')), []);
  assert.ok(modules.includes('libs/sandbox/code-runner.ts'), 'dry runs (and their isolate) are the api\'s');
});

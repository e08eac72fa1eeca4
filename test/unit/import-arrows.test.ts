/**
 * Arrows only point down: services → libs, never libs → services; programs (cli/) may use
 * both; and no two lib folders import each other, directly or through others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|mjs)$/.test(p) ? [p] : [];
  });
}

/** Repository-relative targets of a file's relative imports. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => path.normalize(path.join(path.dirname(file), m[1]!)));
}

test('no lib imports a service, a program or a test', () => {
  const upward = sources('libs').flatMap((f) => imports(f).filter((t) => !t.startsWith('libs/')).map((t) => `${f} → ${t}`));
  assert.deepEqual(upward, []);
});

test('services import libs, never another service', () => {
  const across = sources('services').flatMap((f) => {
    const own = f.split('/').slice(0, 2).join('/');
    return imports(f).filter((t) => t.startsWith('services/') && !t.startsWith(`${own}/`)).map((t) => `${f} → ${t}`);
  });
  assert.deepEqual(across, []);
});

test('lib folders form no loop', () => {
  const edges = new Map<string, Set<string>>();
  for (const f of sources('libs')) {
    const from = f.split('/')[1]!;
    for (const t of imports(f)) {
      const to = t.split('/')[1]!;
      if (t.startsWith('libs/') && to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  const loops: string[] = [];
  const visit = (node: string, trail: string[]) => {
    for (const next of edges.get(node) ?? []) {
      if (trail.includes(next)) loops.push([...trail.slice(trail.indexOf(next)), next].join(' → '));
      else visit(next, [...trail, next]);
    }
  };
  for (const start of edges.keys()) visit(start, [start]);
  assert.deepEqual(loops, []);
});

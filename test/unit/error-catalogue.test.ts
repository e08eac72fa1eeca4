/**
 * One catalogue of error codes: docs/errors.md lists exactly it, every code the source
 * raises or records is in it, and every entry is complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { errorCatalogue } from '../../libs/errors/catalogue.ts';
import { errorsMarkdown } from '../../cli/docs-errors.ts';

test('docs/errors.md is the catalogue (npm run docs:errors writes it)', () => {
  assert.equal(readFileSync('docs/errors.md', 'utf8'), errorsMarkdown());
});

test('every entry has a status, a retriable flag and a one-line meaning', () => {
  for (const [code, e] of Object.entries(errorCatalogue)) {
    assert.match(code, /^[A-Z][A-Z0-9_]+$/);
    assert.ok(e.status === 0 || (e.status >= 400 && e.status < 600), `${code}: status ${e.status}`);
    assert.equal(typeof e.retriable, 'boolean', code);
    assert.ok(e.meaning.length > 10 && !e.meaning.includes('\n'), `${code}: meaning`);
  }
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every code the source raises, records or compares is catalogued', () => {
  // Where a code is written as a literal: raised, constructed, recorded on a run or a DLQ, or compared.
  const patterns = [
    /raise\w*\(\s*'([A-Z][A-Z0-9_]+)'/g,
    /new HubError\(\s*'([A-Z][A-Z0-9_]+)'/g,
    /super\(\s*'([A-Z][A-Z0-9_]+)'/g,
    /\bcode: '([A-Z][A-Z0-9_]+)'/g,
    /\.code (?:===|!==) '([A-Z][A-Z0-9_]+)'/g,
    /err\.code : '([A-Z][A-Z0-9_]+)'/g,
    /\?\? '([A-Z][A-Z0-9_]+)'/g,
  ];
  const missing: string[] = [];
  for (const file of ['libs', 'services', 'cli'].flatMap(sources)) {
    const text = readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) {
      // Node's (ERR_*), fastify's (FST_*) and the system's errno codes (ETIMEDOUT) are not ours.
      if (/^(ERR|FST)_/.test(m[1]!) || /^E[A-Z]+$/.test(m[1]!)) continue;
      if (!(m[1]! in errorCatalogue)) missing.push(`${file}: ${m[1]}`);
    }
  }
  assert.deepEqual(missing, []);
});

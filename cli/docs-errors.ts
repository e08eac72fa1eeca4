/**
 * npm run docs:errors: writes docs/errors.md, the list of error codes, from the
 * catalogue (libs/errors/catalogue.ts). A test fails when the two differ.
 */
import { writeFileSync } from 'node:fs';
import { errorCatalogue } from '../libs/errors/catalogue.ts';

export function errorsMarkdown(): string {
  const rows = Object.entries(errorCatalogue).map(([code, e]) => `| \`${code}\` | ${e.status === 0 ? 'client' : e.status} | ${e.retriable ? 'yes' : 'no'} | ${e.meaning.replace(/\|/g, '\\|')} |`);
  return [
    '# Error codes',
    '',
    'Every error the hub answers, records on a run or parks on a DLQ carries one of these codes',
    '(`{"error": {"code", "message", "path"?}}` in HTTP answers). *Retriable*: sending the same',
    'request again (with the same ids) can succeed. *client*: raised by the SDK, never answered by',
    'the hub. Written by `npm run docs:errors` from `libs/errors/catalogue.ts`.',
    '',
    '| code | HTTP status | retriable | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/cli\//, 'cli/'))) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsMarkdown());
  console.log(`docs/errors.md: ${Object.keys(errorCatalogue).length} codes`);
}

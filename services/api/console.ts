/**
 * The web console at /console: static files, no build step. Preact with htm (tagged
 * templates instead of JSX) and uPlot for charts are served as ES modules from
 * node_modules through an import map. The page signs in with a workspace API key or the
 * admin token, kept in the tab's sessionStorage, and calls the same API as the CLI.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const here = path.dirname(fileURLToPath(import.meta.url));
// Some of these packages export no package.json: found where npm installs them.
const pkgDir = (name: string) => path.resolve(here, '../../node_modules', name);

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8' };

/** Served files by URL name: ours and the vendored modules (read once at start). */
function files(): Map<string, { type: string; body: Buffer }> {
  const out = new Map<string, { type: string; body: Buffer }>();
  const add = (name: string, file: string) => out.set(name, { type: TYPES[path.extname(file)]!, body: readFileSync(file) });
  for (const f of ['index.html', 'app.js', 'pages.js', 'sync.js', 'ui.js', 'style.css']) add(f, path.join(here, 'console', f));
  add('vendor/preact.js', path.join(pkgDir('preact'), 'dist/preact.module.js'));
  add('vendor/hooks.js', path.join(pkgDir('preact'), 'hooks/dist/hooks.module.js'));
  add('vendor/htm.js', path.join(pkgDir('htm'), 'dist/htm.module.js'));
  add('vendor/uplot.js', path.join(pkgDir('uplot'), 'dist/uPlot.esm.js'));
  add('vendor/uplot.css', path.join(pkgDir('uplot'), 'dist/uPlot.min.css'));
  return out;
}

export async function registerConsole(app: FastifyInstance): Promise<void> {
  const served = files();
  const page = served.get('index.html')!;
  const hidden = { hide: true } as const;
  const html = async (_request: unknown, reply: import('fastify').FastifyReply) => reply.type(page.type).header('cache-control', 'no-cache').send(page.body);
  app.get('/console', { config: { auth: 'public' }, schema: hidden }, html);
  app.get('/console/*', { config: { auth: 'public' }, schema: hidden }, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const f = served.get(name);
    // Any other path is a page of the single-page app (deep links: /console/runs/…).
    if (!f) return html(request, reply);
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  });
}

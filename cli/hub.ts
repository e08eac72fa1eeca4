/**
 * npm run hub -- <command>: operator commands against a running hub's admin API.
 *   workspace create <name>            create a workspace; prints its first API key (shown once)
 *   workspace list
 *   key list <workspaceId>
 *   key create <workspaceId>           prints the new key (shown once)
 *   key revoke <workspaceId> <keyId>
 *   workflow import <file.json> [--var NAME=value]... [--activate]
 *                                      import an example (examples/); needs HUB_API_KEY (a workspace key)
 *   sync connect | list | status | failures | resync | pause | resume | delete
 *                                      data-sync connections (cli/sync.ts); need HUB_API_KEY
 * HUB_URL (default http://127.0.0.1:8080) and HUB_ADMIN_TOKEN (default: .stack/admin-token).
 */
import { readFileSync } from 'node:fs';
import { instantiate, parseExample } from '../libs/workflow/examples.ts';
import { syncCommand, syncUsage } from './sync.ts';

const usage = `usage: npm run hub -- <command>
  workspace create <name>
  workspace list
  key list <workspaceId>
  key create <workspaceId>
  key revoke <workspaceId> <keyId>
  workflow import <file.json> [--var NAME=value]... [--activate]
${syncUsage}
environment: HUB_URL (default http://127.0.0.1:8080), HUB_ADMIN_TOKEN (default: contents of .stack/admin-token)`;

function adminToken(): string {
  if (process.env.HUB_ADMIN_TOKEN) return process.env.HUB_ADMIN_TOKEN;
  try {
    return readFileSync('.stack/admin-token', 'utf8').trim();
  } catch {
    throw new Error('no admin token: set HUB_ADMIN_TOKEN, or run `npm start` once to create .stack/admin-token');
  }
}

async function call(method: string, path: string, body?: unknown, token = adminToken()): Promise<unknown> {
  const base = (process.env.HUB_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new Error(`cannot reach the hub at ${base} (is \`npm start\` running?): ${(err as Error).message}`);
  }
  const payload = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok) throw new Error(`${res.status} ${payload?.error?.code ?? ''}: ${payload?.error?.message ?? 'request failed'}`);
  return payload;
}

function workspaceKey(): string {
  const apiKey = process.env.HUB_API_KEY;
  if (!apiKey) throw new Error('set HUB_API_KEY to a workspace API key (npm run hub -- workspace create <name> prints one)');
  return apiKey;
}

async function importWorkflow(args: string[]): Promise<unknown> {
  const [file, ...options] = args;
  if (!file) throw new Error(usage);
  const apiKey = workspaceKey();
  const values: Record<string, string | undefined> = { ...process.env };
  let activate = false;
  for (let i = 0; i < options.length; i++) {
    if (options[i] === '--activate') { activate = true; continue; }
    const pair = options[i] === '--var' ? options[++i] : undefined;
    const eq = pair?.indexOf('=') ?? -1;
    if (!pair || eq < 1) throw new Error(`expected --var NAME=value or --activate, got ${options[i] ?? 'nothing'}`);
    values[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const example = parseExample(readFileSync(file, 'utf8'));
  const created = await call('POST', '/v1/workflows', instantiate(example, values), apiKey) as { workflowId: string };
  const result = activate ? await call('POST', `/v1/workflows/${created.workflowId}/activate`, undefined, apiKey) : created;
  if (example.credentials.length > 0) {
    process.stderr.write(`this workflow uses stored credentials: ${example.credentials.map((c) => `${c.name} (${c.type}: ${c.description})`).join('; ')}; create them with POST /v1/credentials\n`);
  }
  return result;
}

async function main(args: string[]): Promise<unknown> {
  const [noun, verb, ...rest] = args;
  const need = (n: number) => {
    if (rest.length !== n) throw new Error(`${noun} ${verb} takes ${n} argument(s)\n${usage}`);
  };
  switch (`${noun} ${verb}`) {
    case 'workspace create': need(1); return call('POST', '/v1/admin/workspaces', { name: rest[0] });
    case 'workspace list': need(0); return call('GET', '/v1/admin/workspaces');
    case 'key list': need(1); return call('GET', `/v1/admin/workspaces/${encodeURIComponent(rest[0]!)}/keys`);
    case 'key create': need(1); return call('POST', `/v1/admin/workspaces/${encodeURIComponent(rest[0]!)}/keys`);
    case 'key revoke': need(2); return call('DELETE', `/v1/admin/workspaces/${encodeURIComponent(rest[0]!)}/keys/${encodeURIComponent(rest[1]!)}`);
    case 'workflow import': return importWorkflow(rest);
    default:
      if (noun === 'sync') return syncCommand(verb, rest, (method, path, body) => call(method, path, body, workspaceKey()));
      throw new Error(usage);
  }
}

main(process.argv.slice(2)).then(
  (result) => { process.stdout.write(`${JSON.stringify(result, null, 2)}\n`); },
  (err: unknown) => { console.error(`hub: ${(err as Error).message}`); process.exit(1); },
);

/**
 * npm run hub -- <command>: the hub from a terminal, in the habits of kubectl and
 * kafka-consumer-groups.sh: tables for people, `--json` for scripts, a progress bar (on
 * stderr) while a replay or an import runs. Operator commands use the admin token,
 * workspace commands HUB_API_KEY; `usage` below lists them.
 */
import { readFileSync } from 'node:fs';
import { instantiate, parseExample } from '../libs/workflow/examples.ts';
import { drawProgress, endProgress, progressLine, table, type Cell } from './render.ts';
import { syncCommand, syncUsage } from './sync.ts';
import { parseOptions } from './args.ts';
import { sleep } from '../libs/time/sleep.ts';

const usage = `usage: npm run hub -- <command> [--json]
operator (admin token):
  workspace create <name> | workspace list
  key list <workspaceId> | key create <workspaceId> | key revoke <workspaceId> <keyId>
  topics                                   hub topics: partitions, messages, rates, retention
  lag [--watch] [--group <g>]              consumer groups: lag per partition in messages and seconds, status
  dlq list <group> [--status parked]       parked messages of a group
  dlq redrive <group> [--ids a,b] [--dry-run]
  replay plan|start --group <g> --from <ISO time | epoch ms> [--to <time>]
  replay plan|start --projection records   rebuild a projection (start waits with a progress bar; --no-wait)
  replay status <id> | replay cancel <id> | replay list
  projection verify records                two rebuilds into scratch collections: are their hashes equal?
workspace (HUB_API_KEY):
  workflow import <file.json>... [--var NAME=value]... [--activate]
  workflow list | workflow activate <id> | workflow deactivate <id>
  workflow replay <id> --from <time> [--to <time>] [--dry-run]    backfill past events
  runs list <workflowId> [--status <s>] | runs show <runId> | runs retry <runId> | runs cancel <runId>
  dlq list | dlq redrive [--ids a,b] [--dry-run]   (without a group: the workspace's own)
${syncUsage}
--json prints the API's answer for scripts; tables are for people.
environment: HUB_URL (default http://127.0.0.1:8080), HUB_ADMIN_TOKEN (default: contents of .stack/admin-token), HUB_API_KEY`;

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

async function importWorkflow(args: string[]): Promise<unknown> {
  const [file, ...options] = args;
  if (!file) throw new Error(usage);
  const apiKey = process.env.HUB_API_KEY;
  if (!apiKey) throw new Error('set HUB_API_KEY to a workspace API key (npm run hub -- workspace create <name> prints one)');
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

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function workspaceKey(): string {
  const apiKey = process.env.HUB_API_KEY;
  if (!apiKey) throw new Error('set HUB_API_KEY to a workspace API key (npm run hub -- workspace create <name> prints one)');
  return apiKey;
}
const asWorkspace = (method: string, path: string, body?: unknown) => call(method, path, body, workspaceKey()) as Promise<Json>;
const asAdmin = (method: string, path: string, body?: unknown) => call(method, path, body) as Promise<Json>;
const enc = encodeURIComponent;

/** A time given as ISO-8601 or epoch ms, as the API takes it. */
function timeArg(v: string | true | undefined, name: string): { timestamp: string | number } | undefined {
  if (v === undefined) return undefined;
  if (v === true) throw new Error(`--${name} needs a time`);
  return { timestamp: /^\d+$/.test(v) ? Number(v) : v };
}

/** A result for people and for scripts: `render` makes the human text. */
interface Out { json: unknown; human: () => string }
const out = (json: unknown, human: () => string): Out => ({ json, human });

function lagTable(body: Json, group?: string): string {
  const rows: Cell[][] = [];
  for (const g of body.groups as Json[]) {
    if (group && g.group !== group) continue;
    for (const p of g.partitions as Json[]) rows.push([g.group, g.state, g.members.length, p.topic, p.partition, p.committedOffset, p.endOffset, p.lagMessages, p.lagSeconds, p.status]);
  }
  return table(['group', 'state', 'members', 'topic', 'partition', 'committed', 'end', 'lag', 'lag-seconds', 'status'], rows);
}

const planTable = (body: Json) => `${table(['topic', 'partition', 'from', 'to', 'messages'], (body.plan as Json[]).map((e) => [e.topic, e.partition, e.fromOffset, e.toOffset, e.messages]))}\n${body.messages} message(s)`;

function replayText(r: Json): string {
  const p = r.progress;
  return `${r.id}  ${r.kind} ${r.group ?? r.projection ?? r.workflowId ?? ''}  ${r.status}  ${progressLine(p.done, p.total, `${p.ratePerSec ?? '-'}/s${p.etaSeconds ? ` eta ${p.etaSeconds}s` : ''}`)}${r.error ? `\nerror: ${r.error.code}: ${r.error.message}` : ''}${r.result ? `\nresult: ${JSON.stringify(r.result)}` : ''}`;
}

/** Polls a replay to its end with a progress bar on stderr; answers its last state. */
async function follow(path: string, read: (p: string) => Promise<Json>): Promise<Json> {
  for (;;) {
    const r = await read(path);
    const p = r.progress;
    drawProgress(p.done, p.total, `${p.ratePerSec ?? '-'}/s${p.etaSeconds ? ` eta ${p.etaSeconds}s` : ''}`);
    if (r.status !== 'running') { endProgress(); return r; }
    await sleep(1000);
  }
}

async function replay(verb: string, args: string[]): Promise<Out> {
  const { positional, options: opts } = parseOptions(args, ['group', 'projection', 'from', 'to', 'from-offsets'], ['no-wait']);
  if (verb === 'status' || verb === 'cancel') {
    if (positional.length !== 1) throw new Error(`replay ${verb} takes a replay id\n${usage}`);
    const r = verb === 'status' ? await asAdmin('GET', `/v1/admin/replays/${enc(positional[0]!)}`) : await asAdmin('POST', `/v1/admin/replays/${enc(positional[0]!)}/cancel`);
    return out(r, () => replayText(r));
  }
  if (verb === 'list') {
    const r = await asAdmin('GET', '/v1/admin/replays');
    return out(r, () => table(['id', 'kind', 'what', 'status', 'done', 'total', 'started'], (r.replays as Json[]).map((x) => [x.id, x.kind, x.group ?? x.projection ?? x.workflowId, x.status, x.progress.done, x.progress.total, x.startedAt])));
  }
  if (verb !== 'plan' && verb !== 'start') throw new Error(usage);
  const body: Json = {
    ...(typeof opts.group === 'string' ? { group: opts.group } : {}),
    ...(typeof opts.projection === 'string' ? { projection: opts.projection } : {}),
    ...(opts.from !== undefined ? { from: timeArg(opts.from, 'from') } : {}),
    ...(opts.to !== undefined ? { to: timeArg(opts.to, 'to') } : {}),
    ...(typeof opts['from-offsets'] === 'string' ? { from: { offsets: JSON.parse(opts['from-offsets']) as unknown } } : {}),
    dryRun: verb === 'plan',
  };
  const r = await asAdmin('POST', '/v1/admin/replays', body);
  if (verb === 'plan' || opts['no-wait']) return out(r, () => (verb === 'plan' ? planTable(r) : `started ${r.id}: ${r.messages} message(s)`));
  process.stderr.write(`replay ${r.id as string}: ${r.messages as number} message(s)\n`);
  const end = await follow(`/v1/admin/replays/${enc(r.id as string)}`, (p) => asAdmin('GET', p));
  return out(end, () => replayText(end));
}

async function dlq(verb: string, args: string[]): Promise<Out> {
  const { positional, options: opts } = parseOptions(args, ['status', 'ids'], ['dry-run']);
  const group = positional[0];
  if (verb === 'list') {
    const q = typeof opts.status === 'string' ? `?status=${enc(opts.status)}` : '';
    const r = group ? await asAdmin('GET', `/v1/admin/dlq/${enc(group)}${q}`) : await asWorkspace('GET', `/v1/dlq${q}`);
    return out(r, () => `${table(['id', 'parked', 'from', 'key', 'error', 'status'], (r.messages as Json[]).map((m) => [m.id, m.parkedAt, `${m.topic}/${m.partition}@${m.offset}`, m.key, `${m.error.code}: ${String(m.error.message).slice(0, 60)}`, m.status]))}\n${r.parked as number} parked of ${r.total as number}`);
  }
  if (verb !== 'redrive') throw new Error(usage);
  const body = { ...(typeof opts.ids === 'string' ? { ids: opts.ids.split(',').filter(Boolean) } : {}), ...(opts['dry-run'] ? { dryRun: true } : {}) };
  const r = group ? await asAdmin('POST', `/v1/admin/dlq/${enc(group)}/redrive`, body) : await asWorkspace('POST', '/v1/dlq/redrive', body);
  return out(r, () => [
    `${r.dryRun ? 'would redrive' : 'redriven'}: ${(r.redriven as Json[]).length}`,
    ...(r.redriven as Json[]).map((x) => `  ${x.id} -> ${x.topic}/${x.partition}@${x.offset}`),
    ...(r.skipped as Json[]).map((x) => `skipped ${x.id}: ${x.reason}`),
  ].join('\n'));
}

async function runs(verb: string, args: string[]): Promise<Out> {
  const { positional, options: opts } = parseOptions(args, ['status']);
  const id = positional[0];
  if (!id) throw new Error(`runs ${verb} needs an id\n${usage}`);
  switch (verb) {
    case 'list': {
      const r = await asWorkspace('GET', `/v1/workflows/${enc(id)}/runs?limit=100${typeof opts.status === 'string' ? `&status=${enc(opts.status)}` : ''}`);
      return out(r, () => table(['run', 'status', 'version', 'trigger', 'queued', 'ended', 'error'], (r.runs as Json[]).map((x) => [x.runId, x.status, x.version, x.triggerType, x.queuedAt, x.endedAt, x.error?.code])));
    }
    case 'show': {
      const r = await asWorkspace('GET', `/v1/runs/${enc(id)}`);
      return out(r, () => `${r.runId as string}  ${r.status as string}  v${r.version as number}  attempt ${r.attempt as number}  ${r.trigger.type as string}\n${table(['step', 'type', 'status', 'attempts', 'started', 'error'], (r.steps as Json[]).map((s) => [s.key, s.type, s.status, s.attempts, s.startedAt, s.error ? `${s.error.code}: ${s.error.message}` : '']))}`);
    }
    case 'retry': case 'cancel': {
      const r = await asWorkspace('POST', `/v1/runs/${enc(id)}/${verb}`);
      return out(r, () => `${verb} requested for ${id}`);
    }
    default: throw new Error(usage);
  }
}

async function workflow(verb: string, args: string[]): Promise<Out> {
  switch (verb) {
    case 'import': {
      const { positional, options: opts } = parseOptions(args, ['var'], ['activate']);
      const files = positional;
      if (files.length === 0) throw new Error(usage);
      const flat = args.filter((a) => !files.includes(a));
      const results: unknown[] = [];
      for (const [i, file] of files.entries()) {
        if (files.length > 1) drawProgress(i, files.length, file);
        results.push(await importWorkflow([file, ...flat]));
      }
      if (files.length > 1) { drawProgress(files.length, files.length); endProgress(); }
      void opts;
      const json = files.length === 1 ? results[0] : { workflows: results };
      return out(json, () => (results as Json[]).map((w) => `${w.workflowId as string}  ${w.status as string}  v${w.version as number}${w.hook ? `  hook ${w.hook.url as string}` : ''}`).join('\n'));
    }
    case 'list': {
      const r = await asWorkspace('GET', '/v1/workflows');
      return out(r, () => table(['id', 'name', 'status', 'version', 'active'], (r.workflows as Json[]).map((w) => [w.workflowId, w.name, w.status, w.version, w.activeVersion])));
    }
    case 'activate': case 'deactivate': {
      if (args.length !== 1) throw new Error(`workflow ${verb} takes a workflow id\n${usage}`);
      const r = await asWorkspace('POST', `/v1/workflows/${enc(args[0]!)}/${verb}`);
      return out(r, () => `${r.workflowId as string}  ${r.status as string}${r.activeVersion ? `  v${r.activeVersion as number}` : ''}`);
    }
    case 'replay': {
      const { positional, options: opts } = parseOptions(args, ['from', 'to'], ['dry-run', 'no-wait']);
      if (positional.length !== 1) throw new Error(`workflow replay takes a workflow id\n${usage}`);
      const wf = enc(positional[0]!);
      const body = { from: timeArg(opts.from, 'from'), ...(opts.to !== undefined ? { to: timeArg(opts.to, 'to') } : {}), ...(opts['dry-run'] ? { dryRun: true } : {}) };
      const r = await asWorkspace('POST', `/v1/workflows/${wf}/replay`, body);
      if (r.dryRun) return out(r, () => `${planTable(r)}\n${r.runs as number} run(s) would start`);
      if (opts['no-wait']) return out(r, () => `started ${r.id as string}`);
      const end = await follow(`/v1/workflows/${wf}/replays/${enc(r.id as string)}`, (p) => asWorkspace('GET', p));
      return out(end, () => replayText(end));
    }
    default: throw new Error(usage);
  }
}

async function main(all: string[]): Promise<Out> {
  const args = all.filter((a) => a !== '--json');
  const [noun, verb, ...rest] = args;
  const need = (n: number) => {
    if (rest.length !== n) throw new Error(`${noun} ${verb} takes ${n} argument(s)\n${usage}`);
  };
  const raw = (json: unknown) => out(json, () => JSON.stringify(json, null, 2));
  switch (noun) {
    case 'topics': {
      const r = await asAdmin('GET', '/v1/admin/topics');
      return out(r, () => table(['topic', 'partitions', 'messages', 'end', 'msg/s-1m', 'msg/s-5m', 'bytes/s-1m', 'retention'], (r.topics as Json[]).map((t) => [
        t.topic, t.partitions.length, t.messages, t.endOffset, t.messagesInPerSec['1m'], t.messagesInPerSec['5m'], t.bytesInPerSec['1m'],
        t.compacted ? 'compacted' : t.retentionMs === null || t.retentionMs < 0 ? 'forever' : `${Math.round(t.retentionMs / 86_400_000)}d`,
      ])));
    }
    case 'lag': {
      const { options: opts } = parseOptions([verb, ...rest].filter((a): a is string => a !== undefined), ['group'], ['watch']);
      const group = typeof opts.group === 'string' ? opts.group : undefined;
      if (!opts.watch) {
        const r = await asAdmin('GET', '/v1/admin/consumers');
        return out(r, () => lagTable(r, group));
      }
      for (;;) {
        const r = await asAdmin('GET', '/v1/admin/consumers');
        process.stdout.write(all.includes('--json') ? `${JSON.stringify(r)}\n` : `\x1b[2J\x1b[H${new Date().toISOString()}  (every 2 s; Ctrl-C stops)\n${lagTable(r, group)}\n`);
        await sleep(2000);
      }
    }
    case 'dlq': return dlq(verb ?? '', rest);
    case 'replay': return replay(verb ?? '', rest);
    case 'runs': return runs(verb ?? '', rest);
    case 'workflow': return workflow(verb ?? '', rest);
    case 'sync': return raw(await syncCommand(verb, rest, (method, path, body) => call(method, path, body, workspaceKey())));
    case 'projection': {
      if (verb !== 'verify' || rest[0] !== 'records') throw new Error(usage);
      const r = await asAdmin('POST', '/v1/admin/projections/records/verify');
      const end = await follow(`/v1/admin/replays/${enc(r.id as string)}`, (p) => asAdmin('GET', p));
      return out(end, () => `${end.result?.identical ? 'identical' : 'DIFFERENT'}: ${(end.result?.hashes as string[] | undefined)?.join(' ') ?? end.error?.message ?? end.status}`);
    }
    default: break;
  }
  switch (`${noun} ${verb}`) {
    case 'workspace create': need(1); return raw(await call('POST', '/v1/admin/workspaces', { name: rest[0] }));
    case 'workspace list': need(0); return raw(await call('GET', '/v1/admin/workspaces'));
    case 'key list': need(1); return raw(await call('GET', `/v1/admin/workspaces/${enc(rest[0]!)}/keys`));
    case 'key create': need(1); return raw(await call('POST', `/v1/admin/workspaces/${enc(rest[0]!)}/keys`));
    case 'key revoke': need(2); return raw(await call('DELETE', `/v1/admin/workspaces/${enc(rest[0]!)}/keys/${enc(rest[1]!)}`));
    default: throw new Error(usage);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (result) => { process.stdout.write(`${argv.includes('--json') ? JSON.stringify(result.json, null, 2) : result.human()}\n`); },
  (err: unknown) => { console.error(`hub: ${(err as Error).message}`); process.exit(1); },
);

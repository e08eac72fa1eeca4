/**
 * `npm run hub -- sync …`: data-sync connections of one workspace (HUB_API_KEY), over the
 * same routes a user calls (/v1/sync/connections…). Each command prints the API's answer.
 */
import { parseOptions } from './args.ts';

export type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;

export const syncUsage = `  sync connect <hubspot|stripe> <name> --credential <name> [--webhook-credential <name>] [--base-url <url>]
               [--poll-interval-ms <n>] [--objects contacts,companies,…] [--activate]
  sync list
  sync status <connectionId>
  sync failures <connectionId> [--object <object>] [--state failing|excluded|deleted|in-sync]
  sync resync <connectionId> <object> [<hubRecordId>...]
  sync pause <connectionId>
  sync resume <connectionId>
  sync delete <connectionId>
  (sync commands use HUB_API_KEY, a workspace key)`;

const OBJECTS = ['contacts', 'companies', 'deals', 'products', 'invoices', 'activities'];

const id = (value: string | undefined) => {
  if (!value) throw new Error(`a connection id is needed\n${syncUsage}`);
  return encodeURIComponent(value);
};

export async function syncCommand(verb: string | undefined, args: readonly string[], call: Call): Promise<unknown> {
  switch (verb) {
    case 'connect': {
      const { positional, options } = parseOptions(args, ['credential', 'webhook-credential', 'base-url', 'poll-interval-ms', 'objects'], ['activate']);
      const [app, name] = positional;
      if (!app || !name || positional.length !== 2) throw new Error(`sync connect takes <app> <name>\n${syncUsage}`);
      if (typeof options.credential !== 'string') throw new Error('sync connect needs --credential <name of a stored bearer credential>');
      const interval = options['poll-interval-ms'];
      if (interval !== undefined && !/^\d+$/.test(String(interval))) throw new Error('--poll-interval-ms must be a whole number of milliseconds');
      const created = await call('POST', '/v1/sync/connections', {
        app, name, credential: options.credential,
        ...(typeof options['webhook-credential'] === 'string' ? { webhookCredential: options['webhook-credential'] } : {}),
        ...(typeof options['base-url'] === 'string' ? { baseUrl: options['base-url'] } : {}),
        ...(interval !== undefined ? { pollIntervalMs: Number(interval) } : {}),
      }) as { connectionId: string };
      if (typeof options.objects === 'string') {
        const wanted = options.objects.split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = wanted.filter((o) => !OBJECTS.includes(o));
        if (unknown.length > 0) throw new Error(`--objects: unknown ${unknown.join(', ')}; one of ${OBJECTS.join(', ')}`);
        for (const object of OBJECTS) {
          const path = `/v1/sync/connections/${id(created.connectionId)}/objects/${object}`;
          const current = await call('GET', path) as { supported: boolean; enabled: boolean; direction: string; conflictWinner: string; mappings: unknown[]; rules: unknown };
          const enabled = wanted.includes(object);
          if (!current.supported || current.enabled === enabled) continue;
          await call('PUT', path, { enabled, direction: current.direction, conflictWinner: current.conflictWinner, rules: current.rules });
        }
      }
      if (options.activate === true) await call('POST', `/v1/sync/connections/${id(created.connectionId)}/activate`);
      return call('GET', `/v1/sync/connections/${id(created.connectionId)}`);
    }
    case 'list':
      if (args.length > 0) throw new Error('sync list takes no argument');
      return call('GET', '/v1/sync/connections');
    case 'status':
      if (args.length !== 1) throw new Error(`sync status takes <connectionId>\n${syncUsage}`);
      return call('GET', `/v1/sync/connections/${id(args[0])}`);
    case 'failures': {
      const { positional, options } = parseOptions(args, ['object', 'state']);
      if (positional.length !== 1) throw new Error(`sync failures takes <connectionId>\n${syncUsage}`);
      const query = new URLSearchParams({ state: typeof options.state === 'string' ? options.state : 'failing', limit: '500' });
      if (typeof options.object === 'string') query.set('object', options.object);
      const out: unknown[] = [];
      for (;;) {
        const page = await call('GET', `/v1/sync/connections/${id(positional[0])}/records?${query}`) as { records: unknown[]; nextCursor: string | null };
        out.push(...page.records);
        if (!page.nextCursor) break;
        query.set('cursor', page.nextCursor);
      }
      return { records: out };
    }
    case 'resync': {
      const [connectionId, object, ...recordIds] = args;
      if (!connectionId || !object) throw new Error(`sync resync takes <connectionId> <object> [<hubRecordId>...]\n${syncUsage}`);
      return call('POST', `/v1/sync/connections/${id(connectionId)}/resync`, { object, ...(recordIds.length > 0 ? { recordIds } : {}) });
    }
    case 'pause':
    case 'resume':
      if (args.length !== 1) throw new Error(`sync ${verb} takes <connectionId>\n${syncUsage}`);
      return call('POST', `/v1/sync/connections/${id(args[0])}/${verb}`);
    case 'delete':
      if (args.length !== 1) throw new Error(`sync delete takes <connectionId>\n${syncUsage}`);
      await call('DELETE', `/v1/sync/connections/${id(args[0])}`);
      return { connectionId: args[0], deleted: true };
    default:
      throw new Error(`usage: npm run hub -- sync <command>\n${syncUsage}`);
  }
}

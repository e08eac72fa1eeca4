/**
 * Data-sync helpers for end-to-end tests: a workspace's connection to an emulated app
 * made through the API as a user would (credentials, connection, objects, activation),
 * and reads of what the sync did.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startE2EHub, type ApiAnswer, type E2EHub } from './e2e-hub.ts';
import { startExternalCrmEmulator, type ExternalCrmEmulator, type ExternalCrmOptions } from '../emulators/external-crm.ts';
import { startBillingEmulator, type BillingEmulator, type BillingOptions } from '../emulators/billing.ts';
import { createRecordReader } from '../../libs/store/records.ts';
import { eventually } from './env.ts';
import type { ReceivedRequest } from '../emulators/base.ts';

export type Api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiAnswer>;

export interface ConnectOptions {
  app: 'hubspot' | 'stripe';
  name: string;
  baseUrl: string;
  token: string;
  /** Signing secret of the app's webhooks (stored as a webhook-secret credential). */
  webhookSecret?: string;
  pollIntervalMs?: number;
  /** Settings per seed object (PUT before activation). */
  objects?: Record<string, Record<string, unknown>>;
  activate?: boolean;
}

let seq = 0;

export async function connect(api: Api, o: ConnectOptions): Promise<{ connectionId: string; webhookUrl: string; webhookEvents: string[] }> {
  const n = `${Date.now().toString(36)}${seq++}`;
  const ok = (res: ApiAnswer, status: number, what: string) => assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
  ok(await api('POST', '/v1/credentials', { name: `token-${n}`, type: 'bearer', token: o.token }), 201, 'token credential');
  if (o.webhookSecret) ok(await api('POST', '/v1/credentials', { name: `hooks-${n}`, type: 'webhook-secret', secret: o.webhookSecret }), 201, 'webhook credential');
  const created = await api('POST', '/v1/sync/connections', {
    app: o.app, name: o.name, credential: `token-${n}`, baseUrl: o.baseUrl,
    ...(o.webhookSecret ? { webhookCredential: `hooks-${n}` } : {}), ...(o.pollIntervalMs ? { pollIntervalMs: o.pollIntervalMs } : {}),
  });
  ok(created, 201, 'connection');
  const { connectionId, webhookUrl } = created.body as { connectionId: string; webhookUrl: string };
  for (const [object, settings] of Object.entries(o.objects ?? {})) {
    ok(await api('PUT', `/v1/sync/connections/${connectionId}/objects/${object}`, settings), 200, `settings of ${object}`);
  }
  // The subscriptions to make in the app, for the objects now enabled.
  const { webhookEvents } = (await api('GET', `/v1/sync/connections/${connectionId}`)).body as { webhookEvents: string[] };
  if (o.activate !== false) ok(await api('POST', `/v1/sync/connections/${connectionId}/activate`), 200, 'activation');
  return { connectionId, webhookUrl, webhookEvents };
}

export interface ConnectionView {
  status: string;
  objects: Record<string, { enabled: boolean; counts?: { inSync: number; excluded: number; failing: number; deleted: number }; lastSyncedAt: string | null; latencyMs: { p50: number | null; p99: number | null } }>;
}

export async function connection(api: Api, id: string): Promise<ConnectionView> {
  const res = await api('GET', `/v1/sync/connections/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as ConnectionView;
}

export async function waitForStatus(api: Api, id: string, status: string, timeoutMs = 60_000): Promise<ConnectionView> {
  return eventually(`connection ${id} to be ${status}`, async () => {
    const c = await connection(api, id);
    return c.status === status ? c : null;
  }, timeoutMs, 250);
}

export interface SyncRecord { object: string; hubId: string | null; appId: string | null; state: string; reason: { code: string; message: string; app?: unknown; rule?: string } | null }

export async function records(api: Api, id: string, query = ''): Promise<SyncRecord[]> {
  const out: SyncRecord[] = [];
  let cursor: string | null = null;
  do {
    const res = await api('GET', `/v1/sync/connections/${id}/records?limit=500${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const body = res.body as { records: SyncRecord[]; nextCursor: string | null };
    out.push(...body.records);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}

/** Writes the hub's sync sent to an emulated HubSpot (creates and updates; reads and searches not counted). */
export function hubspotWrites(received: readonly ReceivedRequest[], since = 0): ReceivedRequest[] {
  return received.filter((r) => r.at >= since && r.method !== 'GET' && /\/batch\/(create|update)$|\/crm\/v3\/objects\/[a-z]+(\/\d+)?$/.test(r.path) && r.method !== 'DELETE' && !/\/search$/.test(r.path));
}

export async function sendEvents(api: Api, events: unknown[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const res = await api('POST', '/v1/events', { events: events.slice(i, i + 500) });
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
}

/** A fresh workspace of the shared hub, with its own records and connections. */
export async function freshWorkspace(hub: E2EHub, name: string) {
  const ws = await hub.newWorkspace(`${name}-${Date.now().toString(36)}`);
  const reader = createRecordReader(hub.store.db);
  return {
    ...ws,
    records: async (object: string) => (await reader.list(ws.workspaceId, object, { afterRecordId: null, limit: 100_000 })).filter((r) => !r.deleted),
    record: (object: string, id: string) => reader.get(ws.workspaceId, object, id),
  };
}

/**
 * One hub for a sync test file (its poll interval set), and the emulators it starts,
 * closed after the file's tests.
 */
export function syncSuite(label: string, pollIntervalMs: number) {
  let hub: E2EHub | undefined;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    hub = await startE2EHub(`${label}-${Date.now().toString(36)}`, { HUB_SYNC_POLL_INTERVAL_MS: String(pollIntervalMs) });
  });
  after(async () => {
    await Promise.all(closers.map((c) => c()));
    await hub?.close();
  });
  const closedAfter = <T extends { close(): Promise<void> }>(x: T): T => { closers.push(() => x.close()); return x; };
  return {
    get hub(): E2EHub { return hub!; },
    hubspot: async (options: ExternalCrmOptions = {}): Promise<ExternalCrmEmulator> => closedAfter(await startExternalCrmEmulator(options)),
    stripe: async (options: BillingOptions = {}): Promise<BillingEmulator> => closedAfter(await startBillingEmulator(options)),
    workspace: (name: string) => freshWorkspace(hub!, name),
  };
}

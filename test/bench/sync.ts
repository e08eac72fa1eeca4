/**
 * npm run bench -- sync [contacts] [companies] [seconds]
 *
 * Data sync with HubSpot on the real local stack, every hub service its own process, the
 * HubSpot emulator holding HubSpot's rate limit (100 requests per 10 s per account).
 * Prints, in one run:
 * - initial sync: `contacts` (default 10,000) contacts and `companies` (2,000) companies in
 *   HubSpot, each contact associated with a primary company, synced into an empty hub:
 *   records/s and the time from activation until every record and association is in the hub;
 * - steady state, `seconds` (default 30) at 20 changes/s each way at once: a hub change
 *   (record.updated accepted) → the write that carries it reaching HubSpot, and a HubSpot
 *   user's edit (webhook) → the hub record showing it; p50 and p99 of each.
 * The run's topics and database are deleted at the end.
 */
import { startE2EHub } from '../support/e2e-hub.ts';
import { startExternalCrmEmulator, type ExternalCrmOptions } from '../emulators/external-crm.ts';
import { connect, sendEvents, waitForStatus } from '../support/sync.ts';
import { createRecordReader, recordKey } from '../../libs/store/records.ts';
import { deleteTopicsWithPrefix } from './topics-cleanup.ts';
import { percentile, recordBenchmark } from './support.ts';
import { sleep } from '../../libs/time/sleep.ts';
import { findByIds } from '../../libs/store/by-ids.ts';

const CONTACTS = Number(process.argv[2] ?? 10_000);
const COMPANIES = Number(process.argv[3] ?? 2000);
const SECONDS = Number(process.argv[4] ?? 30);
const RATE = 20;
const say = (text: string) => console.log(`· ${text}`);

async function main(): Promise<void> {
  const secret = 'bench-client-secret';
  const options: ExternalCrmOptions = { rateLimit: { max: 100, windowMs: 10_000 }, webhook: { url: 'http://127.0.0.1:1/unset', clientSecret: secret } };
  const crm = await startExternalCrmEmulator(options);
  const hub = await startE2EHub(`benchsync${Date.now().toString(36)}`, { HUB_SYNC_POLL_INTERVAL_MS: '30000' });
  try {
    say(`services up (topics ${hub.config.topicPrefix}*, database ${hub.config.mongodbDatabase})`);
    const companies = Array.from({ length: COMPANIES }, (_, i) => crm.seed('companies', { name: `Company ${i}`, domain: `c${i}.example` }));
    for (let i = 0; i < CONTACTS; i++) {
      const c = crm.seed('contacts', { email: `p${i}@c${i % COMPANIES}.example`, firstname: `First${i}`, lastname: `Last${i}` });
      crm.seedAssociation('contacts', c.id, 'companies', companies[i % COMPANIES]!.id);
    }
    say(`HubSpot holds ${CONTACTS} contacts and ${COMPANIES} companies, each contact with a primary company`);

    const reader = createRecordReader(hub.store.db);
    const records = hub.store.db.collection<{ _id: string; fields?: Record<string, unknown> }>('records');
    const started = Date.now();
    const { connectionId, webhookUrl, webhookEvents } = await connect(hub.api, { app: 'hubspot', name: 'HubSpot bench', baseUrl: crm.url, token: crm.token, webhookSecret: secret });
    options.webhook!.url = webhookUrl;
    options.webhook!.subscriptions = webhookEvents;
    await waitForStatus(hub.api, connectionId, 'running', 3_600_000);
    const running = Date.now();
    say(`initial sync running after ${((running - started) / 1000).toFixed(1)} s; waiting for every record and association in the hub`);
    for (;;) {
      const people = await records.countDocuments({ workspaceId: hub.workspaceId, object: 'people', deleted: false, 'fields.companyId': { $exists: true } });
      const orgs = await records.countDocuments({ workspaceId: hub.workspaceId, object: 'companies', deleted: false });
      if (people >= CONTACTS && orgs >= COMPANIES) break;
      if (Date.now() - started > 3_600_000) throw new Error(`initial sync incomplete after an hour: ${people} people with a company, ${orgs} companies`);
      await sleep(250);
    }
    const initialMs = Date.now() - started;
    const requests = crm.received.length;
    const throttled = crm.received.filter((r) => r.status === 429).length;
    say(`initial sync: ${CONTACTS + COMPANIES} records in ${(initialMs / 1000).toFixed(1)} s (${requests} requests to HubSpot, ${throttled} answered 429)`);

    // Steady state: disjoint halves of the contacts change on each side, one change per record.
    const people = await reader.list(hub.workspaceId, 'people', { afterRecordId: null, limit: CONTACTS });
    const links = hub.store.db.collection<{ hubId: string; appId: string }>('sync_links');
    const appIdOf = new Map((await links.find({ connectionId, object: 'people' }).toArray()).map((l) => [l.hubId, l.appId]));
    const n = RATE * SECONDS;
    const hubSide = people.slice(0, n);
    const appSide = people.slice(n, 2 * n);
    await crm.webhooksSettled();
    const sentHub = new Map<string, number>();
    const sentApp = new Map<string, { at: number; hubId: string }>();
    const steadyFrom = crm.received.length;
    const gap = 1000 / RATE;
    // App → hub: polled while the load runs (not after it, which would count the wait for
    // the load's end as latency) until each hub record shows its value.
    const appLatency: number[] = [];
    const seenApp = new Set<string>();
    let loadDone = false;
    const watchApp = (async () => {
      const deadline = Date.now() + (SECONDS + 300) * 1000;
      while ((!loadDone || seenApp.size < sentApp.size) && Date.now() < deadline) {
        // By _id a few at a time: an $in is a scan of every record on FerretDB (libs/store/by-ids.ts).
        const valueOf = new Map([...sentApp].filter(([value]) => !seenApp.has(value)).map(([value, s]) => [recordKey(hub.workspaceId, 'people', s.hubId), value]));
        const docs = await findByIds(records, [...valueOf.keys()]);
        const seenAt = Date.now();
        for (const doc of docs) {
          const value = valueOf.get(String(doc._id))!;
          if (doc.fields?.jobTitle === value) { appLatency.push(seenAt - sentApp.get(value)!.at); seenApp.add(value); }
        }
        await sleep(200);
      }
    })();
    const t0 = Date.now();
    const hubSends: Promise<void>[] = [];
    const appSends: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const wait = t0 + i * gap - Date.now();
      if (wait > 0) await sleep(wait);
      const h = hubSide[i]!;
      const value = `hub-${i}`;
      sentHub.set(value, Date.now());
      hubSends.push(sendEvents(hub.api, [{ type: 'record.updated', object: 'people', recordId: h.recordId, record: { ...h.fields, jobTitle: value } }]));
      const a = appSide[i]!;
      sentApp.set(`app-${i}`, { at: Date.now(), hubId: a.recordId });
      appSends.push(crm.userEdit('contacts', appIdOf.get(a.recordId)!, { jobtitle: `app-${i}` }));
    }
    await Promise.all([...hubSends, ...appSends]);
    loadDone = true;
    await watchApp;

    // Hub → app: when the write carrying each value reached HubSpot.
    const reached = new Map<string, number>();
    const end = Date.now() + 120_000;
    for (;;) {
      reached.clear();
      for (const r of crm.received) {
        if (r.method !== 'POST' && r.method !== 'PATCH') continue;
        if (!r.path.endsWith('/batch/update') && !/\/contacts\/\d+$/.test(r.path)) continue;
        for (const m of JSON.stringify(r.body ?? {}).matchAll(/"jobtitle":"(hub-\d+)"/g)) {
          const at = sentHub.get(m[1]!);
          if (at !== undefined && r.status < 300 && !reached.has(m[1]!)) reached.set(m[1]!, r.at - at);
        }
      }
      if (reached.size >= n || Date.now() > end) break;
      await sleep(500);
    }
    const steady = crm.received.slice(steadyFrom);
    const steadyCalls = new Map<string, number>();
    for (const r of steady) {
      const k = `${r.method} ${r.path.replace(/\/\d+/g, '/:id')}`;
      steadyCalls.set(k, (steadyCalls.get(k) ?? 0) + 1);
    }
    say(`steady state: ${steady.length} requests to HubSpot (${steady.filter((r) => r.status === 429).length} answered 429): ${[...steadyCalls].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    const hubLatency = [...reached.values()].sort((a, b) => a - b);
    appLatency.sort((a, b) => a - b);
    const lostApp = n - seenApp.size;
    const lostHub = n - reached.size;
    const rps = ((CONTACTS + COMPANIES) / (initialMs / 1000)).toFixed(0);

    const body = [
      `HubSpot emulator at HubSpot's rate limit (100 requests / 10 s per account, batches of ≤ 100), every hub service its own process (ingress, api, record-projector, trigger-matcher, action-executor, notifier, sync-reconciler), FerretDB on PostgreSQL, one Kafka broker.`,
      '',
      '| figure | value | aim |',
      '|---|---:|---:|',
      `| initial sync: ${CONTACTS} contacts + ${COMPANIES} companies with associations, HubSpot → empty hub | ${(initialMs / 1000).toFixed(1)} s | |`,
      `| initial sync records/s | ${rps} | |`,
      `| requests to HubSpot during the initial sync (429s among them) | ${requests} (${throttled}) | |`,
      `| p50 hub change → in HubSpot, ${RATE}/s each way for ${SECONDS} s | ${percentile(hubLatency, 50)} ms | |`,
      `| p99 hub change → in HubSpot | ${percentile(hubLatency, 99)} ms | 2000 ms |`,
      `| p50 HubSpot edit (webhook) → hub record | ${percentile(appLatency, 50)} ms | |`,
      `| p99 HubSpot edit (webhook) → hub record | ${percentile(appLatency, 99)} ms | 2000 ms |`,
      `| changes not synced (hub → app, app → hub) | ${lostHub}, ${lostApp} | 0, 0 |`,
    ].join('\n');
    console.log(`\n${body}\n`);
    await recordBenchmark('sync', body);
  } finally {
    const prefix = hub.config.topicPrefix;
    await hub.close();
    await crm.close();
    await deleteTopicsWithPrefix(hub.config, prefix).catch(() => undefined);
  }
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });

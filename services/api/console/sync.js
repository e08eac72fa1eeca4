// The Sync pages (workspace key): connections with their status, and one connection's health
// per object (counts, last change synced, latency) with its records by state and their reasons.
import { useState } from 'preact/hooks';
import { html, api, useApi, Err, Json, when, num } from './ui.js';

const go = (path) => { location.hash = path; };
const APPS = { hubspot: 'HubSpot', stripe: 'Stripe' };
const STATES = [['failing', 'Failing'], ['deleted', 'Deleted'], ['excluded', 'Excluded'], ['in-sync', 'In sync']];
const ms = (v) => (v === null || v === undefined ? '–' : v < 1000 ? `${num(v)} ms` : `${num(v / 1000, 1)} s`);
// A running sync is the healthy state (a running workflow run is merely under way): its own colours.
const Status = ({ value }) => html`<span class=${`badge sync ${value}`}>${value}</span>`;
const enabled = (c) => Object.entries(c.objects).filter(([, o]) => o.enabled);

export function SyncConnections() {
  const [data, error] = useApi('/v1/sync/connections', 5000);
  return html`<h2>Sync connections</h2><${Err} error=${error} />
    <table><thead><tr><th>Name</th><th>App</th><th>Status</th><th>Objects</th><th>Last change synced</th><th>Updated</th></tr></thead><tbody>
    ${(data?.connections ?? []).map((c) => html`<tr class="clickable" onClick=${() => go(`/sync/${c.connectionId}`)}>
      <td>${c.name}</td><td>${APPS[c.app] ?? c.app}</td><td><${Status} value=${c.status} /></td>
      <td>${enabled(c).map(([o]) => o).join(', ') || '–'}</td>
      <td>${when(enabled(c).map(([, o]) => o.lastSyncedAt).filter(Boolean).sort().pop())}</td><td>${when(c.updatedAt)}</td></tr>`)}
    </tbody></table>
    ${data && data.connections.length === 0 ? html`<p class="muted">No sync connection yet: connect an app with <code>POST /v1/sync/connections</code> or <code>npm run hub -- sync connect</code>.</p>` : null}`;
}

export function SyncConnection({ id, query }) {
  const [c, error, reload] = useApi(`/v1/sync/connections/${id}`, 2000);
  const [failure, setFailure] = useState(null);
  const act = async (verb) => { try { setFailure(null); await api('POST', `/v1/sync/connections/${id}/${verb}`); } catch (err) { setFailure(err); } reload(); };
  if (!c) return html`<${Err} error=${error} /><p class="muted">Loading…</p>`;
  const objects = enabled(c);
  const object = query.get('object') ?? objects[0]?.[0] ?? null;
  const state = query.get('state') ?? 'failing';
  const set = (k, v) => { const q = new URLSearchParams(query); q.set(k, v); go(`/sync/${id}?${q}`); };
  return html`<h2>${c.name} <${Status} value=${c.status} /> <span class="muted">${APPS[c.app] ?? c.app} · <code>${c.connectionId}</code></span></h2>
    <${Err} error=${failure ?? error} />
    <div class="row">
      ${['draft', 'failed'].includes(c.status) ? html`<button onClick=${() => act('activate')}>Activate</button>` : null}
      <button class="secondary" disabled=${!['initial-sync', 'running'].includes(c.status)} onClick=${() => act('pause')}>Pause</button>
      <button disabled=${c.status !== 'paused'} onClick=${() => act('resume')}>Resume</button>
      <button class="secondary" onClick=${() => go('/sync')}>All connections</button>
    </div>
    <table class="sync-objects"><thead><tr><th>Object</th><th>Direction</th><th class="num">In sync</th><th class="num">Excluded</th><th class="num">Failing</th><th class="num">Deleted</th>
      <th>Last change synced</th><th class="num">Latency p50</th><th class="num">p99</th></tr></thead><tbody>
    ${objects.map(([name, o]) => html`<tr data-object=${name} class=${`clickable${name === object ? ' selected' : ''}`} onClick=${() => set('object', name)}>
      <td><strong>${name}</strong>${o.error ? html`<div class="error">${o.error.code ?? ''} ${o.error.message ?? ''}</div>` : null}</td><td>${o.direction}</td>
      <td class="num in-sync">${num(o.counts?.inSync)}</td><td class="num excluded">${num(o.counts?.excluded)}</td>
      <td class=${`num failing${o.counts?.failing ? ' bad' : ''}`}>${num(o.counts?.failing)}</td><td class=${`num deleted${o.counts?.deleted ? ' warn' : ''}`}>${num(o.counts?.deleted)}</td>
      <td class="last-synced">${when(o.lastSyncedAt)}</td><td class="num p50">${ms(o.latencyMs.p50)}</td><td class="num p99">${ms(o.latencyMs.p99)}</td></tr>`)}
    </tbody></table>
    ${objects.length === 0 ? html`<p class="muted">No object is enabled: enable one with <code>PUT /v1/sync/connections/${id}/objects/:object</code>.</p>` : null}
    <p class="muted">Latency: from a change on one side to its write on the other, over the last hour. Deletes are never propagated: a deleted record waits for a resync.</p>
    ${object ? html`<${SyncRecords} key=${`${object}:${state}`} id=${id} object=${object} state=${state} running=${c.status === 'running'} onState=${(s) => set('state', s)} onChange=${reload} />` : null}`;
}

function SyncRecords({ id, object, state, running, onState, onChange }) {
  const [data, error, reload] = useApi(`/v1/sync/connections/${id}/records?object=${object}&state=${state}&limit=100`, 3000);
  const [outcome, setOutcome] = useState(null);
  const resync = async (recordIds) => {
    try { setOutcome(null); const r = await api('POST', `/v1/sync/connections/${id}/resync`, { object, ...(recordIds ? { recordIds } : {}) }); setOutcome({ text: `Resync requested for ${recordIds ? recordIds.join(', ') : `every deleted ${object} record`}.`, r }); } catch (err) { setOutcome({ error: err }); }
    reload(); onChange();
  };
  const list = data?.records ?? [];
  return html`<div class="card sync-records"><h3>Records of ${object}</h3>
    <div class="row tabs" role="tablist">${STATES.map(([s, label]) => html`<button role="tab" aria-selected=${s === state} class=${s === state ? '' : 'secondary'} onClick=${() => onState(s)}>${label}</button>`)}
      ${state === 'deleted' && list.length > 0 ? html`<button class="secondary" disabled=${!running} onClick=${() => resync(undefined)}>Resync all deleted</button>` : null}</div>
    <${Err} error=${error ?? outcome?.error} />
    ${outcome?.text ? html`<div class="notice" role="status">${outcome.text}</div>` : null}
    ${state === 'failing' ? html`<p class="muted">A record the app refuses is retried on every poll; fix it on its side and it syncs.</p>` : null}
    <table><thead><tr><th>Hub record</th><th>App record</th><th>Reason</th><th>The app's answer</th><th>Since</th><th></th></tr></thead><tbody>
    ${list.map((r) => html`<tr data-hub-id=${r.hubId ?? ''}>
      <td><code>${r.hubId ?? '–'}</code></td><td><code>${r.appId ?? '–'}</code></td>
      <td class="reason">${r.reason ? html`<strong>${r.reason.code}</strong> ${r.reason.message}${r.reason.rule ? html` <span class="muted">(rule <code>${r.reason.rule}</code>)</span>` : null}` : '–'}</td>
      <td class="answer">${r.reason?.app === undefined ? '–' : html`<${AppAnswer} value=${r.reason.app} />`}</td><td class="when">${when(r.updatedAt)}</td>
      <td>${r.state === 'deleted' && r.hubId ? html`<button disabled=${!running} onClick=${() => resync([r.hubId])}>Resync</button>` : null}</td></tr>`)}
    </tbody></table>
    ${data && list.length === 0 ? html`<p class="muted">No ${STATES.find(([s]) => s === state)[1].toLowerCase()} ${object} record.</p>` : null}
    ${data?.nextCursor ? html`<p class="muted">Showing the first ${list.length}; the CLI pages through all of them: <code>npm run hub -- sync failures ${id} --state ${state}</code>.</p>` : null}
  </div>`;
}

/** The app's own answer: its message first, the whole answer on demand. */
function AppAnswer({ value }) {
  const message = typeof value === 'string' ? value : value?.errors?.[0]?.message ?? value?.message ?? null;
  if (typeof value === 'string') return html`<span>${value}</span>`;
  return html`${message ? html`<span>${message}</span>` : null}<details><summary>Answer</summary><${Json} value=${value} /></details>`;
}

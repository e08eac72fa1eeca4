// The console's pages. Each reads the same API as the CLI; admin pages need the admin token.
import { useState } from 'preact/hooks';
import { html, api, useApi, Badge, Err, Json, Progress, Chart, when, num } from './ui.js';

const go = (path) => { location.hash = path; };

// ── Workflows ───────────────────────────────────────────────────────────────
export function Workflows() {
  const [data, error] = useApi('/v1/workflows');
  return html`<h2>Workflows</h2><${Err} error=${error} />
    <table><thead><tr><th>Name</th><th>Status</th><th class="num">Version</th><th class="num">Active</th><th>Updated</th></tr></thead><tbody>
    ${(data?.workflows ?? []).map((w) => html`<tr class="clickable" onClick=${() => go(`/workflows/${w.workflowId}`)}>
      <td>${w.name}</td><td><${Badge} value=${w.status} /></td><td class="num">${w.version}</td><td class="num">${w.activeVersion ?? '–'}</td><td>${when(w.updatedAt)}</td></tr>`)}
    </tbody></table>
    ${data && data.workflows.length === 0 ? html`<p class="muted">No workflows yet: import one with <code>npm run hub -- workflow import</code>.</p>` : null}`;
}

export function Workflow({ id }) {
  const [data, error, reload] = useApi(`/v1/workflows/${id}`);
  const [busy, setBusy] = useState(null);
  const [sample, setSample] = useState('{\n  "record": {"name": "Ada", "email": "ada@example.com"}\n}');
  const [dry, setDry] = useState(null);
  const [backfill, setBackfill] = useState({ from: new Date(Date.now() - 86_400_000).toISOString().slice(0, 16), plan: null });
  const act = async (what, f) => {
    setBusy({ what });
    try { await f(); setBusy(null); } catch (err) { setBusy({ what, error: err }); }
    reload();
  };
  if (!data) return html`<${Err} error=${error} /><p class="muted">Loading…</p>`;
  const latest = data.versions[data.versions.length - 1];
  return html`<h2>${data.name} <${Badge} value=${data.status} /></h2>
    <${Err} error=${busy?.error} />
    <div class="row">
      <button onClick=${() => act('activate', () => api('POST', `/v1/workflows/${id}/activate`))}>Activate v${data.version}</button>
      <button class="secondary" onClick=${() => act('deactivate', () => api('POST', `/v1/workflows/${id}/deactivate`))}>Deactivate</button>
      <button class="secondary" onClick=${() => go(`/runs?workflow=${id}`)}>Runs</button>
    </div>
    <div class="grid2">
      <div class="card"><h3>Versions</h3>
        <table><thead><tr><th>Version</th><th>Trigger</th><th>Steps</th><th>Saved</th></tr></thead><tbody>
        ${data.versions.slice().reverse().map((v) => html`<tr><td>v${v.version}${v.version === data.activeVersion ? html` <${Badge} value="active" />` : null}</td>
          <td>${v.definition.trigger.type}${v.definition.trigger.object ? ` · ${v.definition.trigger.object}` : ''}</td><td>${v.definition.steps.length}</td><td>${when(v.createdAt)}</td></tr>`)}
        </tbody></table>
        <details><summary>Definition of v${latest.version}</summary><${Json} value=${latest.definition} /></details>
      </div>
      <div class="card"><h3>Dry run on sample data</h3>
        <p class="muted">Runs the latest version: record writes, HTTP calls and emails are shown, not performed.</p>
        <textarea rows="6" aria-label="sample trigger" value=${sample} onInput=${(e) => setSample(e.target.value)}></textarea>
        <div class="row"><button onClick=${() => act('dry', async () => setDry(await api('POST', `/v1/workflows/${id}/test`, { trigger: JSON.parse(sample) })))}>Dry run</button></div>
        ${dry ? html`<p>Dry run: <${Badge} value=${dry.status} /></p><${Steps} steps=${dry.steps} />` : null}
      </div>
    </div>
    <div class="card"><h3>Backfill</h3>
      <p class="muted">Runs this workflow over past events of its trigger; a run starts once per event however often it is asked.</p>
      <div class="row"><label>From<input type="datetime-local" value=${backfill.from} onInput=${(e) => setBackfill({ ...backfill, from: e.target.value })} /></label>
        <button class="secondary" onClick=${() => act('plan', async () => setBackfill({ ...backfill, plan: await api('POST', `/v1/workflows/${id}/replay`, { from: { timestamp: new Date(backfill.from).toISOString() }, dryRun: true }) }))}>Plan (dry run)</button>
        <button onClick=${() => act('start', async () => { const r = await api('POST', `/v1/workflows/${id}/replay`, { from: { timestamp: new Date(backfill.from).toISOString() } }); setBackfill({ ...backfill, started: r.id }); })}>Start</button></div>
      ${backfill.plan ? html`<p>${num(backfill.plan.messages)} events in the window; <strong>${num(backfill.plan.runs)} run(s)</strong> would start.</p>` : null}
      ${backfill.started ? html`<${ReplayProgress} path=${`/v1/workflows/${id}/replays/${backfill.started}`} />` : null}
    </div>`;
}

// ── Runs ────────────────────────────────────────────────────────────────────
export function Runs({ query }) {
  const [workflows] = useApi('/v1/workflows');
  const workflow = query.get('workflow') ?? workflows?.workflows[0]?.workflowId ?? null;
  const status = query.get('status') ?? '';
  const [data, error] = useApi(workflow ? `/v1/workflows/${workflow}/runs?limit=50${status ? `&status=${status}` : ''}` : null, 3000);
  const set = (k, v) => { const q = new URLSearchParams(query); if (v) q.set(k, v); else q.delete(k); go(`/runs?${q}`); };
  return html`<h2>Runs</h2>
    <div class="row">
      <label>Workflow<select aria-label="workflow" value=${workflow ?? ''} onChange=${(e) => set('workflow', e.target.value)}>
        ${(workflows?.workflows ?? []).map((w) => html`<option value=${w.workflowId}>${w.name}</option>`)}</select></label>
      <label>Status<select aria-label="status" value=${status} onChange=${(e) => set('status', e.target.value)}>
        ${['', 'queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'].map((s) => html`<option value=${s}>${s || 'any'}</option>`)}</select></label>
    </div>
    <${Err} error=${error} />
    <table><thead><tr><th>Run</th><th>Status</th><th class="num">Version</th><th>Trigger</th><th>Queued</th><th>Ended</th><th>Error</th></tr></thead><tbody>
    ${(data?.runs ?? []).map((r) => html`<tr class="clickable" onClick=${() => go(`/runs/${r.runId}`)}>
      <td><code>${r.runId}</code></td><td><${Badge} value=${r.status} /></td><td class="num">${r.version}</td><td>${r.triggerType}</td><td>${when(r.queuedAt)}</td><td>${when(r.endedAt)}</td><td>${r.error?.code ?? ''}</td></tr>`)}
    </tbody></table>`;
}

export function Steps({ steps }) {
  return html`<ol class="timeline">${steps.map((s) => html`<li class=${s.status}>
    <strong>${s.key}</strong> <span class="muted">${s.type}</span> <${Badge} value=${s.status} />
    <span class="muted"> · ${s.attempts} attempt(s) · ${when(s.startedAt)}</span>
    ${s.error ? html`<div class="error">${s.error.code}: ${s.error.message}</div>` : null}
    <details><summary>Input</summary><${Json} value=${s.input} /></details>
    <details open=${s.status !== 'failed'}><summary>Output</summary><${Json} value=${s.output} /></details>
  </li>`)}</ol>`;
}

export function Run({ id }) {
  const [run, error, reload] = useApi(`/v1/runs/${id}`, 2000);
  const [failure, setFailure] = useState(null);
  const act = async (verb) => { try { setFailure(null); await api('POST', `/v1/runs/${id}/${verb}`); } catch (err) { setFailure(err); } reload(); };
  if (!run) return html`<${Err} error=${error} /><p class="muted">Loading…</p>`;
  return html`<h2>Run <code>${run.runId}</code> <${Badge} value=${run.status} /></h2>
    <${Err} error=${failure} />
    <div class="row">
      <button disabled=${run.status !== 'failed'} onClick=${() => act('retry')}>Retry</button>
      <button class="secondary" disabled=${!['queued', 'running', 'waiting'].includes(run.status)} onClick=${() => act('cancel')}>Cancel</button>
      <button class="secondary" onClick=${() => go(`/workflows/${run.workflowId}`)}>Workflow</button>
    </div>
    <div class="card"><p>Version ${run.version} · attempt ${run.attempt} · trigger <strong>${run.trigger.type}</strong> · queued ${when(run.queuedAt)} · ended ${when(run.endedAt)}</p>
      ${run.error ? html`<div class="error">${run.error.code}: ${run.error.message}</div>` : null}
      <details><summary>Trigger data</summary><${Json} value=${run.trigger.data} /></details></div>
    <h3>Timeline</h3><${Steps} steps=${run.steps} />`;
}

// ── DLQ ─────────────────────────────────────────────────────────────────────
export function Dlq({ admin, query }) {
  const [groups] = useApi(admin ? '/v1/admin/consumers' : null);
  const group = admin ? query.get('group') ?? 'record-projector' : null;
  const [data, error, reload] = useApi(admin ? `/v1/admin/dlq/${group}` : '/v1/dlq', 5000);
  const [open, setOpen] = useState(null);
  const [outcome, setOutcome] = useState(null);
  const redrive = async (body) => {
    try { setOutcome(await api('POST', admin ? `/v1/admin/dlq/${group}/redrive` : '/v1/dlq/redrive', body)); } catch (err) { setOutcome({ error: err }); }
    reload();
  };
  return html`<h2>Parked messages (DLQ)</h2>
    ${admin ? html`<div class="row"><label>Group<select aria-label="group" value=${group} onChange=${(e) => go(`/dlq?group=${e.target.value}`)}>
      ${(groups?.groups ?? []).map((g) => html`<option value=${g.group}>${g.group}</option>`)}</select></label></div>` : null}
    <${Err} error=${error ?? outcome?.error} />
    ${outcome && !outcome.error ? html`<div class="card" role="status">${outcome.dryRun ? 'Would redrive' : 'Redriven'}: ${outcome.redriven.length}; skipped: ${outcome.skipped.length}${outcome.skipped.map((s) => html`<div class="muted">${s.id}: ${s.reason}</div>`)}</div>` : null}
    <div class="row"><button class="secondary" onClick=${() => redrive({ dryRun: true })}>Redrive all (dry run)</button></div>
    <table><thead><tr><th>Parked</th><th>From</th><th>Key</th><th>Error</th><th>Status</th><th></th></tr></thead><tbody>
    ${(data?.messages ?? []).map((m) => html`<tr class="clickable" onClick=${() => setOpen(open === m.id ? null : m.id)}>
      <td>${when(m.parkedAt)}</td><td>${m.group ? `${m.group} ← ` : ''}${m.topic}/${m.partition}@${m.offset}</td><td><code>${m.key}</code></td>
      <td><strong>${m.error.code}</strong> ${m.error.message}</td><td><${Badge} value=${m.status} /></td>
      <td><button disabled=${m.status === 'redriven'} onClick=${(e) => { e.stopPropagation(); redrive({ ids: [m.id] }); }}>Redrive</button></td></tr>
      ${open === m.id ? html`<tr><td colspan="6">${m.valueNote ? html`<p class="muted">${m.valueNote}</p>` : null}<${Json} value=${m.value} /><details><summary>Headers</summary><${Json} value=${m.headers} /></details></td></tr>` : null}`)}
    </tbody></table>
    ${data && data.messages.length === 0 ? html`<p class="muted">Nothing parked.</p>` : null}`;
}

// ── Topics and consumer groups (operator) ───────────────────────────────────
export function Topics() {
  const [data, error] = useApi('/v1/admin/topics', 5000);
  return html`<h2>Topics</h2><${Err} error=${error} />
    <table><thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Messages</th><th class="num">End offset</th><th class="num">msg/s 1m</th><th class="num">msg/s 5m</th><th class="num">B/s 1m</th><th>Retention</th></tr></thead><tbody>
    ${(data?.topics ?? []).map((t) => html`<tr><td>${t.topic}</td><td class="num">${t.partitions.length}</td><td class="num">${num(t.messages)}</td><td class="num">${num(t.endOffset)}</td>
      <td class="num">${num(t.messagesInPerSec['1m'], 1)}</td><td class="num">${num(t.messagesInPerSec['5m'], 1)}</td><td class="num">${num(t.bytesInPerSec['1m'], 0)}</td>
      <td>${t.compacted ? 'compacted' : t.retentionMs === null || t.retentionMs < 0 ? 'forever' : `${Math.round(t.retentionMs / 86_400_000)} days`}</td></tr>`)}
    </tbody></table>`;
}

export function Consumers() {
  const [data, error] = useApi('/v1/admin/consumers', 2000);
  return html`<h2>Consumer groups</h2><p class="muted">Live: refreshed every 2 s. Lag in seconds is the age of the oldest message not yet consumed.</p><${Err} error=${error} />
    ${(data?.groups ?? []).map((g) => html`<${Group} g=${g} />`)}`;
}

function Group({ g }) {
  const [detail] = useApi(`/v1/admin/consumers/${g.group}`, 2000);
  return html`<div class="card" data-group=${g.group}>
    <h3>${g.group} <${Badge} value=${g.status} /> <span class="muted">${g.state} · ${g.members.length} member(s) · lag ${num(g.lagMessages)} msg · ${num(g.lagSeconds, 1)} s · ${num(g.consumedPerSec['1m'], 1)} msg/s</span></h3>
    ${detail && detail.history.length > 1 ? html`<${Chart} points=${detail.history} series=${[{ key: 'lagMessages', label: 'lag (messages)' }, { key: 'lagSeconds', label: 'lag (seconds)', scale: 's' }]} />` : null}
    <table><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">End</th><th class="num">Lag (msg)</th><th class="num">Lag (s)</th><th>Status</th></tr></thead><tbody>
    ${g.partitions.map((p) => html`<tr><td>${p.topic}</td><td class="num">${p.partition}</td><td class="num">${num(p.committedOffset)}</td><td class="num">${num(p.endOffset)}</td>
      <td class="num lag-messages">${num(p.lagMessages)}</td><td class="num">${num(p.lagSeconds, 1)}</td><td><${Badge} value=${p.status} /></td></tr>`)}
    </tbody></table></div>`;
}

// ── Replays (operator) ──────────────────────────────────────────────────────
export function Replays() {
  const [list, , reload] = useApi('/v1/admin/replays', 3000);
  const [form, setForm] = useState({ target: 'group:record-projector', from: new Date(Date.now() - 3_600_000).toISOString().slice(0, 16) });
  const [plan, setPlan] = useState(null);
  const [failure, setFailure] = useState(null);
  const body = (dryRun) => {
    const [kind, name] = form.target.split(':');
    return kind === 'projection' ? { projection: name, dryRun } : { group: name, from: { timestamp: new Date(form.from).toISOString() }, dryRun };
  };
  const send = async (dryRun) => {
    try { setFailure(null); const r = await api('POST', '/v1/admin/replays', body(dryRun)); if (dryRun) setPlan(r); else { setPlan(null); reload(); } } catch (err) { setFailure(err); }
  };
  return html`<h2>Replays</h2>
    <div class="card"><div class="row">
      <label>Replay<select aria-label="replay target" value=${form.target} onChange=${(e) => setForm({ ...form, target: e.target.value })}>
        <option value="group:record-projector">group record-projector</option><option value="group:trigger-matcher">group trigger-matcher</option><option value="projection:records">rebuild projection records</option></select></label>
      <label>From<input type="datetime-local" aria-label="from" value=${form.from} disabled=${form.target.startsWith('projection')} onInput=${(e) => setForm({ ...form, from: e.target.value })} /></label>
      <button class="secondary" onClick=${() => send(true)}>Plan (dry run)</button><button onClick=${() => send(false)}>Start</button></div>
      <p class="muted">A replay reads with its own consumer and applies through the same idempotent handlers: the live group is never stopped or rewound.</p>
      <${Err} error=${failure} />
      ${plan ? html`<div class="plan"><p><strong>${num(plan.messages)}</strong> message(s) to replay</p>
        <table><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">From offset</th><th class="num">To offset</th><th class="num">Messages</th></tr></thead><tbody>
        ${plan.plan.map((e) => html`<tr><td>${e.topic}</td><td class="num">${e.partition}</td><td class="num">${num(e.fromOffset)}</td><td class="num">${num(e.toOffset)}</td><td class="num">${num(e.messages)}</td></tr>`)}
        </tbody></table></div>` : null}
    </div>
    <table><thead><tr><th>Replay</th><th>What</th><th>Status</th><th>Progress</th><th class="num">Rate</th><th>Started</th><th></th></tr></thead><tbody>
    ${(list?.replays ?? []).map((r) => html`<tr><td><code>${r.id}</code></td><td>${r.kind} ${r.group ?? r.projection ?? r.workflowId ?? ''}</td><td><${Badge} value=${r.status} /></td>
      <td><${Progress} done=${r.progress.done} total=${r.progress.total} /> ${num(r.progress.done)} / ${num(r.progress.total)}${r.progress.etaSeconds ? ` · eta ${r.progress.etaSeconds}s` : ''}</td>
      <td class="num">${num(r.progress.ratePerSec)}/s</td><td>${when(r.startedAt)}</td>
      <td>${r.status === 'running' ? html`<button class="secondary" onClick=${async () => { await api('POST', `/v1/admin/replays/${r.id}/cancel`).catch(setFailure); reload(); }}>Cancel</button>` : null}</td></tr>`)}
    </tbody></table>`;
}

export function ReplayProgress({ path }) {
  const [r, error] = useApi(path, 1000);
  if (!r) return html`<${Err} error=${error} />`;
  return html`<p><${Badge} value=${r.status} /> ${num(r.progress.done)} of ${num(r.progress.total)} · ${num(r.progress.ratePerSec)}/s${r.result?.runsRequested !== undefined ? ` · ${r.result.runsRequested} run(s) requested` : ''}</p><${Progress} done=${r.progress.done} total=${r.progress.total} />`;
}

// ── Alerts (operator) ───────────────────────────────────────────────────────
export function Alerts() {
  const [data, error] = useApi('/v1/admin/alerts', 5000);
  return html`<h2>Alerts</h2><${Err} error=${error} />
    ${data ? html`<div class="grid2"><div class="card"><h3>Rules</h3><${Json} value=${data.rules} /><p class="muted">Email: ${data.channels.email.join(', ') || '–'} · chat: ${data.channels.chat.map((c) => c.host).join(', ') || '–'}. Set with <code>PUT /v1/admin/alerts</code>.</p></div>
      <div class="card"><h3>Firing now</h3>${data.firing.length === 0 ? html`<p class="muted">Nothing fires.</p>` : data.firing.map((f) => html`<p><${Badge} value="failed" /> ${f.ruleId} on ${f.group} since ${when(f.since)}</p>`)}
      <h3>Recent</h3>${data.recent.slice().reverse().map((e) => html`<p><${Badge} value=${e.state === 'firing' ? 'failed' : 'ok'} /> ${when(e.at)} ${e.text}</p>`)}</div></div>` : null}`;
}

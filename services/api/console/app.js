// The console's shell: sign-in (a workspace API key or the admin token), navigation, routes by hash.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html, api, session, Err } from './ui.js';
import * as pages from './pages.js';
import * as sync from './sync.js';

async function whoAmI() {
  try {
    const ws = await api('GET', '/v1/workspace');
    return { kind: 'workspace', label: ws.name ?? ws.workspaceId };
  } catch (err) {
    if (err.status !== 401 && err.status !== 403) throw err;
  }
  await api('GET', '/v1/admin/workspaces');
  return { kind: 'admin', label: 'operator' };
}

function SignIn({ onIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    session.set(token.trim());
    try { onIn(await whoAmI()); } catch (err) { session.clear(); setError(err.status === 401 ? new Error('This key or token is not accepted.') : err); }
  };
  return html`<form class="signin card" onSubmit=${submit}>
    <h2>Sign in to the hub</h2>
    <p class="muted">A workspace API key shows its workflows, runs, sync connections and parked messages; the admin token shows the operator pages (topics, consumer groups, DLQs, replays, alerts).</p>
    <${Err} error=${error} />
    <p><input type="password" name="token" aria-label="API key or admin token" placeholder="API key or admin token" value=${token} onInput=${(e) => setToken(e.target.value)} autofocus /></p>
    <button type="submit">Sign in</button>
  </form>`;
}

const NAV = {
  workspace: [['/workflows', 'Workflows'], ['/runs', 'Runs'], ['/sync', 'Sync'], ['/dlq', 'Parked messages']],
  admin: [['/consumers', 'Consumer groups'], ['/topics', 'Topics'], ['/dlq', 'DLQ'], ['/replays', 'Replays'], ['/alerts', 'Alerts']],
};

function useHash() {
  const [hash, setHash] = useState(location.hash.slice(1) || '');
  useEffect(() => {
    const on = () => setHash(location.hash.slice(1));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function route(who, hash) {
  const [path, search] = hash.split('?');
  const query = new URLSearchParams(search ?? '');
  const parts = path.split('/').filter(Boolean);
  const admin = who.kind === 'admin';
  switch (parts[0]) {
    case 'workflows': return parts[1] ? html`<${pages.Workflow} id=${parts[1]} />` : html`<${pages.Workflows} />`;
    case 'runs': return parts[1] ? html`<${pages.Run} id=${parts[1]} />` : html`<${pages.Runs} query=${query} />`;
    case 'sync': return parts[1] ? html`<${sync.SyncConnection} id=${parts[1]} query=${query} />` : html`<${sync.SyncConnections} />`;
    case 'dlq': return html`<${pages.Dlq} admin=${admin} query=${query} />`;
    case 'topics': return html`<${pages.Topics} />`;
    case 'consumers': return html`<${pages.Consumers} />`;
    case 'replays': return html`<${pages.Replays} />`;
    case 'alerts': return html`<${pages.Alerts} />`;
    default: return admin ? html`<${pages.Consumers} />` : html`<${pages.Workflows} />`;
  }
}

function App() {
  const [who, setWho] = useState(undefined);
  const hash = useHash();
  useEffect(() => {
    if (!session.get()) { setWho(null); return; }
    whoAmI().then(setWho, () => { session.clear(); setWho(null); });
  }, []);
  if (who === undefined) return html`<p class="muted">Loading…</p>`;
  if (who === null) return html`<${SignIn} onIn=${(w) => { setWho(w); location.hash = NAV[w.kind][0][0]; }} />`;
  const current = `/${hash.split(/[/?]/).filter(Boolean)[0] ?? ''}`;
  return html`<header><h1>CRM hub</h1>
      <nav>${NAV[who.kind].map(([href, label]) => html`<a href=${`#${href}`} class=${current === href ? 'active' : ''}>${label}</a>`)}</nav>
      <span class="who">${who.kind === 'admin' ? 'operator' : `workspace ${who.label}`} · <a href="#" style="color:#bcccdc" onClick=${(e) => { e.preventDefault(); session.clear(); setWho(null); }}>sign out</a></span></header>
    <main>${route(who, hash)}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));

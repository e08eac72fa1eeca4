// Small shared pieces: the API client, hooks for loading and polling, and widgets.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';

export const html = htm.bind(h);

const TOKEN = 'hub.console.token';
export const session = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (t) => sessionStorage.setItem(TOKEN, t),
  clear: () => sessionStorage.removeItem(TOKEN),
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ? `${body.error.code}: ${body.error.message}${body.error.path ? ` (at ${body.error.path})` : ''}` : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${session.get()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** Loads `path` (again every `everyMs` when given); [data, error, reload]. */
export function useApi(path, everyMs) {
  const [state, setState] = useState({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return undefined;
    let alive = true;
    let timer;
    const load = async () => {
      try {
        const data = await api('GET', path);
        if (alive) setState({ data, error: null });
      } catch (err) {
        if (alive) setState((s) => ({ data: s.data, error: err }));
      }
      if (alive && everyMs) timer = setTimeout(load, everyMs);
    };
    load();
    return () => { alive = false; clearTimeout(timer); };
  }, [path, everyMs, tick]);
  return [state.data, state.error, () => setTick((t) => t + 1)];
}

export const Badge = ({ value }) => html`<span class=${`badge ${value}`}>${value}</span>`;
export const Err = ({ error }) => (error ? html`<div class="error" role="alert">${error.message}</div>` : null);
export const Json = ({ value }) => html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
export const num = (n, digits = 0) => (n === null || n === undefined ? '–' : Number(n).toLocaleString(undefined, { maximumFractionDigits: digits }));

export function Progress({ done, total }) {
  const pct = total > 0 ? Math.min(100, (done / total) * 100) : 100;
  return html`<div class="progress" role="progressbar" aria-valuenow=${Math.round(pct)}><div style=${`width:${pct}%`}></div></div>`;
}

/** A small uPlot line chart of points [{at, ...series}], redrawn when they change. */
export function Chart({ points, series, height = 110 }) {
  const ref = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const data = [points.map((p) => new Date(p.at).getTime() / 1000), ...series.map((s) => points.map((p) => p[s.key]))];
    if (!plot.current) {
      const colors = ['#2563eb', '#b45309', '#15803d'];
      plot.current = new uPlot({
        width: Math.max(320, (ref.current?.clientWidth || 560) - 4), height,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], width: 2, scale: s.scale ?? 'y' }))],
        axes: [{}, { scale: 'y' }, ...(series.some((s) => s.scale === 's') ? [{ scale: 's', side: 1, grid: { show: false } }] : [])],
      }, data, ref.current);
    } else {
      plot.current.setData(data);
    }
  }, [points]);
  useEffect(() => () => { plot.current?.destroy(); plot.current = null; }, []);
  return html`<div class="chart" ref=${ref}></div>`;
}

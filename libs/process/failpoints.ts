/**
 * Fault injection for crash tests, off unless configured: with
 * HUB_FAILPOINTS="<point>:<detail>,…" and HUB_FAILPOINT_MARKER=<file>, the process
 * kills itself (SIGKILL, no cleanup) the first time it reaches a named point; the
 * marker file records that it happened, so the restarted process goes on.
 */
import { existsSync, writeFileSync } from 'node:fs';

const configured = new Set((process.env.HUB_FAILPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const marker = process.env.HUB_FAILPOINT_MARKER;

export function failpoint(point: string, detail: string): void {
  if (configured.size === 0 || !marker) return;
  if (!configured.has(`${point}:${detail}`) || existsSync(marker)) return;
  writeFileSync(marker, `${point}:${detail} ${new Date().toISOString()}\n`);
  process.kill(process.pid, 'SIGKILL');
}

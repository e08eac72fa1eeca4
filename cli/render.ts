/**
 * Human output of the hub CLI: aligned tables (kubectl's plain columns) and a progress
 * bar on stderr, so stdout stays what a script reads. `--json` bypasses both.
 */
export type Cell = string | number | boolean | null | undefined;

const show = (v: Cell): string => (v === null || v === undefined || v === '' ? '-' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v));

export function table(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map(show));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n');
}

/** `[#####.....]  50% 500/1000 120/s eta 4s` on one rewritten line (a plain line per update when not a terminal). */
export function progressLine(done: number, total: number, extra = ''): string {
  const width = 30;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${done}/${total}${extra ? ` ${extra}` : ''}`;
}

export function drawProgress(done: number, total: number, extra = ''): void {
  const line = progressLine(done, total, extra);
  if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
  else process.stderr.write(`${line}\n`);
}

export function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}

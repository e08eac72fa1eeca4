import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { execFileSync } from 'node:child_process';

export function machine(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Replaces (or appends) the `## <name>` section of BENCHMARKS.md with the latest figures. */
export async function recordBenchmark(name: string, body: string): Promise<void> {
  const file = 'BENCHMARKS.md';
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = '# Benchmarks\n\nLatest figures of each `npm run bench -- <name>`, written by the bench itself. Machines are shared and noisy: compare ratios measured in one run, not absolute numbers across runs.\n';
  }
  const section = `## ${name}\n\n_${new Date().toISOString().slice(0, 10)} · ${machine()}_\n\n${body.trim()}\n`;
  const re = new RegExp(`## ${name}\\n[\\s\\S]*?(?=\\n## |$)`);
  text = re.test(text) ? text.replace(re, section.trimEnd()) : `${text.trimEnd()}\n\n${section}`;
  await writeFile(file, `${text.trimEnd()}\n`);
}

/** Runs a bash snippet with the stack helpers loaded and returns its stdout. */
export function stackShell(snippet: string): string {
  return execFileSync('bash', ['-c', `source stack/lib.sh; source stack/kafka/part.sh; ${snippet}`], { encoding: 'utf8' }).trim();
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

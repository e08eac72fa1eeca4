import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { execFileSync, spawn } from 'node:child_process';

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
  // The blank line before a following section stays.
  text = re.test(text) ? text.replace(re, `${section.trimEnd()}\n`) : `${text.trimEnd()}\n\n${section}`;
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

/**
 * Kafka's own ProducerPerformance tool (acks=all, idempotent, batch 1 MiB, linger 20 ms)
 * on an existing topic: the broker's raw limit for records of `recordBytes`.
 */
export async function producerPerformance(o: { brokers: readonly string[]; topic: string; records: number; recordBytes: number }): Promise<{ recordsPerSec: number; mbPerSec: number }> {
  const java = stackShell('kafka_java');
  const classpath = stackShell('kafka_classpath');
  const args = ['-Xmx512m', '-cp', classpath, 'org.apache.kafka.tools.ProducerPerformance',
    '--topic', o.topic, '--num-records', String(o.records), '--record-size', String(o.recordBytes), '--throughput', '-1',
    '--command-property', `bootstrap.servers=${o.brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', 'batch.size=1048576', 'linger.ms=20'];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(java, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += String(d); });
    child.stderr.on('data', (d) => { text += String(d); });
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`ProducerPerformance exited ${code}: ${text.slice(-2000)}`))));
  });
  // Last summary line: "300000 records sent, 123456.7 records/sec (120.56 MB/sec), ..."
  const m = [...out.matchAll(/(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/g)].pop();
  if (!m) throw new Error(`cannot read ProducerPerformance output: ${out.slice(-1000)}`);
  return { recordsPerSec: Number(m[2]), mbPerSec: Number(m[3]) };
}

/**
 * npm run reliability -- <scenario> [--minutes N] [--rate units/s] [--outage s] [--kills n]
 * Runs one scenario at full length (defaults: soak 30, kill 10, broker 4, store 5, poison 3
 * minutes), prints its table and appends it to RELIABILITY.md with the date and machine.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultMinutes, details, machine, runScenario, scenarioNames, tableHeader, tableRow, type ScenarioName } from './scenarios.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { minutes: { type: 'string' }, rate: { type: 'string' }, outage: { type: 'string' }, kills: { type: 'string' } },
});
const scenario = positionals[0] as ScenarioName | undefined;
if (!scenario || !scenarioNames.includes(scenario)) {
  console.error(`usage: npm run reliability -- <${scenarioNames.join('|')}> [--minutes N] [--rate units/s] [--outage seconds] [--kills per service]`);
  process.exit(2);
}
const number = (v: string | undefined, name: string, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) { console.error(`--${name} must be a positive number, not '${v}'`); process.exit(2); }
  return n;
};
const minutes = number(values.minutes, 'minutes', defaultMinutes[scenario]);
const report = await runScenario(scenario, {
  minutes,
  // Half of what this machine kind completes (about 120 runs/s with every service on 2 cores).
  rate: number(values.rate, 'rate', 40),
  ...(values.outage ? { outageSeconds: number(values.outage, 'outage', 30) } : {}),
  ...(values.kills ? { killsPerService: number(values.kills, 'kills', 5) } : {}),
  log: (line) => console.log(line),
});
const section = [
  '', `## ${scenario}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC (${machine()})`, '',
  ...tableHeader, tableRow(report), '', ...details(report).map((l) => `- ${l}`), '',
];
console.log(section.join('\n'));
if (!existsSync('RELIABILITY.md')) {
  writeFileSync('RELIABILITY.md', '# Reliability\n\nFigures of `npm run reliability -- <scenario>` (test/reliability/), newest last. Lost and doubled count acknowledged units (events and webhook deliveries) whose record, run, http effect or email is missing or happened more than once.\n');
}
appendFileSync('RELIABILITY.md', section.join('\n'));

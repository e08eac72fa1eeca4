import { spawn, type ChildProcess } from 'node:child_process';
import type { BaseConfig } from '../../libs/config/index.ts';

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the service logged that it started. */
  started: Promise<void>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** Environment that makes a service process use the same isolated names as the test. */
export function envFor(config: BaseConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_BROKERS: config.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: config.schemaRegistryUrl,
    MONGODB_URI: config.mongodbUri,
    MONGODB_DATABASE: config.mongodbDatabase,
    HUB_TOPIC_PREFIX: config.topicPrefix,
    HUB_TOPIC_PARTITIONS: String(config.topicPartitions),
    LOG_LEVEL: 'info',
    // Services that open stored credentials need a key; tests that store some pass the ingress's.
    HUB_SECRETS_KEY: process.env.HUB_SECRETS_KEY ?? `test:${Buffer.alloc(32, 7).toString('base64')}`,
    ...extra,
  };
}

/** Services this process started and that still run: killed when it exits, however it exits. */
const running = new Set<ChildProcess>();
let reaping = false;

function reapOnExit(): void {
  if (reaping) return;
  reaping = true;
  process.on('exit', () => { for (const c of running) c.kill('SIGKILL'); });
  // A test file or bench stopped with a signal would otherwise leave its services running (and loading the machine).
  process.once('SIGTERM', () => process.exit(143));
  process.once('SIGINT', () => process.exit(130));
}

/** Runs services/<name>/main.ts as its own process, as `npm start` does. */
export function startService(name: string, env: NodeJS.ProcessEnv): ServiceProcess {
  reapOnExit();
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${name}/main.ts`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let text = '';
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => { onStarted = resolve; });
  const take = (d: Buffer) => {
    text += String(d);
    if (text.includes('"msg":"started"')) onStarted();
    // A long run (a soak) keeps the recent output only.
    if (text.length > 4_000_000) text = text.slice(-2_000_000);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    started: Promise.race([started, exited.then((code) => { throw new Error(`${name} exited (${code}) before starting:\n${text}`); })]),
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

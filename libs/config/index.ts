/**
 * One typed configuration read from the environment once at start, validated and
 * frozen. A bad value raises ConfigError naming the variable; `loadConfigOrExit`
 * turns that into one line on stderr and exit code 78 (EX_CONFIG).
 */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

interface Field<T> {
  readonly variable: string;
  read(env: Env): T;
}

function raw(env: Env, variable: string): string | undefined {
  const value = env[variable];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function str(variable: string, fallback?: string): Field<string> {
  return {
    variable,
    read(env) {
      const value = raw(env, variable) ?? fallback;
      if (value === undefined) throw new ConfigError(variable, 'is required');
      return value;
    },
  };
}

export function optionalStr(variable: string): Field<string | undefined> {
  return { variable, read: (env) => raw(env, variable) };
}

export function int(variable: string, fallback: number, range: { min?: number; max?: number } = {}): Field<number> {
  return {
    variable,
    read(env) {
      const text = raw(env, variable);
      if (text === undefined) return fallback;
      if (!/^-?\d+$/.test(text)) throw new ConfigError(variable, `must be an integer, got "${text}"`);
      const value = Number(text);
      if (range.min !== undefined && value < range.min) throw new ConfigError(variable, `must be >= ${range.min}, got ${value}`);
      if (range.max !== undefined && value > range.max) throw new ConfigError(variable, `must be <= ${range.max}, got ${value}`);
      return value;
    },
  };
}

export function oneOf<const T extends string>(variable: string, allowed: readonly T[], fallback: T): Field<T> {
  return {
    variable,
    read(env) {
      const text = raw(env, variable) ?? fallback;
      if (!(allowed as readonly string[]).includes(text)) {
        throw new ConfigError(variable, `must be one of ${allowed.join(', ')}, got "${text}"`);
      }
      return text as T;
    },
  };
}

/** Comma-separated `host:port` list. */
export function hostPorts(variable: string, fallback: string): Field<string[]> {
  return {
    variable,
    read(env) {
      const text = raw(env, variable) ?? fallback;
      const items = text.split(',').map((s) => s.trim()).filter(Boolean);
      if (items.length === 0) throw new ConfigError(variable, 'must list at least one host:port');
      for (const item of items) {
        if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(item)) throw new ConfigError(variable, `"${item}" is not host:port`);
      }
      return items;
    },
  };
}

export function url(variable: string, fallback: string, protocols: readonly string[]): Field<string> {
  return {
    variable,
    read(env) {
      const text = raw(env, variable) ?? fallback;
      let parsed: URL;
      try {
        parsed = new URL(text);
      } catch {
        throw new ConfigError(variable, `"${text}" is not a URL`);
      }
      if (!protocols.includes(parsed.protocol)) {
        throw new ConfigError(variable, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
      }
      return text.replace(/\/+$/, '');
    },
  };
}

/** A value checked by `parse`, which returns `{ value }` or `{ reason }` (never echoing a secret). */
export function custom<T>(variable: string, fallback: string | undefined, parse: (text: string) => { value: T } | { reason: string }): Field<T> {
  return {
    variable,
    read(env) {
      const text = raw(env, variable) ?? fallback;
      if (text === undefined) throw new ConfigError(variable, 'is required');
      const result = parse(text);
      if ('reason' in result) throw new ConfigError(variable, result.reason);
      return result.value;
    },
  };
}

/** A required secret string of at least `minLength` characters; errors never show it. */
export function secret(variable: string, minLength: number, hint = ''): Field<string> {
  return custom<string>(variable, undefined, (text) => (text.length >= minLength ? { value: text } : { reason: `must be at least ${minLength} characters${hint}` }));
}

type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export function readConfig<S extends Spec>(spec: S, env: Env = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(spec)) out[key] = field.read(env);
  return Object.freeze(out) as ConfigOf<S>;
}

/** Variables every part of the hub shares; services extend it with their own. */
export const baseConfigSpec = {
  kafkaBrokers: hostPorts('KAFKA_BROKERS', '127.0.0.1:9092'),
  kafkaClientId: str('KAFKA_CLIENT_ID', 'crm-hub'),
  topicPrefix: str('HUB_TOPIC_PREFIX', ''),
  topicPartitions: int('HUB_TOPIC_PARTITIONS', 6, { min: 1, max: 1000 }),
  topicReplicationFactor: int('HUB_TOPIC_REPLICATION_FACTOR', 1, { min: 1, max: 10 }),
  schemaRegistryUrl: url('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:8081/apis/ccompat/v7', ['http:', 'https:']),
  mongodbUri: url('MONGODB_URI', 'mongodb://127.0.0.1:27017/?directConnection=true', ['mongodb:', 'mongodb+srv:']),
  mongodbDatabase: str('MONGODB_DATABASE', 'crm_hub'),
  logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
} as const;

export type BaseConfig = ConfigOf<typeof baseConfigSpec>;

/** Every environment variable the hub reads, for docs and the compose-file check. */
export function variablesOf(spec: Spec): string[] {
  return Object.values(spec).map((f) => f.variable);
}

export function loadConfigOrExit<S extends Spec>(spec: S, env: Env = process.env): ConfigOf<S> {
  try {
    return readConfig(spec, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

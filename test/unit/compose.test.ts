/**
 * docker-compose.yml cannot run here (no Docker engine), so this checks what can go
 * stale: every hub service in the code has a compose service, every compose service
 * that runs hub code points at an existing main.ts, and every variable given to a hub
 * service is one the code's configuration reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { parse } from 'yaml';
import { variablesOf } from '../../libs/config/index.ts';

interface ComposeService { command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> }

const compose = parse(await readFile('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const codeServices = (await readdir('services')).filter((n) => existsSync(`services/${n}/main.ts`));

async function configVariables(service: string): Promise<string[]> {
  const mod = (await import(`../../services/${service}/config.ts`)) as Record<string, unknown>;
  const spec = Object.entries(mod).find(([name]) => name.endsWith('ConfigSpec'))?.[1];
  assert.ok(spec, `services/${service}/config.ts exports a *ConfigSpec`);
  return variablesOf(spec as Parameters<typeof variablesOf>[0]);
}

test('every hub service has a compose service running its main.ts', () => {
  for (const name of codeServices) {
    const svc = compose.services[name];
    assert.ok(svc, `compose defines ${name}`);
    assert.ok(svc.command?.includes(`services/${name}/main.ts`), `${name} runs services/${name}/main.ts`);
  }
});

test('compose services that run hub code point at existing services', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    const main = svc.command?.find((c) => /^services\/[^/]+\/main\.ts$/.test(c));
    if (!main) continue;
    assert.ok(existsSync(main), `${name}: ${main} exists`);
    assert.equal(main, `services/${name}/main.ts`, 'the compose service is named after the hub service');
  }
});

test('every variable given to a hub service is read by its configuration', async () => {
  for (const name of codeServices) {
    const known = new Set(await configVariables(name));
    const given = Object.keys(compose.services[name]?.environment ?? {});
    assert.ok(given.length > 0, `${name} gets its configuration from compose`);
    for (const variable of given) assert.ok(known.has(variable), `${name}: ${variable} is not read by services/${name}/config.ts`);
    for (const required of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URI']) {
      assert.ok(given.includes(required), `${name} is given ${required}`);
    }
  }
});

test('hub services wait for the stack parts they use', () => {
  for (const name of codeServices) {
    const deps = Object.keys(compose.services[name]?.depends_on ?? {});
    for (const part of ['kafka', 'schema-registry', 'mongodb']) assert.ok(deps.includes(part), `${name} depends on ${part}`);
    for (const part of deps) assert.ok(compose.services[part], `${part} is defined`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { baseConfigSpec, readConfig, ConfigError, int, str } from '../../libs/config/index.ts';

test('defaults point at the local stack and the result is frozen', () => {
  const c = readConfig(baseConfigSpec, {});
  assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:9092']);
  assert.equal(c.schemaRegistryUrl, 'http://127.0.0.1:8081/apis/ccompat/v7');
  assert.equal(c.mongodbUri, 'mongodb://127.0.0.1:27017/?directConnection=true');
  assert.ok(Object.isFrozen(c));
});

test('environment values override defaults', () => {
  const c = readConfig(baseConfigSpec, { KAFKA_BROKERS: 'a:1, b:2', HUB_TOPIC_PARTITIONS: '12', LOG_LEVEL: 'debug' });
  assert.deepEqual(c.kafkaBrokers, ['a:1', 'b:2']);
  assert.equal(c.topicPartitions, 12);
  assert.equal(c.logLevel, 'debug');
});

for (const [variable, value, pattern] of [
  ['KAFKA_BROKERS', 'localhost', /KAFKA_BROKERS: "localhost" is not host:port/],
  ['HUB_TOPIC_PARTITIONS', 'many', /HUB_TOPIC_PARTITIONS: must be an integer/],
  ['HUB_TOPIC_PARTITIONS', '0', /HUB_TOPIC_PARTITIONS: must be >= 1/],
  ['SCHEMA_REGISTRY_URL', 'ftp://x', /SCHEMA_REGISTRY_URL: must use http: or https:/],
  ['MONGODB_URI', 'not a url', /MONGODB_URI: "not a url" is not a URL/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL: must be one of/],
] as const) {
  test(`a bad ${variable} is refused naming the variable`, () => {
    assert.throws(() => readConfig(baseConfigSpec, { [variable]: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, variable);
      assert.match(err.message, pattern);
      return true;
    });
  });
}

test('required values without default are refused when missing', () => {
  assert.throws(() => readConfig({ token: str('HUB_ADMIN_TOKEN') }, {}), /HUB_ADMIN_TOKEN: is required/);
  assert.throws(() => readConfig({ n: int('N', 1, { max: 5 }) }, { N: '6' }), /N: must be <= 5/);
});

test('a service started with a bad value stops with one line naming the variable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/record-projector/main.ts'], {
    env: { ...process.env, KAFKA_BROKERS: 'nope' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 78);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? '', /^config error: KAFKA_BROKERS: "nope" is not host:port$/);
});

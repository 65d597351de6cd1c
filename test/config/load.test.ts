import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile, parseConfig, substituteEnv } from '../../src/config/load.js';
import { scrub } from '../../src/config/secrets.js';
import { UsageError } from '../../src/core/errors.js';
import { withTempDir } from '../dataset/helpers.js';

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected an error');
}

test('an empty config is valid and has every default', () => {
  const config = parseConfig({}, {});
  assert.equal(config.dataDir, './data');
  assert.deepEqual(config.dataset.grades, ['U0', 'U50', 'U90']);
  assert.equal(config.dataset.files, 100);
  assert.equal(config.dataset.seed, 42);
});

test('validation errors name the path and the bad value', () => {
  assert.match(usageMessage(() => parseConfig({ dataset: { files: 'many' } }, {})), /dataset\.files: .*\(got "many"\)/);
  assert.match(usageMessage(() => parseConfig({ dataset: { grades: ['U50', 'U100'] } }, {})), /dataset\.grades\[1\]: expected U0 … U99 \(got "U100"\)/);
  assert.match(usageMessage(() => parseConfig({ systems: [{ id: 'redis', instance: 'Bad Name' }] }, {})), /systems\[0\]\.instance: .*\(got "Bad Name"\)/);
  assert.match(usageMessage(() => parseConfig({ dataset: { colour: 'red' } }, {})), /dataset: Unrecognized key: "colour"/);
});

test('${ENV} and ${ENV:-default} are substituted; an unset variable names itself and its path', () => {
  const env = { PG_HOST: 'db.local', EMPTY: '' };
  assert.deepEqual(substituteEnv({ a: '${PG_HOST}:5432', b: ['${MISSING:-fallback}'], c: '${EMPTY:-used}', d: 7 }, env), {
    a: 'db.local:5432',
    b: ['fallback'],
    c: 'used',
    d: 7,
  });
  const config = parseConfig({ dataDir: '${DATA_ROOT}/lab' }, { DATA_ROOT: '/srv' });
  assert.equal(config.dataDir, '/srv/lab');
  assert.match(usageMessage(() => parseConfig({ systems: [{ id: 'redis', options: { host: '${NOPE}' } }] }, {})), /config systems\[0\]\.options\.host: environment variable NOPE is not set/);
});

test('passwordFile reads the secret from a file, and the secret never appears in error text', async () => {
  await withTempDir(async (dir) => {
    const secretFile = join(dir, 'pg-password');
    await writeFile(secretFile, 'file-secret-123\n');
    const config = parseConfig({ systems: [{ id: 'postgresql', options: { passwordFile: secretFile, port: 5432 } }] }, {});
    assert.equal(config.systems[0]?.options.password, 'file-secret-123');
    assert.equal(scrub('connect failed for file-secret-123'), 'connect failed for ***');

    // A bad value next to the secret: the error names the path but never the password.
    const message = usageMessage(() =>
      parseConfig({ systems: [{ id: 'postgresql', options: { password: '${PG_PASSWORD}' }, probes: { primary: 5 } }] }, { PG_PASSWORD: 'env-secret-456' }),
    );
    assert.match(message, /systems\[0\]\.probes\.primary/);
    assert.ok(!message.includes('env-secret-456'), message);
    // The secret field itself being invalid shows *** instead of the value.
    const badSecret = usageMessage(() => parseConfig({ systems: [{ id: 'x', bogus: { token: 'tok-secret-789' } }] }, {}));
    assert.ok(!badSecret.includes('tok-secret-789'), badSecret);
    // A misspelled secret key is not a known secret: objects are described, never dumped.
    const misspelled = usageMessage(() => parseConfig({ systems: [{ id: 'redis', pasword: 'typo-secret-000' }] }, {}));
    assert.match(misspelled, /Unrecognized key: "pasword"/);
    assert.ok(!misspelled.includes('typo-secret-000'), misspelled);
    assert.match(usageMessage(() => parseConfig({ systems: [{ id: 'x', options: { passwordFile: join(dir, 'nope') } }] }, {})), /systems\[0\]\.options\.passwordFile: cannot read secret file/);
  });
});

test('config files: YAML and JSON load; syntax errors give the place, never the text around it', async () => {
  await withTempDir(async (dir) => {
    const yaml = join(dir, 'lab.yaml');
    await writeFile(yaml, 'dataDir: /tmp/x\ndataset:\n  files: 7\n');
    assert.equal(loadConfigFile(yaml, {}).dataset.files, 7);
    const json = join(dir, 'lab.json');
    await writeFile(json, JSON.stringify({ dataset: { seed: 9 } }));
    assert.equal(loadConfigFile(json, {}).dataset.seed, 9);

    const brokenJson = join(dir, 'broken.json');
    await writeFile(brokenJson, '{"systems": [{"id": "postgresql", "options": {"password": hunter2-secret}}]}');
    const jsonMessage = usageMessage(() => loadConfigFile(brokenJson, {}));
    assert.match(jsonMessage, /broken\.json: not valid JSON/);
    assert.ok(!jsonMessage.includes('hunter2'), jsonMessage);

    const brokenYaml = join(dir, 'broken.yaml');
    await writeFile(brokenYaml, 'systems:\n  - id: redis\n    options: {password: yaml-secret-1, : }\n  bad: [\n');
    const yamlMessage = usageMessage(() => loadConfigFile(brokenYaml, {}));
    assert.match(yamlMessage, /broken\.yaml: not valid YAML at line \d+, column \d+$/);
    assert.ok(!yamlMessage.includes('yaml-secret-1'), yamlMessage);

    assert.match(usageMessage(() => loadConfigFile(join(dir, 'missing.yaml'), {})), /cannot read config file ".*missing\.yaml"/);
  });
});

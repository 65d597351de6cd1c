/**
 * Safety of the KV adapters (SPEC §10): injection-shaped lab names are refused before any I/O,
 * secrets never appear in error text, and adapters never touch look-alike objects outside the lab.
 * Canaries: per system through the real CLI below (`run` then `cleanup`), and per stage by the
 * contract suite in redis/kafka/minio/nats.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../experiment/helpers.js';
import { loadSystem } from '../../src/systems/registry.js';
import { InvalidLabNameError } from '../../src/systems/types.js';
import { HOSTILE_LAB_NAMES } from './contract.js';
import {
  type Canaries,
  kafkaCanaries,
  kafkaOptionsFromEnv,
  natsCanaries,
  natsOptionsFromEnv,
  redisCanaries,
  redisOptionsFromEnv,
  requireEnv,
  s3Canaries,
  s3OptionsFromEnv,
} from './kv-helpers.js';

const SYSTEMS: [string, () => Record<string, unknown>][] = [
  ['redis', redisOptionsFromEnv],
  ['kafka', kafkaOptionsFromEnv],
  ['minio', s3OptionsFromEnv],
  ['nats', natsOptionsFromEnv],
];

describe('kv safety', () => {
  for (const [system, options] of SYSTEMS) {
    test(`${system}: hostile lab names are refused in create(), before any connection`, async () => {
      const definition = await loadSystem(system);
      const parsed = definition.parseOptions(options());
      for (const name of [...HOSTILE_LAB_NAMES, 'lab:*', 'lab.>', 'lab*', 'lab_', 'a'.repeat(32)]) {
        if (name === 'lab_') continue; // valid by the shared pattern; checked below to stay inside its prefix
        assert.throws(() => definition.create(system, parsed, name), InvalidLabNameError, `${system} accepted ${JSON.stringify(name)}`);
      }
    });
  }

  test('wrong passwords fail with errors that do not contain the password', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['redis', { ...redisOptionsFromEnv(), password: 'wrong-Secr3t-redis!' }, 'wrong-Secr3t-redis!'],
      ['nats', { ...natsOptionsFromEnv(), password: 'wrong-Secr3t-nats!' }, 'wrong-Secr3t-nats!'],
      ['minio', { ...s3OptionsFromEnv(), secretAccessKey: 'wrong-Secr3t-s3!' }, 'wrong-Secr3t-s3!'],
    ];
    for (const [system, raw, secret] of cases) {
      const definition = await loadSystem(system);
      const adapter = definition.create(system, definition.parseOptions(raw), 'dedup_kv_safety');
      const error = await adapter.connect().then(
        () => null,
        (caught: unknown) => caught as Error,
      );
      await adapter.close();
      assert.ok(error, `${system} connected with a wrong password`);
      assert.ok(!error.message.includes(secret), `${system} error leaks the password: ${error.message}`);
      assert.ok(!String(error.stack).includes(secret), `${system} stack leaks the password`);
    }
  });

  test('bad options are usage errors that do not echo secret values', async () => {
    const definition = await loadSystem('redis');
    assert.throws(
      () => definition.parseOptions({ ...redisOptionsFromEnv(), password: 12345678, bogus: 1 }),
      (error: Error) => error.name === 'UsageError' || /options/.test(error.message),
    );
  });
});

/**
 * Through the real CLI (SPEC §10 safety, issue 5 #4): canaries outside the lab namespace, named
 * to be confused with it, are byte-identical after `run` (every variant, every stage) and after
 * `cleanup`; `cleanup` really removes the lab's objects; no secret appears on stdout, stderr or in
 * any file of the results folder.
 */
const CLI_LAB = 'dedup_kv_cli';
const cliDir = mkdtempSync(join(tmpdir(), 'dedup-kv-cli-safety-'));
after(() => rmSync(cliDir, { recursive: true, force: true }));

interface CliCase {
  system: string;
  options: Record<string, string>;
  canaries: () => Canaries;
  /** Names of objects the lab holds right now, read with a raw client. */
  labObjects: () => Promise<string[]>;
}

const CLI_CASES: CliCase[] = [
  {
    system: 'redis',
    options: { host: '${DEDUP_LAB_REDIS_URL_HOST}', port: '${DEDUP_LAB_REDIS_PORT}', password: '${DEDUP_LAB_REDIS_PASSWORD}' },
    // The lab's keys are `dedup_kv_cli:…`: same text without the separator, a longer lab name, a glob look-alike.
    canaries: () => redisCanaries([CLI_LAB, `${CLI_LAB}canary`, `${CLI_LAB}_x:f:0`, `${CLI_LAB}2:f:0`, `dedup_kv_cl*`]),
    labObjects: async () => {
      const { Redis } = await import('ioredis');
      const options = redisOptionsFromEnv();
      const redis = new Redis({ host: options.host as string, port: options.port as number, password: options.password as string });
      try {
        return await redis.keys(`${CLI_LAB}:*`);
      } finally {
        await redis.quit();
      }
    },
  },
  {
    system: 'kafka',
    options: { brokers: '${DEDUP_LAB_KAFKA_BROKERS}' },
    // The lab's topics are `dedup_kv_cli.<tag>` (+ `.refs`).
    canaries: () => kafkaCanaries([`${CLI_LAB}_canary`, `${CLI_LAB}canary`, `${CLI_LAB}.canary.x`, `${CLI_LAB}2.x`]),
    labObjects: async () => {
      const { Admin } = await import('@platformatic/kafka');
      const admin = new Admin({ clientId: 'kv-safety', bootstrapBrokers: [requireEnv('DEDUP_LAB_KAFKA_BROKERS')] });
      try {
        return (await admin.listTopics()).filter((name) => name.startsWith(`${CLI_LAB}.`) && !name.startsWith(`${CLI_LAB}.canary.`));
      } finally {
        await admin.close();
      }
    },
  },
  {
    system: 'minio',
    options: { endpoint: '${DEDUP_LAB_S3_ENDPOINT}', accessKeyId: '${DEDUP_LAB_S3_ACCESS_KEY}', secretAccessKey: '${DEDUP_LAB_S3_SECRET_KEY}' },
    // The lab's buckets are `dedup-kv-cli-<tag>`.
    canaries: () => s3Canaries(['dedup-kv-cli', 'dedup-kv-clicanary', 'dedup-kv-cli-canary-x', 'dedup-kv-cli2-x']),
    labObjects: async () => {
      const { S3Client, ListBucketsCommand } = await import('@aws-sdk/client-s3');
      const s3 = new S3Client({
        endpoint: requireEnv('DEDUP_LAB_S3_ENDPOINT'),
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: requireEnv('DEDUP_LAB_S3_ACCESS_KEY'), secretAccessKey: requireEnv('DEDUP_LAB_S3_SECRET_KEY') },
      });
      try {
        const names = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((bucket) => bucket.Name ?? '');
        return names.filter((name) => /^dedup-kv-cli-[a-z0-9]+$/.test(name));
      } finally {
        s3.destroy();
      }
    },
  },
  {
    system: 'nats',
    options: { servers: '${DEDUP_LAB_NATS_SERVERS}', user: '${DEDUP_LAB_NATS_USER}', password: '${DEDUP_LAB_NATS_PASSWORD}' },
    // The lab's streams are `dedup_kv_cli_<tag>`.
    canaries: () => natsCanaries([CLI_LAB, `${CLI_LAB}canary`, `${CLI_LAB}_canary_x`, `${CLI_LAB}2_x`]),
    labObjects: async () => {
      const { connect } = await import('@nats-io/transport-node');
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const options = natsOptionsFromEnv();
      const nc = await connect({ servers: options.servers as string, user: options.user as string, pass: options.password as string });
      try {
        const names: string[] = [];
        for await (const name of (await jetstreamManager(nc)).streams.names()) if (/^dedup_kv_cli_[a-z0-9]+$/.test(name)) names.push(name);
        return names;
      } finally {
        await nc.drain();
      }
    },
  },
];

const SECRETS = (): [string, string][] => [
  ['redis password', requireEnv('DEDUP_LAB_REDIS_PASSWORD')],
  ['nats password', requireEnv('DEDUP_LAB_NATS_PASSWORD')],
  ['s3 secret key', requireEnv('DEDUP_LAB_S3_SECRET_KEY')],
];

function assertNoSecrets(where: string, text: string): void {
  for (const [what, secret] of SECRETS()) assert.ok(!text.includes(secret), `${what} appears in ${where}`);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('kv safety through the CLI: canaries survive run and cleanup, no secret is written', () => {
  for (const item of CLI_CASES) {
    test(`${item.system}: run (every variant and stage) and cleanup leave look-alike canaries byte-identical`, async () => {
      const config = join(cliDir, `${item.system}.json`);
      const resultsDir = join(cliDir, `results-${item.system}`);
      writeFileSync(
        config,
        JSON.stringify({
          labName: CLI_LAB,
          dataDir: join(cliDir, 'data'),
          dataset: { grades: ['U50'], files: 6, minSize: 4096, maxSize: 8192 },
          systems: [{ id: item.system, options: item.options }],
        }),
      );
      const canaries = item.canaries();
      await canaries.create();
      try {
        const original = await canaries.read();
        assert.doesNotMatch(original, /missing|failed/, 'canaries were not created');

        const runArgs = ['run', '--config', config, '--systems', item.system, '--payload-types', 'random_binary'];
        const run = await runCli([...runArgs, '--results-dir', join(resultsDir, 'full')]);
        assert.equal(run.code, 0, `run failed:\n${run.stderr}`);
        assert.equal(await canaries.read(), original, 'a canary changed during run');
        // A full cell ends empty (per-file deletes); leave bulk-loaded data so cleanup has work to do.
        const load = await runCli([...runArgs, '--stages', 'bulk_insert', '--keep-lab', '--results-dir', join(resultsDir, 'kept')]);
        assert.equal(load.code, 0, `run --keep-lab failed:\n${load.stderr}`);
        assert.equal(await canaries.read(), original, 'a canary changed during run --keep-lab');
        assert.ok((await item.labObjects()).length > 0, '--keep-lab left no lab objects: cleanup would prove nothing');

        const cleanup = await runCli(['cleanup', '--config', config, '--systems', item.system]);
        assert.equal(cleanup.code, 0, `cleanup failed:\n${cleanup.stderr}`);
        assert.deepEqual(await item.labObjects(), [], 'cleanup left lab objects');
        assert.equal(await canaries.read(), original, 'a canary changed during cleanup');

        for (const [name, output] of Object.entries({ run, load, cleanup }).flatMap(([step, out]) => [[`${step} stdout`, out.stdout], [`${step} stderr`, out.stderr]] as const)) {
          assertNoSecrets(name, output);
        }
        const written = filesUnder(resultsDir);
        assert.ok(written.some((file) => file.endsWith('results.jsonl')) && written.some((file) => file.endsWith('environment.json')), `results missing: ${written.join(', ')}`);
        for (const file of written) assertNoSecrets(file, readFileSync(file, 'latin1'));
      } finally {
        await canaries.drop();
      }
    });
  }
});

/**
 * Safety of the SQL adapters through the real CLI (SPEC §10): injection-shaped lab names are
 * refused with exit 2 before any server is contacted, and the refusal prints no password; a canary
 * table outside the lab in each server is byte-identical after `run` and after `cleanup`, and no
 * password appears in stdout, stderr or any file of the results folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { varUInt } from '../../src/systems/clickhouse.js';
import { runCli } from '../experiment/helpers.js';
import { clickhouseAdmin, mariadbAdmin, pgAdmin, requireEnv } from './sql-helpers.js';

/** PostgreSQL connection options as `${ENV}` references, as a user would write them (no password in the file). */
const PG_ENV_OPTIONS = {
  host: '${DEDUP_LAB_PG_URL_HOST}',
  port: '${DEDUP_LAB_PG_PORT}',
  user: '${DEDUP_LAB_PG_USER}',
  password: '${DEDUP_LAB_PG_PASSWORD}',
  database: '${DEDUP_LAB_PG_DATABASE}',
};

const dir = mkdtempSync(join(tmpdir(), 'dedup-sql-safety-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runWithLab(labName: string): { status: number | null; output: string } {
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      labName,
      dataDir: join(dir, 'data'),
      dataset: { grades: ['U0'], files: 2, minSize: 4096, maxSize: 4096 },
      systems: [
        { id: 'postgresql', options: PG_ENV_OPTIONS },
      ],
    }),
  );
  const result = spawnSync(process.execPath, ['bin/dedup-lab.js', 'run', '--config', config, '--payload-types', 'random_binary', '--results-dir', join(dir, 'results')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('SQL lab names that could inject are refused before any I/O', () => {
  for (const labName of ['dedup_lab; DROP SCHEMA public', "dedup'lab", 'dedup"lab', '']) {
    test(`refused: ${JSON.stringify(labName)}`, async () => {
      const { status, output } = runWithLab(labName);
      assert.equal(status, 2, output);
      assert.match(output, /lab name/i);
      assert.ok(!output.includes(requireEnv('DEDUP_LAB_PG_PASSWORD')), 'password printed');
      const schemas = await pgAdmin<{ n: string }>("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'public'");
      assert.equal(schemas[0]?.n, '1', 'public schema still exists');
    });
  }
});

/** Known bytes (every byte value, NULs and quotes included) held outside the lab namespace. */
const CANARY_BYTES = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) % 256));
const CLI_LAB = 'dedup_cli_safe';
/** Look-alike names sharing the lab's text as a prefix: a prefix-matching cleanup would catch them. */
const CANARY = `${CLI_LAB}_canary`;

interface Canary {
  system: string;
  create(): Promise<void>;
  /** Hex of the stored bytes. */
  read(): Promise<string>;
  labExists(): Promise<boolean>;
  drop(): Promise<void>;
}

const CANARIES: Canary[] = [
  {
    system: 'postgresql',
    async create() {
      await pgAdmin(`DROP SCHEMA IF EXISTS ${CANARY} CASCADE`);
      await pgAdmin(`CREATE SCHEMA ${CANARY}`);
      await pgAdmin(`CREATE TABLE ${CANARY}.keep (k bytea)`);
      await pgAdmin(`INSERT INTO ${CANARY}.keep VALUES ($1)`, [CANARY_BYTES]);
    },
    read: async () => (await pgAdmin<{ h: string }>(`SELECT encode(k, 'hex') AS h FROM ${CANARY}.keep`)).map((row) => row.h).join(','),
    labExists: async () => (await pgAdmin('SELECT 1 FROM pg_namespace WHERE nspname = $1', [CLI_LAB])).length > 0,
    drop: async () => void (await pgAdmin(`DROP SCHEMA IF EXISTS ${CANARY} CASCADE`)),
  },
  {
    system: 'mariadb',
    async create() {
      await mariadbAdmin(`DROP DATABASE IF EXISTS ${CANARY}`);
      await mariadbAdmin(`CREATE DATABASE ${CANARY}`);
      await mariadbAdmin(`CREATE TABLE ${CANARY}.keep (k LONGBLOB) ENGINE=InnoDB`);
      await mariadbAdmin(`INSERT INTO ${CANARY}.keep VALUES (?)`, [CANARY_BYTES]);
    },
    read: async () => (await mariadbAdmin<{ h: string }[]>(`SELECT lower(hex(k)) AS h FROM ${CANARY}.keep`)).map((row) => row.h).join(','),
    labExists: async () => (await mariadbAdmin<unknown[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [CLI_LAB])).length > 0,
    drop: async () => void (await mariadbAdmin(`DROP DATABASE IF EXISTS ${CANARY}`)),
  },
  {
    system: 'clickhouse',
    async create() {
      await clickhouseAdmin(`DROP DATABASE IF EXISTS ${CANARY}`);
      await clickhouseAdmin(`CREATE DATABASE ${CANARY}`);
      await clickhouseAdmin(`CREATE TABLE ${CANARY}.keep (k String) ENGINE = MergeTree() ORDER BY tuple()`);
      await clickhouseAdmin(`INSERT INTO ${CANARY}.keep FORMAT RowBinary`, Buffer.concat([varUInt(CANARY_BYTES.length), CANARY_BYTES]));
    },
    read: async () => clickhouseAdmin(`SELECT lower(hex(k)) FROM ${CANARY}.keep FORMAT TabSeparated`),
    labExists: async () => (await clickhouseAdmin(`SELECT count() FROM system.databases WHERE name = '${CLI_LAB}'`)) === '1',
    drop: async () => void (await clickhouseAdmin(`DROP DATABASE IF EXISTS ${CANARY}`)),
  },
];

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

describe('SQL servers through the CLI: canaries survive run and cleanup, no password anywhere', () => {
  const work = mkdtempSync(join(tmpdir(), 'dedup-sql-cli-safety-'));
  after(async () => {
    for (const canary of CANARIES) await canary.drop();
    rmSync(work, { recursive: true, force: true });
  });
  const passwords = () => [requireEnv('DEDUP_LAB_PG_PASSWORD'), requireEnv('DEDUP_LAB_MARIADB_PASSWORD'), requireEnv('DEDUP_LAB_CLICKHOUSE_PASSWORD')];

  test('run (every stage, every variant) then cleanup: canaries byte-identical after each, lab gone after cleanup', { timeout: 300_000 }, async () => {
    for (const canary of CANARIES) await canary.create();
    const expected = CANARY_BYTES.toString('hex');
    for (const canary of CANARIES) assert.equal(await canary.read(), expected, `${canary.system} canary written`);

    const config = join(work, 'config.json');
    // Passwords only as ${ENV} references, as a user would write them.
    writeFileSync(
      config,
      JSON.stringify({
        labName: CLI_LAB,
        systems: [
          { id: 'postgresql', options: { ...PG_ENV_OPTIONS, dataDir: '${DEDUP_LAB_PG_DATA_DIR}' } },
          {
            id: 'mariadb',
            options: {
              host: '127.0.0.1',
              port: '${DEDUP_LAB_MARIADB_PORT}',
              user: '${DEDUP_LAB_MARIADB_USER}',
              password: '${DEDUP_LAB_MARIADB_PASSWORD}',
              dataDir: '${DEDUP_LAB_MARIADB_DATA_DIR}',
            },
          },
          {
            id: 'clickhouse',
            options: {
              url: '${DEDUP_LAB_CLICKHOUSE_URL}',
              user: '${DEDUP_LAB_CLICKHOUSE_USER}',
              password: '${DEDUP_LAB_CLICKHOUSE_PASSWORD}',
              dataDir: '${DEDUP_LAB_CLICKHOUSE_DATA_DIR}',
            },
          },
        ],
      }),
    );
    const results = join(work, 'results');
    const run = await runCli(
      ['run', '--config', config, '--keep-lab', '--payload-types', 'random_binary', '--grades', 'U50', '--files', '6', '--min-size', '4KiB', '--max-size', '16KiB', '--data-dir', join(work, 'data'), '--results-dir', results],
      { cwd: work },
    );
    assert.equal(run.code, 0, run.stderr);
    for (const canary of CANARIES) {
      assert.equal(await canary.read(), expected, `${canary.system} canary changed by run`);
      assert.equal(await canary.labExists(), true, `${canary.system}: --keep-lab left the lab for cleanup to drop`);
    }

    const cleanup = await runCli(['cleanup', '--config', config], { cwd: work });
    assert.equal(cleanup.code, 0, cleanup.stderr);
    for (const canary of CANARIES) {
      assert.equal(await canary.read(), expected, `${canary.system} canary changed by cleanup`);
      assert.equal(await canary.labExists(), false, `${canary.system}: lab still there after cleanup`);
    }

    const outputs: [string, string][] = [
      ['run stdout', run.stdout],
      ['run stderr', run.stderr],
      ['cleanup stdout', cleanup.stdout],
      ['cleanup stderr', cleanup.stderr],
      ...filesUnder(results).map((path): [string, string] => [path, readFileSync(path, 'latin1')]),
    ];
    assert.ok(outputs.some(([path]) => path.endsWith('results.jsonl')) && outputs.some(([path]) => path.endsWith('environment.json')), 'results were written');
    for (const [where, text] of outputs) {
      for (const password of passwords()) assert.ok(!text.includes(password), `a password appears in ${where}`);
    }
  });
});

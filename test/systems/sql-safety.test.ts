/**
 * Safety of the SQL adapters through the real CLI: injection-shaped lab names are refused with
 * exit 2 before any server is contacted, and the refusal prints no password.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pgAdmin, requireEnv } from './sql-helpers.js';

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
        {
          id: 'postgresql',
          options: {
            host: '${DEDUP_LAB_PG_URL_HOST}',
            port: '${DEDUP_LAB_PG_PORT}',
            user: '${DEDUP_LAB_PG_USER}',
            password: '${DEDUP_LAB_PG_PASSWORD}',
            database: '${DEDUP_LAB_PG_DATABASE}',
          },
        },
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

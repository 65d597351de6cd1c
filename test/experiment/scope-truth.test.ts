/**
 * `--delete-scope duplicates` truth test (SPEC §4.1) on the real servers of scripts/services.sh
 * (hold the servers lock): deleting only the copies gives back ≈ nothing on a variant that stores
 * a content once and ≈ the copies' bytes on one that stores every copy, read from the records the
 * runner writes. 40 random files of 64–128 KiB at U50 (20 copies).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { clickhouseOptionsFromEnv } from '../systems/sql-helpers.js';
import { natsOptionsFromEnv, redisOptionsFromEnv } from '../systems/kv-helpers.js';
import { runInProcess, tempDir } from './helpers.js';

/** system → [variant storing every copy, variant storing a content once]. */
const PAIRS = { redis: ['by-id', 'by-content'], nats: ['plain', 'msg-id'], clickhouse: ['mergetree', 'replacing'] } as const;

describe('--delete-scope duplicates: copies give back about their bytes, or about nothing where a content is stored once (real servers)', () => {
  let records: StageRecord[] = [];
  before(async () => {
    const root = tempDir('scope-truth');
    const config = parseConfig({
      labName: 'dedup_scope_truth',
      systems: [
        { id: 'redis', options: redisOptionsFromEnv() },
        { id: 'nats', options: natsOptionsFromEnv() },
        { id: 'clickhouse', options: clickhouseOptionsFromEnv() },
      ],
    });
    const run = await runInProcess({
      config,
      cli: { systems: 'redis,nats,clickhouse', stages: 'perfile_insert,perfile_delete', deleteScope: 'duplicates', payloadTypes: 'random_binary', grades: 'U50', files: '40', minSize: '64KiB', maxSize: '128KiB' },
      dataDir: join(root, 'data'),
      resultsDir: join(root, 'results'),
    });
    assert.deepEqual(run.summary.failedCells, []);
    records = run.records;
  });

  for (const [system, [everyCopy, once]] of Object.entries(PAIRS)) {
    it(`${system}: ${everyCopy} gives back ≈ the copies' bytes, ${once} ≈ nothing`, (t) => {
      const deleted = (variant: string) => {
        const record = records.find((r) => r.system === system && r.variant === variant && r.stage === 'perfile_delete');
        assert.ok(record, `no ${system} ${variant} delete record`);
        assert.equal(record.deleteScope, 'duplicates');
        assert.equal(record.files, 20);
        return record;
      };
      const all = deleted(everyCopy);
      const one = deleted(once);
      t.diagnostic(`${system} ${everyCopy}: reclaimed ${all.reclaimedBytes} of ${all.logicalBytes}; ${once}: reclaimed ${one.reclaimedBytes}`);
      assert.ok(all.reclaimedBytes !== null && all.reclaimedBytes > 0.8 * all.logicalBytes && all.reclaimedBytes < 1.3 * all.logicalBytes, `${everyCopy}: ${all.reclaimedBytes} of ${all.logicalBytes}`);
      assert.ok(one.reclaimedBytes !== null && Math.abs(one.reclaimedBytes) < 0.05 * one.logicalBytes, `${once}: ${one.reclaimedBytes} of ${one.logicalBytes}`);
    });
  }
});

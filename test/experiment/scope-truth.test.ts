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
      // Whether a system stores a content once is a question about what it holds, so this reads the
      // system's own accounting (`internal`). The headline reclaimedBytes comes from the storage
      // layer, which often gives back nothing at the delete itself (NATS file store blocks, ClickHouse
      // parts until old_parts_lifetime): that is physical-truth.test.ts's subject, logged here.
      const internalReclaimed = (record: (typeof records)[number]) => record.probes.find((probe) => probe.name === 'internal')?.reclaimedBytes ?? null;
      const all = deleted(everyCopy);
      const one = deleted(once);
      const allBytes = internalReclaimed(all);
      const oneBytes = internalReclaimed(one);
      t.diagnostic(`${system} ${everyCopy}: internal reclaimed ${allBytes} of ${all.logicalBytes} (primary ${all.primaryProbe}: ${all.reclaimedBytes}); ${once}: internal ${oneBytes} (primary: ${one.reclaimedBytes})`);
      assert.ok(allBytes !== null && allBytes > 0.8 * all.logicalBytes && allBytes < 1.3 * all.logicalBytes, `${everyCopy}: ${allBytes} of ${all.logicalBytes}`);
      assert.ok(oneBytes !== null && Math.abs(oneBytes) < 0.05 * one.logicalBytes, `${once}: ${oneBytes} of ${one.logicalBytes}`);
    });
  }
});

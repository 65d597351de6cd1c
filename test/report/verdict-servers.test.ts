/**
 * The answer table against real servers: a run over U0 and U90 of random data must say "no dedup"
 * where every copy is stored (Redis by-id, ClickHouse MergeTree with files ≥ 64 KiB, Kafka
 * delete), "dedup at ingest" for content-keyed Redis, and "dedup at compaction" for Kafka's
 * compacted topic, which only the log cleaner shrinks. ClickHouse ReplacingMergeTree collapses
 * duplicates in merges, which the server may also run on its own right after the load (before the
 * readings settle), so there either verdict is true.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { dedupVerdicts } from '../../src/report/verdict.js';
import { runInProcess, tempDir } from '../experiment/helpers.js';
import { kafkaOptionsFromEnv, redisOptionsFromEnv } from '../systems/kv-helpers.js';
import { clickhouseOptionsFromEnv } from '../systems/sql-helpers.js';

const CASES: [system: string, options: () => Record<string, unknown>, expected: Record<string, RegExp>][] = [
  ['redis', redisOptionsFromEnv, { 'by-id': /^no dedup($|;)/, 'by-content': /^dedup at ingest \((9\d|100) % of ideal\)/ }],
  ['clickhouse', clickhouseOptionsFromEnv, { mergetree: /^no dedup($|;)/, replacing: /^dedup at (ingest|compaction) \((8\d|9\d|100) % of ideal/ }],
  ['kafka', kafkaOptionsFromEnv, { delete: /^no dedup($|;)/, compact: /^dedup at compaction \((8\d|9\d|100) % of ideal; \d % at ingest\)/ }],
];

for (const [system, options, expected] of CASES) {
  test(`${system}: the answer table says where deduplication happens for ${Object.keys(expected).join(' and ')}`, { timeout: 300_000 }, async (t) => {
    const dir = tempDir(`verdict-${system}`);
    try {
      const config = parseConfig({ labName: 'dedup_verdict', systems: [{ id: system, options: options() }] });
      const run = await runInProcess({
        config,
        cli: {
          systems: system,
          variants: Object.keys(expected).map((variant) => `${system}:${variant}`).join(','),
          stages: 'bulk_insert,compaction',
          payloadTypes: 'random_binary',
          grades: 'U0,U90',
          files: '40',
          fileSize: '64KiB',
        },
        dataDir: join(dir, 'data'),
        resultsDir: join(dir, 'results'),
      });
      assert.equal(run.summary.failedCells.length, 0, JSON.stringify(run.summary.failedCells));
      const verdicts = dedupVerdicts(run.records);
      for (const [variant, pattern] of Object.entries(expected)) {
        const verdict = verdicts.find((candidate) => candidate.variant === variant);
        assert.ok(verdict, `no verdict for ${variant}`);
        t.diagnostic(`${system} ${variant}: ${verdict.grades.map((grade) => `${grade.grade} ${grade.ingest?.toFixed(2)}→${grade.atRest?.toFixed(2)}`).join(', ')}: ${verdict.verdict}`);
        assert.match(verdict.verdict, pattern);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

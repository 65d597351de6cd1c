/**
 * cockroachdb adapter. No CockroachDB server can be installed on the test machine, so this file
 * runs the adapter's PostgreSQL-compatible path (connection, DDL, batched multi-row INSERT,
 * deletes, counts, lab safety) against the real PostgreSQL server in the documented
 * `postgresCompatTestMode`, and checks that CockroachDB-only operations are refused there (never
 * faked). Zone config, compaction, MVCC GC and the ranges size query are NOT verified here —
 * see docs/systems-sql.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { definition, detectDialect, multiRowBlobInsertSql } from '../../src/systems/cockroachdb.js';
import { batchFiles } from '../../src/systems/shared/stages.js';
import type { CellContext, SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { blobCell, labFiles, pgAdmin, pgContractHooks, pgOptionsFromEnv, streamOf } from './sql-helpers.js';

const CONTRACT_LAB = 'dedup_contract_crdb';
const compatOptions = () => {
  const { dataDir: _dataDir, ...options } = pgOptionsFromEnv();
  return { ...options, postgresCompatTestMode: true, batchBytes: 20_000 };
};

runContractSuite({
  definitionId: 'cockroachdb',
  options: compatOptions,
  labName: CONTRACT_LAB,
  ...pgContractHooks(CONTRACT_LAB, 'dedup_canary_crdb'),
});

describe('cockroachdb pure parts', () => {
  test('dialect detection refuses PostgreSQL unless the compat test mode is on', () => {
    assert.equal(detectDialect('CockroachDB CCL v23.2.1 (x86_64-pc-linux-gnu)', false), 'cockroachdb');
    assert.equal(detectDialect('PostgreSQL 15.18 (Debian)', true), 'postgresql-compat');
    assert.throws(() => detectDialect('PostgreSQL 15.18 (Debian)', false), /not CockroachDB/);
  });
  test('batches respect the byte budget and always carry at least one file', async () => {
    const files = labFiles({ count: 5, size: 1000, duplicates: 0, kind: 'random' });
    const sizes: number[] = [];
    for await (const batch of batchFiles(streamOf(files), 100, 2500)) sizes.push(batch.length);
    assert.deepEqual(sizes, [2, 2, 1]);
    const single: number[] = [];
    for await (const batch of batchFiles(streamOf(files), 100, 10)) single.push(batch.length);
    assert.deepEqual(single, [1, 1, 1, 1, 1]);
  });
  test('multi-row INSERT numbers its parameters', () => {
    assert.match(multiRowBlobInsertSql('lab', 2), /VALUES \(\$1, \$2, \$3, \$4, \$5\), \(\$6, \$7, \$8, \$9, \$10\)$/);
  });
});

describe('cockroachdb against PostgreSQL (compat test mode)', () => {
  let adapter: SystemAdapter;
  before(async () => {
    adapter = definition.create('cockroachdb', definition.parseOptions(compatOptions()), 'dedup_lab_crdbtest');
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  test('without the compat flag a PostgreSQL server is refused at connect', async () => {
    const { postgresCompatTestMode: _flag, ...plain } = compatOptions();
    const strict = definition.create('cockroachdb', definition.parseOptions(plain), 'dedup_lab_crdbtest');
    await assert.rejects(strict.connect(), /not CockroachDB/);
    await strict.close();
  });

  test('version says it is not CockroachDB; CockroachDB-only stages are not applicable, not faked', async () => {
    assert.match(await adapter.version(), /postgres-compat test mode, not CockroachDB/);
    const cell = blobCell('default');
    await adapter.resetLab(cell);
    assert.match(String((await adapter.compact(cell))?.notApplicable), /CockroachDB-only/);
    assert.match(String((await adapter.maintenance(cell))?.notApplicable), /CockroachDB-only/);
  });

  test('batched multi-row INSERT acknowledges per committed batch', async () => {
    const cell = blobCell('default');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 9, size: 8000, duplicates: 3, kind: 'random' });
    const outcome = await adapter.bulkInsert(streamOf(files), cell);
    assert.deepEqual(outcome, { acknowledged: files.map((file) => file.id), failed: [] });
    assert.equal(await adapter.countStored(cell), 9);
  });

  // Compat mode only: CockroachDB itself is not verified (see docs/systems-sql.md).
  test('placement across:3: each file in blobs_p<id % 3>; a batch spanning tables commits whole or not at all', async () => {
    const cell: CellContext = { ...blobCell('default'), placement: { kind: 'across', objects: 3 } };
    await adapter.resetLab(cell);
    const files = labFiles({ count: 6, size: 8000, duplicates: 0, kind: 'random' });
    // batchBytes 20 000: batches [0,1] [2,3] [4,5]; refuse file 3 (blobs_p0), so batch [2,3] fails in both its tables.
    await pgAdmin('ALTER TABLE dedup_lab_crdbtest.blobs_p0 ADD CONSTRAINT refuse_three CHECK (id <> 3)');
    const outcome = await adapter.bulkInsert(streamOf(files), cell);
    assert.deepEqual(outcome.acknowledged, [0, 1]);
    assert.deepEqual(outcome.failed.map((failure) => failure.id), [2, 3]);
    const stored = async (k: number) => (await pgAdmin<{ id: number }>(`SELECT id FROM dedup_lab_crdbtest.blobs_p${k} ORDER BY id`)).map((row) => Number(row.id));
    assert.deepEqual([await stored(0), await stored(1), await stored(2)], [[0], [1], []], 'file 2 of the refused batch is rolled back too');
    await adapter.dropAndRecreate!(cell);
    await adapter.bulkInsert(streamOf(files), cell);
    assert.deepEqual([await stored(0), await stored(1), await stored(2)], [[0, 3], [1, 4], [2, 5]], 'dropAndRecreate recreated all 3 tables (without the constraint)');
    for (const file of files) assert.ok((await adapter.readOne!(file, cell)).equals(file.content), `readOne of file ${file.id}`);
    await adapter.truncate!(cell);
    assert.equal(await adapter.countStored(cell), 0, 'truncate empties all 3 tables');
  });
});

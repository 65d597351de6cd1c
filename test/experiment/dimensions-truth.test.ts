/**
 * Truth tests of the research dimensions (SPEC §4.1) through the real runner, on the real
 * PostgreSQL server of scripts/services.sh (hold the servers lock) and on the embedded engines.
 * Data: 40 random files of 128–512 KiB at U50 (≈13 MB, 20 copies) so page granularity does not
 * dominate. Every number asserted is what the systems were observed to do.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { readManifest, datasetDir } from '../../src/dataset/generate.js';
import { duplicateCopyIds } from '../../src/experiment/dimensions.js';
import type { StageName } from '../../src/systems/types.js';
import { pgOptionsFromEnv } from '../systems/sql-helpers.js';
import { embeddedConfig, runInProcess, tempDir } from './helpers.js';

const STAGES = 'perfile_insert,perfile_delete,maintenance,maintenance_full,refill,read';
const DATA = { payloadTypes: 'random_binary', grades: 'U50', files: '40', minSize: '128KiB', maxSize: '512KiB' };

function finder(records: readonly StageRecord[]) {
  return (cellSuffix: string, stage: StageName): StageRecord => {
    const record = records.find((r) => r.cellId.endsWith(cellSuffix) && r.stage === stage);
    assert.ok(record, `no record for *${cellSuffix} ${stage}`);
    return record;
  };
}

async function duplicateBytes(dataDir: string): Promise<number> {
  const manifest = await readManifest(datasetDir(dataDir, 'random_binary', 'U50'));
  return duplicateCopyIds(manifest.entries).reduce((sum, id) => sum + (manifest.entries[id]?.size ?? 0), 0);
}

describe('PostgreSQL: plain VACUUM vs VACUUM FULL, delete scopes and methods, refill, read (real server)', () => {
  let records: StageRecord[] = [];
  let copies = 0;
  before(async () => {
    const root = tempDir('dims-pg');
    const config = parseConfig({ labName: 'dedup_dims_truth', systems: [{ id: 'postgresql', options: pgOptionsFromEnv() }] });
    const dataDir = join(root, 'data');
    const common = { systems: 'postgresql', variants: 'uncompressed', stages: STAGES, ...DATA };
    const all = await runInProcess({ config, cli: { ...common, deleteMethods: 'perfile,bulk,truncate,drop', cache: 'cold' }, dataDir, resultsDir: join(root, 'all') });
    const dup = await runInProcess({ config, cli: { ...common, deleteScope: 'duplicates' }, dataDir, resultsDir: join(root, 'dup') });
    assert.deepEqual([...all.summary.failedCells, ...dup.summary.failedCells], []);
    records = [...all.records, ...dup.records];
    copies = await duplicateBytes(dataDir);
  });

  it('every record carries its dimensions; the cell id names the non-default ones', () => {
    const find = finder(records);
    assert.equal(find('U50.r1.del-truncate.cold', 'perfile_delete').deleteMethod, 'truncate');
    assert.equal(find('U50.r1.dup', 'perfile_delete').deleteScope, 'duplicates');
    assert.equal(find('U50.r1.cold', 'read').cache, 'cold');
  });

  for (const method of ['', '.del-bulk', '.del-truncate', '.del-drop']) {
    it(`scope all${method || ' (perfile)'}: the lab empties; after VACUUM FULL the size is back near the empty baseline`, () => {
      const find = finder(records);
      const inserted = find(`U50.r1${method}.cold`, 'perfile_insert');
      const full = find(`U50.r1${method}.cold`, 'maintenance_full');
      assert.equal(find(`U50.r1${method}.cold`, 'perfile_delete').storedLogicalBytes, 0);
      assert.ok(full.residualBytes !== null && full.residualBytes < 0.02 * inserted.logicalBytes, `residual ${full.residualBytes}`);
    });
  }

  it('truncate and drop give the space back in the delete stage itself; per-file deletes give back nothing until VACUUM', () => {
    const find = finder(records);
    for (const method of ['.del-truncate', '.del-drop']) {
      const deleted = find(`U50.r1${method}.cold`, 'perfile_delete');
      assert.ok(deleted.reclaimedBytes !== null && deleted.reclaimedBytes > 0.95 * deleted.logicalBytes, `${method}: reclaimed ${deleted.reclaimedBytes} of ${deleted.logicalBytes}`);
    }
    assert.ok(Math.abs(find('U50.r1.cold', 'perfile_delete').reclaimedBytes ?? NaN) < 0.01 * find('U50.r1.cold', 'perfile_delete').logicalBytes);
  });

  it('scope duplicates: plain VACUUM gives back only the empty pages at the end (less than the copies), FULL gives back ≈ the copies', () => {
    const find = finder(records);
    const vacuum = find('U50.r1.dup', 'maintenance');
    const full = find('U50.r1.dup', 'maintenance_full');
    assert.equal(find('U50.r1.dup', 'perfile_delete').logicalBytes, copies);
    assert.ok(vacuum.reclaimedBytes !== null && vacuum.reclaimedBytes < 0.5 * copies, `VACUUM reclaimed ${vacuum.reclaimedBytes} of ${copies}`);
    const total = (vacuum.reclaimedBytes ?? 0) + (full.reclaimedBytes ?? 0);
    assert.ok(total > 0.9 * copies && total < 1.1 * copies, `VACUUM + FULL reclaimed ${total} of ${copies}`);
  });

  it('scope all, per-file: with every row gone plain VACUUM already truncates nearly the whole relation', () => {
    const find = finder(records);
    const vacuum = find('U50.r1.cold', 'maintenance');
    assert.ok(vacuum.reclaimedBytes !== null && vacuum.reclaimedBytes > 0.95 * find('U50.r1.cold', 'perfile_delete').logicalBytes, `VACUUM reclaimed ${vacuum.reclaimedBytes}`);
  });

  it('refill after VACUUM FULL grows like the first insert (nothing left to reuse); read-back verifies every file, cold is stated', () => {
    const find = finder(records);
    for (const suffix of ['U50.r1.cold', 'U50.r1.dup']) {
      const refill = find(suffix, 'refill');
      const growth = refill.probes.find((probe) => probe.name === 'internal')?.delta ?? NaN;
      assert.ok(refill.firstInsertGrowthBytes !== null && refill.firstInsertGrowthBytes !== undefined);
      const expected = suffix.endsWith('dup') ? refill.firstInsertGrowthBytes * (copies / find(suffix, 'perfile_insert').logicalBytes) : refill.firstInsertGrowthBytes;
      assert.ok(Math.abs(growth - expected) < 0.1 * expected, `${suffix}: refill grew ${growth}, expected ≈ ${expected}`);
      const read = find(suffix, 'read');
      assert.equal(read.error, null);
      assert.equal(read.files, 40);
      assert.equal(read.latencyUs?.count, 40);
    }
    assert.match(find('U50.r1.cold', 'read').coldCache ?? '', /shared_buffers: kept.*OS page cache/);
    assert.equal(find('U50.r1.dup', 'read').coldCache, null);
  });
});

describe('embedded engines: delete methods, two maintenance levels, refill, read', () => {
  let records: StageRecord[] = [];
  before(async () => {
    const root = tempDir('dims-embedded');
    const systems = ['sqlite', 'pglite', 'duckdb'];
    const run = await runInProcess({
      config: embeddedConfig(join(root, 'lab'), systems),
      cli: { systems: systems.join(','), variants: 'default', stages: STAGES, deleteMethods: 'perfile,bulk,truncate,drop', cache: 'cold', ...DATA },
      dataDir: join(root, 'data'),
      resultsDir: join(root, 'results'),
    });
    assert.deepEqual(run.summary.failedCells, []);
    records = run.records;
  });

  for (const system of ['sqlite', 'pglite', 'duckdb']) {
    it(`${system}: every method empties the lab, refill stores every file again, read verifies all 40`, () => {
      for (const method of ['', '.del-bulk', '.del-truncate', '.del-drop']) {
        const find = finder(records.filter((record) => record.system === system));
        const deleted = find(`U50.r1${method}.cold`, 'perfile_delete');
        assert.equal(deleted.error, null, `${method}: ${deleted.error?.message}`);
        assert.equal(deleted.edrFlag.status, 'not-applicable');
        assert.equal(deleted.storedLogicalBytes, 0, method);
        assert.equal(find(`U50.r1${method}.cold`, 'refill').files, 40);
        const read = find(`U50.r1${method}.cold`, 'read');
        assert.equal(read.files, 40, `${method}: ${read.edrFlag.reason}`);
        assert.ok(read.coldCache, 'cold is stated');
      }
    });
  }

  it('sqlite (auto_vacuum INCREMENTAL when maintenance_full runs): incremental_vacuum gives the free pages back, VACUUM then has ≈ nothing left', () => {
    const find = finder(records.filter((record) => record.system === 'sqlite'));
    const light = find('U50.r1.cold', 'maintenance');
    const inserted = find('U50.r1.cold', 'perfile_insert');
    assert.ok(light.reclaimedBytes !== null && light.reclaimedBytes > 0.95 * inserted.logicalBytes, `incremental_vacuum reclaimed ${light.reclaimedBytes}`);
    assert.ok(Math.abs(find('U50.r1.cold', 'maintenance_full').reclaimedBytes ?? NaN) < 0.02 * inserted.logicalBytes);
  });
});

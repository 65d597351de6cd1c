/**
 * chdb under `--placement across:K` (SPEC §4.1), read back from the engine's own tables: each file
 * lands in `blobs_p<id % K>` (no `blobs` table exists), `replacing` keeps one copy per table and
 * drops a content from a table only when no file of THAT table still references it, and
 * compaction merges every table. With no placement the DDL names stay `blobs` / `n_<type>`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chdbBlobTableDdl, chdbNativeTableDdl, definition, openChdbSession } from '../../src/systems/chdb.js';
import type { CellContext, SystemAdapter } from '../../src/systems/types.js';
import { FIXTURE_NATIVE_TABLE, iterate, makeCell, makeLabFiles } from './fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dedup-chdb-placement-'));
const LAB = 'dedup_placement';
const K = 3;
let adapter: SystemAdapter | null = null;
after(async () => {
  await adapter?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function labAdapter(): Promise<SystemAdapter> {
  adapter ??= definition.create('chdb', definition.parseOptions({ dataDir }), LAB);
  await adapter.connect();
  return adapter;
}

function acrossCell(variant: string): CellContext {
  return { ...makeCell({ variant, mode: 'blob' }), placement: { kind: 'across', objects: K } };
}

/** Rows of `query` on the adapter's open engine (same path: chdb shares it). */
async function rows(lab: SystemAdapter, query: string): Promise<unknown[][]> {
  const session = await openChdbSession(lab.localDataPaths()[0]!);
  try {
    const text = (await session.queryAsync(query, { format: 'JSONCompactEachRow' })).text().trim();
    return text ? text.split('\n').map((line) => JSON.parse(line) as unknown[]) : [];
  } finally {
    session.close();
  }
}

describe('chdb placement DDL (pure)', () => {
  it('within keeps the usual table names; across names the K tables and one file_refs', () => {
    assert.match(chdbBlobTableDdl('lab', 'mergetree').join('\n'), /^CREATE TABLE `lab`\.`blobs` \(/);
    assert.equal(chdbBlobTableDdl('lab', 'replacing').length, 2);
    const across = chdbBlobTableDdl('lab', 'replacing', ['blobs_p0', 'blobs_p1', 'blobs_p2']);
    assert.deepEqual(across.map((ddl) => /^CREATE TABLE `lab`\.`(\w+)`/.exec(ddl)?.[1]), ['blobs_p0', 'blobs_p1', 'blobs_p2', 'file_refs']);
    assert.match(chdbNativeTableDdl('lab', FIXTURE_NATIVE_TABLE, 'zstd').join('\n'), /^CREATE TABLE `lab`\.`n_fixture_rows` \(/);
  });
});

describe('chdb across:3 on the real engine', () => {
  it('mergetree: every file sits in blobs_p<id % 3>, none elsewhere; compaction merges each table to one part', async () => {
    const lab = await labAdapter();
    const cell = acrossCell('mergetree');
    const files = makeLabFiles({ count: 10, size: 4096, seed: 'placement-mergetree' });
    await lab.resetLab(cell);
    const bulk = files.slice(0, 7);
    assert.equal((await lab.bulkInsert(iterate(bulk), cell)).acknowledged.length, bulk.length);
    for (const file of files.slice(7)) await lab.insertOne(file, cell);
    const tables = await rows(lab, `SELECT name FROM system.tables WHERE database = '${LAB}' ORDER BY name`);
    assert.deepEqual(tables.flat(), ['blobs_p0', 'blobs_p1', 'blobs_p2']);
    for (let k = 0; k < K; k++) {
      const ids = (await rows(lab, `SELECT id FROM ${LAB}.blobs_p${k} ORDER BY id`)).flat();
      assert.deepEqual(ids, files.filter((file) => file.id % K === k).map((file) => file.id), `blobs_p${k}`);
    }
    await lab.deleteOne(files[4]!, cell); // lightweight delete in blobs_p1
    await lab.compact(cell);
    const parts = await rows(lab, `SELECT table, count() FROM system.parts WHERE active AND database = '${LAB}' GROUP BY table ORDER BY table`);
    assert.deepEqual(parts.map(([table, count]) => [table, Number(count)]), [['blobs_p0', 1], ['blobs_p1', 1], ['blobs_p2', 1]], 'one part per table after OPTIMIZE FINAL');
    assert.equal(await lab.countStored(cell), files.length - 1);
  });

  it('replacing: a content held by files of two tables keeps one copy per table; deleting one table\'s file removes only that copy', async () => {
    const lab = await labAdapter();
    const cell = acrossCell('replacing');
    // Files 0 and 3 (table 0) and 1 (table 1) share content; 2 (table 2) is unique.
    const files = makeLabFiles({ count: 4, size: 4096, duplicates: { 1: 0, 3: 0 }, seed: 'placement-replacing' });
    await lab.resetLab(cell);
    assert.equal((await lab.bulkInsert(iterate(files), cell)).acknowledged.length, files.length);
    await lab.compact(cell);
    const perTable = async () => (await rows(lab, `SELECT _table, count() FROM merge('${LAB}', '^blobs_p') GROUP BY _table ORDER BY _table`)).map(([table, count]) => [table, Number(count)]);
    assert.deepEqual(await perTable(), [['blobs_p0', 1], ['blobs_p1', 1], ['blobs_p2', 1]]);
    await lab.deleteOne(files[1]!, cell); // table 1's only reference: its copy goes, table 0 keeps its own
    assert.deepEqual(await perTable(), [['blobs_p0', 1], ['blobs_p2', 1]]);
    await lab.deleteOne(files[0]!, cell); // file 3 (table 0) still references it: the copy stays
    assert.deepEqual(await perTable(), [['blobs_p0', 1], ['blobs_p2', 1]]);
    await lab.deleteOne(files[3]!, cell);
    assert.deepEqual(await perTable(), [['blobs_p2', 1]]);
    assert.equal(await lab.countStored(cell), 1);
  });
});

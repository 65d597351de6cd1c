/**
 * What a current ClickHouse (chdb, 26.x) physically does with the lab's data — asserted as
 * observed and explained in docs/systems-embedded.md next to the 18.16 server's behaviour:
 * CODEC(NONE) stores random data at ≈ 1× at every duplicate share (no LZ4 window effect),
 * LZ4 folds adjacent duplicates, ZSTD compresses text, ReplacingMergeTree collapses duplicates at
 * OPTIMIZE FINAL, lightweight deletes only mark rows until a merge, and chdb keeps outdated parts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { allocatedBytesSync, fsProbe } from '../../src/measure/probes/fs.js';
import { CHDB_MISSING_MESSAGE, CHDB_PACKAGE, chdbInstalled, contentCodec, definition, openChdbSession } from '../../src/systems/chdb.js';
import type { CellContext, LabFile, SystemAdapter } from '../../src/systems/types.js';
import { FIXTURE_ROWS_PER_FILE, iterate, makeCell, makeLabFiles } from './fixtures.js';
import { assertRecordsReadBack } from './contract-dimensions.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dedup-chdb-truth-'));
const LAB = 'dedup_truth';
const FILE_SIZE = 16_384;
const COUNT = 64;
let adapter: SystemAdapter | null = null;
after(async () => {
  await adapter?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function labAdapter(): Promise<SystemAdapter> {
  if (adapter) return adapter;
  adapter = definition.create('chdb', definition.parseOptions({ dataDir }), LAB);
  await adapter.connect();
  return adapter;
}

/** `count` files of which every `period`-th group repeats: file i copies file i - (i % period) when i % period ≠ 0. */
function withAdjacentDuplicates(kind: 'random' | 'text', duplicateShare: number): LabFile[] {
  const unique = Math.round(COUNT * (1 - duplicateShare));
  const duplicates: Record<number, number> = {};
  // Spread the duplicates evenly, each right after the file it copies (ORDER BY id keeps them adjacent).
  for (let id = 0; id < COUNT; id++) {
    const source = Math.floor((id * unique) / COUNT);
    const first = Math.ceil((source * COUNT) / unique);
    if (first !== id) duplicates[id] = first;
  }
  return makeLabFiles({ count: COUNT, size: FILE_SIZE, kind, duplicates, seed: `truth-${kind}-${duplicateShare}` });
}

async function internal(lab: SystemAdapter, cell: CellContext): Promise<number> {
  await lab.settle(cell);
  const reading = await lab.probes(cell)[0]!.read();
  assert.equal(typeof reading.bytes, 'number', reading.error);
  return reading.bytes!;
}

/** physical / logical after loading `files` into a fresh lab of `variant` (and compacting). */
async function ratioOf(variant: string, files: LabFile[], compact = false): Promise<number> {
  const lab = await labAdapter();
  const cell = makeCell({ variant, mode: 'blob' });
  await lab.resetLab(cell);
  assert.equal((await lab.bulkInsert(iterate(files), cell)).acknowledged.length, files.length);
  if (compact) await lab.compact(cell);
  return (await internal(lab, cell)) / files.reduce((sum, file) => sum + file.size, 0);
}

describe('chdb encodings (pure)', () => {
  it('the optional package: found here, not from a folder without it; the message names the install command', () => {
    assert.equal(chdbInstalled(), true);
    assert.equal(chdbInstalled(pathToFileURL(join(dataDir, 'nowhere.js')).href), false);
    assert.match(CHDB_MISSING_MESSAGE, new RegExp(`npm install --no-save ${CHDB_PACKAGE.replace('.', '\\.')}`));
    assert.equal(CHDB_MISSING_MESSAGE.includes('\n'), false);
  });
  it('probe layers: internal reads the engine (system), lab_fs and fs the lab directory (storage)', () => {
    const lab = definition.create('chdb', definition.parseOptions({ dataDir }), 'dedup_layers');
    const [internal, labFiles, ...others] = lab.probes(makeCell({ variant: 'mergetree', mode: 'blob' }));
    assert.equal(internal?.name, 'internal');
    assert.equal(internal?.layer, 'system');
    assert.equal(labFiles?.name, 'lab_fs');
    assert.equal(labFiles?.layer, 'storage');
    assert.equal(labFiles?.scope, 'lab');
    assert.equal(others.length, 0);
    assert.deepEqual(lab.localDataPaths(), [join(dataDir, 'dedup_layers')]);
    assert.equal(fsProbe({ paths: lab.localDataPaths() }).layer, 'storage');
  });
  it('codec clause per variant', () => {
    assert.equal(contentCodec('uncompressed'), ' CODEC(NONE)');
    assert.equal(contentCodec('zstd'), ' CODEC(ZSTD(1))');
    assert.equal(contentCodec('mergetree'), '');
  });
});

describe('chdb truths (ClickHouse 26.x in-process)', () => {
  it('RowBinary blob inserts store every byte: sha256 of each stored content matches', async () => {
    const lab = await labAdapter();
    const cell = makeCell({ variant: 'mergetree', mode: 'blob' });
    await lab.resetLab(cell);
    // Sizes around the 8 MiB chunk limit, so one bulk load spans several INSERTs.
    const files = [...makeLabFiles({ count: 5, size: 3 * 1024 * 1024, seed: 'bytes' }), ...makeLabFiles({ count: 3, size: 1, seed: 'tiny' }).map((file) => ({ ...file, id: file.id + 5 }))];
    assert.equal((await lab.bulkInsert(iterate(files), cell)).acknowledged.length, files.length);
    const session = await openChdbSession(lab.localDataPaths()[0]!);
    try {
      const text = (await session.queryAsync(`SELECT id, lower(hex(SHA256(content))) FROM ${LAB}.blobs ORDER BY id`, { format: 'JSONCompactEachRow' })).text();
      assert.deepEqual(
        text.trim().split('\n').map((line) => JSON.parse(line) as unknown[]),
        files.map((file) => [file.id, file.sha256]),
      );
    } finally {
      session.close();
    }
  });

  for (const share of [0, 0.5, 0.9]) {
    it(`random data in uncompressed costs ≈ 1× at ${share * 100}% duplicates (no LZ4 window effect)`, async (t) => {
      const files = withAdjacentDuplicates('random', share);
      const none = await ratioOf('uncompressed', files);
      const lz4 = await ratioOf('mergetree', files);
      t.diagnostic(`duplicates ${share}: CODEC(NONE) ${none.toFixed(3)}, LZ4 ${lz4.toFixed(3)}`);
      assert.ok(none >= 1.0 && none <= 1.05, `CODEC(NONE) physical/logical ${none}`);
      // LZ4 (the default) folds a duplicate that sits next to its original in the same block.
      assert.ok(lz4 <= (1 - share) * 1.05 + 0.02, `LZ4 physical/logical ${lz4} at ${share} duplicates`);
    });
  }

  it('text compresses under zstd, less under LZ4, not at all under CODEC(NONE)', async (t) => {
    const files = withAdjacentDuplicates('text', 0);
    const [none, lz4, zstd] = [await ratioOf('uncompressed', files), await ratioOf('mergetree', files), await ratioOf('zstd', files)];
    t.diagnostic(`text: NONE ${none.toFixed(3)}, LZ4 ${lz4.toFixed(3)}, ZSTD ${zstd.toFixed(3)}`);
    assert.ok(none >= 1.0 && none <= 1.05, `NONE ${none}`);
    assert.ok(zstd < 0.6, `ZSTD ${zstd}`);
    assert.ok(zstd < lz4 && lz4 < none, `ZSTD ${zstd} < LZ4 ${lz4} < NONE ${none}`);
  });

  it('replacing: after OPTIMIZE FINAL one row per content, near the ideal (unique bytes)', async (t) => {
    // Duplicates far from their originals (second half copies the first), so no codec folds them.
    const duplicates: Record<number, number> = {};
    for (let id = COUNT / 2; id < COUNT; id++) duplicates[id] = id - COUNT / 2;
    const files = makeLabFiles({ count: COUNT, size: FILE_SIZE, duplicates, seed: 'truth-replacing' });
    const ratio = await ratioOf('replacing', files, true);
    const lab = await labAdapter();
    const cell = makeCell({ variant: 'replacing', mode: 'blob' });
    t.diagnostic(`replacing after compaction: ${ratio.toFixed(3)} (ideal 0.5)`);
    assert.equal(await lab.countStored(cell), COUNT);
    assert.equal(await (lab as unknown as { countContentRows(c: CellContext): Promise<number> }).countContentRows(cell), COUNT / 2);
    assert.ok(ratio >= 0.5 && ratio <= 0.55, `replacing physical/logical ${ratio}`);
  });

  for (const variant of ['mergetree', 'mutation']) {
    it(`${variant}: what deleting 3/4 of the files returns (internal and fs)`, async (t) => {
      const lab = await labAdapter();
      const cell = makeCell({ variant, mode: 'blob' });
      const files = makeLabFiles({ count: COUNT, size: FILE_SIZE, seed: `truth-delete-${variant}` });
      await lab.resetLab(cell);
      await lab.bulkInsert(iterate(files), cell);
      const fs = () => Number(allocatedBytesSync(lab.localDataPaths()));
      const [loaded, loadedFs] = [await internal(lab, cell), fs()];
      for (const file of files.slice(0, (COUNT * 3) / 4)) await lab.deleteOne(file, cell);
      const [deleted, deletedFs] = [await internal(lab, cell), fs()];
      await lab.maintenance(cell);
      const [maintained, maintainedFs] = [await internal(lab, cell), fs()];
      t.diagnostic(`${variant}: internal ${loaded} → delete ${deleted} → OPTIMIZE FINAL ${maintained}; fs ${loadedFs} → ${deletedFs} → ${maintainedFs}`);
      assert.equal(await lab.countStored(cell), COUNT / 4);
      if (variant === 'mergetree') assert.ok(deleted >= loaded * 0.95, `lightweight delete only marks rows: ${loaded} → ${deleted}`);
      else assert.ok(deleted <= loaded * 0.3, `a mutation rewrites the part without the rows: ${loaded} → ${deleted}`);
      assert.ok(maintained <= loaded * 0.3, `OPTIMIZE FINAL drops deleted rows: ${loaded} → ${maintained}`);
      // chdb never removes outdated parts from disk (no cleanup thread in-process): fs does not shrink.
      assert.ok(maintainedFs >= loadedFs, `fs ${loadedFs} → ${maintainedFs}: if this fails, chdb now removes outdated parts; update docs/systems-embedded.md`);
    });
  }

  it('replacing native read-back: a file reads back as its records before and after its copies collapse; a differing copy is an extra row', async () => {
    const lab = await labAdapter();
    const cell = makeCell({ variant: 'replacing', mode: 'native' });
    await lab.resetLab(cell);
    const files = makeLabFiles({ count: 3, size: 2048, duplicates: { 2: 0 }, seed: 'truth-readback' });
    for (const file of files) await lab.insertOne(file, cell);
    const readsBackExactly = (moment: string) => assertRecordsReadBack(lab, cell, files, `${moment}: `);
    const contentRows = () => (lab as unknown as { countContentRows(c: CellContext): Promise<number> }).countContentRows(cell);
    assert.equal(await contentRows(), 3 * FIXTURE_ROWS_PER_FILE, 'before the merge both copies of file 0 are stored');
    await readsBackExactly('before the merge');
    await lab.compact(cell);
    assert.equal(await contentRows(), 2 * FIXTURE_ROWS_PER_FILE, 'OPTIMIZE FINAL collapsed the copy');
    await readsBackExactly('after the merge');
    // A stored copy of file 0's content whose row 0 differs (word) is not collapsed into the file's records.
    const session = await openChdbSession(lab.localDataPaths()[0]!);
    try {
      await session.queryAsync(`INSERT INTO ${LAB}.n_fixture_rows (file_id, file_sha256, row_no, word) VALUES (2, '${files[0]!.sha256}', 0, 'tampered')`);
    } finally {
      session.close();
    }
    assert.equal((await lab.readRecords!(files[0]!, cell)).length, FIXTURE_ROWS_PER_FILE + 1, 'the differing copy is read back as a row of its own');
  });
});

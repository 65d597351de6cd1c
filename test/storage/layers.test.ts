/**
 * The storage layer for real (SPEC §12), no server needed: loop-mounted btrfs / XFS / ext4,
 * duperemove, the `storage` probe and the `storage_dedup` stage through `dedup-lab run`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStorage, storageMethodFor } from '../../src/measure/probes/storage.js';
import { runStorageDedup } from '../../src/storage/stage.js';
import { readRecords } from '../../src/experiment/results.js';
import { runCli, tempDir } from '../experiment/helpers.js';
import { withLoopFs } from './loopfs.js';

const MiB = 1 << 20;

async function used(path: string): Promise<number> {
  const reading = await readStorage([path]);
  assert.notEqual(reading.bytes, null, reading.error);
  return reading.bytes as number;
}

/** A U90 set of plain random files: 10 distinct 1 MiB files, each stored 10 times. */
function writeU90(dir: string): { total: number; unique: number } {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 10; i++) {
    const data = randomBytes(MiB);
    for (let copy = 0; copy < 10; copy++) writeFileSync(join(dir, `f${i}-${copy}.bin`), data);
  }
  return { total: 100 * MiB, unique: 10 * MiB };
}

for (const layer of ['btrfs-dedup', 'xfs-dedup'] as const) {
  test(`control: plain random files at U90 on ${layer} after duperemove cost ≈ the unique bytes (ideal 10x)`, async () => {
    await withLoopFs(layer, async (mnt) => {
      assert.equal(storageMethodFor(mnt), 'statfs');
      const empty = await used(mnt);
      const dir = join(mnt, 'data');
      const { total, unique } = writeU90(dir);
      const before = (await used(mnt)) - empty;
      assert.ok(before >= total * 0.98, `${layer}: before dedup ${before} of ${total} written`);
      const info = await runStorageDedup([dir]);
      assert.equal('tool' in info.offlineDedup && info.offlineDedup.tool, 'duperemove');
      const after = (await used(mnt)) - empty;
      const edr = total / after;
      // What stays above the unique bytes is the file system's metadata for 100 files sharing extents.
      assert.ok(edr > 8 && edr <= 10.5, `${layer}: storage EDR ${edr.toFixed(2)} (after ${after} bytes), ideal 10`);
      // The simulation agrees: every fixed unit finds exactly 10x on aligned copies.
      for (const unit of info.simulated?.units ?? []) assert.ok(Math.abs(unit.dedupRatio - 10) < 0.01, `${unit.unit}: ${unit.dedupRatio}`);
      assert.equal(unique * 10, total);
    });
  });
}

test('btrfs-zstd: text costs a fraction of its size, random data its full size', async () => {
  await withLoopFs('btrfs-zstd', async (mnt) => {
    const empty = await used(mnt);
    let text = '';
    for (let i = 0; text.length < 32 * MiB; i++) text += `row ${i}: the storage layer compresses what the database wrote\n`;
    writeFileSync(join(mnt, 'text.txt'), text);
    const afterText = (await used(mnt)) - empty;
    writeFileSync(join(mnt, 'random.bin'), randomBytes(32 * MiB));
    const afterRandom = (await used(mnt)) - empty - afterText;
    assert.ok(text.length / afterText > 4, `text compression ${(text.length / afterText).toFixed(2)}`);
    assert.ok(afterRandom / (32 * MiB) > 0.98, `random data: ${afterRandom} bytes for ${32 * MiB}`);
  });
});

test('ext4 is the plain reference: duperemove is not applicable, the simulation still runs', async () => {
  await withLoopFs('ext4', async (mnt) => {
    const dir = join(mnt, 'data');
    writeU90(dir);
    const info = await runStorageDedup([dir]);
    assert.ok('notApplicable' in info.offlineDedup && /ext4/.test(info.offlineDedup.notApplicable));
    assert.ok(Math.abs((info.simulated?.units[0]?.dedupRatio ?? 0) - 10) < 0.01);
    assert.match(info.zfs, /ZFS cannot be measured here|zfs kernel module loaded/);
  });
});

test('storage_dedup stage through dedup-lab run: SQLite on btrfs-dedup, record carries probe, pass and simulation', async () => {
  await withLoopFs('btrfs-dedup', async (mnt) => {
    const root = tempDir('storage-stage');
    const config = join(root, 'config.json');
    writeFileSync(config, JSON.stringify({ systems: [{ id: 'sqlite', options: { dataDir: join(mnt, 'lab') } }] }));
    const result = await runCli(
      ['run', '--config', config, '--payload-types', 'random_binary', '--grades', 'U90', '--files', '40', '--min-size', '256KiB', '--max-size', '256KiB', '--stages', 'bulk_insert,storage_dedup', '--results-dir', join(root, 'r'), '--data-dir', join(root, 'd')],
      { cwd: root },
    );
    assert.equal(result.code, 0, result.stderr);
    const records = readRecords(join(root, 'r'));
    const stage = records.find((record) => record.stage === 'storage_dedup');
    assert.ok(stage, `stages: ${records.map((record) => record.stage).join(', ')}`);
    const probe = stage.probes.find((p) => p.name === 'storage');
    assert.ok(probe, `probes: ${stage.probes.map((p) => p.name).join(', ')}`);
    assert.ok(stage.storage && 'tool' in stage.storage.offlineDedup, JSON.stringify(stage.storage));
    assert.equal(stage.storage.fileSystems[0]?.fsType, 'btrfs');
    assert.ok((stage.storage.simulated?.units.length ?? 0) === 6);
    // Simulated over the lab's database file (the lab_fs probe's list), the whole data dir beside it.
    assert.equal(stage.storage.simulated?.scope, 'lab-files');
    assert.equal(stage.storage.simulated?.files, 1);
    assert.equal(stage.storage.simulatedDataDir?.scope, 'data-dir');
    assert.ok((stage.storage.simulatedDataDir?.bytes ?? 0) >= (stage.storage.simulated?.bytes ?? Infinity));
    assert.notEqual(probe.before, null);
    assert.notEqual(probe.after, null);
    console.log('sqlite btrfs-dedup', JSON.stringify({ probe, simulated: stage.storage.simulated?.units.map((u) => [u.unit, u.dedupRatio.toFixed(2)]) }));
  });
});

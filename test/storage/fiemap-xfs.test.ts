/**
 * The `storage` probe's FIEMAP reading on a real loop-mounted XFS (root and loop devices, as in
 * CI; hold the server lock): a data dir below the mount has no file system of its own, so its
 * extents are read and each shared one counted once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStorage, storageMethodFor } from '../../src/measure/probes/storage.js';
import { runStorageDedup } from '../../src/storage/stage.js';
import { withLoopFs } from './loopfs.js';

const MiB = 1 << 20;

async function stored(path: string): Promise<number> {
  const reading = await readStorage([path]);
  assert.notEqual(reading.bytes, null, reading.error);
  return reading.bytes as number;
}

test('XFS below its mount: FIEMAP counts reflink copies and duperemove\'d copies once', async () => {
  await withLoopFs('xfs-dedup', async (mnt) => {
    const dir = join(mnt, 'data');
    mkdirSync(dir);
    assert.equal(storageMethodFor(dir), 'fiemap');
    const original = randomBytes(4 * MiB);
    writeFileSync(join(dir, 'a.bin'), original);
    assert.equal(await stored(dir), 4 * MiB);
    for (const copy of ['b.bin', 'c.bin']) execFileSync('cp', ['--reflink=always', join(dir, 'a.bin'), join(dir, copy)]);
    // Three files of 4 MiB, one set of extents: 4 MiB (st_blocks would say 12).
    assert.equal(await stored(dir), 4 * MiB);
    // Plain copies (cp without reflink writes new extents) cost their size until duperemove shares them.
    const other = randomBytes(2 * MiB);
    writeFileSync(join(dir, 'd.bin'), other);
    writeFileSync(join(dir, 'e.bin'), other);
    assert.equal(await stored(dir), 8 * MiB);
    const info = await runStorageDedup([dir]);
    assert.ok('tool' in info.offlineDedup, JSON.stringify(info.offlineDedup));
    assert.equal(info.fileSystems[0]?.reading, 'fiemap');
    assert.equal(await stored(dir), 6 * MiB);
  }, '512M');
});

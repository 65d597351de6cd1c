import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simulateBlockDedup, BLOCK_SIZES, COMPRESS_ALWAYS_BYTES, SourceFile } from '../../src/storage/blockdedup.js';
import { roundUpToSector, storedBlockBytes } from '../../src/storage/allocation.js';
import { Lz4 } from '../../src/storage/lz4.js';
import { runCli, withTempDir } from '../dataset/helpers.js';
import { DEFAULT_CDC, FastCdc } from '../../src/dataset/fastcdc.js';

const MiB = 1 << 20;

test('allocation: whole sectors, compression kept only when it saves 1/8', () => {
  assert.equal(roundUpToSector(1), 4096);
  assert.equal(roundUpToSector(4096), 4096);
  assert.equal(roundUpToSector(4097), 8192);
  assert.equal(storedBlockBytes(131072, 1000), 4096);
  // ZFS's 4-byte header counts against the 1/8 it must save.
  assert.equal(storedBlockBytes(131072, 131072 - 131072 / 8 - 4), 131072 - 131072 / 8);
  assert.equal(storedBlockBytes(131072, 131072 - 131072 / 8 - 3), 131072);
  assert.equal(storedBlockBytes(4096, 4000), 4096);
  assert.equal(storedBlockBytes(100, 50), 4096);
});

test('random file and its copy: every block size and CDC find exactly 2x, no compression', async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(3 * MiB + 5000);
    await writeFile(join(dir, 'a.bin'), data);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'b.bin'), data);
    // A hard link and a symlink are the same file, not a copy a volume would store twice.
    await link(join(dir, 'a.bin'), join(dir, 'hard.bin'));
    await symlink(join(dir, 'a.bin'), join(dir, 'soft.bin'));
    const result = await simulateBlockDedup(dir);
    assert.equal(result.files, 2);
    assert.equal(result.bytes, 2 * data.length);
    assert.deepEqual(result.fixed.map((tally) => tally.blockSize), [...BLOCK_SIZES]);
    for (const tally of [...result.fixed, result.cdc]) {
      assert.equal(tally.uniqueBytes, data.length, `unit ${JSON.stringify(tally)}`);
      assert.equal(tally.dedupRatio, 2);
      assert.ok(tally.compressionRatio > 0.98 && tally.compressionRatio <= 1.0, `compression ${tally.compressionRatio}`);
    }
    // 4 KiB blocks: the short tail (5000 % 4096 bytes) costs a whole sector.
    assert.equal(result.fixed[0]?.allocatedBytes, roundUpToSector(data.length));
  });
});

test('a copy shifted by 1 KiB: fixed blocks miss it, content-defined chunks find it', async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(4 * MiB);
    await writeFile(join(dir, 'a.bin'), data);
    await writeFile(join(dir, 'b.bin'), Buffer.concat([randomBytes(1024), data]));
    const result = await simulateBlockDedup(dir);
    for (const tally of result.fixed) assert.ok(tally.dedupRatio < 1.01, `${tally.blockSize}: ${tally.dedupRatio}`);
    assert.ok(result.cdc.dedupRatio > 1.9, `cdc ${result.cdc.dedupRatio}`);
  });
});

test('text compresses, zero blocks are holes, sampling keeps the ratio', async () => {
  await withTempDir(async (dir) => {
    const words = 'the quick brown fox jumps over the lazy dog while storage engineers count blocks ';
    let text = '';
    for (let i = 0; text.length < COMPRESS_ALWAYS_BYTES + 8 * MiB; i++) text += `${i} ${words}`;
    await writeFile(join(dir, 'text.txt'), text);
    await writeFile(join(dir, 'zero.bin'), Buffer.alloc(2 * MiB));
    const result = await simulateBlockDedup(dir);
    for (const tally of result.fixed) {
      assert.equal(tally.zeroBytes, 2 * MiB, `${tally.blockSize}`);
      assert.ok(tally.compressionRatio > 2, `${tally.blockSize}: compression ${tally.compressionRatio}`);
      assert.ok(tally.compressionSampleBytes < tally.uniqueBytes, 'beyond the first 16 MiB only a sample is compressed');
      assert.ok(tally.allocatedBytes <= tally.uniqueBytes + 4096, 'zero blocks cost nothing');
    }
    // With 4 KiB sectors a compressed 4 KiB block still takes a whole sector: no gain at 4 KiB,
    // the full LZ4 gain at 128 KiB records.
    const [first] = result.fixed;
    const last = result.fixed.at(-1);
    // (allocation of the unsampled blocks is extrapolated from the sample: equal within 0.1 %)
    assert.ok(Math.abs((first?.allocatedBytes ?? 0) / roundUpToSector(first?.uniqueBytes ?? 0) - 1) < 0.001, `4 KiB allocated ${first?.allocatedBytes}`);
    assert.ok((last?.storageRatio ?? 0) > 2, `128 KiB dedup+compress ${last?.storageRatio}`);
    const off = await simulateBlockDedup(dir, { compress: false, cdc: false });
    assert.equal(off.fixed[0]?.compressionRatio, 1);
    assert.equal(off.cdc.pieces, 0);
  });
});

test('estimate --dir: JSON for a file; a missing path is a usage error', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'one.bin');
    await writeFile(file, Buffer.concat([randomBytes(64 * 1024), randomBytes(64 * 1024)]));
    const json = await runCli(['estimate', '--dir', file, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { files: number; bytes: number; fixed: { dedupRatio: number }[]; compressionSampleRate: number };
    assert.equal(parsed.files, 1);
    assert.equal(parsed.bytes, 128 * 1024);
    assert.equal(parsed.compressionSampleRate, 16, 'the rate beyond the first 16 MiB is stated');
    const table = await runCli(['estimate', '--dir', dir]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /128 KiB/);
    assert.match(table.stdout, /then on 1\/16 of the rest chosen by digest/);
    // --no-direct: the same result through the page cache, no file read with O_DIRECT.
    const buffered = await runCli(['estimate', '--dir', file, '--json', '--no-direct']);
    assert.equal(buffered.code, 0, buffered.stderr);
    const { durationMs: _buffered, directFiles: bufferedDirect, ...bufferedResult } = JSON.parse(buffered.stdout) as { durationMs: number; directFiles: number };
    const { durationMs: _direct, directFiles: direct, ...directResult } = JSON.parse(json.stdout) as { durationMs: number; directFiles: number };
    assert.deepEqual(bufferedResult, directResult);
    assert.equal(bufferedDirect, 0);
    const probe = await SourceFile.open(file, true);
    await probe?.close();
    assert.equal(direct, probe?.isDirect ? 1 : 0, 'the default reads with O_DIRECT where the file system takes it');
    const missing = await runCli(['estimate', '--dir', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /invalid --dir/);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });
});

test('CDC on the worker thread gives exactly the inline result (random, text, a shifted copy, a short file)', async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(3 * MiB + 777);
    await writeFile(join(dir, 'a.bin'), data);
    await writeFile(join(dir, 'b.bin'), Buffer.concat([randomBytes(100), data]));
    await writeFile(join(dir, 'c.txt'), Array.from({ length: 60_000 }, (_, i) => `line ${i % 977} of a text file\n`).join(''));
    await writeFile(join(dir, 'd.bin'), randomBytes(1000));
    const threaded = await simulateBlockDedup(dir, { threads: true });
    const inline = await simulateBlockDedup(dir);
    assert.ok(threaded.cdc.pieces > 100, `${threaded.cdc.pieces} chunks`);
    assert.deepEqual(threaded.cdc, inline.cdc);
    assert.deepEqual(threaded.fixed, inline.fixed);
  });
});

test('O_DIRECT reads (the default where the file system takes them) give exactly the page-cache result; sizes at and around the 4 MiB read groups', async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(8 * MiB + 4096);
    // Whole groups, a group and one byte, a piece short of a group, an odd size, one byte, empty, a copy.
    const sizes = [8 * MiB, 4 * MiB + 1, 3 * MiB, 5_000_001, 1, 0];
    for (const [index, size] of sizes.entries()) await writeFile(join(dir, `f${index}.bin`), data.subarray(index * 4096, index * 4096 + size));
    await writeFile(join(dir, 'copy.bin'), data.subarray(0, 8 * MiB));
    // Whether this file system takes O_DIRECT at all (tmpfs does since Linux 6.6; some FUSE and network ones do not).
    const takesDirect = await open(join(dir, 'f0.bin'), constants.O_RDONLY | (constants.O_DIRECT ?? 0)).then(async (handle) => {
      await handle.close();
      return (constants.O_DIRECT ?? 0) !== 0;
    }, () => false);
    for (const threads of [false, true]) {
      const direct = await simulateBlockDedup(dir, { threads });
      const buffered = await simulateBlockDedup(dir, { threads, direct: false });
      assert.equal(direct.files, sizes.length + 1);
      assert.equal(direct.directFiles, takesDirect ? direct.files : 0, 'every file read with O_DIRECT where the file system takes it');
      assert.equal(buffered.directFiles, 0);
      assert.deepEqual(direct.fixed, buffered.fixed);
      assert.deepEqual(direct.cdc, buffered.cdc);
      assert.equal(direct.bytes, sizes.reduce((sum, size) => sum + size, 0) + 8 * MiB);
      assert.ok((direct.fixed[0]?.dedupRatio ?? 0) > 1.3, 'the copy is found');
    }
  });
});

test('a direct read refused (EINVAL) goes on through the page cache, reopened once for all reads in flight: each gets its bytes', async (t) => {
  await withTempDir(async (dir) => {
    const data = randomBytes(3 * MiB);
    const path = join(dir, 'f.bin');
    await writeFile(path, data);
    const source = await SourceFile.open(path, true);
    assert.ok(source);
    if (!source.isDirect) t.diagnostic('this file system refuses O_DIRECT at open: only the buffered path ran');
    // Buffers one byte past an aligned address: O_DIRECT refuses them (EINVAL), as some file systems refuse any direct read.
    const groups = [0, 1, 2].map(() => [Buffer.alloc(MiB + 1).subarray(1)]);
    const filled = await Promise.all(groups.map((group, index) => source.fill(group, index * MiB)));
    assert.deepEqual(filled, [MiB, MiB, MiB]);
    groups.forEach((group, index) => assert.ok(group[0]?.equals(data.subarray(index * MiB, (index + 1) * MiB)), `read ${index}'s bytes`));
    assert.equal(source.isDirect, false);
    await source.close();
  });
});

/** The plain definition, with sha256 of whole blocks and chunks and the JS cut-point loop: what the simulation must equal. */
async function referenceSimulation(files: readonly Buffer[], params = DEFAULT_CDC): Promise<{ fixed: Record<string, number>[]; cdc: Record<string, number> }> {
  const lz4 = new Lz4();
  const tally = (packed: boolean) => {
    const seen = new Set<string>();
    const t = { bytes: 0, pieces: 0, uniqueBytes: 0, zeroBytes: 0, compressedBytes: 0, allocatedBytes: 0, zeroSeen: 0, blockSize: 0 };
    const add = (block: Buffer): void => {
      t.pieces++;
      t.bytes += block.length;
      if (block.every((byte) => byte === 0) && (packed || block.length === t.blockSize)) {
        t.zeroBytes += block.length;
        t.zeroSeen = 1;
        return;
      }
      const key = createHash('sha256').update(block).digest('hex');
      if (seen.has(key)) return;
      seen.add(key);
      t.uniqueBytes += block.length;
      const compressed = lz4.compressedBytes(block);
      t.compressedBytes += compressed;
      t.allocatedBytes += packed ? Math.min(compressed, block.length) : storedBlockBytes(block.length, compressed);
    };
    const done = () => ({ bytes: t.bytes, pieces: t.pieces, uniquePieces: seen.size + t.zeroSeen, uniqueBytes: t.uniqueBytes, zeroBytes: t.zeroBytes, compressedBytes: t.compressedBytes, allocatedBytes: t.allocatedBytes, dedupRatio: t.bytes / (t.uniqueBytes + t.zeroSeen) });
    return Object.assign(t, { add, done });
  };
  const fixed = BLOCK_SIZES.map((size) => {
    const t = tally(false);
    t.blockSize = size;
    for (const file of files) for (let start = 0; start < file.length; start += size) t.add(file.subarray(start, start + size));
    return t.done();
  });
  const cdcTally = tally(true);
  for (const file of files) {
    const cdc = new FastCdc((chunk) => cdcTally.add(chunk), params, 'js');
    cdc.push(file);
    cdc.finish();
  }
  return { fixed, cdc: cdcTally.done() };
}

test('equal to the plain definition (sha256 of whole blocks, JS cut points): every count, ratio and compressed size', async () => {
  await withTempDir(async (dir) => {
    const random = randomBytes(3 * MiB + 5000);
    const words = Array.from({ length: 40_000 }, (_, i) => `row ${i % 1313} of a table page `).join('');
    // Zero 4 KiB blocks inside a file, and a zero block followed by a non-zero tail.
    const holes = Buffer.concat([randomBytes(4096), Buffer.alloc(3 * 4096), randomBytes(8192), Buffer.alloc(128 * 1024), randomBytes(300)]);
    const files = [random, random, Buffer.concat([randomBytes(1024), random]), Buffer.from(words), holes, Buffer.alloc(MiB + 4096), randomBytes(1000), randomBytes(4096 * 3 + 17), randomBytes(128 * 1024 + 1), Buffer.alloc(0)];
    await Promise.all(files.map((data, i) => writeFile(join(dir, `f${String(i).padStart(2, '0')}.bin`), data)));
    const expected = await referenceSimulation(files);
    for (const threads of [true, false]) {
      const result = await simulateBlockDedup(dir, { threads });
      assert.equal(result.files, files.length);
      for (const [index, tally] of result.fixed.entries()) {
        const { blockSize, compressionSampleBytes, compressionRatio, storageRatio, compressedBytesMargin, allocatedBytesMargin, ...counts } = tally;
        assert.deepEqual(counts, expected.fixed[index], `${blockSize} B blocks`);
        assert.equal(compressionSampleBytes, counts.uniqueBytes, 'under 16 MiB of distinct data every block is compressed');
        assert.deepEqual([compressedBytesMargin, allocatedBytesMargin], [0, 0], 'nothing extrapolated');
        assert.ok(compressionRatio > 0 && storageRatio > 0);
      }
      const { algorithm, minSize, avgSize, maxSize, compressionSampleBytes, compressionRatio, storageRatio, compressedBytesMargin, allocatedBytesMargin, ...cdcCounts } = result.cdc;
      assert.deepEqual([compressedBytesMargin, allocatedBytesMargin], [0, 0]);
      assert.deepEqual(cdcCounts, expected.cdc, 'FastCDC chunks');
      assert.ok(algorithm && minSize && avgSize && maxSize && compressionSampleBytes && compressionRatio && storageRatio);
    }
  });
});

test('small CDC parameters (more chunks per read than one WebAssembly call reports, chunks carried across reads): equal to the plain definition', async () => {
  await withTempDir(async (dir) => {
    const params = { min: 64, avg: 256, max: 1024 };
    const random = randomBytes(2 * MiB + 333);
    // Mostly zero with a few random bytes: chunks run to max and cross the 1 MiB read boundaries.
    const sparse = Buffer.alloc(MiB + 2048);
    for (let at = 0; at < sparse.length; at += 50_000) sparse[at] = 1 + (at % 251);
    const files = [random, sparse, random.subarray(0, MiB + 10)];
    await Promise.all(files.map((data, i) => writeFile(join(dir, `f${i}.bin`), data)));
    const expected = await referenceSimulation(files, params);
    for (const threads of [true, false]) {
      const { cdc } = await simulateBlockDedup(dir, { threads, cdc: params });
      const { algorithm, minSize, avgSize, maxSize, compressionSampleBytes, compressionRatio, storageRatio, compressedBytesMargin, allocatedBytesMargin, ...counts } = cdc;
      assert.ok(counts.pieces > 2 * 1024 * 4, `${counts.pieces} chunks`);
      assert.deepEqual(counts, expected.cdc, `threads ${threads}`);
      assert.deepEqual([minSize, avgSize, maxSize], [64, 256, 1024]);
      assert.ok(algorithm && compressionSampleBytes && compressionRatio && storageRatio && compressedBytesMargin === 0 && allocatedBytesMargin === 0);
    }
  });
});

test('files read back to back, the next one opened early: each file\'s exact bytes in order, also when it grew or shrank since it was listed', async () => {
  const { Reader, ringSize, GROUP_PIECES } = await import('../../src/storage/blockdedup.js');
  const { BlockHasher } = await import('../../src/storage/blockhash.js');
  await withTempDir(async (dir) => {
    const group = GROUP_PIECES * MiB;
    // [real size, listed size]: grown past a short last read, grown past a whole-group end, shrunk,
    // exact (short last group, whole groups), empty, and one of a single short read.
    const cases: [number, number][] = [
      [2 * group + 5, group],
      [2 * group, group],
      [MiB, 3 * group],
      [3 * group + 1, 3 * group + 1],
      [0, 0],
      [4 * group, 4 * group],
      [1000, 1000],
      [group + 17, 2 * group],
    ];
    const files = await Promise.all(
      cases.map(async ([real, listed], index) => {
        const path = join(dir, `f${index}.bin`);
        const bytes = randomBytes(real);
        await writeFile(path, bytes);
        return { path, size: listed, bytes };
      }),
    );
    for (const threads of [false, true]) {
      const ring = ringSize(threads);
      const hasher = new BlockHasher(ring * MiB);
      const buffers = Array.from({ length: ring }, (_, index) => hasher.data.subarray(index * MiB, (index + 1) * MiB));
      const side = { push: () => undefined, free: () => undefined, result: () => Promise.reject(new Error('unused')), close: () => Promise.resolve() };
      const reader = new Reader(buffers, side, true);
      for (const [index, file] of files.entries()) {
        const pieces: Buffer[] = [];
        let lastFlags = 0;
        const ok = await reader.read(file, files[index + 1], (piece, last) => {
          pieces.push(Buffer.from(piece));
          if (last) lastFlags++;
        });
        assert.equal(ok, true, file.path);
        assert.equal(lastFlags, 1, `${file.path}: one piece marked last`);
        assert.ok(Buffer.concat(pieces).equals(file.bytes), `${file.path} (${file.bytes.length} bytes, listed ${file.size}): its bytes in order (ring ${ring} MiB)`);
      }
      await reader.close();
    }
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildManifest, DEFAULT_CDC, ensureDataset, estimateDataset, FastCdc, FixedBlocks, findDatasetDirs } from '../../src/dataset/index.js';
import { Xoshiro128 } from '../../src/dataset/prng.js';
import { params, withTempDir } from './helpers.js';

function chunkLengths(data: Buffer, pieceSize: number): number[] {
  const lengths: number[] = [];
  const cdc = new FastCdc((chunk) => lengths.push(chunk.length));
  for (let i = 0; i < data.length; i += pieceSize) cdc.push(data.subarray(i, i + pieceSize));
  cdc.finish();
  return lengths;
}

test('FastCDC: chunks within min/max, average near the target, independent of how bytes arrive', () => {
  const data = randomBytes(4 << 20);
  const whole = chunkLengths(data, data.length);
  assert.deepEqual(chunkLengths(data, 1000), whole);
  assert.deepEqual(chunkLengths(data, 65536 * 3 + 7), whole);
  assert.equal(whole.reduce((a, b) => a + b, 0), data.length);
  assert.ok(whole.slice(0, -1).every((length) => length >= DEFAULT_CDC.min && length <= DEFAULT_CDC.max));
  const mean = data.length / whole.length;
  assert.ok(mean > 6000 && mean < 14000, `mean chunk ${mean}`);
});

/** Push `data` in seeded random pieces (1 byte … 200 KiB, so pieces shorter and longer than the 64 KiB max). */
function pushInPieces(data: Buffer, push: (piece: Buffer) => void, seed: string): void {
  const rng = Xoshiro128.from(seed);
  for (let i = 0; i < data.length; ) {
    const size = rng.below(4) === 0 ? 1 + rng.below(100) : 1 + rng.below(200 * 1024);
    push(data.subarray(i, i + size));
    i += size;
  }
}

test('FastCDC and fixed blocks cut the same pieces whatever the read sizes', () => {
  const data = randomBytes(3 << 20);
  const whole = chunkLengths(data, data.length);
  for (const seed of ['a', 'b', 'c']) {
    const lengths: number[] = [];
    const cdc = new FastCdc((chunk) => lengths.push(chunk.length));
    pushInPieces(data, (piece) => cdc.push(piece), seed);
    cdc.finish();
    assert.deepEqual(lengths, whole, seed);

    const blocks: Buffer[] = [];
    const fixed = new FixedBlocks((block) => blocks.push(Buffer.from(block)), 4096);
    pushInPieces(data, (piece) => fixed.push(piece), seed);
    fixed.finish();
    assert.equal(blocks.length, Math.ceil(data.length / 4096));
    blocks.forEach((block, i) => assert.ok(block.equals(data.subarray(i * 4096, (i + 1) * 4096)), `block ${i}`));
  }
});

test('FastCDC finds shifted content again where fixed blocks cannot', async () => {
  await withTempDir(async (dir) => {
    const base = randomBytes(1 << 20);
    const setDir = join(dir, 'shifted', 'U0');
    await mkdir(setDir, { recursive: true });
    // Two "unique" files: the second is the first with 100 bytes inserted at the front.
    const files = [base, Buffer.concat([randomBytes(100), base])];
    const entries = files.map((content, i) => ({ name: `0000${i}.bin`, size: content.length, sha256: '', duplicateOf: null, payloadType: 'shifted' }));
    for (const [i, content] of files.entries()) await writeFile(join(setDir, entries[i]?.name as string), content);
    await writeFile(join(setDir, 'manifest.json'), JSON.stringify(buildManifest(params({ payloadType: 'shifted', grade: 'U0', files: 2 }), entries)));
    const estimate = await estimateDataset(setDir);
    assert.ok(estimate.block4k.ratio < 1.01, `block ratio ${estimate.block4k.ratio}`);
    assert.ok(estimate.cdc.ratio > 1.9, `cdc ratio ${estimate.cdc.ratio}`);
  });
});

test('known answers: random U0 ≈ 1 everywhere; U90 file ratio = ideal EDR; text compresses', async () => {
  await withTempDir(async (dataDir) => {
    const size = { minSize: 16 * 1024, maxSize: 64 * 1024 };
    await ensureDataset(params({ files: 40, grade: 'U0', ...size }), dataDir);
    await ensureDataset(params({ files: 40, grade: 'U90', ...size }), dataDir);
    await ensureDataset(params({ payloadType: 'text_document', files: 20, grade: 'U50', ...size }), dataDir);
    const dirs = await findDatasetDirs(dataDir);
    assert.deepEqual(dirs.map((dir) => dir.slice(dataDir.length + 1)), ['random_binary/U0', 'random_binary/U90', 'text_document/U50']);
    const [u0, u90, text] = await Promise.all(dirs.map((dir) => estimateDataset(dir)));
    assert.ok(u0 && u90 && text);
    assert.equal(u0.fileLevel.ratio, 1);
    assert.equal(u0.block4k.ratio, 1);
    assert.equal(u0.cdc.ratio, 1);
    assert.ok(u0.compressibility.ratio > 0.99 && u0.compressibility.ratio < 1.01, `random compressibility ${u0.compressibility.ratio}`);
    assert.equal(u90.fileLevel.ratio, u90.fileLevel.manifestIdealEdr);
    assert.ok(u90.fileLevel.matchesManifest);
    assert.equal(u90.fileLevel.distinctFiles, 4);
    // Random unique files share no block, so block and chunk ratios equal the file ratio.
    assert.ok(Math.abs(u90.block4k.ratio - u90.fileLevel.ratio) < 1e-9);
    assert.ok(Math.abs(u90.cdc.ratio - u90.fileLevel.ratio) < 1e-9);
    assert.ok(text.compressibility.ratio > 2, `text compressibility ${text.compressibility.ratio}`);
    assert.equal(text.fileLevel.distinctFiles, 10);
  });
});

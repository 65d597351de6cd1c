import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_SIZES, COMPRESS_ALWAYS_BYTES, COMPRESS_SAMPLE_BUDGET_BYTES, COMPRESS_SAMPLE_RATE, Tally, compressSampleRate, loadCompressor } from '../../src/storage/blockdedup.js';
import { BlockHasher } from '../../src/storage/blockhash.js';
import { Xoshiro128 } from '../../src/dataset/prng.js';

const MiB = 1 << 20;

/** Seeded bytes: the sample is chosen by digest, so fixed data gives a fixed, reproducible sample. */
function noise(bytes: number, seed: string): Buffer {
  const rng = Xoshiro128.from('compression-sample', seed);
  const words = new Uint32Array(bytes / 4);
  for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32();
  return Buffer.from(words.buffer);
}

function prose(bytes: number, seed: string): Buffer {
  const rng = Xoshiro128.from('compression-sample-text', seed);
  const vocabulary = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
  const parts: string[] = [];
  for (let length = 0; length < bytes; ) {
    const word = `${rng.pick(vocabulary)}${rng.below(12) === 0 ? '.\n' : ' '}`;
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

/** 48 MiB each: the first 16 MiB of every unit is compressed exactly, 32 MiB is sampled. */
const SETS: Record<string, () => Buffer> = {
  text: () => prose(48 * MiB, 'text'),
  random: () => noise(48 * MiB, 'random'),
  // Mostly zero blocks (holes) with a random 4 KiB block per 256 KiB.
  zeros: () => {
    const data = Buffer.alloc(48 * MiB);
    for (let at = 0; at < data.length; at += 256 * 1024) noise(4096, `z${at}`).copy(data, at);
    return data;
  },
  // 256 KiB stretches of random data, text, and text half filled with a repeated byte.
  mixed: () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 48 * 4; i++) {
      const kind = i % 3;
      parts.push(kind === 0 ? noise(MiB / 4, `m${i}`) : kind === 1 ? prose(MiB / 4, `m${i}`) : Buffer.concat([prose(MiB / 8, `m${i}`), Buffer.alloc(MiB / 8, i)]));
    }
    return Buffer.concat(parts);
  },
  // The first 16 MiB text, the rest random: the rest's ratio must not lean on the first part's.
  'text, then random': () => Buffer.concat([prose(COMPRESS_ALWAYS_BYTES, 'head'), noise(32 * MiB, 'tail')]),
};

test('the sample rate: 1/16 up to 16 x the budget of listed bytes, then the power of two that keeps the sample within the budget', () => {
  const budget = COMPRESS_SAMPLE_BUDGET_BYTES;
  assert.equal(compressSampleRate(0), COMPRESS_SAMPLE_RATE);
  assert.equal(compressSampleRate(16 * budget), 16);
  assert.equal(compressSampleRate(16 * budget + 1), 32);
  assert.equal(compressSampleRate(3 * 1024 * MiB), 64);
  for (const bytes of [1, 777 * MiB, 3.2e9, 1e12, 2 ** 53]) {
    const rate = compressSampleRate(bytes);
    assert.ok(bytes / rate <= budget && (rate === COMPRESS_SAMPLE_RATE || bytes / (rate / 2) > budget), `${bytes}: 1/${rate}`);
    assert.equal(Math.log2(rate) % 1, 0, `${bytes}: 1/${rate} is a power of two`);
  }
});

for (const rate of [COMPRESS_SAMPLE_RATE, 64]) {
  test(`sampled compression at 1/${rate} equals the exact value within its stated margin (text, random, zeros, mixed, every block size)`, (t) => compareWithExact(t, rate));
}

async function compareWithExact(t: { diagnostic(message: string): void }, rate: number): Promise<void> {
  const compress = await loadCompressor();
  const hasher = new BlockHasher(MiB);
  for (const [name, make] of Object.entries(SETS)) {
    const data = make();
    for (const size of BLOCK_SIZES) {
      const exact = new Tally(compress, false, 1);
      const sampled = new Tally(compress, false, rate);
      for (let at = 0; at < data.length; at += size) {
        const block = data.subarray(at, at + size);
        const digest = Buffer.from(hasher.blockDigest(block));
        const isZero = block.length === size && block.every((byte) => byte === 0);
        exact.add(block, digest, isZero);
        sampled.add(block, digest, isZero);
      }
      const [truth, estimate] = [exact.result(), sampled.result()];
      const label = `${name}, ${size / 1024} KiB: exact ${truth.compressedBytes}/${truth.allocatedBytes}, sampled ${estimate.compressedBytes}±${estimate.compressedBytesMargin}/${estimate.allocatedBytes}±${estimate.allocatedBytesMargin}`;
      t.diagnostic(label);
      assert.equal(truth.compressedBytesMargin, 0, label);
      assert.equal(truth.compressionSampleBytes, truth.uniqueBytes, label);
      assert.ok(Math.abs(estimate.compressedBytes - truth.compressedBytes) <= estimate.compressedBytesMargin, label);
      assert.ok(Math.abs(estimate.allocatedBytes - truth.allocatedBytes) <= estimate.allocatedBytesMargin, label);
      if (truth.uniqueBytes > COMPRESS_ALWAYS_BYTES + size) {
        assert.ok(estimate.compressionSampleBytes < truth.uniqueBytes, `${label}: beyond the first 16 MiB only a sample is compressed`);
        assert.ok(estimate.compressedBytesMargin > 0, `${label}: an extrapolation states a margin`);
      }
      // Uniform data needs no wide margin: a few per cent of the compressed size at most, once the
      // sample of the rest has the ≳ 30 blocks the interval is stated for (at 1/64, 48 MiB sets give
      // 128 KiB units about 4; a real scan at 1/64 lists ≥ 768 MiB, ≥ 96 such blocks).
      const sampledRestBlocks = (estimate.compressionSampleBytes - COMPRESS_ALWAYS_BYTES) / size;
      if ((name === 'text' || name === 'random') && sampledRestBlocks >= 30) assert.ok(estimate.compressedBytesMargin < 0.03 * truth.compressedBytes, label);
    }
  }
}

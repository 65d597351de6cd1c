import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CdcCutter, CdcTally, loadCompressor, recordsPerRead, simulateBlockDedup, type CutAhead } from '../../src/storage/blockdedup.js';
import { BlockHasher } from '../../src/storage/blockhash.js';
import { CdcThread } from '../../src/storage/cdc-thread.js';
import { DEFAULT_CDC } from '../../src/dataset/fastcdc.js';
import { withTempDir } from '../dataset/helpers.js';

const MiB = 1 << 20;
const RING = 8;

/**
 * Feeds `stream` to a CdcThread in 1 MiB reads through a ring of read buffers, as the simulation
 * does; the first `inlineReads` are pushed before the worker can be ready (one synchronous run, so
 * they are cut on this thread), the rest once it is.
 */
async function cdcThroughThread(stream: Buffer, inlineReads: number, cutAhead?: { cut: number; taken: number }, compress = true): Promise<ReturnType<CdcTally['tally']['result']>> {
  const hasher = new BlockHasher(RING * MiB, 131072, { slots: RING, records: recordsPerRead(DEFAULT_CDC), joinBytes: 2 * DEFAULT_CDC.max });
  const buffers = Array.from({ length: RING }, (_, index) => hasher.data.subarray(index * MiB, (index + 1) * MiB));
  const side = new CdcThread(new CdcTally(compress ? await loadCompressor() : null, hasher), DEFAULT_CDC, hasher);
  try {
    const reads = Math.ceil(stream.length / MiB);
    for (let index = 0; index < reads; index++) {
      if (index === inlineReads) await side.ready;
      const buffer = buffers[index % RING] as Buffer;
      if (index >= inlineReads) await side.free(buffer);
      const piece = buffer.subarray(0, stream.copy(buffer, 0, index * MiB, Math.min((index + 1) * MiB, stream.length)));
      side.push(piece, index === reads - 1);
    }
    const result = await side.result();
    if (cutAhead) Object.assign(cutAhead, { cut: side.readsCutAhead, taken: side.readsTakenAhead });
    return result;
  } finally {
    await side.close();
  }
}

test('CDC handed from the main thread to the worker once it is ready, after 0, 1, 3 or every read: exactly the inline result', async () => {
  await withTempDir(async (dir) => {
    // Random data with a copy shifted by 100 bytes (chunks found again at other offsets) and text
    // (chunks of every size, many spanning two reads); not a whole number of reads.
    const random = randomBytes(3 * MiB + 777);
    const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `line ${i % 977} of a text file\n`).join(''));
    const stream = Buffer.concat([random, randomBytes(100), random, text]);
    const file = join(dir, 'stream.bin');
    await writeFile(file, stream);
    const inline = (await simulateBlockDedup(file, { threads: false })).cdc;
    const reads = Math.ceil(stream.length / MiB);
    for (const inlineReads of [0, 1, 3, reads]) {
      const { algorithm, minSize, avgSize, maxSize, ...expected } = inline;
      assert.ok(algorithm && minSize && avgSize && maxSize);
      assert.deepEqual(await cdcThroughThread(stream, inlineReads), expected, `${inlineReads} of ${reads} reads cut inline`);
    }
  });
});

/** Every chunk record of `stream` cut read by read on one thread; with `ahead`, every non-final read also cut ahead first (as the main thread does) and handed to cutRead. */
function chunkRecords(stream: Buffer, ahead: boolean): { records: string[]; takenAhead: number } {
  const hasher = new BlockHasher(RING * MiB, 131072, { slots: RING, records: recordsPerRead(DEFAULT_CDC), joinBytes: 2 * DEFAULT_CDC.max });
  const cutter = new CdcCutter(DEFAULT_CDC, hasher);
  const aheadCutter = new CdcCutter(DEFAULT_CDC, hasher);
  const records: string[] = [];
  const reads = Math.ceil(stream.length / MiB);
  for (let index = 0; index < reads; index++) {
    const slotIndex = index % RING;
    const buffer = hasher.data.subarray(slotIndex * MiB, (slotIndex + 1) * MiB);
    const piece = buffer.subarray(0, stream.copy(buffer, 0, index * MiB, Math.min((index + 1) * MiB, stream.length)));
    const last = index === reads - 1;
    const speculative = hasher.speculativeSlots[slotIndex];
    let cut: CutAhead | null = null;
    if (ahead && !last && speculative) cut = { slot: speculative, count: aheadCutter.cutAhead(piece, speculative) };
    const count = cutter.cutRead(piece, slotIndex, last, cut);
    const slot = hasher.chunkSlots[slotIndex];
    assert.ok(slot);
    for (let record = 0; record < count; record++) {
      const digest = Buffer.from(hasher.words.buffer, (slot.digestWords + 4 * record) * 4, 16).toString('hex');
      records.push(`${index}:${slot.lengths[record]}@${slot.addresses[record]}:${digest}`);
    }
  }
  return { records, takenAhead: cutter.readsTakenAhead };
}

test("chunks cut ahead from a read's first byte, taken once the stream's chunks meet them: every record as without", () => {
  const random = randomBytes(2 * MiB + 333);
  const text = Buffer.from(Array.from({ length: 90_000 }, (_, i) => `row ${i % 1013},${(i * 7) % 101}\n`).join(''));
  const streams = {
    // Chunks meet those cut ahead a few chunks into each read.
    random: Buffer.concat([random, randomBytes(100), random]),
    text,
    // All-zero chunks are max-size, from the last cut in the text before them (not a multiple of
    // max from a read's start), so they never meet those cut ahead after the first read.
    'zeros after text': Buffer.concat([text.subarray(0, 100_000), Buffer.alloc(4 * MiB)]),
    // All max-size from a read's start: they meet at once.
    zeros: Buffer.alloc(3 * MiB + 17),
  };
  for (const [name, stream] of Object.entries(streams)) {
    const plain = chunkRecords(stream, false);
    const ahead = chunkRecords(stream, true);
    assert.deepEqual(ahead.records, plain.records, name);
    assert.equal(plain.takenAhead, 0);
    const aheadReads = Math.ceil(stream.length / MiB) - 1;
    // The first read starts where the stream does, so its chunks are taken in every case.
    if (name === 'zeros after text') assert.equal(ahead.takenAhead, 1, `${name}: never meet after the first read`);
    else assert.equal(ahead.takenAhead, aheadReads, `${name}: every read cut ahead is taken`);
  }
});

test('through the worker, the main thread cuts reads ahead while it waits, and the worker takes them: exactly the inline result', async () => {
  await withTempDir(async (dir) => {
    const stream = Buffer.concat([randomBytes(24 * MiB + 5), Buffer.from(Array.from({ length: 200_000 }, (_, i) => `line ${i % 977}\n`).join(''))]);
    const file = join(dir, 'stream.bin');
    await writeFile(file, stream);
    const { algorithm, minSize, avgSize, maxSize, ...expected } = (await simulateBlockDedup(file, { threads: false, compress: false })).cdc;
    assert.ok(algorithm && minSize && avgSize && maxSize);
    const cutAhead = { cut: 0, taken: 0 };
    assert.deepEqual(await cdcThroughThread(stream, 0, cutAhead, false), expected);
    // The worker cuts 1 MiB in ≈ 0.6 ms; without LZ4 this thread copies and tallies it in ≈ 0.1: it waits, and cuts ahead meanwhile.
    assert.ok(cutAhead.cut > 0, `reads cut ahead: ${cutAhead.cut}`);
    assert.ok(cutAhead.taken > 0 && cutAhead.taken <= cutAhead.cut, `taken ${cutAhead.taken} of ${cutAhead.cut}`);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CdcTally, loadCompressor, recordsPerRead, simulateBlockDedup } from '../../src/storage/blockdedup.js';
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
async function cdcThroughThread(stream: Buffer, inlineReads: number): Promise<ReturnType<CdcTally['tally']['result']>> {
  const hasher = new BlockHasher(RING * MiB, 131072, { slots: RING, records: recordsPerRead(DEFAULT_CDC), joinBytes: 2 * DEFAULT_CDC.max });
  const buffers = Array.from({ length: RING }, (_, index) => hasher.data.subarray(index * MiB, (index + 1) * MiB));
  const side = new CdcThread(new CdcTally(await loadCompressor(), hasher), DEFAULT_CDC, hasher);
  try {
    const reads = Math.ceil(stream.length / MiB);
    for (let index = 0; index < reads; index++) {
      if (index === inlineReads) await side.ready;
      const buffer = buffers[index % RING] as Buffer;
      if (index >= inlineReads) await side.free(buffer);
      const piece = buffer.subarray(0, stream.copy(buffer, 0, index * MiB, Math.min((index + 1) * MiB, stream.length)));
      side.push(piece, index === reads - 1);
    }
    return await side.result();
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

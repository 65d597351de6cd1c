import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { compileKeystream, renderModuleSource } from '../../scripts/build-wasm.js';
import {
  BLOCK_BYTES,
  Keystream,
  keystreamState,
  MAX_KEYSTREAM_CHUNK,
} from '../../src/dataset/payloads/keystream.js';
import { collectPayload, randomBinary } from '../../src/dataset/payloads/synthetic.js';
import { deriveKey } from '../../src/dataset/prng.js';

const MASK = (1n << 64n) - 1n;

/**
 * Plain scalar xorshift128+ (Vigna 2017, shifts 23/18/5) over the documented state layout: the
 * reference the SIMD module must match byte for byte.
 */
function referenceKeystream(state: Uint8Array, blocks: number): Buffer {
  const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
  const generators = Array.from({ length: 8 }, (_, g) => {
    const offset = 32 * (g >> 1) + 8 * (g & 1);
    return { s0: view.getBigUint64(offset, true), s1: view.getBigUint64(offset + 16, true) };
  });
  const out = Buffer.alloc(blocks * BLOCK_BYTES);
  for (let block = 0; block < blocks; block++) {
    generators.forEach((g, index) => {
      let x = g.s0;
      const y = g.s1;
      out.writeBigUInt64LE((x + y) & MASK, block * BLOCK_BYTES + index * 8);
      x ^= (x << 23n) & MASK;
      g.s0 = y;
      g.s1 = x ^ y ^ (x >> 18n) ^ (y >> 5n);
    });
  }
  return out;
}

test('the committed WebAssembly is exactly what keystream.wat compiles to (run npm run build:wasm after editing it)', async () => {
  const committed = await readFile(
    new URL('../../src/dataset/payloads/keystream-wasm.ts', import.meta.url),
    'utf8',
  );
  assert.equal(committed, renderModuleSource(await compileKeystream()));
});

test('the SIMD keystream equals scalar xorshift128+ over the documented layout, across chunks', () => {
  const key = deriveKey('keystream-test', 1);
  const expected = referenceKeystream(keystreamState(key), 200);
  const stream = new Keystream(key);
  const produced = collectPayload(
    (function* () {
      for (const length of [64 * 3, 64 * 100, 64 * 97]) yield stream.next(length);
    })(),
  );
  assert.equal(produced.length, expected.length);
  assert.ok(produced.equals(expected), 'keystream differs from the scalar reference');
});

test('a short chunk uses up its whole last block; the next chunk starts at the following block', () => {
  const key = deriveKey('keystream-test', 2);
  const expected = referenceKeystream(keystreamState(key), 4);
  const stream = new Keystream(key);
  assert.ok(stream.next(100).equals(expected.subarray(0, 100)));
  // The chunk is a view: checked before the next call, as every consumer must.
  assert.ok(stream.next(64).equals(expected.subarray(128, 192)));
  assert.equal(stream.next(0).length, 0);
  assert.throws(() => stream.next(MAX_KEYSTREAM_CHUNK + 1), /keystream chunk/);
});

test('random_binary is incompressible, has no repeated 4 KiB block, and depends on the key', () => {
  const size = 32 * 1024 * 1024 + 123;
  const blocks = new Set<string>();
  let bytes = 0;
  const data: Buffer[] = [];
  for (const file of [0, 1]) {
    for (const chunk of randomBinary(deriveKey('keystream-test', 'file', file), size)) {
      bytes += chunk.length;
      if (file === 0 && data.length < 16) data.push(Buffer.from(chunk));
      for (let offset = 0; offset + 4096 <= chunk.length; offset += 4096) {
        blocks.add(
          createHash('sha1')
            .update(chunk.subarray(offset, offset + 4096))
            .digest('hex'),
        );
      }
    }
  }
  assert.equal(bytes, 2 * size);
  assert.equal(
    blocks.size,
    2 * Math.floor(MAX_KEYSTREAM_CHUNK / 4096) * Math.floor(size / MAX_KEYSTREAM_CHUNK),
  );
  const sample = Buffer.concat(data);
  assert.ok(
    deflateSync(sample, { level: 9 }).length >= sample.length,
    'deflate found structure in the keystream',
  );
  const counts = new Array<number>(256).fill(0);
  for (const byte of sample) counts[byte] = (counts[byte] as number) + 1;
  const expected = sample.length / 256;
  const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  assert.ok(
    chiSquare < 350,
    `byte histogram is not uniform: chi-square ${chiSquare.toFixed(1)} over 255 degrees of freedom`,
  );
});

test('same key gives the same bytes, another key other bytes', () => {
  const a = collectPayload(randomBinary(deriveKey('k', 1), 100_000));
  const b = collectPayload(randomBinary(deriveKey('k', 1), 100_000));
  const c = collectPayload(randomBinary(deriveKey('k', 2), 100_000));
  assert.ok(a.equals(b));
  assert.ok(!a.equals(c));
  assert.equal(a.length, 100_000);
});

test('interleaved generators never overwrite each other’s chunks (for-await resumes in a microtask)', async () => {
  const size = 1024 * 1024;
  const keys = [deriveKey('keystream-test', 'a'), deriveKey('keystream-test', 'b')];
  const expected = keys.map((key) => collectPayload(randomBinary(key, size)));
  const consume = async (key: Buffer): Promise<Buffer> => {
    const copies: Buffer[] = [];
    for await (const chunk of randomBinary(key, size)) {
      await Promise.resolve(); // let the other consumer run between receiving and copying
      copies.push(Buffer.from(chunk));
    }
    return Buffer.concat(copies);
  };
  const actual = await Promise.all(keys.map(consume));
  actual.forEach((bytes, index) => assert.ok(bytes.equals(expected[index] as Buffer), `stream ${index} was overwritten`));
});

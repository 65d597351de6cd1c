import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { compileBlockHash, renderBlockHashSource } from '../../scripts/build-wasm.js';
import { BlockHasher, DIGEST_BYTES } from '../../src/storage/blockhash.js';
import { BLOCKHASH_WASM_BASE64 } from '../../src/storage/blockhash-wasm.js';

test('the committed WebAssembly is exactly what blockhash.wat compiles to (run npm run build:wasm after editing it)', async () => {
  const committed = await readFile(new URL('../../src/storage/blockhash-wasm.ts', import.meta.url), 'utf8');
  assert.equal(committed, renderBlockHashSource(await compileBlockHash()));
});

test("MurmurHash3_x64_128: SMHasher's verification value 0x6384BA69 (every length 0..255, seeds 256..1)", () => {
  // SMHasher KeysetTest.cpp VerificationTest: key[i] = i; hash key[0, i) with seed 256 - i;
  // hash the 256 digests back to back with seed 0; the first 4 bytes, little-endian.
  const hasher = new BlockHasher(1 << 16);
  const key = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const digests = Buffer.alloc(256 * DIGEST_BYTES);
  for (let i = 0; i < 256; i++) hasher.hash(key.subarray(0, i), 256 - i).copy(digests, i * DIGEST_BYTES);
  assert.equal(hasher.hash(digests, 0).readUInt32LE(0), 0x6384ba69);
});

test('MurmurHash3_x64_128: the digests of an independent implementation (Python mmh3 5.x, hash128 x64, little-endian bytes)', () => {
  const hasher = new BlockHasher(1 << 16);
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + 3) % 256));
  const expected: [number, string][] = [
    [1, '593e6a30ddc66a72e4a8b5c52711714e'],
    [3, 'ce3db5f3caeb3f6e88b6ff75e383bbe5'],
    [7, 'a1e36c2354bfcbbe50ef9ce392a43b2b'],
    [8, 'bdd332919a2aeea53a007e613a7f9e25'],
    [9, 'b6dbfa0aa12eba5196041e13c353811f'],
    [15, 'f4e4ad805e4b6aba6df2e8f78f5a0ee0'],
    [16, 'a14e8f2fc599b0c448fe2ad91902677d'],
    [17, '27b153fe394baed4e9db81663b450266'],
    [31, 'fb3604f0dffe919dd0bf7e73ba51a87e'],
    [33, '1a2ff7c4d85767b1a6602d0756ee7191'],
    [255, 'b0d273d66453f18ed9d4b90b3f85db91'],
    [300, 'dd46df43cdceb24b9a059c6891ed7426'],
  ];
  for (const [length, hex] of expected) assert.equal(hasher.hash(data.subarray(0, length)).toString('hex'), hex, `length ${length}`);
  assert.equal(hasher.hash(Buffer.alloc(0)).toString('hex'), '0'.repeat(32));
  assert.equal(hasher.hash(Buffer.from('hello'), 42).toString('hex'), '086faf60c9b3b8c47abcefb075b83423');
  assert.equal(hasher.hash(Buffer.from('hello')).toString('hex'), '029bbd41b3a7d8cb191dae486a901e5b');
});

test('block digests over 240 bytes are XXH3_128bits: the digests of the reference (Python xxhash 4.1, xxh3_128_intdigest), low64 then high64 little-endian', () => {
  const hasher = new BlockHasher(1 << 20);
  const data = Buffer.alloc(70000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 255;
  // python3 -c "import xxhash; d=bytes((i*7+3)&255 for i in range(70000)); print('%032x' % xxhash.xxh3_128_intdigest(d[:n]))"
  // Lengths around the long path's edges: one stripe past 240, a whole and a partial 1 KiB block, 4 KiB, a chunk, 64 KiB.
  const expected: [number, string][] = [
    [241, 'ac6c3492c3d6b45d8beadd3a8874fe17'],
    [300, '55dbf83207efb80dfd9aa0f0d62e0227'],
    [1024, '18bc0eaca9a336369b81661c641c72b1'],
    [1025, 'bf447251cfa98d7c806c2072ed713576'],
    [4096, '1546867423105cd5d7428746842be37e'],
    [8205, '16586715f54bc9b230ae301b8f879040'],
    [65536, '6a2504ac37f3b3b35d03b43b14c75500'],
  ];
  for (const [length, hex] of expected) {
    const digest = hasher.blockDigest(data.subarray(0, length));
    const value = (digest.readBigUInt64LE(8) << 64n) | digest.readBigUInt64LE(0);
    assert.equal(value.toString(16).padStart(32, '0'), hex, `length ${length}`);
  }
  // Up to 240 bytes: MurmurHash3_x64_128 with seed 0.
  for (const length of [0, 1, 16, 200, 240]) assert.deepEqual(Buffer.from(hasher.blockDigest(data.subarray(0, length))), Buffer.from(hasher.hash(data.subarray(0, length))), `length ${length}`);
});

test('pieces and tree levels equal hashing each piece on its own; equal blocks ⇔ equal digests', () => {
  const hasher = new BlockHasher(1 << 20);
  // 200 blocks of 4 KiB drawn from 40 distinct ones (some differing in one byte), plus a short tail.
  const distinct: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const twin = Buffer.from(distinct[i - 1] ?? randomBytes(4096));
    twin[4095] = (twin[4095] as number) ^ 1;
    distinct.push(i % 10 === 9 ? twin : randomBytes(4096));
  }
  const choice = Array.from({ length: 200 }, (_, i) => (i * 7919) % 40);
  const data = hasher.data.subarray(0, 200 * 4096 + 1000);
  choice.forEach((c, i) => (distinct[c] as Buffer).copy(data, i * 4096));
  randomBytes(1000).copy(data, 200 * 4096);
  assert.equal(hasher.pieces(data, 4096), 201);
  const leaf = (i: number) => Buffer.from(hasher.digest(i));
  const leaves = Array.from({ length: 201 }, (_, i) => leaf(i));
  for (let i = 0; i < 201; i++) assert.deepEqual(leaves[i], Buffer.from(hasher.blockDigest(data.subarray(i * 4096, (i + 1) * 4096))), `block ${i}`);
  for (let i = 0; i < 200; i++) {
    for (let j = i + 1; j < 200; j++) assert.equal(leaves[i]?.equals(leaves[j] as Buffer), choice[i] === choice[j], `blocks ${i}, ${j}`);
  }
  // Two blocks per node: node digests equal exactly when both halves are equal.
  const nodes = hasher.tree(0, 201, 2, 1000);
  assert.equal(nodes, 101);
  const node = (i: number) => Buffer.from(hasher.digest(1000 + i));
  assert.deepEqual(node(100), Buffer.from(hasher.blockDigest(Buffer.from(leaves[200] as Buffer))), 'a short last group hashes its one child');
  for (let i = 0; i < 100; i++) {
    assert.deepEqual(node(i), Buffer.from(hasher.blockDigest(Buffer.concat([leaves[2 * i] as Buffer, leaves[2 * i + 1] as Buffer]))));
    for (let j = i + 1; j < 100; j++) {
      const same = choice[2 * i] === choice[2 * j] && choice[2 * i + 1] === choice[2 * j + 1];
      assert.equal(node(i).equals(node(j)), same, `nodes ${i}, ${j}`);
    }
  }
});

test('a buffer from elsewhere is copied to the scratch region, never over the data; one larger than the scratch is refused', () => {
  const hasher = new BlockHasher(16384, 8192);
  const outside = randomBytes(5000);
  const inside = hasher.data.subarray(0, 5000);
  outside.copy(inside);
  hasher.data.fill(7, 5000);
  const before = Buffer.from(hasher.data);
  assert.deepEqual(Buffer.from(hasher.hash(outside)), Buffer.from(hasher.hash(inside)));
  assert.deepEqual(hasher.data, before, 'the data region is untouched');
  assert.throws(() => hasher.hash(randomBytes(8193)), /8193 bytes to hash, scratch region holds 8192/);
});

test('the module imports a shared memory; a second instance over the same memory sees the same data', () => {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(Buffer.from(BLOCKHASH_WASM_BASE64, 'base64')));
  assert.deepEqual(imports, [{ module: 'env', name: 'memory', kind: 'memory' }]);
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(BLOCKHASH_WASM_BASE64, 'base64')), { env: { memory: new WebAssembly.Memory({ initial: 4, maximum: 4 }) } }), /shared/i, 'an unshared memory is refused');
  const first = new BlockHasher(8192, 4096, { slots: 1, records: 8, joinBytes: 4096 });
  const second = new BlockHasher(8192, 4096, { slots: 1, records: 8, joinBytes: 4096 }, first.sharedMemory);
  randomBytes(8192).copy(first.data);
  assert.deepEqual(Buffer.from(second.hash(second.data)), Buffer.from(first.hash(first.data)));
  assert.throws(() => new BlockHasher(1 << 20, 4096, null, first.sharedMemory), /the shared memory holds/);
});

test('pieces (any size, over and under 240 bytes) gives each piece its own block digest', () => {
  const hasher = new BlockHasher(1 << 16);
  randomBytes(40_000).copy(hasher.data);
  for (const [length, size] of [[40_000, 4096], [4096 * 3, 4096], [4096 * 2 + 17, 4096], [1000, 48], [999, 100], [1000, 7], [4096, 8192]] as const) {
    const count = hasher.pieces(hasher.data.subarray(0, length), size, 0);
    assert.equal(count, Math.ceil(length / size));
    const digests = Buffer.from(hasher.memory.subarray(0, count * DIGEST_BYTES));
    for (let index = 0; index < count; index++) {
      const piece = hasher.data.subarray(index * size, Math.min(length, (index + 1) * size));
      assert.deepEqual(digests.subarray(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES), Buffer.from(hasher.blockDigest(piece)), `${length} bytes in ${size}-byte pieces, piece ${index}`);
    }
  }
});

test('chunks: every chunk digest is the chunk\'s block digest; all-zero chunks marked', () => {
  const records = 64;
  const hasher = new BlockHasher(1 << 18, 4096, { slots: 1, records, joinBytes: 8192 });
  const slot = hasher.chunkSlots[0];
  assert.ok(slot);
  randomBytes(1 << 18).copy(hasher.data);
  hasher.data.fill(0, 50_000, 100_000); // a zero run over 3 × max: at least one all-zero chunk
  // min 1 KiB, avg 4 KiB, max 16 KiB (masks as blockdedup's cdcMasks: 14 and 10 top bits); odd and even counts, final or not.
  const top = (bits: number) => (0xffffffff << (32 - bits)) >>> 0;
  for (const [length, final] of [[1 << 18, true], [1 << 18, false], [100_001, true], [1023, true], [5000, true]] as const) {
    const count = hasher.chunks(hasher.data.byteOffset, length, final, { min: 1024, avg: 4096, max: 16384 }, top(14), top(10), slot, 0, records);
    assert.ok(count > 0, `${length}: some chunks`);
    let at = 0;
    let zeros = 0;
    for (let index = 0; index < count; index++) {
      const stated = slot.lengths[index] as number;
      const size = Math.abs(stated);
      const chunk = hasher.data.subarray(at, at + size);
      assert.equal(stated < 0, chunk.every((byte) => byte === 0), `${length}: chunk ${index}'s zero mark`);
      if (stated < 0) zeros++;
      const stored: Buffer = Buffer.from(hasher.memory.subarray((slot.digestWords + 4 * index) * 4, (slot.digestWords + 4 * index + 4) * 4));
      assert.deepEqual(stored, Buffer.from(hasher.blockDigest(chunk)), `${length}: chunk ${index} (${size} bytes)`);
      at += size;
    }
    if (length === 1 << 18) assert.ok(zeros > 0, 'the zero run gave an all-zero chunk');
    if (final) assert.equal(at, length, 'a final call cuts to the end');
    else assert.ok(length - at < 16384, 'a non-final call stops less than max before the end');
  }
});

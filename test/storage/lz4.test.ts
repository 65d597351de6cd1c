import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lz4, LZ4_VERSION } from '../../src/storage/lz4.js';
import { Xoshiro128 } from '../../src/dataset/prng.js';

function randomBytes(length: number, seed: string): Buffer {
  const rng = Xoshiro128.from('lz4-test', seed);
  return Buffer.from(Uint32Array.from({ length: Math.ceil(length / 4) }, () => rng.nextUint32()).buffer).subarray(0, length);
}

/** Text with repeats at every distance LZ4 can reach, and some it cannot (over 64 KiB back). */
function textBytes(length: number): Buffer {
  const rng = Xoshiro128.from('lz4-test-text');
  const words = ['page', 'tuple', 'extent', 'chunk', 'ratio', 'dedup', 'block', 'toast', 'segment', 'volume'];
  let text = '';
  while (text.length < length) text += `${words[rng.nextUint32() % words.length]}${rng.nextUint32() % 1000} `;
  return Buffer.from(text).subarray(0, length);
}

/** What the machine's native liblz4 (Debian's liblz4-1, a 64-bit build) gives for each block: Python's ctypes, no binding to install. */
function nativeSizes(blocks: readonly Buffer[]): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-lz4-'));
  try {
    const file = join(dir, 'blocks');
    writeFileSync(file, Buffer.concat(blocks));
    const script = [
      'import ctypes, json, sys',
      "lib = ctypes.CDLL('liblz4.so.1')",
      'data = open(sys.argv[1], "rb").read(); sizes = json.loads(sys.argv[2]); at = 0; out = []',
      'for n in sizes:',
      '    dst = ctypes.create_string_buffer(n + n // 255 + 16)',
      '    out.append(lib.LZ4_compress_default(data[at:at + n], dst, n, len(dst))); at += n',
      'print(json.dumps(out))',
    ].join('\n');
    return JSON.parse(execFileSync('python3', ['-c', script, file, JSON.stringify(blocks.map((block) => block.length))], { encoding: 'utf8' })) as number[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sizes = [0, 1, 12, 13, 100, 4096, 8192, 16384, 65535, 65536, 65537, 131072];
const blocks = sizes.flatMap((size) => [randomBytes(size, String(size)), textBytes(size), Buffer.alloc(size), Buffer.concat([textBytes(size >> 1), randomBytes(size - (size >> 1), 'half')])]);

test(`the WebAssembly LZ4 (${LZ4_VERSION}) gives the native 64-bit library's output size, block for block`, () => {
  const lz4 = new Lz4();
  const ours = blocks.map((block) => lz4.compressedBytes(block));
  assert.deepEqual(ours, nativeSizes(blocks));
  // Not vacuous: random data grows a little, text and zeros shrink a lot.
  const at = (size: number, kind: number) => ours[sizes.indexOf(size) * 4 + kind] as number;
  assert.ok(at(4096, 0) > 4096, `random 4 KiB: ${at(4096, 0)}`);
  assert.ok(at(131072, 1) < 131072 / 2, `text 128 KiB: ${at(131072, 1)}`);
  assert.ok(at(131072, 2) < 1024, `zeros 128 KiB: ${at(131072, 2)}`);
});

test('every block compresses and decompresses back to itself', () => {
  const lz4 = new Lz4();
  for (const block of blocks.filter((block) => block.length > 0)) assert.ok(lz4.roundTrips(block), `a ${block.length}-byte block`);
});

test('a block over the capacity is refused, naming its size and the limit', () => {
  const lz4 = new Lz4();
  assert.throws(() => lz4.compressedBytes(Buffer.alloc(lz4.capacity + 1)), { name: 'RangeError', message: `a block of ${lz4.capacity + 1} bytes for LZ4; at most ${lz4.capacity}` });
});

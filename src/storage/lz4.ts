/**
 * LZ4 for the dedup simulation's compression: the reference block compressor (lz4 1.10.0's
 * LZ4_compress_default, acceleration 1 — what ZFS's `compression=lz4` runs per block) compiled to
 * WebAssembly (scripts/build-lz4-wasm.sh, committed as src/storage/lz4-wasm.ts). Only the size of
 * its output is wanted, so the module keeps input and output in its own memory and returns a
 * number: nothing is allocated per block, no native addon, the same bytes on every platform.
 *
 * Why not lz4-napi (lz4_flex), used before: ≈ 255 MB/s on incompressible 4 KiB blocks against
 * ≈ 2000 MB/s here (native liblz4: ≈ 2750), and a new Buffer per call that V8 does not count
 * (docs/storage.md). Sizes equal the 64-bit native library's, block for block (test/storage/lz4.test.ts).
 */
import { LZ4_VERSION, LZ4_WASM_BASE64 } from './lz4-wasm.js';

export { LZ4_VERSION };

interface Lz4Exports {
  memory: WebAssembly.Memory;
  input(): number;
  capacity(): number;
  compressedSize(length: number): number;
  roundTrips(length: number): number;
}

/** One instance of the compressor (its own memory; one per thread that compresses). */
export class Lz4 {
  private readonly exports: Lz4Exports;
  private readonly input: Uint8Array;

  constructor() {
    compiled ??= new WebAssembly.Module(Buffer.from(LZ4_WASM_BASE64, 'base64'));
    this.exports = new WebAssembly.Instance(compiled, {}).exports as unknown as Lz4Exports;
    // The memory is never grown (the module has no allocator), so this view stays valid.
    this.input = new Uint8Array(this.exports.memory.buffer, this.exports.input(), this.exports.capacity());
  }

  /** The largest block one call takes. */
  get capacity(): number {
    return this.input.length;
  }

  /** Bytes of LZ4_compress_default's output for `block` (the bare LZ4 block, no header). */
  compressedBytes(block: Uint8Array): number {
    return this.exports.compressedSize(this.load(block));
  }

  /** True when `block` compresses and LZ4_decompress_safe gives it back byte for byte (for tests). */
  roundTrips(block: Uint8Array): boolean {
    return this.exports.roundTrips(this.load(block)) === 1;
  }

  private load(block: Uint8Array): number {
    if (block.length > this.input.length) throw new RangeError(`a block of ${block.length} bytes for LZ4; at most ${this.input.length}`);
    this.input.set(block);
    return block.length;
  }
}

let compiled: WebAssembly.Module | undefined;

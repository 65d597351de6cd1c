/**
 * Block fingerprints of the dedup simulation: MurmurHash3_x64_128 (SMHasher's reference,
 * src/storage/blockhash.wat) in WebAssembly. A 128-bit non-cryptographic hash: for data nobody
 * crafted to collide, two distinct blocks share a digest with probability ~2^-128 per pair, so
 * n distinct blocks collide at all with probability ≤ n²/2^129 (1e9 blocks: < 1.5e-21). It is not
 * collision resistant against an adversary (seed-independent collisions of MurmurHash3 are
 * known): the simulation measures data a system wrote, not data an attacker chose.
 *
 * Why not sha256: Node hashes one block per call (~4 µs of call overhead, ~600 calls per MiB);
 * here one call digests every 4 KiB block of a read and one call per level its tree nodes.
 */
import { BLOCKHASH_WASM_BASE64 } from './blockhash-wasm.js';

export const DIGEST_BYTES = 16;
export const HASH_ALGORITHM = 'MurmurHash3_x64_128';

/** Digest slabs first (room for 4096 digests), then the caller's data region. */
const SLAB_BYTES = 4096 * DIGEST_BYTES;
const ONE_DIGEST_AT = SLAB_BYTES - DIGEST_BYTES;
const PAGE_BYTES = 65536;

let compiled: WebAssembly.Module | null = null;

interface BlockHashExports {
  memory: WebAssembly.Memory;
  hash(at: number, length: number, seed: number, out: number): void;
  pieces(at: number, length: number, size: number, out: number): number;
  tree(children: number, count: number, per: number, out: number): number;
}

/**
 * One WebAssembly instance with a fixed data region of `dataBytes` (never grown, so views of it
 * stay valid): callers read files straight into `data` and hash there, no copy. Bytes from
 * elsewhere are copied into a separate scratch region of `scratchBytes` first, so a copy never
 * overwrites data a caller still reads.
 */
export class BlockHasher {
  private readonly exports: BlockHashExports;
  /** All of the instance's memory as a Buffer: digests are subarrays of it. */
  readonly memory: Buffer;
  /** The data region (from address SLAB_BYTES). */
  readonly data: Buffer;
  /** The digest slab as 32-bit words (native order): digest `slot` is words[4 slot, 4 slot + 4). */
  readonly words: Uint32Array;

  private readonly scratch: Buffer;

  get scratchBytes(): number {
    return this.scratch.length;
  }

  constructor(dataBytes: number, scratchBytes = dataBytes) {
    compiled ??= new WebAssembly.Module(Buffer.from(BLOCKHASH_WASM_BASE64, 'base64'));
    this.exports = new WebAssembly.Instance(compiled, {}).exports as unknown as BlockHashExports;
    const needed = SLAB_BYTES + dataBytes + scratchBytes;
    const have = this.exports.memory.buffer.byteLength;
    if (needed > have) this.exports.memory.grow(Math.ceil((needed - have) / PAGE_BYTES));
    this.memory = Buffer.from(this.exports.memory.buffer);
    this.data = this.memory.subarray(SLAB_BYTES, SLAB_BYTES + dataBytes);
    this.scratch = this.memory.subarray(SLAB_BYTES + dataBytes, needed);
    this.words = new Uint32Array(this.exports.memory.buffer, 0, SLAB_BYTES / 4);
  }

  /** Address of `bytes` in the instance's memory: a view of it as is, anything else copied to the scratch region. */
  private addressOf(bytes: Uint8Array): number {
    if (bytes.buffer === this.memory.buffer) return bytes.byteOffset;
    if (bytes.length > this.scratch.length) throw new RangeError(`${bytes.length} bytes to hash, scratch region holds ${this.scratch.length}`);
    this.scratch.set(bytes);
    return this.scratch.byteOffset;
  }

  /** MurmurHash3_x64_128(bytes, seed): a view valid until the next call. */
  hash(bytes: Uint8Array, seed = 0): Buffer {
    this.exports.hash(this.addressOf(bytes), bytes.length, seed >>> 0, ONE_DIGEST_AT);
    return this.memory.subarray(ONE_DIGEST_AT, ONE_DIGEST_AT + DIGEST_BYTES);
  }

  /**
   * Digests of `bytes` cut into `size`-byte pieces (the last one shorter), back to back in the
   * slab from digest index `slot`; returns their count.
   */
  pieces(bytes: Uint8Array, size: number, slot = 0): number {
    return this.exports.pieces(this.addressOf(bytes), bytes.length, size, slot * DIGEST_BYTES);
  }

  /** One hash-tree level: children at digest index `from` (`count` of them), `per` a node, nodes from index `to`. */
  tree(from: number, count: number, per: number, to: number): number {
    return this.exports.tree(from * DIGEST_BYTES, count, per, to * DIGEST_BYTES);
  }

  /** The digest at slab index `slot` (a view). */
  digest(slot: number): Buffer {
    return this.memory.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES);
  }
}

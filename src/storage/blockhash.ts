/**
 * Block fingerprints of the dedup simulation, in WebAssembly (src/storage/blockhash.wat): XXH3-128
 * (xxHash 0.8's XXH3_128bits, default secret, with SIMD) of inputs over 240 bytes — every full block
 * and every chunk — and MurmurHash3_x64_128 (SMHasher's reference, seed 0) of shorter ones (a
 * file's short last block or chunk, hash-tree nodes of 2 and 4 children). Both are 128-bit
 * non-cryptographic hashes: for data nobody crafted to collide, two distinct blocks share a digest
 * with probability ~2^-128 per pair, so n distinct blocks collide at all with probability
 * ≤ n²/2^129 (1e9 blocks: < 1.5e-21). Neither is collision resistant against an adversary: the
 * simulation measures data a system wrote, not data an attacker chose. XXH3 because it hashes
 * ≈ 2–3x faster than MurmurHash3 here (docs/storage.md), the largest CPU cost after the gear scan.
 *
 * Why not sha256: Node hashes one block per call (~4 µs of call overhead, ~600 calls per MiB);
 * here one call digests every 4 KiB block of a read and one call per level its tree nodes.
 */
import { BLOCKHASH_WASM_BASE64 } from './blockhash-wasm.js';
import { Xoshiro128 } from '../dataset/prng.js';

export const DIGEST_BYTES = 16;
export const HASH_ALGORITHM = 'XXH3-128 (MurmurHash3_x64_128 up to 240 bytes)';

/**
 * The memory's layout: the digest slab (room for 4096 digests), the gear table of the CDC scan
 * (GEAR_AT, the constant offset of its loads in blockhash.wat), shared flags (FLAGS_AT), then
 * from DATA_AT the caller's data region, a scratch region and, for the CDC side, one chunk slot
 * per read buffer (the digests, lengths and addresses of a read's chunks, and a join region for
 * the chunks that span two reads), a second record area per read buffer for the chunks the main
 * thread cuts ahead of the worker (src/storage/cdc-speculation.ts), and the carry region (the
 * uncut tail of the stream).
 */
const SLAB_BYTES = 4096 * DIGEST_BYTES;
const ONE_DIGEST_AT = SLAB_BYTES - DIGEST_BYTES;
const GEAR_AT = 65536;
/** 160 Int32 flags for the threads sharing the memory (src/storage/cdc-thread.ts). */
export const FLAGS_AT = GEAR_AT + 1024;
export const FLAG_COUNT = 160;
/** XXH3's default secret (192 bytes), at the constant address blockhash.wat loads it from. */
const SECRET_AT = GEAR_AT + 2048;
const XXH3_SECRET = Buffer.from(
  'b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c' +
    '3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364' +
    'eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e',
  'hex',
);
const DATA_AT = 131072;
const PAGE_BYTES = 65536;

let compiled: WebAssembly.Module | null = null;

interface BlockHashExports {
  hash(at: number, length: number, seed: number, out: number): void;
  digest(at: number, length: number, out: number): void;
  pieces(at: number, length: number, size: number, out: number): number;
  tree(children: number, count: number, per: number, out: number): number;
  chunks(at: number, length: number, final: number, min: number, avg: number, max: number, small: number, large: number, out: number, lens: number, cap: number): number;
}

/** The CDC side's regions: `slots` chunk slots of `records` chunks each, join regions of `joinBytes` (2 × max), a carry region of max. */
export interface ChunkRegions {
  slots: number;
  records: number;
  joinBytes: number;
}

/** Sizes of the caller's regions: the same sizes give the same layout (the CDC worker rebuilds it over the shared memory). */
export interface HasherRegions {
  dataBytes: number;
  scratchBytes: number;
  cdc: ChunkRegions | null;
}

/** Where one read's chunks go: digest `i` at `words[digestWords + 4 i]`, its length (negative: all zero bytes) and address. */
export interface ChunkSlot {
  digestWords: number;
  lengths: Int32Array;
  addresses: Int32Array;
  join: Buffer;
}

/** The FastCDC gear table of src/dataset/fastcdc.ts: the same seed, the same 256 values. */
function gearTable(): Int32Array {
  const rng = Xoshiro128.from('fastcdc-gear-table');
  return Int32Array.from({ length: 256 }, () => rng.nextUint32() | 0);
}

/**
 * One WebAssembly instance over a fixed shared memory (never grown, so views of it stay valid):
 * callers read files straight into `data` and hash there, no copy. Bytes from elsewhere are
 * copied into a separate scratch region first, so a copy never overwrites data a caller still
 * reads. Pass `memory` (and the same regions) to make a second instance over the same memory,
 * e.g. on a worker thread.
 */
export class BlockHasher {
  private readonly exports: BlockHashExports;
  readonly sharedMemory: WebAssembly.Memory;
  readonly regions: HasherRegions;
  /** All of the instance's memory as a Buffer: digests are subarrays of it. */
  readonly memory: Buffer;
  /** The data region (from address DATA_AT). */
  readonly data: Buffer;
  /** The digest slab as 32-bit words (native order): digest `slot` is words[4 slot, 4 slot + 4). */
  readonly words: Uint32Array;
  /** One per read buffer (none without CDC). */
  readonly chunkSlots: readonly ChunkSlot[];
  /** One per read buffer: the chunks the main thread cut ahead of the worker (no join region). */
  readonly speculativeSlots: readonly ChunkSlot[];
  /** The stream's uncut tail between reads (max bytes). */
  readonly carry: Buffer;
  /** FLAG_COUNT shared Int32 flags (Atomics). */
  readonly flags: Int32Array;

  private readonly scratch: Buffer;

  get scratchBytes(): number {
    return this.scratch.length;
  }

  constructor(dataBytes: number, scratchBytes = dataBytes, cdc: ChunkRegions | null = null, memory?: WebAssembly.Memory) {
    this.regions = { dataBytes, scratchBytes, cdc };
    const scratchAt = DATA_AT + dataBytes;
    let at = Math.ceil((scratchAt + scratchBytes) / DIGEST_BYTES) * DIGEST_BYTES;
    const records = cdc?.records ?? 0;
    const recordArea = (joinBytes: number) => {
      const digestsAt = at;
      const lengthsAt = digestsAt + records * DIGEST_BYTES;
      const addressesAt = lengthsAt + records * 4;
      const joinAt = addressesAt + records * 4;
      at = Math.ceil((joinAt + joinBytes) / DIGEST_BYTES) * DIGEST_BYTES;
      return { digestsAt, lengthsAt, addressesAt, joinAt, joinBytes };
    };
    const slots = Array.from({ length: cdc?.slots ?? 0 }, () => recordArea(cdc?.joinBytes ?? 0));
    const speculative = Array.from({ length: cdc?.slots ?? 0 }, () => recordArea(0));
    const carryAt = at;
    const needed = carryAt + (cdc ? cdc.joinBytes / 2 : 0);
    const pages = Math.ceil(needed / PAGE_BYTES);
    if (memory && memory.buffer.byteLength < needed) throw new RangeError(`the shared memory holds ${memory.buffer.byteLength} bytes, the layout needs ${needed}`);
    this.sharedMemory = memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    compiled ??= new WebAssembly.Module(Buffer.from(BLOCKHASH_WASM_BASE64, 'base64'));
    this.exports = new WebAssembly.Instance(compiled, { env: { memory: this.sharedMemory } }).exports as unknown as BlockHashExports;
    const buffer = this.sharedMemory.buffer;
    this.memory = Buffer.from(buffer);
    if (!memory) {
      new Int32Array(buffer, GEAR_AT, 256).set(gearTable());
      this.memory.set(XXH3_SECRET, SECRET_AT);
    }
    this.data = this.memory.subarray(DATA_AT, scratchAt);
    this.scratch = this.memory.subarray(scratchAt, scratchAt + scratchBytes);
    this.words = new Uint32Array(buffer);
    const slotAt = ({ digestsAt, lengthsAt, addressesAt, joinAt, joinBytes }: (typeof slots)[number]): ChunkSlot => ({
      digestWords: digestsAt / 4,
      lengths: new Int32Array(buffer, lengthsAt, records),
      addresses: new Int32Array(buffer, addressesAt, records),
      join: this.memory.subarray(joinAt, joinAt + joinBytes),
    });
    this.chunkSlots = slots.map(slotAt);
    this.speculativeSlots = speculative.map(slotAt);
    this.carry = this.memory.subarray(carryAt, needed);
    this.flags = new Int32Array(buffer, FLAGS_AT, FLAG_COUNT);
  }

  /** Address of `bytes` in the instance's memory: a view of it as is, anything else copied to the scratch region. */
  private addressOf(bytes: Uint8Array): number {
    if (bytes.buffer === this.memory.buffer) return bytes.byteOffset;
    if (bytes.length > this.scratch.length) throw new RangeError(`${bytes.length} bytes to hash, scratch region holds ${this.scratch.length}`);
    this.scratch.set(bytes);
    return this.scratch.byteOffset;
  }

  /** The block digest of `bytes` (what `pieces`, `tree` and `chunks` compute): a view valid until the next call. */
  blockDigest(bytes: Uint8Array): Buffer {
    this.exports.digest(this.addressOf(bytes), bytes.length, ONE_DIGEST_AT);
    return this.memory.subarray(ONE_DIGEST_AT, ONE_DIGEST_AT + DIGEST_BYTES);
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

  /**
   * FastCDC chunks of memory[at, at + length) (an address in this memory), cut and digested in
   * one call: while `max` bytes follow a chunk's start, or to the end when `final`; at most `cap`.
   * Digests and lengths (negative: all zero bytes) go to `slot` from record `first`; returns the count.
   */
  chunks(at: number, length: number, final: boolean, params: { min: number; avg: number; max: number }, small: number, large: number, slot: ChunkSlot, first: number, cap: number): number {
    return this.exports.chunks(at, length, final ? 1 : 0, params.min, params.avg, params.max, small | 0, large | 0, (slot.digestWords + 4 * first) * 4, slot.lengths.byteOffset + 4 * first, cap);
  }

  /** The digest at slab index `slot` (a view). */
  digest(slot: number): Buffer {
    return this.memory.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES);
  }
}

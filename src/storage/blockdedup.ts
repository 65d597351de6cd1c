/**
 * Simulated block-level dedup and compression (SPEC §12): what a deduplicating storage layer —
 * ZFS with a given recordsize, a volume with fixed-block dedup, a CDC backup store — would keep of
 * exactly the bytes a system wrote. One streaming pass over the files:
 *
 * - fixed blocks of 4, 8, 16, 64 and 128 KiB aligned to the file offset (a file system allocates
 *   a file's blocks from its offset 0, so a volume sees the same alignment);
 * - FastCDC chunks (src/dataset/fastcdc.ts, the parameters `estimate` states);
 * - each distinct block compressed on its own with LZ4 (ZFS's default `compression=lz4` works per
 *   record), its allocation rounded up to 4 KiB sectors (ashift=12), kept uncompressed unless LZ4
 *   saves at least 1/8 (ZFS's rule), all-zero blocks stored as holes (ZFS with compression on).
 *
 * Reads go through a ring of 1 MiB buffers at file offsets that are multiples of 1 MiB, so every
 * fixed block lies inside one read: no copies (1 MiB per read, three in flight, O_DIRECT where the
 * file system takes it: see Reader and SourceFile). The buffers live in the WebAssembly hasher's shared
 * memory (src/storage/blockhash.ts, XXH3-128 digests and the FastCDC gear scan): a read is
 * hashed where it landed, every 4 KiB block in one call, and its chunks are cut and digested there
 * too, by the CDC worker (src/storage/cdc-thread.ts) on the second core or inline. Fingerprints of
 * blocks above 4 KiB are the hash of their 4 KiB sub-block digests (a hash tree, one call per
 * level): equal blocks give equal digests, and the data is hashed once instead of five times.
 */
import { constants } from 'node:fs';
import { open, readdir, lstat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Lz4, LZ4_VERSION } from './lz4.js';
import { DEFAULT_CDC, type CdcParameters } from '../dataset/fastcdc.js';
import { storedBlockBytes, SECTOR_BYTES } from './allocation.js';
import { FingerprintSet } from './fingerprints.js';
import { BlockHasher, type ChunkSlot } from './blockhash.js';

export const BLOCK_SIZES = [4096, 8192, 16384, 65536, 131072] as const;
const BASE_BLOCK = 4096;
const READ_BYTES = 1 << 20;
/** Where each block size's digests sit in the hasher's slab: 256 + 128 + 64 + 16 + 8 per read. */
const LEVEL_SLOTS = [0, 256, 384, 448, 464] as const;
export const COMPRESSOR = `lz4 ${LZ4_VERSION} block (LZ4_compress_default), per distinct block`;

export interface DedupTally {
  /** Bytes read (apparent file sizes). */
  bytes: number;
  pieces: number;
  uniquePieces: number;
  /** Bytes of the distinct pieces (holes excluded). */
  uniqueBytes: number;
  /** Bytes of all-zero pieces, which a compressing layer keeps as holes. */
  zeroBytes: number;
  /** LZ4 output of the distinct pieces (unrounded), from the sample's ratio. */
  compressedBytes: number;
  /** Distinct bytes actually compressed (see COMPRESS_ALWAYS_BYTES). */
  compressionSampleBytes: number;
  /** ± on compressedBytes: MARGIN_STANDARD_ERRORS standard errors of the sample (0 when every distinct piece was compressed). */
  compressedBytesMargin: number;
  /** What the layer allocates for the distinct pieces: sectors, ZFS's 1/8 rule. */
  allocatedBytes: number;
  /** ± on allocatedBytes, the same way. */
  allocatedBytesMargin: number;
  /** bytes / uniqueBytes (zero blocks count as stored once). */
  dedupRatio: number;
  /** uniqueBytes / compressedBytes. */
  compressionRatio: number;
  /** bytes / allocatedBytes: dedup and compression together, as the layer would charge. */
  storageRatio: number;
}

export interface BlockDedupResult {
  path: string;
  files: number;
  /** Files that disappeared or could not be read during the walk (a live data dir changes). */
  skippedFiles: number;
  /** Files read with O_DIRECT, past the page cache (the others through it: a file system that refuses O_DIRECT, or `direct: false`). */
  directFiles: number;
  bytes: number;
  durationMs: number;
  fixed: (DedupTally & { blockSize: number })[];
  cdc: DedupTally & { algorithm: string; minSize: number; avgSize: number; maxSize: number };
  compressor: string;
  /** 1 in how many distinct blocks beyond each unit's first COMPRESS_ALWAYS_BYTES was compressed (compressSampleRate). */
  compressionSampleRate: number;
  sectorBytes: number;
}

export interface BlockDedupOptions {
  compress?: boolean;
  cdc?: CdcParameters | false;
  /**
   * CDC on a worker thread over the shared memory (`true`), or inline (`false`); by default the
   * worker from THREADS_FROM_BYTES of files on. Results are the same (test/storage/blockdedup.test.ts).
   */
  threads?: boolean;
  /** Read with O_DIRECT where the file system takes it (default true); results are the same either way. */
  direct?: boolean;
}

/**
 * LZ4 costs more CPU per byte than hashing, so compression is measured on a sample of each
 * unit's distinct blocks, in two strata: the first COMPRESS_ALWAYS_BYTES all compressed (small
 * scans are exact), then those whose digest falls in 1/COMPRESS_SAMPLE_RATE of the hash space — a
 * choice by content, independent of where a block sits — whose ratio stands for the rest's
 * distinct bytes only (docs/storage.md states the error bound).
 */
export const COMPRESS_ALWAYS_BYTES = 16 << 20;
export const COMPRESS_SAMPLE_RATE = 16;

/**
 * Beyond the first stratum a unit compresses at most about this many bytes of a scan: the rate is
 * 1/COMPRESS_SAMPLE_RATE, or coarser (a power of two) when the files' listed bytes would make the
 * sample larger. LZ4 runs at ≈ 2000 MB/s on incompressible 4 KiB blocks but ≈ 430 MB/s on text
 * (src/storage/lz4.ts), and every unit compresses its own sample; 48 MiB of sample (12 288 blocks
 * of 4 KiB, 384 of 128 KiB) keeps each unit's margin small, and the margin states it either way.
 */
export const COMPRESS_SAMPLE_BUDGET_BYTES = 48 << 20;

/** The sample rate (1 in how many distinct blocks beyond the first stratum) for a scan of `listedBytes`. */
export function compressSampleRate(listedBytes: number): number {
  let rate = COMPRESS_SAMPLE_RATE;
  while (listedBytes / rate > COMPRESS_SAMPLE_BUDGET_BYTES) rate *= 2;
  return rate;
}

/** One block size's distinct fingerprints and byte counts. */
export class Tally {
  private readonly seen = new FingerprintSet();
  bytes = 0;
  pieces = 0;
  uniqueBytes = 0;
  zeroBytes = 0;
  /** The first COMPRESS_ALWAYS_BYTES of distinct blocks, all compressed. */
  private readonly first = new CompressedSum();
  /** Distinct bytes after those, and the sample of them that was compressed. */
  private restBytes = 0;
  private readonly sample = new CompressedSum();
  private zeroSeen = false;

  /**
   * `packed`: a chunk store packs chunks into pack files, so no per-chunk sector rounding.
   * `sampleRate`: 1 in how many distinct blocks beyond the first COMPRESS_ALWAYS_BYTES is compressed (1: all).
   */
  constructor(
    private readonly compress: ((block: Buffer) => number) | null,
    private readonly packed = false,
    private readonly sampleRate = COMPRESS_SAMPLE_RATE,
  ) {}

  private readonly digestWords = new Uint32Array(4);

  /** `digest` is the block's 128-bit digest (or hash-tree digest); `isZero` marks an all-zero block. */
  add(block: Buffer, digest: Uint8Array, isZero: boolean): void {
    new Uint8Array(this.digestWords.buffer).set(digest.subarray(0, 16));
    this.addAt(block, 0, block.length, this.digestWords, 0, isZero);
  }

  /**
   * The block `data[start, end)` with its digest as four 32-bit words at `words[at]` (the
   * hasher's slab, no copy): the block's own view is made only when it is compressed.
   */
  addAt(data: Buffer, start: number, end: number, words: Uint32Array, at: number, isZero: boolean): void {
    const length = end - start;
    this.pieces++;
    this.bytes += length;
    if (isZero) {
      this.zeroBytes += length;
      this.zeroSeen = true;
      return;
    }
    // 128-bit digests: collisions negligible at any volume this scans (src/storage/blockhash.ts).
    if (!this.seen.addWords(words, at)) return;
    this.uniqueBytes += length;
    let sum = this.first;
    if (this.first.bytes >= COMPRESS_ALWAYS_BYTES) {
      this.restBytes += length;
      // Digest bits 64..95 (word 2): independent of the fingerprint table's slot index (word 0).
      if ((words[at + 2] as number) % this.sampleRate !== 0) return;
      sum = this.sample;
    }
    const block = data.subarray(start, end);
    const compressed = this.compress ? this.compress(block) : block.length;
    sum.add(block.length, compressed, this.packed ? Math.min(compressed, block.length) : storedBlockBytes(block.length, compressed));
  }

  result(): DedupTally {
    const stored = this.uniqueBytes + (this.zeroSeen ? 1 : 0);
    // Stratified: the first blocks exactly, the rest from its own sample's ratio (the first
    // blocks' ratio when the rest is too small to have a sampled block).
    const rest = this.sample.bytes > 0 ? this.sample : this.first;
    const scale = ratio(this.restBytes, rest.bytes);
    const compressedBytes = Math.round(this.first.compressed + rest.compressed * scale);
    const allocatedBytes = Math.round(this.first.allocated + rest.allocated * scale);
    const sampled = this.sample.bytes > 0 ? this.sample : new CompressedSum();
    return {
      bytes: this.bytes,
      pieces: this.pieces,
      uniquePieces: this.seen.size + (this.zeroSeen ? 1 : 0),
      uniqueBytes: this.uniqueBytes,
      zeroBytes: this.zeroBytes,
      compressedBytes,
      allocatedBytes,
      compressionSampleBytes: this.first.bytes + this.sample.bytes,
      compressedBytesMargin: margin(sampled.compressedFraction, this.restBytes),
      allocatedBytesMargin: margin(sampled.allocatedFraction, this.restBytes),
      dedupRatio: ratio(this.bytes, stored),
      compressionRatio: ratio(this.uniqueBytes, compressedBytes),
      storageRatio: ratio(this.bytes, allocatedBytes),
    };
  }
}

/** Margins are this many standard errors: ~99.7 % coverage where the normal approximation holds. */
export const MARGIN_STANDARD_ERRORS = 3;

/** Sampled pieces from which the normal approximation is taken to hold; below, the widest spread possible. */
export const NORMAL_FROM_PIECES = 30;

/**
 * A byte-weighted mean of per-piece fractions (LZ4 output / piece bytes, or allocation / piece
 * bytes), with the weighted variance kept incrementally (West 1979) for its standard error.
 */
class WeightedMean {
  weight = 0;
  private squaredWeights = 0;
  private mean = 0;
  private spread = 0;
  private largest = 0;
  count = 0;

  add(fraction: number, weight: number): void {
    this.count++;
    this.weight += weight;
    this.squaredWeights += weight * weight;
    this.largest = Math.max(this.largest, fraction);
    const delta = fraction - this.mean;
    this.mean += (weight / this.weight) * delta;
    this.spread += weight * delta * (fraction - this.mean);
  }

  /** Standard error of the mean as an estimate of the population's byte-weighted fraction. */
  standardError(): number {
    if (this.count < 2) return Infinity;
    const effectiveCount = (this.weight * this.weight) / this.squaredWeights;
    // A few pieces say little about the spread of the rest (measured: 4 sampled 128 KiB text
    // blocks, all one allocation, 1 % off the exact allocation): take the widest variance a
    // fraction in [0, max(1, largest)] can have (Popoviciu: range² / 4).
    if (this.count < NORMAL_FROM_PIECES) return Math.sqrt(Math.max(1, this.largest) ** 2 / 4 / effectiveCount);
    // Sizes are whole bytes: a sample whose blocks all compressed to the same size shows no spread,
    // yet blocks it did not see may differ by a byte or so (measured: 3 bytes over 8192 random
    // 4 KiB blocks, none sampled at 1/64). So the spread is taken as at least a byte per block.
    const byteSpread = (this.count / this.weight) ** 2;
    const variance = Math.max((this.spread / this.weight) * (this.count / (this.count - 1)), byteSpread);
    return Math.sqrt(variance / effectiveCount);
  }
}

/** Bytes of some distinct blocks, their LZ4 output and their allocation. */
class CompressedSum {
  bytes = 0;
  compressed = 0;
  allocated = 0;
  readonly compressedFraction = new WeightedMean();
  readonly allocatedFraction = new WeightedMean();

  add(bytes: number, compressed: number, allocated: number): void {
    this.bytes += bytes;
    this.compressed += compressed;
    this.allocated += allocated;
    this.compressedFraction.add(compressed / bytes, bytes);
    this.allocatedFraction.add(allocated / bytes, bytes);
  }
}

/**
 * ± on the rest's extrapolation: MARGIN_STANDARD_ERRORS standard errors of the sample's fraction
 * times the rest's bytes; with fewer than two sampled pieces, the rest's bytes themselves (a
 * fraction of a piece's bytes lies in [0, ~1]).
 */
function margin(mean: WeightedMean, restBytes: number): number {
  if (mean.weight >= restBytes) return 0;
  // Finite population correction: the sample is drawn without replacement from the rest.
  const standardError = mean.standardError() * Math.sqrt(1 - mean.weight / restBytes);
  // + 1: the estimate is rounded to whole bytes.
  return Math.ceil(Math.min(restBytes, MARGIN_STANDARD_ERRORS * standardError * restBytes)) + 1;
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 1;
}

/** Digests of all-zero blocks per size (hash-tree digests for sizes above 4 KiB), as the slab's 32-bit words. */
function zeroDigests(hasher: BlockHasher): Uint32Array[] {
  const words = (digest: Uint8Array) => new Uint32Array(Uint8Array.from(digest).buffer);
  const zero4k = Uint8Array.from(hasher.blockDigest(Buffer.alloc(BASE_BLOCK)));
  return BLOCK_SIZES.map((size) => words(size === BASE_BLOCK ? zero4k : hasher.blockDigest(Buffer.concat(Array.from({ length: size / BASE_BLOCK }, () => zero4k)))));
}

/** The compressor: bytes of the bare LZ4 block for one block (src/storage/lz4.ts). */
export async function loadCompressor(): Promise<(block: Buffer) => number> {
  const lz4 = new Lz4();
  return (block) => lz4.compressedBytes(block);
}

/** Regular files under `path` (or `path` itself), hard links once, symlinks not followed. */
export async function listFiles(path: string): Promise<string[]> {
  return (await listFilesWithBytes([path])).files.map((file) => file.path);
}

/** listFiles over several paths (a hard link across them once), with each file's and the total apparent size. */
async function listFilesWithBytes(paths: readonly string[]): Promise<{ files: ListedFile[]; bytes: number }> {
  const seen = new Set<string>();
  const files: ListedFile[] = [];
  let bytes = 0;
  const visit = async (current: string): Promise<void> => {
    const stats = await lstat(current, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!stats) return;
    if (stats.isDirectory()) {
      const names = await readdir(current).catch(() => [] as string[]);
      for (const name of names.sort()) await visit(join(current, name));
      return;
    }
    const key = `${stats.dev}:${stats.ino}`;
    if (!stats.isFile() || seen.has(key)) return;
    seen.add(key);
    files.push({ path: current, size: Number(stats.size) });
    bytes += Number(stats.size);
  };
  for (const path of paths) await visit(path);
  return { files, bytes };
}

/** FastCDC's masks (src/dataset/fastcdc.ts): normalization level 2, the top bits of the gear hash. */
function cdcMasks(params: CdcParameters): { small: number; large: number } {
  const topBits = (count: number) => (count <= 0 ? 0 : (0xffffffff << (32 - count)) >>> 0);
  const bits = Math.round(Math.log2(params.avg));
  return { small: topBits(bits + 2), large: topBits(bits - 2) };
}

/** Chunk records one read can produce: the join region's chunks (≤ 2 max) and the read's own, each ≥ min except a file's last. */
export function recordsPerRead(params: CdcParameters, readBytes = READ_BYTES): number {
  return Math.ceil((readBytes + 2 * params.max) / params.min) + 2;
}

/** A read's chunks as cut from its first byte (CdcCutter.cutAhead): `count` records in `slot`. */
export interface CutAhead {
  slot: ChunkSlot;
  count: number;
}

/**
 * Cuts and digests the content-defined chunks of a stream, read by read, over a hasher's memory
 * (on the CDC worker, the main thread's memory, shared): one WebAssembly call cuts and digests
 * every chunk of a read where it landed. Each read's chunks (digest, length, address) go to the
 * read buffer's chunk slot; a chunk spanning two reads is cut in the slot's join region (the
 * carried tail, < max, then the read's first max bytes), so every chunk's bytes stay in place
 * until the read buffer is reused. Pure: the tally is CdcTally's, in stream order.
 */
export class CdcCutter {
  private readonly small: number;
  private readonly large: number;
  /** Bytes of the stream's uncut tail in the hasher's carry region (< max). */
  private carried = 0;

  constructor(
    private readonly params: CdcParameters,
    private readonly hasher: BlockHasher,
  ) {
    if (!(params.min > 0 && params.min <= params.avg && params.avg <= params.max)) throw new RangeError('need 0 < min ≤ avg ≤ max');
    if (hasher.carry.length < params.max) throw new RangeError(`the hasher's carry region holds ${hasher.carry.length} bytes, needs ${params.max}`);
    ({ small: this.small, large: this.large } = cdcMasks(params));
  }

  /** Bytes of the uncut tail in the carry region. */
  get carriedBytes(): number {
    return this.carried;
  }

  /** Go on from another cutter's state over the same memory: `carried` bytes of uncut tail in the carry region. */
  resume(carried: number): void {
    if (!(carried >= 0 && carried < this.params.max)) throw new RangeError(`carried ${carried}: must be in [0, ${this.params.max})`);
    this.carried = carried;
  }

  /** Cut memory[at, at + length) into `slot` from record `first`, at most `limit` chunks; returns [records, bytes consumed]. */
  private cut(at: number, length: number, final: boolean, slot: ChunkSlot, first: number, limit = Infinity): [number, number] {
    const capacity = slot.lengths.length;
    let count = first;
    let consumed = 0;
    for (;;) {
      if (count === capacity) throw new RangeError(`more than ${capacity} chunks in one read`);
      const cut = this.hasher.chunks(at + consumed, length - consumed, final, this.params, this.small, this.large, slot, count, Math.min(limit, capacity - count));
      for (let index = count; index < count + cut; index++) {
        const stated = slot.lengths[index] as number;
        slot.addresses[index] = at + consumed;
        consumed += stated < 0 ? -stated : stated;
      }
      count += cut;
      if (count < capacity || cut === limit) return [count, consumed];
    }
  }

  /**
   * The chunks of a non-final read as if one started at its first byte, into `slot` (no join, no
   * carry): what the main thread cuts ahead of the worker (src/storage/cdc-thread.ts).
   */
  cutAhead(piece: Buffer, slot: ChunkSlot): number {
    return this.cut(piece.byteOffset, piece.length, false, slot, 0)[0];
  }

  /**
   * The read's chunks from offset `start` (the stream's chunk starts there) into `slot` from record
   * `count`; returns [records, offset where the uncut tail starts]. With chunks cut ahead from the
   * read's first byte: chunk by chunk until one starts where a chunk cut ahead does — the cut after
   * a chunk start depends only on the bytes that follow it, so from there on the chunks cut ahead
   * are the stream's own, taken as they are. Data whose chunks never meet those (e.g. all max-size)
   * is cut here to the end.
   */
  private cutFrom(piece: Buffer, start: number, last: boolean, slot: ChunkSlot, count: number, ahead: CutAhead | null): [number, number] {
    const at = piece.byteOffset;
    if (ahead && !last) {
      const addresses = ahead.slot.addresses;
      let next = 0;
      for (;;) {
        while (next < ahead.count && (addresses[next] as number) < at + start) next++;
        if (next === ahead.count) break;
        if (addresses[next] === at + start) return this.take(ahead, next, slot, count, at);
        const [records, consumed] = this.cut(at + start, piece.length - start, false, slot, count, 1);
        if (records === count) return [count, start];
        count = records;
        start += consumed;
      }
    }
    const [records, consumed] = this.cut(at + start, piece.length - start, last, slot, count);
    return [records, start + consumed];
  }

  /** Chunks cut ahead, from record `from` on, appended to `slot` at record `count`. */
  private take(ahead: CutAhead, from: number, slot: ChunkSlot, count: number, at: number): [number, number] {
    const taken = ahead.count - from;
    if (count + taken > slot.lengths.length) throw new RangeError(`more than ${slot.lengths.length} chunks in one read`);
    slot.lengths.set(ahead.slot.lengths.subarray(from, ahead.count), count);
    slot.addresses.set(ahead.slot.addresses.subarray(from, ahead.count), count);
    this.hasher.words.copyWithin(slot.digestWords + 4 * count, ahead.slot.digestWords + 4 * from, ahead.slot.digestWords + 4 * ahead.count);
    const lastLength = ahead.slot.lengths[ahead.count - 1] as number;
    this.readsTakenAhead++;
    return [count + taken, (ahead.slot.addresses[ahead.count - 1] as number) + Math.abs(lastLength) - at];
  }

  /** Reads whose chunks were (partly) taken from a cut ahead. */
  readsTakenAhead = 0;

  /**
   * The read in `piece` (a read buffer of the hasher's memory) into chunk slot `slotIndex`;
   * `last`: the file ends with it (the rest is cut); `ahead`: its chunks cut ahead (cutAhead), if
   * any. Returns the number of chunk records.
   */
  cutRead(piece: Buffer, slotIndex: number, last: boolean, ahead: CutAhead | null = null): number {
    const memory = this.hasher.memory;
    const slot = this.hasher.chunkSlots[slotIndex] as ChunkSlot;
    const carry = this.hasher.carry.byteOffset;
    const at = piece.byteOffset;
    let count = 0;
    let start = 0;
    if (this.carried > 0) {
      // Chunks starting inside the carried tail end at most `max` bytes into the piece.
      const join = slot.join.byteOffset;
      const take = Math.min(piece.length, this.params.max);
      memory.copyWithin(join, carry, carry + this.carried);
      memory.copyWithin(join + this.carried, at, at + take);
      const joined = this.carried + take;
      const final = last && take === piece.length;
      let consumed;
      [count, consumed] = this.cut(join, joined, final, slot, 0);
      if (final) {
        this.carried = 0;
        return count;
      }
      if (consumed < this.carried) {
        // The piece was too short to finish the chunk: everything is carried on.
        memory.copyWithin(carry, join + consumed, join + joined);
        this.carried = joined - consumed;
        return count;
      }
      start = consumed - this.carried;
    }
    const [records, tail] = this.cutFrom(piece, start, last, slot, count, ahead);
    start = tail;
    memory.copyWithin(carry, at + start, at + piece.length);
    this.carried = last ? 0 : piece.length - start;
    return records;
  }
}

/** The CDC unit's tally, fed with a chunk slot's records in stream order (the first-16-MiB stratum depends on it). */
export class CdcTally {
  readonly tally: Tally;

  constructor(
    compress: ((block: Buffer) => number) | null,
    private readonly hasher: BlockHasher,
    sampleRate = COMPRESS_SAMPLE_RATE,
  ) {
    this.tally = new Tally(compress, true, sampleRate);
  }

  addSlot(slotIndex: number, count: number): void {
    const slot = this.hasher.chunkSlots[slotIndex] as ChunkSlot;
    const { memory, words } = this.hasher;
    for (let index = 0; index < count; index++) {
      const stated = slot.lengths[index] as number;
      const start = slot.addresses[index] as number;
      this.tally.addAt(memory, start, start + (stated < 0 ? -stated : stated), words, slot.digestWords + 4 * index, stated < 0);
    }
  }
}

/** Where the chunks are cut: inline, or on a worker thread over the shared memory; tallied here either way. */
export interface CdcSide {
  /** The read in `piece` (a read buffer), `last`: its file ends with it. */
  push(piece: Buffer, last: boolean): void;
  /** Resolves once the side is done with `buffer` (a read buffer about to be read into again); undefined when it already is. */
  free(buffer: Buffer): Promise<void> | undefined | void;
  result(): Promise<DedupTally>;
  close(): Promise<void>;
}

/** Index of the read buffer `buffer` starts (is a view) in. */
export function readSlot(hasher: BlockHasher, buffer: Buffer): number {
  return (buffer.byteOffset - hasher.data.byteOffset) / READ_BYTES;
}

class InlineCdc implements CdcSide {
  private readonly cutter: CdcCutter;
  private readonly tally: CdcTally;

  constructor(
    compress: ((block: Buffer) => number) | null,
    params: CdcParameters,
    private readonly hasher: BlockHasher,
    sampleRate: number,
  ) {
    this.cutter = new CdcCutter(params, hasher);
    this.tally = new CdcTally(compress, hasher, sampleRate);
  }

  push(piece: Buffer, last: boolean): void {
    const slot = readSlot(this.hasher, piece);
    this.tally.addSlot(slot, this.cutter.cutRead(piece, slot, last));
  }

  free(): undefined {
    return undefined;
  }

  result(): Promise<DedupTally> {
    return Promise.resolve(this.tally.tally.result());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** No CDC (`cdc: false`): no chunks, an empty tally. */
const NO_CDC: CdcSide = {
  push: () => undefined,
  free: () => undefined,
  result: () => Promise.resolve(new Tally(null, true).result()),
  close: () => Promise.resolve(),
};

async function cdcSide(compress: ((block: Buffer) => number) | null, params: CdcParameters | false, threads: boolean, hasher: BlockHasher, sampleRate: number): Promise<CdcSide> {
  if (!params) return NO_CDC;
  if (!threads) return new InlineCdc(compress, params, hasher, sampleRate);
  const { CdcThread } = await import('./cdc-thread.js');
  return new CdcThread(new CdcTally(compress, hasher, sampleRate), params, hasher);
}

/**
 * From this many bytes of files the CDC side runs on the worker by default: starting it costs
 * ≈ 0.12 CPU-s, 0.3–0.5 s and 15 MiB of RSS (estimate of a 1 KB file, measured), about what the
 * second core saves on 64 MiB.
 */
export const THREADS_FROM_BYTES = 64 << 20;

/**
 * Buffers per read: one `readv` fills GROUP_PIECES read buffers. 1 (1 MiB requests, READS_AHEAD
 * of them in flight): this virtual disk serves 1 MiB O_DIRECT requests faster than 4 MiB ones (fio,
 * 8 alternating rounds: 1 MiB at queue depth 2 ahead of 4 MiB at depth 2 in every round, medians
 * 1365 and 1237 MB/s), and the scan with them was faster than with 4 MiB × 2 in 6 of 6 rounds
 * (+5–12 %, docs/storage.md). Buffered 1 MiB reads one at a time were slow (240 MB/s against 700–800
 * for 4 MiB, 2026-12-03); three in flight are not (1012–1053 MB/s, as fast as 4 MiB × 2 or faster).
 */
export const GROUP_PIECES = 1;

/** Reads in flight while a group is hashed: with one, the disk idled between a read's end and the next request whenever the hashing was behind. */
const READS_AHEAD = 3;

/** Read buffers the CDC worker may lag behind the hashing by (with 1 + READS_AHEAD: a ring of 16 MiB). */
const CDC_LAG_PIECES = 12;

/** Read buffers in the ring: the group being hashed, READS_AHEAD groups in flight and, with the CDC worker, its lag. */
export const ringSize = (threads: boolean) => (1 + READS_AHEAD) * GROUP_PIECES + (threads ? CDC_LAG_PIECES : 0);

class Simulation {
  readonly fixed: Tally[];
  /** Its memory holds the read buffers (and the CDC side's chunk slab and join region). */
  readonly hasher: BlockHasher;
  /** The read buffers: views of the hasher's data region. */
  readonly buffers: readonly Buffer[];
  private readonly zero: Uint32Array[];
  private readonly zeros = Buffer.alloc(BLOCK_SIZES.at(-1) as number);

  constructor(compress: ((block: Buffer) => number) | null, cdc: CdcParameters | false, ring: number, sampleRate: number) {
    this.fixed = BLOCK_SIZES.map(() => new Tally(compress, false, sampleRate));
    this.hasher = new BlockHasher(ring * READ_BYTES, BLOCK_SIZES.at(-1) as number, cdc ? { slots: ring, records: recordsPerRead(cdc), joinBytes: 2 * cdc.max } : null);
    this.buffers = Array.from({ length: ring }, (_, index) => this.hasher.data.subarray(index * READ_BYTES, (index + 1) * READ_BYTES));
    this.zero = zeroDigests(this.hasher);
  }

  /** One read at a file offset that is a multiple of READ_BYTES (so of every block size). */
  piece(data: Buffer): void {
    const count = this.hasher.pieces(data, BASE_BLOCK);
    for (let index = 1; index < BLOCK_SIZES.length; index++) this.hasher.tree(0, count, (BLOCK_SIZES[index] as number) / BASE_BLOCK, LEVEL_SLOTS[index] as number);
    BLOCK_SIZES.forEach((size, index) => this.addFixed(data, size, index));
  }

  private addFixed(data: Buffer, size: number, index: number): void {
    const tally = this.fixed[index] as Tally;
    const zero = this.zero[index] as Uint32Array;
    const words = this.hasher.words;
    let at = (LEVEL_SLOTS[index] as number) * 4;
    for (let start = 0; start < data.length; start += size, at += 4) {
      const end = Math.min(start + size, data.length);
      // Only a full-size block can be all zero here; a digest match is confirmed byte for byte.
      const isZero =
        end - start === size && words[at] === zero[0] && words[at + 1] === zero[1] && words[at + 2] === zero[2] && words[at + 3] === zero[3] && data.subarray(start, end).equals(this.zeros.subarray(0, size));
      tally.addAt(data, start, end, words, at, isZero);
    }
  }
}

/** Linux's O_DIRECT (0 where Node.js has none: then every file is read through the page cache). */
const O_DIRECT = constants.O_DIRECT ?? 0;

/**
 * A file being scanned: read with O_DIRECT where the file system takes it, as `dd iflag=direct`
 * does — the disk writes into the read buffers, no copy out of the page cache (≈ 0.8–1.4 CPU-s on
 * 3 GiB, measured, docs/storage.md) — and the scan leaves the page cache as the system under test
 * had it (a buffered scan of a data dir evicts the system's own cached pages before the next stage).
 * Where O_DIRECT is refused (EINVAL: tmpfs, some FUSE and network file systems) the file is
 * reopened buffered, once for all its reads in flight. The read buffers and every offset are multiples of 1 MiB, as O_DIRECT needs.
 */
export class SourceFile {
  private reopening: Promise<void> | null = null;

  private constructor(
    private handle: FileHandle,
    private direct: boolean,
    private readonly path: string,
  ) {}

  /** null when the file vanished or cannot be opened. */
  static async open(path: string, direct: boolean): Promise<SourceFile | null> {
    if (direct && O_DIRECT !== 0) {
      const handle = await open(path, constants.O_RDONLY | O_DIRECT).catch(() => null);
      if (handle) return new SourceFile(handle, true, path);
    }
    const handle = await open(path, 'r').catch(() => null);
    return handle ? new SourceFile(handle, false, path) : null;
  }

  get isDirect(): boolean {
    return this.direct;
  }

  /** Fill `buffers` (in order) from `position`; returns the bytes read (short only at the end of the file). */
  async fill(buffers: readonly Buffer[], position: number): Promise<number> {
    try {
      return await this.fillOnce(buffers, position);
    } catch (error) {
      // Opened, but a direct read refused: the rest of the file through the page cache, reopened
      // once for all the reads in flight (each would otherwise close the handle another one reads).
      const openedDirect = this.direct || this.reopening !== null;
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL' || !openedDirect) throw error;
      await (this.reopening ??= this.reopenBuffered());
      return this.fillOnce(buffers, position);
    }
  }

  private async reopenBuffered(): Promise<void> {
    const buffered = await open(this.path, 'r');
    const direct = this.handle;
    this.handle = buffered;
    this.direct = false;
    // FileHandle.close waits for the operations still running on it.
    await direct.close();
  }

  private async fillOnce(buffers: readonly Buffer[], position: number): Promise<number> {
    const wanted = buffers.length * READ_BYTES;
    let filled = 0;
    while (filled < wanted) {
      // One preadv per group; a short buffered read (a signal) continues where it stopped. A short
      // direct read is the end of the file (and its offset would not be aligned for another).
      const first = Math.floor(filled / READ_BYTES);
      const rest = buffers.slice(first).map((buffer, index) => (index === 0 ? buffer.subarray(filled - first * READ_BYTES) : buffer));
      const { bytesRead } = await this.handle.readv(rest, position + filled);
      filled += bytesRead;
      if (bytesRead === 0 || this.direct) break;
    }
    return filled;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A file to read and its size when it was listed (it may have changed since). */
export interface ListedFile {
  path: string;
  size: number;
}

interface GroupRead {
  group: Buffer[];
  position: number;
  /** Bytes read, -1 when the read failed. */
  filled: Promise<number>;
}

/** The next file, opened and its first read issued while the current file's last reads were still in flight. */
interface Prefetch {
  path: string;
  source: SourceFile | null;
  first: GroupRead | null;
}

/**
 * Reads files in aligned 1 MiB pieces, GROUP_PIECES of them per system call, into a ring of
 * buffers: the next group is read in libuv's thread pool while the current one is hashed (so the
 * main thread does not idle on I/O), and a buffer is read into again only once the CDC side is
 * done with it. At most READS_AHEAD reads are in flight, and the ring holds one group more than
 * that (the one being hashed) and, with the CDC worker, one more again.
 *
 * A file's reads are planned from its listed size. Once they are all issued, the next file is
 * opened and its first read issued in the slot the current file no longer needs, so the disk is not
 * idle at file boundaries (that gap was ≈ 5 % of a 3 GiB scan of 32 MiB files, measured:
 * docs/storage.md). A file is still read to its real end: one that grew since it was listed is read
 * on (the next file's early read is then waited for and dropped, so that the ring's order holds), one
 * that shrank ends at its first short read.
 */
export class Reader {
  private next = 0;
  private prefetched: Prefetch | null = null;
  /** A dropped early read's group: the next read takes it, so the ring hands its buffers out in order. */
  private spare: Buffer[] | null = null;
  /** Files read with O_DIRECT (to the end). */
  directFiles = 0;

  constructor(
    private readonly buffers: readonly Buffer[],
    private readonly side: CdcSide,
    private readonly direct: boolean,
  ) {}

  private async take(): Promise<Buffer[]> {
    const group: Buffer[] = [];
    for (let index = 0; index < GROUP_PIECES; index++) {
      const buffer = this.buffers[this.next] as Buffer;
      this.next = (this.next + 1) % this.buffers.length;
      await this.side.free(buffer);
      group.push(buffer);
    }
    return group;
  }

  private async issue(source: SourceFile, position: number): Promise<GroupRead> {
    const group = this.spare ?? (await this.take());
    this.spare = null;
    // A read error skips the file; an error of the consumer (the CDC worker) is not the file's.
    return { group, position, filled: source.fill(group, position).catch(() => -1) };
  }

  private async prefetch(file: ListedFile): Promise<void> {
    const source = await SourceFile.open(file.path, this.direct);
    this.prefetched = { path: file.path, source, first: source ? await this.issue(source, 0) : null };
  }

  /** The next file's early read, finished and forgotten (its file is opened again when its turn comes). */
  private async dropPrefetch(): Promise<void> {
    const dropped = this.prefetched;
    this.prefetched = null;
    if (!dropped?.source) return;
    if (dropped.first) {
      await dropped.first.filled;
      this.spare = dropped.first.group;
    }
    await dropped.source.close();
  }

  /** The source of `file` and its reads already issued: the prefetched ones, or a fresh open. */
  private async start(file: ListedFile): Promise<{ source: SourceFile | null; reads: GroupRead[] }> {
    const prefetched = this.prefetched;
    if (prefetched?.path === file.path) {
      this.prefetched = null;
      return { source: prefetched.source, reads: prefetched.first ? [prefetched.first] : [] };
    }
    await this.dropPrefetch();
    return { source: await SourceFile.open(file.path, this.direct), reads: [] };
  }

  /**
   * Read `file` piece by piece; false when it vanished or could not be read. Every file that was
   * opened ends with a piece marked last (an empty one when it ends at a group boundary or a read
   * failed), so the CDC side cuts its tail. `following`: the file read after this one, if any.
   */
  async read(file: ListedFile, following: ListedFile | undefined, onPiece: (piece: Buffer, last: boolean) => void): Promise<boolean> {
    const { source, reads } = await this.start(file);
    if (!source) return false;
    const groupBytes = GROUP_PIECES * READ_BYTES;
    // A size that is a whole number of groups needs one read past it to see the end (0 bytes).
    let plannedEnd = file.size % groupBytes === 0 ? file.size + groupBytes : file.size;
    let position = reads.length * groupBytes;
    const readAhead = async (): Promise<void> => {
      while (reads.length + (this.prefetched ? 1 : 0) < READS_AHEAD) {
        if (position < plannedEnd) {
          reads.push(await this.issue(source, position));
          position += groupBytes;
        } else {
          // Every planned read issued: the next file's first read takes the free slot.
          if (following && !this.prefetched) await this.prefetch(following);
          return;
        }
      }
    };
    try {
      await readAhead();
      for (;;) {
        const { group, position: at, filled: reading } = reads.shift() as GroupRead;
        const filled = await reading;
        if (filled < 0) {
          onPiece((group[0] as Buffer).subarray(0, 0), true);
          return false;
        }
        if (filled === groupBytes) {
          if (at + groupBytes >= plannedEnd) {
            // Grown since it was listed: read on, and keep the ring in order.
            plannedEnd = at + 2 * groupBytes;
            await this.dropPrefetch();
          }
          await readAhead();
        }
        if (filled === 0) onPiece((group[0] as Buffer).subarray(0, 0), true);
        for (let index = 0; index * READ_BYTES < filled; index++) {
          const length = Math.min(READ_BYTES, filled - index * READ_BYTES);
          onPiece((group[index] as Buffer).subarray(0, length), filled < groupBytes && (index + 1) * READ_BYTES >= filled);
        }
        if (filled < groupBytes) {
          if (source.isDirect) this.directFiles++;
          return true;
        }
      }
    } finally {
      // Reads issued past the end (or after a failed one) finish before the file is closed.
      await Promise.all(reads.map((read) => read.filled));
      await source.close();
    }
  }

  /** After the last file: an early read nobody asked for (a file listed twice) is finished and closed. */
  close(): Promise<void> {
    return this.dropPrefetch();
  }
}

/** Simulate block dedup and compression over a file or every file under a directory. */
export async function simulateBlockDedup(path: string | readonly string[], options: BlockDedupOptions = {}): Promise<BlockDedupResult> {
  const started = performance.now();
  const compress = options.compress === false ? null : await loadCompressor();
  const cdcParams = options.cdc === undefined ? DEFAULT_CDC : options.cdc;
  // Several paths are one volume's worth of files: duplicates across them count.
  const listed = await listFilesWithBytes(typeof path === 'string' ? [path] : path);
  const threads = cdcParams !== false && (options.threads ?? listed.bytes >= THREADS_FROM_BYTES);
  const sampleRate = compressSampleRate(listed.bytes);
  const simulation = new Simulation(compress, cdcParams, ringSize(threads), sampleRate);
  const cdc = await cdcSide(compress, cdcParams, threads, simulation.hasher, sampleRate);
  try {
    const { files, skippedFiles, directFiles } = await scanFiles(listed.files, simulation, cdc, options.direct ?? true);
    const fixed = simulation.fixed.map((tally, index) => ({ blockSize: BLOCK_SIZES[index] as number, ...tally.result() }));
    const cdcParamsStated = cdcParams || DEFAULT_CDC;
    return {
      path: typeof path === 'string' ? path : path.join(', '),
      files: files - skippedFiles,
      skippedFiles,
      directFiles,
      bytes: fixed[0]?.bytes ?? 0,
      durationMs: performance.now() - started,
      fixed,
      cdc: {
        ...(await cdc.result()),
        algorithm: cdcParams ? 'FastCDC 2016, normalized level 2, 32-bit gear' : 'off',
        minSize: cdcParamsStated.min,
        avgSize: cdcParamsStated.avg,
        maxSize: cdcParamsStated.max,
      },
      compressor: compress ? COMPRESSOR : 'off',
      compressionSampleRate: sampleRate,
      sectorBytes: SECTOR_BYTES,
    };
  } finally {
    await cdc.close();
  }
}

/** One pass over `files`: fixed blocks here, CDC on its side. */
async function scanFiles(files: readonly ListedFile[], simulation: Simulation, cdc: CdcSide, direct: boolean): Promise<{ files: number; skippedFiles: number; directFiles: number }> {
  const reader = new Reader(simulation.buffers, cdc, direct);
  let skippedFiles = 0;
  try {
    for (const [index, file] of files.entries()) {
      const ok = await reader.read(file, files[index + 1], (piece, last) => {
        // The CDC side first: on the worker it chunks this piece while the fixed blocks are hashed here.
        cdc.push(piece, last);
        simulation.piece(piece);
      });
      if (!ok) skippedFiles++;
    }
  } finally {
    await reader.close();
  }
  return { files: files.length, skippedFiles, directFiles: reader.directFiles };
}

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
 * Reads go through one 1 MiB buffer at file offsets that are multiples of 1 MiB, so every fixed
 * block lies inside one read: no copies. Fingerprints of blocks above 4 KiB are the sha256 of their
 * 4 KiB sub-block digests (a hash tree): equal blocks give equal digests, and the data is hashed
 * once instead of five times.
 */
import { hash } from 'node:crypto';
import { open, readdir, lstat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CDC, FastCdc, type CdcParameters } from '../dataset/fastcdc.js';
import { storedBlockBytes, SECTOR_BYTES } from './allocation.js';
import { FingerprintSet } from './fingerprints.js';

export const BLOCK_SIZES = [4096, 8192, 16384, 65536, 131072] as const;
const BASE_BLOCK = 4096;
const READ_BYTES = 1 << 20;
const DIGEST_BYTES = 32;
export const COMPRESSOR = 'lz4 block (lz4-napi), per distinct block';

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
  /** Distinct bytes actually compressed (see COMPRESS_SAMPLE_RATE). */
  compressionSampleBytes: number;
  /** What the layer allocates for the distinct pieces: sectors, ZFS's 1/8 rule. */
  allocatedBytes: number;
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
  bytes: number;
  durationMs: number;
  fixed: (DedupTally & { blockSize: number })[];
  cdc: DedupTally & { algorithm: string; minSize: number; avgSize: number; maxSize: number };
  compressor: string;
  sectorBytes: number;
}

export interface BlockDedupOptions {
  compress?: boolean;
  cdc?: CdcParameters | false;
  /** CDC on a worker thread (default) or inline; results are the same (test/storage/blockdedup.test.ts). */
  threads?: boolean;
}

/**
 * LZ4 through lz4-napi runs at ~70 MB/s on incompressible 4 KiB blocks (measured), far below disk
 * speed, so compression is measured on a sample of the distinct blocks: the first
 * COMPRESS_ALWAYS_BYTES of each size, then those whose digest falls in 1/COMPRESS_SAMPLE_RATE of
 * the hash space — a choice by content, independent of where a block sits — and the sample's
 * ratio is applied to all distinct bytes.
 */
export const COMPRESS_ALWAYS_BYTES = 16 << 20;
export const COMPRESS_SAMPLE_RATE = 16;

/** One block size's distinct fingerprints and byte counts. */
export class Tally {
  private readonly seen = new FingerprintSet();
  bytes = 0;
  pieces = 0;
  uniqueBytes = 0;
  zeroBytes = 0;
  sampledBytes = 0;
  sampledCompressed = 0;
  sampledAllocated = 0;
  private zeroSeen = false;

  /** `packed`: a chunk store packs chunks into pack files, so no per-chunk sector rounding. */
  constructor(
    private readonly compress: ((block: Buffer) => number) | null,
    private readonly packed = false,
  ) {}

  /** `digest` is the block's sha256 (or hash-tree digest); `isZero` marks an all-zero block. */
  add(block: Buffer, digest: Buffer, isZero: boolean): void {
    this.pieces++;
    this.bytes += block.length;
    if (isZero) {
      this.zeroBytes += block.length;
      this.zeroSeen = true;
      return;
    }
    // 128 bits of sha256: collisions negligible at any volume this scans.
    if (!this.seen.add(digest)) return;
    this.uniqueBytes += block.length;
    if (this.sampledBytes >= COMPRESS_ALWAYS_BYTES && (digest[20] as number) % COMPRESS_SAMPLE_RATE !== 0) return;
    const compressed = this.compress ? this.compress(block) : block.length;
    this.sampledBytes += block.length;
    this.sampledCompressed += compressed;
    this.sampledAllocated += this.packed ? Math.min(compressed, block.length) : storedBlockBytes(block.length, compressed);
  }

  result(): DedupTally {
    const stored = this.uniqueBytes + (this.zeroSeen ? 1 : 0);
    const scale = ratio(this.uniqueBytes, this.sampledBytes);
    const compressedBytes = Math.round(this.sampledCompressed * scale);
    const allocatedBytes = Math.round(this.sampledAllocated * scale);
    return {
      bytes: this.bytes,
      pieces: this.pieces,
      uniquePieces: this.seen.size + (this.zeroSeen ? 1 : 0),
      uniqueBytes: this.uniqueBytes,
      zeroBytes: this.zeroBytes,
      compressedBytes,
      allocatedBytes,
      compressionSampleBytes: this.sampledBytes,
      dedupRatio: ratio(this.bytes, stored),
      compressionRatio: ratio(this.uniqueBytes, compressedBytes),
      storageRatio: ratio(this.bytes, allocatedBytes),
    };
  }
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 1;
}

const digestOf = (data: Buffer): Buffer => hash('sha256', data, 'buffer') as unknown as Buffer;

/** Digests of all-zero blocks per size (hash-tree digests for sizes above 4 KiB). */
function zeroDigests(): Map<number, Buffer> {
  const zero4k = digestOf(Buffer.alloc(BASE_BLOCK));
  const map = new Map<number, Buffer>([[BASE_BLOCK, zero4k]]);
  for (const size of BLOCK_SIZES) {
    if (size === BASE_BLOCK) continue;
    map.set(size, digestOf(Buffer.concat(Array.from({ length: size / BASE_BLOCK }, () => zero4k))));
  }
  return map;
}

export async function loadCompressor(): Promise<(block: Buffer) => number> {
  // lz4-napi: LZ4 block format through Rust's lz4_flex, a prebuilt binary per platform (no build step).
  const lz4 = await import('lz4-napi');
  return (block) => lz4.compressSync(block).length;
}

/** Regular files under `path` (or `path` itself), hard links once, symlinks not followed. */
export async function listFiles(path: string): Promise<string[]> {
  const seen = new Set<string>();
  const files: string[] = [];
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
    files.push(current);
  };
  await visit(path);
  return files;
}

/** Content-defined chunks of a stream and their tally: run on a worker thread (src/storage/cdc-thread.ts) or inline. */
export class CdcTally {
  readonly tally: Tally;
  private readonly cdc: FastCdc;
  /** Compared with memcmp: most chunks differ at their first byte. */
  private readonly zeros: Buffer;

  constructor(compress: ((block: Buffer) => number) | null, params: CdcParameters) {
    this.tally = new Tally(compress, true);
    this.zeros = Buffer.alloc(params.max);
    this.cdc = new FastCdc((chunk) => this.tally.add(chunk, digestOf(chunk), chunk.equals(this.zeros.subarray(0, chunk.length))), params);
  }

  push(piece: Buffer): void {
    this.cdc.push(piece);
  }

  endFile(): void {
    this.cdc.finish();
  }

  result(): Promise<DedupTally> {
    return Promise.resolve(this.tally.result());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Where the CDC side runs: a CdcTally inline, or the same on a worker thread. */
export interface CdcSide {
  push(piece: Buffer): void | Promise<void>;
  endFile(): void;
  result(): Promise<DedupTally>;
  close(): Promise<void>;
}

/** No CDC (`cdc: false`): no chunks, an empty tally. */
const NO_CDC: CdcSide = { push: () => undefined, endFile: () => undefined, result: () => Promise.resolve(new Tally(null, true).result()), close: () => Promise.resolve() };

async function cdcSide(compress: ((block: Buffer) => number) | null, params: CdcParameters | false, threads: boolean): Promise<CdcSide> {
  if (!params) return NO_CDC;
  if (!threads) return new CdcTally(compress, params);
  const { CdcThread } = await import('./cdc-thread.js');
  return new CdcThread(compress !== null, params, READ_BYTES);
}

class Simulation {
  readonly fixed: Tally[];
  private readonly zero = zeroDigests();

  constructor(compress: ((block: Buffer) => number) | null) {
    this.fixed = BLOCK_SIZES.map(() => new Tally(compress));
  }

  /** The 4 KiB digests of one read, back to back: a larger block's tree digest hashes a subarray, no concat. */
  private readonly subDigests = Buffer.allocUnsafe((READ_BYTES / BASE_BLOCK) * DIGEST_BYTES);

  /** One read at a file offset that is a multiple of READ_BYTES (so of every block size). */
  piece(data: Buffer): void {
    const count = Math.ceil(data.length / BASE_BLOCK);
    for (let index = 0; index < count; index++) {
      const start = index * BASE_BLOCK;
      digestOf(data.subarray(start, start + BASE_BLOCK)).copy(this.subDigests, index * DIGEST_BYTES);
    }
    BLOCK_SIZES.forEach((size, index) => this.addFixed(data, count, size, this.fixed[index] as Tally));
  }

  private addFixed(data: Buffer, count: number, size: number, tally: Tally): void {
    const per = size / BASE_BLOCK;
    const zero = this.zero.get(size) as Buffer;
    for (let first = 0; first < count; first += per) {
      const children = this.subDigests.subarray(first * DIGEST_BYTES, Math.min(first + per, count) * DIGEST_BYTES);
      const digest = per === 1 ? children : digestOf(children);
      const block = data.subarray(first * BASE_BLOCK, (first + per) * BASE_BLOCK);
      // Only a full-size block can match the zero digest; a short tail never does.
      tally.add(block, digest, block.length === size && digest.equals(zero));
    }
  }
}

/** Fill `buffer` from `position` (short only at the end of the file). */
async function fill(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

/**
 * Read `file` in aligned 1 MiB pieces; false when it vanished or could not be read. Two buffers:
 * the next read runs in libuv's thread pool while the current piece is hashed, so the main thread
 * does not idle on I/O (measured: a fifth of the wall time before).
 */
async function readAligned(file: string, buffers: readonly [Buffer, Buffer], onPiece: (piece: Buffer) => Promise<void>): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return false;
  }
  try {
    let current = 0;
    let pending = fill(handle, buffers[0], 0);
    for (let position = 0; ; position += READ_BYTES) {
      // A read error skips the file; an error of the consumer (the CDC worker) is not the file's.
      const filled = await pending.catch(() => -1);
      if (filled < 0) return false;
      const buffer = buffers[current] as Buffer;
      current = 1 - current;
      if (filled === READ_BYTES) pending = fill(handle, buffers[current] as Buffer, position + READ_BYTES);
      if (filled > 0) await onPiece(buffer.subarray(0, filled));
      if (filled < READ_BYTES) return true;
    }
  } finally {
    await handle.close();
  }
}

/** Simulate block dedup and compression over a file or every file under a directory. */
export async function simulateBlockDedup(path: string | readonly string[], options: BlockDedupOptions = {}): Promise<BlockDedupResult> {
  const started = performance.now();
  const compress = options.compress === false ? null : await loadCompressor();
  const cdcParams = options.cdc === undefined ? DEFAULT_CDC : options.cdc;
  const simulation = new Simulation(compress);
  const cdc = await cdcSide(compress, cdcParams, options.threads !== false);
  try {
    const { files, skippedFiles } = await scanFiles(typeof path === 'string' ? [path] : path, simulation, cdc);
    const fixed = simulation.fixed.map((tally, index) => ({ blockSize: BLOCK_SIZES[index] as number, ...tally.result() }));
    const cdcParamsStated = cdcParams || DEFAULT_CDC;
    return {
      path: typeof path === 'string' ? path : path.join(', '),
      files: files - skippedFiles,
      skippedFiles,
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
      sectorBytes: SECTOR_BYTES,
    };
  } finally {
    await cdc.close();
  }
}

/** One pass over every file under `paths`: fixed blocks here, CDC on its side. */
async function scanFiles(paths: readonly string[], simulation: Simulation, cdc: CdcSide): Promise<{ files: number; skippedFiles: number }> {
  const buffers = [Buffer.allocUnsafe(READ_BYTES), Buffer.allocUnsafe(READ_BYTES)] as const;
  // Several paths are one volume's worth of files: duplicates across them count.
  const files: string[] = [];
  for (const one of paths) files.push(...(await listFiles(one)));
  let skippedFiles = 0;
  for (const file of files) {
    // A piece is consumed (hashed, or copied to the CDC worker) before its buffer is read into again.
    const ok = await readAligned(file, buffers, async (piece) => {
      simulation.piece(piece);
      await cdc.push(piece);
    });
    cdc.endFile();
    if (!ok) skippedFiles++;
  }
  return { files: files.length, skippedFiles };
}

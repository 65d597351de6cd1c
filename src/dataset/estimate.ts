/**
 * Dedup potential of generated data sets (SPEC §2 `estimate`): the ceilings any system could
 * reach on them. One streaming pass per set for file, 4 KiB block and FastCDC ratios, and a
 * bounded sample of the unique files through zlib deflate for compressibility.
 */
import { createHash, hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createDeflate } from 'node:zlib';
import { UsageError } from '../core/errors.js';
import { DEFAULT_CDC, FastCdc, FixedBlocks, type CdcParameters } from './fastcdc.js';
import { readManifest } from './generate.js';
import { MANIFEST_FILE, type Manifest } from './manifest.js';

export const BLOCK_SIZE = 4096;
export const COMPRESSION_SAMPLE_BYTES = 64 * 1024 * 1024;
export const COMPRESSOR = 'zlib deflate level 6';

export interface DedupCount {
  ratio: number;
  pieces: number;
  uniquePieces: number;
  uniqueBytes: number;
}

export interface SetEstimate {
  payloadType: string;
  grade: string;
  dir: string;
  files: number;
  logicalBytes: number;
  fileLevel: { ratio: number; manifestIdealEdr: number; matchesManifest: boolean; distinctFiles: number };
  block4k: DedupCount & { blockSize: number };
  cdc: DedupCount & { algorithm: string; minSize: number; avgSize: number; maxSize: number };
  compressibility: { ratio: number; sampleBytes: number; compressedBytes: number; compressor: string };
}

/** The grade folders under DIR: DIR itself, DIR/<grade>, or DIR/<type>/<grade>. */
export async function findDatasetDirs(dir: string): Promise<string[]> {
  const isDir = async (path: string): Promise<boolean> => (await stat(path).catch(() => null))?.isDirectory() ?? false;
  const hasManifest = async (path: string): Promise<boolean> => (await stat(join(path, MANIFEST_FILE)).catch(() => null))?.isFile() ?? false;
  if (!(await isDir(dir))) throw new UsageError(`invalid data set folder ${JSON.stringify(dir)}: not a folder`);
  if (await hasManifest(dir)) return [dir];
  const found: string[] = [];
  const level = async (path: string, depth: number): Promise<void> => {
    const names = (await readdir(path)).filter((name) => !name.startsWith('.') && !name.includes('.tmp-') && !name.includes('.old-')).sort();
    for (const name of names) {
      const child = join(path, name);
      if (!(await isDir(child))) continue;
      if (await hasManifest(child)) found.push(child);
      else if (depth > 1) await level(child, depth - 1);
    }
  };
  await level(dir, 2);
  if (found.length === 0) throw new UsageError(`no data sets under ${JSON.stringify(dir)}; valid: a data dir, a payload-type folder or a grade folder holding ${MANIFEST_FILE}`);
  return found;
}

class DistinctCounter {
  private readonly seen = new Set<string>();
  pieces = 0;
  bytes = 0;
  uniqueBytes = 0;

  add(piece: Buffer): void {
    this.pieces++;
    this.bytes += piece.length;
    const key = hash('sha256', piece, 'base64');
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.uniqueBytes += piece.length;
    }
  }

  result(): DedupCount {
    return { ratio: this.uniqueBytes > 0 ? this.bytes / this.uniqueBytes : 1, pieces: this.pieces, uniquePieces: this.seen.size, uniqueBytes: this.uniqueBytes };
  }
}

export async function estimateDataset(dir: string, cdcParams: CdcParameters = DEFAULT_CDC, sampleLimit = COMPRESSION_SAMPLE_BYTES): Promise<SetEstimate> {
  const manifest: Manifest = await readManifest(dir);
  const files = new DistinctCounter();
  const blocks = new DistinctCounter();
  const chunks = new DistinctCounter();
  const fixed = new FixedBlocks((block) => blocks.add(block), BLOCK_SIZE);
  const cdc = new FastCdc((chunk) => chunks.add(chunk), cdcParams);
  const firstWithContent = new Map<string, string>();
  for (const entry of manifest.entries) {
    // File identity by content hash streamed over the file, not by trusting the manifest.
    const fileHash = createHash('sha256');
    let size = 0;
    for await (const piece of createReadStream(join(dir, entry.name), { highWaterMark: 1 << 20 })) {
      const buffer = piece as Buffer;
      fileHash.update(buffer);
      size += buffer.length;
      fixed.push(buffer);
      cdc.push(buffer);
    }
    fixed.finish();
    cdc.finish();
    const digest = fileHash.digest('hex');
    files.pieces++;
    files.bytes += size;
    if (!firstWithContent.has(digest)) {
      firstWithContent.set(digest, entry.name);
      files.uniqueBytes += size;
    }
  }
  const fileRatio = files.uniqueBytes > 0 ? files.bytes / files.uniqueBytes : 1;
  const compressibility = await compressSample(dir, [...firstWithContent.values()], sampleLimit);
  const block = blocks.result();
  const chunk = chunks.result();
  return {
    payloadType: manifest.parameters.payloadType,
    grade: manifest.parameters.grade,
    dir,
    files: manifest.entries.length,
    logicalBytes: files.bytes,
    fileLevel: { ratio: fileRatio, manifestIdealEdr: manifest.totals.idealEdr, matchesManifest: fileRatio === manifest.totals.idealEdr, distinctFiles: firstWithContent.size },
    block4k: { ...block, blockSize: BLOCK_SIZE },
    cdc: { ...chunk, algorithm: 'FastCDC 2016, normalized level 2, 32-bit gear', minSize: cdcParams.min, avgSize: cdcParams.avg, maxSize: cdcParams.max },
    compressibility,
  };
}

/** Deflate (level 6) each distinct file on its own, up to `limit` input bytes in total. */
async function compressSample(dir: string, names: string[], limit: number): Promise<SetEstimate['compressibility']> {
  let sampleBytes = 0;
  let compressedBytes = 0;
  for (const name of names) {
    if (sampleBytes >= limit) break;
    const budget = limit - sampleBytes;
    const deflate = createDeflate({ level: 6 });
    const counted = new Promise<number>((resolve, reject) => {
      let out = 0;
      deflate.on('data', (piece: Buffer) => (out += piece.length));
      deflate.on('end', () => resolve(out));
      deflate.on('error', reject);
    });
    let taken = 0;
    for await (const piece of createReadStream(join(dir, name), { highWaterMark: 1 << 20, end: budget - 1 })) {
      const buffer = piece as Buffer;
      taken += buffer.length;
      if (!deflate.write(buffer)) await new Promise((resolve) => deflate.once('drain', resolve));
    }
    deflate.end();
    compressedBytes += await counted;
    sampleBytes += taken;
  }
  return { ratio: compressedBytes > 0 ? sampleBytes / compressedBytes : 1, sampleBytes, compressedBytes, compressor: COMPRESSOR };
}

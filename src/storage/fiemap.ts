/**
 * What a file system really allocates for a set of files, read from their extent maps (FIEMAP,
 * through e2fsprogs' `filefrag -v -e`, which works on any file system with the ioctl): every
 * extent is a physical range of the device; ranges shared by reflink or dedup (FIEMAP_EXTENT_SHARED)
 * appear once per file that shares them, so the ranges are merged per device and each physical
 * byte counts once. This is the `storage` probe's reading on XFS where the data dir has no file
 * system of its own (with one, statfs says the same and includes metadata).
 */
import { execFile } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { listFiles } from './blockdedup.js';

const run = promisify(execFile);
/** Files per filefrag call: one process per file would cost more than the reading. */
const BATCH = 256;

/** A physical byte range [start, end) of one device. */
export type PhysicalRange = readonly [start: number, end: number];

/**
 * Physical ranges of every extent in `filefrag -v -e` output (several files). Units are each
 * file's block size from its "File size of … (N blocks of B bytes)" line. Extents without a
 * physical location yet (delalloc, unknown_loc) would read as offset 0: the caller syncs first,
 * and they are refused rather than counted wrongly.
 */
export function parseFilefrag(output: string): PhysicalRange[] {
  const ranges: PhysicalRange[] = [];
  let blockBytes = 0;
  for (const line of output.split('\n')) {
    const header = / \(\d+ blocks? of (\d+) bytes\)$/.exec(line);
    if (line.startsWith('File size of ') && header) {
      blockBytes = Number(header[1]);
      continue;
    }
    const extent = /^\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+):(.*)$/.exec(line);
    if (!extent) continue;
    if (/delalloc|unknown_loc/.test(extent[4] ?? '')) throw new Error(`extent without a physical location (sync first): ${line.trim()}`);
    if (blockBytes === 0) throw new Error(`filefrag extent before its file's block size: ${line.trim()}`);
    const start = Number(extent[1]) * blockBytes;
    ranges.push([start, start + Number(extent[3]) * blockBytes]);
  }
  return ranges;
}

/** Bytes covered by the union of `ranges` (overlaps and repeats counted once). */
export function unionBytes(ranges: readonly PhysicalRange[]): number {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -1;
  for (const [start, stop] of sorted) {
    if (stop <= end) continue;
    total += stop - Math.max(start, end);
    end = stop;
  }
  return total;
}

async function extentsOf(files: readonly string[]): Promise<PhysicalRange[]> {
  const ranges: PhysicalRange[] = [];
  for (let first = 0; first < files.length; first += BATCH) {
    const { stdout } = await run('filefrag', ['-v', '-e', ...files.slice(first, first + BATCH)], { timeout: 300_000, maxBuffer: 256 << 20 });
    ranges.push(...parseFilefrag(stdout));
  }
  return ranges;
}

/** Physical bytes of every regular file under `paths`, each shared extent once (per device). */
export async function sharedExtentBytes(paths: readonly string[]): Promise<number> {
  const byDevice = new Map<number, string[]>();
  for (const path of paths) {
    for (const file of await listFiles(path)) {
      const { dev } = await lstat(file);
      byDevice.set(dev, [...(byDevice.get(dev) ?? []), file]);
    }
  }
  let total = 0;
  for (const files of byDevice.values()) total += unionBytes(await extentsOf(files));
  return total;
}

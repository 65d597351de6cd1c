/**
 * The `storage` probe (SPEC §6.2, §12), layer `storage`: what the file system under a system's
 * data directory really allocates, shared extents counted once. Which reading, per path:
 *
 * - `statfs` — the data dir has a file system of its own (scripts/services/storage.sh mounts one
 *   per server): used = (blocks − free) × block size after syncfs. This is the file system's own
 *   allocation: compressed extents at their compressed size, extents shared by dedup or reflink
 *   once, metadata included (the empty baseline takes the fixed part out).
 * - `btrfs-du` — btrfs shared with other data: `btrfs filesystem du -s --raw`, exclusive + set
 *   shared, so a shared extent is counted once; sizes are of the extents before compression.
 * - `fiemap` — XFS shared with other data: each file's extent map (src/storage/fiemap.ts), the
 *   physical ranges merged per device, so an extent shared by reflink or duperemove counts once;
 *   sizes are of allocated extents (XFS does not compress), without the file system's metadata.
 * - `st_blocks` — anything else (ext4, …): blocks each file is charged, the fs probe's reading;
 *   sharing is not visible there, which is why the layers get own mounts.
 *
 * ZFS is the production reference; without its kernel module the probe says so on ZFS paths, and
 * the simulated 128 KiB block dedup (src/storage/blockdedup.ts) is the stand-in.
 */
import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Probe, ProbeReading } from '../../systems/types.js';
import { allocatedBytesSync } from './fs.js';
import { sharedExtentBytes } from '../../storage/fiemap.js';
import { hasOwnFileSystem, mountOf, zfsAvailable, type MountInfo } from '../../storage/mounts.js';

const run = promisify(execFile);

export type StorageReadingMethod = 'statfs' | 'btrfs-du' | 'fiemap' | 'st_blocks' | 'zfs-unavailable';

export function storageMethodFor(path: string, mount: MountInfo | null = mountOf(path)): StorageReadingMethod {
  if (mount?.fsType === 'zfs' && !zfsAvailable()) return 'zfs-unavailable';
  if (hasOwnFileSystem(path, mount)) return 'statfs';
  if (mount?.fsType === 'btrfs') return 'btrfs-du';
  if (mount?.fsType === 'xfs') return 'fiemap';
  return 'st_blocks';
}

/** Parse `btrfs filesystem du -s --raw`: "Total Exclusive Set-shared Filename", one data line. */
export function parseBtrfsDu(output: string): number {
  const line = output.trim().split('\n').at(-1) ?? '';
  const [, exclusive, shared] = line.trim().split(/\s+/);
  const sum = Number(exclusive) + Number(shared);
  if (!Number.isSafeInteger(sum)) throw new Error(`unexpected btrfs filesystem du output: ${JSON.stringify(line)}`);
  return sum;
}

export async function usedBytes(path: string): Promise<number> {
  // btrfs updates its free-space counters at transaction commit: sync the file system first.
  await run('sync', ['-f', path], { timeout: 60_000 });
  const stats = await statfs(path, { bigint: true });
  return Number((stats.blocks - stats.bfree) * stats.bsize);
}

async function readPath(path: string, mount: MountInfo | null): Promise<number> {
  switch (storageMethodFor(path, mount)) {
    case 'zfs-unavailable':
      throw new Error('ZFS cannot be measured here: the zfs kernel module is not loaded; the simulated 128 KiB block dedup is the stand-in');
    case 'statfs':
      return usedBytes(path);
    case 'btrfs-du': {
      await run('sync', ['-f', path], { timeout: 60_000 });
      const { stdout } = await run('btrfs', ['filesystem', 'du', '-s', '--raw', path], { timeout: 120_000 });
      return parseBtrfsDu(stdout);
    }
    case 'fiemap':
      // Extents get their physical place at writeback: sync so none is still delayed.
      await run('sync', ['-f', path], { timeout: 60_000 });
      return sharedExtentBytes([path]);
    default:
      return Number(allocatedBytesSync([path]));
  }
}

export async function readStorage(paths: readonly string[]): Promise<ProbeReading> {
  try {
    let total = 0;
    const devices = new Set<string>();
    for (const path of paths) {
      const mount = mountOf(path);
      // Bind mounts of one own file system (Kafka: data + metadata) are one statfs reading.
      if (mount && hasOwnFileSystem(path, mount)) {
        if (devices.has(mount.device)) continue;
        devices.add(mount.device);
      }
      total += await readPath(path, mount);
    }
    return { bytes: total };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { bytes: 0 };
    return { bytes: null, error: error instanceof Error ? error.message : String(error) };
  }
}

export function storageProbe(options: { paths: readonly string[]; settleTimeoutMs?: number }): Probe {
  return {
    name: 'storage',
    layer: 'storage',
    replicas: 1,
    settleTimeoutMs: options.settleTimeoutMs ?? 30_000,
    // Each read syncs the file system: poll slower than the fs probe.
    pollIntervalMs: 200,
    read: () => readStorage(options.paths),
  };
}

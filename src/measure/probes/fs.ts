/**
 * The `fs` probe (SPEC §6.2): bytes allocated on disk — st_blocks × 512, not the apparent size —
 * summed recursively under the given paths. Sparse files and preallocation therefore count as the
 * filesystem really charges them. Hard links are counted once; symlinks are not followed.
 * Sizes come from bigint stats so files beyond 2^53 bytes cannot wrap.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import type { Probe, ProbeScope } from '../../systems/types.js';

/**
 * Synchronous on purpose: a data dir holds ~1000 files (PGlite), and one promise per lstat costs
 * 4–7× the CPU of lstatSync (measured: 35–86 ms vs 8–15 ms of CPU per walk). Probes are read
 * between operations, never during measured work, so blocking the event loop briefly is harmless.
 *
 * Lean in allocation, because a probe that does not settle is read every 20 ms for up to 30 s:
 * ClickHouse's data dir after 2039 per-file INSERTs (thousands of part files, merging) was walked
 * like that after every stage, and one BigIntStats, one `path.join` and one `dev:ino` key per
 * file allocated ≈ 1.3 GB within 10 s, which grew V8's heap and the tool's RSS by ≈ 60–90 MiB
 * (measured 2026-12-03; a 22 500-file tree walked every 20 ms for 15 s: VmHWM 193 MiB, 89 MiB
 * with this walk). So a file is read with a plain lstat (its block count is exact below 2^53),
 * a path is `dir/name`, and only directories and files with more than one link are identified by
 * their exact (bigint) device and inode — under one root a file with one link cannot be met
 * twice. Several roots may overlap (one inside another), so then every entry is identified.
 */
export function allocatedBytesSync(paths: readonly string[]): bigint {
  const identifyAll = paths.length > 1;
  const seen = new Set<string>();
  let total = 0n;
  // Summed as a number while exact (< 2^53), then carried into the bigint: no BigInt per file.
  let pending = 0;
  const add = (bytes: number | bigint): void => {
    if (typeof bytes === 'bigint') total += bytes;
    else if (pending + bytes <= Number.MAX_SAFE_INTEGER) pending += bytes;
    else {
      total += BigInt(pending);
      pending = bytes;
    }
  };
  const visit = (path: string): void => {
    // A path that does not exist (yet, or any more after a reset) holds zero bytes.
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return;
    const directory = stats.isDirectory();
    let exact: BigIntStats | undefined;
    if (identifyAll || directory || stats.nlink > 1 || !Number.isSafeInteger(stats.blocks * 512)) {
      exact = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      if (exact === undefined) return;
      const key = `${exact.dev}:${exact.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    add(exact ? exact.blocks * 512n : stats.blocks * 512);
    if (!directory) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const prefix = path.endsWith('/') ? path : `${path}/`;
    for (const name of names) visit(prefix + name);
  };
  for (const path of paths) visit(path);
  return total + BigInt(pending);
}

export async function allocatedBytes(paths: readonly string[]): Promise<bigint> {
  return allocatedBytesSync(paths);
}

export interface FsProbeOptions {
  /** Fixed paths, or a function naming them at read time (the lab's files change per cell). */
  paths: readonly string[] | (() => Promise<readonly string[]>);
  /** `fs` (whole data directory) unless given: `lab_fs` for the lab's own files, `log_fs` for the WAL. */
  name?: string;
  /** What the paths cover; `data-dir` unless given. */
  scope?: ProbeScope;
  settleTimeoutMs?: number;
  pollIntervalMs?: number;
}

export function fsProbe(options: FsProbeOptions): Probe {
  const pathsNow = async () => (typeof options.paths === 'function' ? options.paths() : options.paths);
  return {
    name: options.name ?? 'fs',
    layer: 'storage',
    scope: options.scope ?? 'data-dir',
    replicas: 1,
    settleTimeoutMs: options.settleTimeoutMs ?? 30_000,
    // Local stat calls are cheap; a short interval keeps settling fast without a fixed wait.
    pollIntervalMs: options.pollIntervalMs ?? 20,
    paths: pathsNow,
    async read() {
      try {
        const bytes = await allocatedBytes(await pathsNow());
        if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return { bytes: null, error: `size ${bytes} exceeds 2^53` };
        return { bytes: Number(bytes) };
      } catch (error) {
        return { bytes: null, error: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

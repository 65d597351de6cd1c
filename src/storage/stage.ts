/**
 * The `storage_dedup` stage (SPEC §12) and the `storage` probe's wiring. The stage runs after
 * `compaction` when that stage ran, else after `bulk_insert`: on the data at rest, as a storage
 * administrator's nightly job would. It
 * 1. simulates block dedup of what the system wrote (src/storage/blockdedup.ts) — on any file system;
 * 2. where the data dir sits on btrfs or XFS (reflink), runs `duperemove` on it with the stated
 *    parameters; the stage's probes (`storage` among them) read before and after, so the record's
 *    `reclaimedBytes` is what the storage layer recovered beyond what the system itself did.
 * On other file systems step 2 is not applicable (the record says why) but carries step 1.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Probe } from '../systems/types.js';
import { storageMethodFor, storageProbe } from '../measure/probes/storage.js';
import { simulateBlockDedup, type BlockDedupResult, type DedupTally } from './blockdedup.js';
import { mountOf, zfsAvailable } from './mounts.js';

const run = promisify(execFile);

/** duperemove's parameters, stated in every record. */
export const DUPEREMOVE_BLOCK_BYTES = 4096;
export const DUPEREMOVE_ARGS = ['-r', '-d', '-q', '-b', String(DUPEREMOVE_BLOCK_BYTES), '--dedupe-options=same,partial'];
const DEDUP_FILE_SYSTEMS = ['btrfs', 'xfs'];

/** The summary a stage record carries (`storage` field). */
export interface StorageStageInfo {
  fileSystems: { path: string; fsType: string; reading: string }[];
  zfs: string;
  offlineDedup: { tool: string; args: string[]; durationMs: number } | { notApplicable: string };
  /** Over the lab's own files where the system names them (its `lab_fs` probe), else the data dirs. */
  simulated: SimulationSummary | null;
  /** The same over the whole data dirs (WAL, catalogs, other databases), beside a lab-scoped `simulated`. */
  simulatedDataDir?: SimulationSummary | null;
}

/** What a simulation covered: the lab's files, or everything under the data dirs. */
export type SimulationScope = 'lab-files' | 'data-dir';

export interface SimulationSummary {
  scope?: SimulationScope;
  files: number;
  bytes: number;
  durationMs: number;
  /** allocatedBytesMargin: ± of the compression sample's extrapolation (src/storage/blockdedup.ts). */
  units: { unit: string; dedupRatio: number; compressionRatio: number; storageRatio: number; allocatedBytes: number; allocatedBytesMargin?: number }[];
}

/** The storage probe, only where a real storage layer is under the paths (else it would repeat `fs`). */
export function storageProbeFor(paths: readonly string[]): Probe | null {
  if (paths.length === 0) return null;
  const layered = paths.some((path) => {
    try {
      return storageMethodFor(path) !== 'st_blocks';
    } catch {
      return false;
    }
  });
  return layered ? storageProbe({ paths }) : null;
}

export function summarizeSimulation(result: BlockDedupResult, scope?: SimulationScope): SimulationSummary {
  const unit = (name: string, tally: DedupTally) => ({
    unit: name,
    dedupRatio: tally.dedupRatio,
    compressionRatio: tally.compressionRatio,
    storageRatio: tally.storageRatio,
    allocatedBytes: tally.allocatedBytes,
    allocatedBytesMargin: tally.allocatedBytesMargin,
  });
  return {
    ...(scope ? { scope } : {}),
    files: result.files,
    bytes: result.bytes,
    durationMs: result.durationMs,
    units: [...result.fixed.map((tally) => unit(`${tally.blockSize / 1024}KiB`, tally)), unit('cdc', result.cdc)],
  };
}

function describe(paths: readonly string[]): StorageStageInfo['fileSystems'] {
  return paths.map((path) => {
    try {
      return { path, fsType: mountOf(path)?.fsType ?? 'unknown', reading: storageMethodFor(path) };
    } catch (error) {
      return { path, fsType: 'unknown', reading: `unreadable: ${error instanceof Error ? error.message : String(error)}` };
    }
  });
}

/** The `lab_fs` probe's path list, when the adapter has one. */
export function labPathsOf(probes: readonly Probe[]): (() => Promise<readonly string[]>) | null {
  return probes.find((probe) => probe.name === 'lab_fs' && probe.scope === 'lab')?.paths ?? null;
}

/**
 * The headline simulation over the lab's files (what the cell wrote), the whole data dirs as a
 * second reading; the data dirs alone when the system names no lab files.
 */
async function simulateAll(paths: readonly string[], labFiles: readonly string[] | null): Promise<Pick<StorageStageInfo, 'simulated' | 'simulatedDataDir'>> {
  const dataDir = paths.length === 0 ? null : summarizeSimulation(await simulateBlockDedup(paths), 'data-dir');
  if (!labFiles || labFiles.length === 0) return { simulated: dataDir };
  return { simulated: summarizeSimulation(await simulateBlockDedup(labFiles), 'lab-files'), simulatedDataDir: dataDir };
}

/** Run the offline dedup pass on every path on a dedup-capable file system. */
async function offlineDedup(paths: readonly string[], fileSystems: StorageStageInfo['fileSystems']): Promise<StorageStageInfo['offlineDedup']> {
  const capable = fileSystems.filter((fs) => DEDUP_FILE_SYSTEMS.includes(fs.fsType));
  if (paths.length === 0) return { notApplicable: 'the system has no local data directory' };
  if (capable.length === 0) {
    return { notApplicable: `the data directory is on ${[...new Set(fileSystems.map((fs) => fs.fsType))].join(', ')}, which cannot share extents; put it on btrfs-dedup or xfs-dedup (DEDUP_LAB_<SERVICE>_STORAGE)` };
  }
  const hashDir = await mkdtemp(join(tmpdir(), 'dedup-lab-duperemove-'));
  const args = [...DUPEREMOVE_ARGS, `--hashfile=${join(hashDir, 'hashes')}`, ...capable.map((fs) => fs.path)];
  const started = performance.now();
  try {
    await run('duperemove', args, { timeout: 3_600_000, maxBuffer: 16 << 20 });
  } finally {
    await rm(hashDir, { recursive: true, force: true });
  }
  return { tool: 'duperemove', args: DUPEREMOVE_ARGS, durationMs: performance.now() - started };
}

export async function runStorageDedup(paths: readonly string[], labFiles: readonly string[] | null = null): Promise<StorageStageInfo> {
  const fileSystems = describe(paths);
  const simulated = await simulateAll(paths, labFiles);
  const offline = await offlineDedup(paths, fileSystems);
  return {
    fileSystems,
    zfs: zfsAvailable() ? 'zfs kernel module loaded' : 'ZFS cannot be measured here: no zfs kernel module; the simulated 128KiB unit is the stand-in',
    offlineDedup: offline,
    ...simulated,
  };
}

/** The stage's outcome for the cell runner: space measure, or not applicable with the simulation attached. */
export async function storageDedupOutcome(paths: readonly string[], labPaths: (() => Promise<readonly string[]>) | null = null): Promise<{
  files: number;
  logicalBytes: number;
  durationMs: number;
  latenciesUs: number[];
  measure: { kind: 'space' } | { kind: 'not-applicable'; reason: string };
  error: null;
  storage: StorageStageInfo;
}> {
  const started = performance.now();
  const storage = await runStorageDedup(paths, labPaths ? await labPaths() : null);
  const durationMs = performance.now() - started;
  const offline = storage.offlineDedup;
  const measure = 'notApplicable' in offline ? { kind: 'not-applicable' as const, reason: `${offline.notApplicable}; the simulated block dedup is in the record's storage field` } : { kind: 'space' as const };
  return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure, error: null, storage };
}

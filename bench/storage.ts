/**
 * Simulated block dedup speed (SPEC §12, issue 13): `estimate --dir` over 512 MiB of files (random
 * data, every other file a copy: ~2x), wall-clock MB/s and peak RSS of the child, side by side with
 * the native floor for the same files: `cat` to /dev/null (warm page cache), `dd iflag=direct`
 * (cold: from the disk, page cache bypassed), the same `dd` while one and while both cores compute
 * (how much this disk slows down for a reader beside CPU work: the scan itself keeps both cores
 * busy much of the time), `xxhsum -H2` cold (one native pass of XXH3-128,
 * the hash the simulation uses, from the disk: the least any hashing scanner pays) where
 * installed, `sha256sum` (one native hash pass) and `duperemove` hashing them (4 KiB blocks, no
 * dedup) where installed. Cold runs drop only these files' pages (`dd iflag=nocache count=0`, i.e.
 * POSIX_FADV_DONTNEED), never the machine's whole page cache.
 *
 * The disk is the reference, so the cold runs also read how busy it was: the share of their wall
 * time the block device under the files had a request in flight (`io_ticks` in
 * /sys/dev/block/M:m/stat, as iostat's %util). A scanner that never lets the disk wait shows about
 * dd's share, whatever the disk's speed that minute; the process's start and exit (≈ 0.1 s, no I/O)
 * count against the scan.
 *
 * "Warm" runs read through the page cache: `estimate --dir --no-direct` (O_DIRECT would go to the
 * disk again).
 *
 * The disk's speed varies from minute to minute, so every measurement is taken ROUNDS times, the
 * tools alternating, and the best (least disturbed) run counts; the cold scan's ratio to the `dd`
 * of the same round is reported as a median with its range, and the simulation's MB per
 * CPU-second and the load average beside the wall-clock rates.
 *
 *   DEDUP_LAB_BENCH_STORAGE_MIB=3072   the data set's size (a multiple of 64 MiB; default 512)
 *   DEDUP_LAB_BENCH_STORAGE_ROUNDS=10  rounds (default 3)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchResult } from './run.js';

const MiB = 1 << 20;
const FILE_BYTES = 32 * MiB;

/** A positive integer from the environment (a multiple of `step`), or `fallback`; anything else is refused by name. */
export function benchSetting(name: string, fallback: number, step = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0 || value % step !== 0) {
    throw new Error(`${name}=${raw} is not valid: a positive whole number${step > 1 ? ` divisible by ${step}` : ''} is expected`);
  }
  return value;
}

function makeFiles(dir: string, count: number): string[] {
  const files: string[] = [];
  let previous: Buffer | null = null;
  for (let i = 0; i < count; i++) {
    // Every other file repeats the one before: ~2x at every block size.
    const data: Buffer = previous && i % 2 === 1 ? previous : randomBytes(FILE_BYTES);
    previous = data;
    const file = join(dir, `f${i}.bin`);
    writeFileSync(file, data);
    files.push(file);
  }
  return files;
}

interface Timing {
  seconds: number;
  /** User + system CPU of the command and its children. */
  cpuSeconds: number;
  maxRssKiB: number | null;
  /** Share of the wall time the files' block device was busy (cold runs where it is known). */
  diskBusy?: number;
}

function timed(command: string, args: string[]): Timing {
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', '%M %U %S', command, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const [rss, user, system] = (result.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return { seconds, cpuSeconds: (user ?? 0) + (system ?? 0), maxRssKiB: rss !== undefined && Number.isFinite(rss) ? rss : null };
}

/** Every round's timing per label: each round runs every measurement once, in order. */
function rounds(runs: number, measurements: Record<string, () => Timing>): Record<string, Timing[]> {
  const all: Record<string, Timing[]> = {};
  for (let round = 0; round < runs; round++) {
    for (const [label, measure] of Object.entries(measurements)) (all[label] ??= []).push(measure());
  }
  return all;
}

/** The fastest run, with the highest peak RSS of all runs. */
function best(timings: readonly Timing[]): Timing {
  const fastest = timings.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const peak = Math.max(...timings.map((timing) => timing.maxRssKiB ?? 0));
  return { ...fastest, maxRssKiB: peak || null };
}

/** Median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** `measure` while `cores` other processes keep a core busy each with pure computation. */
function withCoresBusy(cores: number, measure: () => Timing): () => Timing {
  return () => {
    const burners = Array.from({ length: cores }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
    try {
      return measure();
    } finally {
      for (const burner of burners) burner.kill('SIGKILL');
    }
  };
}

/** The block device under `path` as /sys/dev/block's stat file, or null (no block device: tmpfs, overlay…). */
export function deviceStatFile(path: string): string | null {
  const dev = statSync(path).dev;
  // Linux's dev_t: major in bits 8–19 (and 32+), minor in bits 0–7 and 20–31.
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  const file = `/sys/dev/block/${major}:${minor}/stat`;
  return major > 0 && existsSync(file) ? file : null;
}

/** Milliseconds the device has had I/O in flight (io_ticks, the 10th field). */
export function ioTicks(statFile: string): number {
  return Number(readFileSync(statFile, 'utf8').trim().split(/\s+/)[9]);
}

/** `measure`, with the device's busy share over its wall time. */
function withDiskBusy(statFile: string | null, measure: () => Timing): () => Timing {
  if (!statFile) return measure;
  return () => {
    const before = ioTicks(statFile);
    const timing = measure();
    return { ...timing, diskBusy: (ioTicks(statFile) - before) / 1000 / timing.seconds };
  };
}

/** Drop the files' pages from the page cache (GNU dd: nocache with count=0 covers the whole file). */
function dropCache(files: readonly string[]): void {
  for (const file of files) execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function percent(share: number): string {
  return `${(100 * share).toFixed(0)} %`;
}

function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

export async function bench(): Promise<BenchResult[]> {
  const totalMiB = benchSetting('DEDUP_LAB_BENCH_STORAGE_MIB', 512, 2 * FILE_BYTES / MiB);
  const runs = benchSetting('DEDUP_LAB_BENCH_STORAGE_ROUNDS', 3);
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-bench-storage-'));
  try {
    const files = makeFiles(dir, (totalMiB * MiB) / FILE_BYTES);
    const bytes = files.length * FILE_BYTES;
    const cli = resolve('bin/dedup-lab.js');
    const estimate = ['estimate', '--dir', dir, '--json'];
    const name = `estimate --dir, ${bytes / MiB} MiB (5 block sizes + FastCDC + LZ4 sample)`;
    const load = `load average ${loadavg()[0]?.toFixed(1)} at start, best of ${runs}`;
    const hashfile = join(dir, 'hashes');
    const warm = (command: string, args: string[]) => () => {
      execFileSync('cat', files, { stdio: ['ignore', 'ignore', 'inherit'] });
      return timed(command, args);
    };
    const device = deviceStatFile(dir);
    const cold = (command: string, args: string[]) => () => {
      dropCache(files);
      return withDiskBusy(device, () => timed(command, args))();
    };
    const installed = (command: string, versionFlag: string) => spawnSync(command, [versionFlag]).status === 0;
    const hasDuperemove = installed('duperemove', '--version');
    const hasXxhsum = installed('xxhsum', '-V');
    const dd = cold('sh', ['-c', files.map((file) => `dd if=${file} of=/dev/null bs=1M iflag=direct status=none`).join(' && ')]);
    const timings = rounds(runs, {
      // Cold: from the disk for every tool; the scan right after dd, so each round compares them in the same minute.
      coldDd: dd,
      coldOurs: cold(process.execPath, [cli, ...estimate]),
      coldDdBusy: withCoresBusy(1, dd),
      coldDdBothBusy: withCoresBusy(2, dd),
      ...(hasXxhsum ? { coldXxh: cold('xxhsum', ['-H2', ...files]) } : {}),
      // Warm: everything in the page cache.
      ours: warm(process.execPath, [cli, ...estimate, '--no-direct']),
      cat: warm('sh', ['-c', `cat ${files.join(' ')} > /dev/null`]),
      sha: warm('sha256sum', files),
      ...(hasDuperemove ? { dupe: warm('sh', ['-c', `rm -f ${hashfile} && duperemove -r -q -b 4096 --hashfile=${hashfile} ${files.join(' ')}`]) } : {}),
    }) as Record<'coldOurs' | 'coldDd' | 'coldDdBusy' | 'coldDdBothBusy' | 'ours' | 'cat' | 'sha', Timing[]> & { coldXxh?: Timing[]; dupe?: Timing[] };
    const fastest = (label: keyof typeof timings) => best(timings[label] ?? []);
    const rate = (timing: Timing) => mbPerSecond(bytes, timing.seconds);
    const perRound = timings.coldOurs.map((ours, round) => (timings.coldDd[round] as Timing).seconds / ours.seconds);
    const results: BenchResult[] = [
      { name: `${name}, cold`, value: rate(fastest('coldOurs')), unit: 'MB/s', reference: { name: 'dd iflag=direct (disk)', value: rate(fastest('coldDd')) }, note: load },
      {
        name: `${name}, cold, speed / dd's in the same round: median of ${runs} (${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)})`,
        value: median(perRound),
        unit: 'x',
      },
      { name: 'dd iflag=direct while one core computes (the disk beside CPU work)', value: rate(fastest('coldDdBusy')), unit: 'MB/s', reference: { name: 'dd iflag=direct alone', value: rate(fastest('coldDd')) } },
      { name: 'dd iflag=direct while both cores compute', value: rate(fastest('coldDdBothBusy')), unit: 'MB/s', reference: { name: 'dd iflag=direct alone', value: rate(fastest('coldDd')) } },
      { name: `${name}, cold vs dd while both cores compute`, value: rate(fastest('coldOurs')), unit: 'MB/s', reference: { name: 'dd iflag=direct, both cores busy', value: rate(fastest('coldDdBothBusy')) } },
      { name: `${name}, warm`, value: rate(fastest('ours')), unit: 'MB/s', reference: { name: 'cat (page cache)', value: rate(fastest('cat')) } },
      { name: `${name}, warm vs one hash pass`, value: rate(fastest('ours')), unit: 'MB/s', reference: { name: 'sha256sum', value: rate(fastest('sha')) } },
      { name: `${name}, warm, per CPU-second`, value: mbPerSecond(bytes, fastest('ours').cpuSeconds), unit: 'MB/s', reference: { name: 'sha256sum per CPU-second', value: mbPerSecond(bytes, fastest('sha').cpuSeconds) } },
    ];
    const busy = (label: 'coldOurs' | 'coldDd') => timings[label].map((timing) => timing.diskBusy ?? NaN);
    if (device) {
      const [ours, dds] = [busy('coldOurs'), busy('coldDd')];
      results.push({
        name: `${name}, cold: disk busy share, median of ${runs} (${percent(Math.min(...ours))}–${percent(Math.max(...ours))}; dd ${percent(Math.min(...dds))}–${percent(Math.max(...dds))})`,
        value: 100 * median(ours),
        unit: '%',
        reference: { name: 'dd iflag=direct, median', value: 100 * median(dds) },
      });
    }
    if (timings.coldXxh) results.push({ name: `${name}, cold vs one native XXH3-128 pass`, value: rate(fastest('coldOurs')), unit: 'MB/s', reference: { name: 'xxhsum -H2, cold', value: rate(fastest('coldXxh')) } });
    const peakKiB = Math.max(fastest('ours').maxRssKiB ?? 0, fastest('coldOurs').maxRssKiB ?? 0);
    if (peakKiB > 0) results.push({ name: 'estimate --dir peak RSS', value: peakKiB / 1024, unit: 'MiB', target: 256, lowerIsBetter: true });
    if (timings.dupe) results.push({ name: 'estimate --dir vs duperemove hashing (4 KiB, no dedup)', value: rate(fastest('ours')), unit: 'MB/s', reference: { name: 'duperemove', value: rate(fastest('dupe')) } });
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Simulated block dedup speed (SPEC §12, issue 13): `estimate --dir` over 512 MiB of files (random
 * data at ~U50 and text), wall-clock MB/s and peak RSS of the child, against `sha256sum` of the
 * same files (one native hash pass: the floor any content-hashing dedup scanner pays) and
 * `duperemove` hashing them (no dedup, 4 KiB blocks) where it is installed. Files are in the page
 * cache for every tool (read once before), so this measures the scanners, not the disk.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchResult } from './run.js';

const MiB = 1 << 20;
const FILES = 16;
const FILE_BYTES = 32 * MiB;

function makeFiles(dir: string): string[] {
  const files: string[] = [];
  let previous: Buffer | null = null;
  for (let i = 0; i < FILES; i++) {
    // Every other file repeats the one before: ~2x at every block size.
    const data: Buffer = previous && i % 2 === 1 ? previous : randomBytes(FILE_BYTES);
    previous = data;
    const file = join(dir, `f${i}.bin`);
    writeFileSync(file, data);
    files.push(file);
  }
  return files;
}

function timed(command: string, args: string[]): { seconds: number; maxRssKiB: number | null } {
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const rss = Number(result.stderr.trim().split('\n').at(-1));
  return { seconds, maxRssKiB: Number.isFinite(rss) ? rss : null };
}

export async function bench(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-bench-storage-'));
  try {
    const files = makeFiles(dir);
    const bytes = FILES * FILE_BYTES;
    execFileSync('cat', files, { stdio: ['ignore', 'ignore', 'inherit'] });
    const cli = resolve('bin/dedup-lab.js');
    const ours = timed(process.execPath, [cli, 'estimate', '--dir', dir, '--json']);
    const sha = timed('sha256sum', files);
    const results: BenchResult[] = [
      { name: `estimate --dir, ${bytes / MiB} MiB (5 block sizes + FastCDC + LZ4 sample)`, value: bytes / 1e6 / ours.seconds, unit: 'MB/s', reference: { name: 'sha256sum', value: bytes / 1e6 / sha.seconds } },
    ];
    if (ours.maxRssKiB !== null) results.push({ name: 'estimate --dir peak RSS', value: ours.maxRssKiB / 1024, unit: 'MiB', target: 256, lowerIsBetter: true });
    if (spawnSync('duperemove', ['--version']).status === 0) {
      const hashfile = join(dir, 'hashes');
      const dupe = timed('duperemove', ['-r', '-q', '-b', '4096', `--hashfile=${hashfile}`, ...files]);
      results.push({ name: 'estimate --dir vs duperemove hashing (4 KiB, no dedup)', value: bytes / 1e6 / ours.seconds, unit: 'MB/s', reference: { name: 'duperemove', value: bytes / 1e6 / dupe.seconds } });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

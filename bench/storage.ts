/**
 * Simulated block dedup speed (SPEC §12, issue 13): `estimate --dir` over 512 MiB of files (random
 * data, every other file a copy: ~2x), wall-clock MB/s and peak RSS of the child, side by side with
 * the native floor for the same files: `cat` to /dev/null (warm page cache), `dd iflag=direct`
 * (cold: from the disk, page cache bypassed), `sha256sum` (one native hash pass, what any
 * content-hashing scanner pays at least) and `duperemove` hashing them (4 KiB blocks, no dedup)
 * where installed. Cold runs drop only these files' pages (`dd iflag=nocache count=0`, i.e.
 * POSIX_FADV_DONTNEED), never the machine's whole page cache.
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

/** Drop the files' pages from the page cache (GNU dd: nocache with count=0 covers the whole file). */
function dropCache(files: readonly string[]): void {
  for (const file of files) execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

export async function bench(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-bench-storage-'));
  try {
    const files = makeFiles(dir);
    const bytes = FILES * FILE_BYTES;
    const cli = resolve('bin/dedup-lab.js');
    const estimate = ['estimate', '--dir', dir, '--json'];
    const name = `estimate --dir, ${bytes / MiB} MiB (5 block sizes + FastCDC + LZ4 sample)`;
    // Cold: from the disk for every tool.
    dropCache(files);
    const coldOurs = timed(process.execPath, [cli, ...estimate]);
    dropCache(files);
    const coldDd = timed('sh', ['-c', files.map((file) => `dd if=${file} of=/dev/null bs=1M iflag=direct status=none`).join(' && ')]);
    // Warm: everything in the page cache.
    execFileSync('cat', files, { stdio: ['ignore', 'ignore', 'inherit'] });
    const ours = timed(process.execPath, [cli, ...estimate]);
    const cat = timed('sh', ['-c', `cat ${files.join(' ')} > /dev/null`]);
    const sha = timed('sha256sum', files);
    const results: BenchResult[] = [
      { name: `${name}, cold`, value: mbPerSecond(bytes, coldOurs.seconds), unit: 'MB/s', reference: { name: 'dd iflag=direct (disk)', value: mbPerSecond(bytes, coldDd.seconds) } },
      { name: `${name}, warm`, value: mbPerSecond(bytes, ours.seconds), unit: 'MB/s', reference: { name: 'cat (page cache)', value: mbPerSecond(bytes, cat.seconds) } },
      { name: `${name}, warm vs one hash pass`, value: mbPerSecond(bytes, ours.seconds), unit: 'MB/s', reference: { name: 'sha256sum', value: mbPerSecond(bytes, sha.seconds) } },
    ];
    if (ours.maxRssKiB !== null) results.push({ name: 'estimate --dir peak RSS', value: ours.maxRssKiB / 1024, unit: 'MiB', target: 256, lowerIsBetter: true });
    if (spawnSync('duperemove', ['--version']).status === 0) {
      const hashfile = join(dir, 'hashes');
      const dupe = timed('duperemove', ['-r', '-q', '-b', '4096', `--hashfile=${hashfile}`, ...files]);
      results.push({ name: 'estimate --dir vs duperemove hashing (4 KiB, no dedup)', value: mbPerSecond(bytes, ours.seconds), unit: 'MB/s', reference: { name: 'duperemove', value: mbPerSecond(bytes, dupe.seconds) } });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Generation speed (SPEC §10): per payload type MB/s in memory and to disk, peak RSS, against fio
 * measured in the same run (buffer generation with ioengine=null, sequential buffered write to the
 * same disk).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BenchResult } from './run.js';
import { ensureDataset, SYNTHETIC_TYPES, type DatasetParameters } from '../src/dataset/index.js';
import { SYNTHETIC_GENERATORS } from '../src/dataset/payloads/synthetic.js';
import { deriveKey } from '../src/dataset/prng.js';

const MB = 1e6;
const RANDOM_MEMORY_BYTES = 2 * 1024 ** 3;
const STRUCTURED_MEMORY_BYTES = 128 * 1024 ** 2;
const DISK_FILES = 32;
const DISK_FILE_SIZE = 8 * 1024 ** 2;

function inMemoryRate(type: (typeof SYNTHETIC_TYPES)[number], bytes: number): number {
  const generate = SYNTHETIC_GENERATORS[type];
  const fileSize = 64 * 1024 ** 2;
  let produced = 0;
  const started = performance.now();
  for (let file = 0; produced < bytes; file++) {
    for (const chunk of generate(deriveKey('bench', type, file), Math.min(fileSize, bytes - produced))) produced += chunk.length;
  }
  return produced / MB / ((performance.now() - started) / 1000);
}

function ensureFio(): boolean {
  const has = (): boolean => spawnSync('fio', ['--version'], { stdio: 'ignore' }).status === 0;
  if (has()) return true;
  process.stderr.write('fio missing: installing it with apt-get …\n');
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-qq', 'fio'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    install();
  }
  return has();
}

/** fio's write bandwidth in MB/s (decimal) from its JSON output. */
function fio(args: string[]): number {
  const output = execFileSync('fio', ['--output-format=json', ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const report = JSON.parse(output.slice(output.indexOf('{'))) as { jobs: { write: { bw_bytes: number } }[] };
  return (report.jobs[0]?.write.bw_bytes ?? 0) / MB;
}

export async function bench(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const haveFio = ensureFio();
  if (!haveFio) process.stderr.write('warning: fio could not be installed; ratios against fio are missing\n');
  const workDir = resolve('.dedup-lab', 'bench-generation');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  try {
    const fioMemory = haveFio
      ? fio(['--name=buffers', '--ioengine=null', '--rw=write', '--bs=64k', `--size=${RANDOM_MEMORY_BYTES}`, '--refill_buffers', '--dedupe_percentage=0', '--buffer_compress_percentage=0'])
      : 0;
    const fioDisk = haveFio
      ? fio(['--name=seqwrite', '--ioengine=psync', '--rw=write', '--bs=1M', `--size=${DISK_FILES * DISK_FILE_SIZE}`, '--refill_buffers', `--filename=${join(workDir, 'fio.tmp')}`])
      : 0;
    await rm(join(workDir, 'fio.tmp'), { force: true });

    for (const type of SYNTHETIC_TYPES) {
      const random = type === 'random_binary';
      const memory = inMemoryRate(type, random ? RANDOM_MEMORY_BYTES : STRUCTURED_MEMORY_BYTES);
      results.push({
        name: `${type} in memory`,
        value: memory,
        unit: 'MB/s',
        ...(random && haveFio ? { reference: { name: 'fio ioengine=null refill_buffers', value: fioMemory } } : {}),
        target: random ? 1000 : 200,
      });
      const params: DatasetParameters = {
        payloadType: type,
        grade: 'U0',
        files: DISK_FILES,
        minSize: DISK_FILE_SIZE,
        maxSize: DISK_FILE_SIZE,
        seed: 1,
        dupDistribution: 'uniform',
        source: null,
      };
      const started = performance.now();
      const { manifest } = await ensureDataset(params, workDir);
      const disk = manifest.totals.logicalBytes / MB / ((performance.now() - started) / 1000);
      results.push({
        name: `${type} to disk (generate, incl. sha256)`,
        value: disk,
        unit: 'MB/s',
        ...(haveFio ? { reference: { name: 'fio sequential write, buffered', value: fioDisk } } : {}),
      });
      await rm(join(workDir, type), { recursive: true, force: true });
    }
    results.push({ name: 'peak RSS of the bench process', value: process.resourceUsage().maxRSS / 1024, unit: 'MiB', target: 256, lowerIsBetter: true });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return results;
}

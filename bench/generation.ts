/**
 * Generation speed (SPEC §10): per payload type MB/s in memory and to disk, peak RSS, against fio
 * measured in the same run (buffer generation with ioengine=null, sequential buffered write to the
 * same disk). The targets are per core, so rates are bytes per CPU-second of this process
 * (process.cpuUsage: on a busy shared machine wall time measures the neighbours too); the wall-clock
 * rate is printed beside each as a note.
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

interface Rate {
  /** MB per CPU-second of this process (user + system). */
  cpu: number;
  /** MB per wall-clock second. */
  wall: number;
}

/** Time `work` (which returns the bytes it produced) in CPU and wall time. */
async function measure(work: () => number | Promise<number>): Promise<Rate> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const bytes = await work();
  const cpu = process.cpuUsage(cpuBefore);
  return { cpu: bytes / MB / ((cpu.user + cpu.system) / 1e6), wall: bytes / MB / ((performance.now() - started) / 1000) };
}

function generateInMemory(type: (typeof SYNTHETIC_TYPES)[number], bytes: number, label: string): number {
  const generate = SYNTHETIC_GENERATORS[type];
  const fileSize = 64 * 1024 ** 2;
  let produced = 0;
  for (let file = 0; produced < bytes; file++) {
    for (const chunk of generate(deriveKey(label, type, file), Math.min(fileSize, bytes - produced))) produced += chunk.length;
  }
  return produced;
}

function inMemoryRate(type: (typeof SYNTHETIC_TYPES)[number], bytes: number): Promise<Rate> {
  generateInMemory(type, 16 * 1024 ** 2, 'warm-up'); // JIT warm-up, not measured
  return measure(() => generateInMemory(type, bytes, 'bench'));
}

const wallNote = (rate: Rate): string => `wall ${rate.wall.toFixed(0)} MB/s`;

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

/** fio's write bandwidth in MB/s (decimal) from its JSON output, per wall second and per CPU-second of the job. */
function fio(args: string[]): Rate {
  const output = execFileSync('fio', ['--output-format=json', ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const report = JSON.parse(output.slice(output.indexOf('{'))) as { jobs: { write: { bw_bytes: number }; usr_cpu: number; sys_cpu: number }[] };
  const job = report.jobs[0];
  if (!job) return { cpu: 0, wall: 0 };
  const wall = job.write.bw_bytes / MB;
  // usr_cpu/sys_cpu are percentages of the job's run time.
  const cpuShare = (job.usr_cpu + job.sys_cpu) / 100;
  return { wall, cpu: cpuShare > 0 ? wall / cpuShare : 0 };
}

const NO_FIO: Rate = { cpu: 0, wall: 0 };

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
      : NO_FIO;
    const fioDisk = haveFio
      ? fio(['--name=seqwrite', '--ioengine=psync', '--rw=write', '--bs=1M', `--size=${DISK_FILES * DISK_FILE_SIZE}`, '--refill_buffers', `--filename=${join(workDir, 'fio.tmp')}`])
      : NO_FIO;
    await rm(join(workDir, 'fio.tmp'), { force: true });

    for (const type of SYNTHETIC_TYPES) {
      const random = type === 'random_binary';
      const memory = await inMemoryRate(type, random ? RANDOM_MEMORY_BYTES : STRUCTURED_MEMORY_BYTES);
      results.push({
        name: `${type} in memory, per CPU-second`,
        value: memory.cpu,
        unit: 'MB/s',
        note: wallNote(memory),
        ...(random && haveFio ? { reference: { name: `fio ioengine=null refill_buffers, per CPU-second (${wallNote(fioMemory)})`, value: fioMemory.cpu } } : {}),
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
      const disk = await measure(async () => (await ensureDataset(params, workDir)).manifest.totals.logicalBytes);
      results.push({
        name: `${type} to disk (generate, incl. sha256), per CPU-second`,
        value: disk.cpu,
        unit: 'MB/s',
        note: wallNote(disk),
        ...(haveFio ? { reference: { name: `fio sequential write, buffered, per CPU-second (${wallNote(fioDisk)})`, value: fioDisk.cpu } } : {}),
      });
      await rm(join(workDir, type), { recursive: true, force: true });
    }
    results.push({ name: 'peak RSS of the bench process', value: process.resourceUsage().maxRSS / 1024, unit: 'MiB', target: 256, lowerIsBetter: true });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return results;
}

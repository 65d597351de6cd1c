/**
 * Peak memory of `dedup-lab run --total-size` on every server system of scripts/services.sh
 * (SPEC §4.1, §10: peak RSS below 256 MiB for any run). The embedded engines are asserted in
 * test/experiment/total-size-memory.test.ts; this measures the server systems, whose engines are
 * servers beside the tool, so only the tool's own process counts (its VmHWM, polled from /proc every
 * 50 ms while the real CLI runs bulk_insert, perfile_insert and a cold read of every stored file).
 *
 *   npm run bench -- --only memory-total-size
 *   DEDUP_LAB_BENCH_TOTAL_SIZE=256MiB DEDUP_LAB_BENCH_SYSTEMS=redis,kafka npm run bench -- --only memory-total-size
 *
 * Needs the services' environment (eval "$(bash scripts/services.sh env)"). Writes its data set and
 * results under a temporary folder it removes. The reference column is the limit, not a tool.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './run.js';
import { processMemory } from '../src/systems/pglite.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIMIT_MIB = 256;
/** Each server system with the variant that stores every copy (the most bytes through the tool). */
const SERVER_VARIANTS: Record<string, string> = {
  postgresql: 'default',
  mariadb: 'default',
  clickhouse: 'mergetree',
  redis: 'by-id',
  kafka: 'delete',
  minio: 'by-id',
  nats: 'plain',
};
// No perfile_delete: at 1 GiB ClickHouse's per-file ALTER … DELETE mutations each rewrite the part
// holding the file (≈ 1 GiB after merges; 4–7 s per file measured), so that stage alone takes hours
// there; the embedded test covers the delete stages.
const STAGES = 'bulk_insert,perfile_insert,read';

/** Runs the CLI once and returns its peak RSS in MiB and its wall time in seconds. */
function runMeasured(args: string[]): Promise<{ peakMiB: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'dedup-lab.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let peakBytes = 0;
    let stderr = '';
    const timer = setInterval(() => (peakBytes = Math.max(peakBytes, (child.pid && processMemory(child.pid)?.peakRssBytes) || 0)), 50);
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`dedup-lab ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ peakMiB: peakBytes / 1024 ** 2, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export async function bench(): Promise<BenchResult[]> {
  if (!process.env.DEDUP_LAB_PG_PORT) throw new Error('DEDUP_LAB_PG_PORT is not set: eval "$(bash scripts/services.sh env)" first');
  const totalSize = process.env.DEDUP_LAB_BENCH_TOTAL_SIZE ?? '1GiB';
  const systems = (process.env.DEDUP_LAB_BENCH_SYSTEMS ?? Object.keys(SERVER_VARIANTS).join(',')).split(',');
  const dir = await mkdtemp(join(tmpdir(), 'dedup-bench-memory-'));
  const results: BenchResult[] = [];
  try {
    for (const system of systems) {
      const variant = SERVER_VARIANTS[system];
      if (!variant) throw new Error(`${system} is not a server system; valid: ${Object.keys(SERVER_VARIANTS).join(', ')}`);
      const args = ['run', '--config', join(ROOT, 'examples', 'local.yaml'), '--systems', system, '--variants', `${system}:${variant}`];
      args.push('--payload-types', 'random_binary', '--grades', 'U50', '--total-size', totalSize, '--stages', STAGES, '--cache', 'cold');
      args.push('--data-dir', join(dir, 'data'), '--results-dir', join(dir, `results-${system}`));
      const measured = await runMeasured(args).catch((error: unknown) => error as Error);
      if (measured instanceof Error) {
        // A failed run is a result too (e.g. a server limit at this size): say so, go on with the others.
        results.push({ name: `${system}: run at --total-size ${totalSize} FAILED`, value: Number.NaN, unit: 'MiB', target: LIMIT_MIB, lowerIsBetter: true, note: measured.message.slice(-300) });
        continue;
      }
      const { peakMiB, seconds } = measured;
      results.push({
        name: `${system}: tool peak RSS at --total-size ${totalSize}`,
        value: peakMiB,
        unit: 'MiB',
        target: LIMIT_MIB,
        lowerIsBetter: true,
        note: `${variant}, ${STAGES}, cold, ${seconds.toFixed(0)} s`,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

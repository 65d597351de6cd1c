/**
 * CLI start-up (SPEC §10, issue 15): wall time of `dedup-lab --help` and `--version` as a user runs
 * them (the bin of this checkout on the compiled dist/), beside `node -e 0` measured in the same run
 * — the floor no Node CLI can beat. Median of several starts; target 0.3 s.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './run.js';
import { median } from '../src/report/stats.js';
import { distIsCurrent } from '../bin/freshness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'bin', 'dedup-lab.js');
const STARTS = 9;
const TARGET_MS = 300;

function wallMs(args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const started = process.hrtime.bigint();
    const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.status !== 0) throw new Error(`node ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return median(times);
}

export async function bench(): Promise<BenchResult[]> {
  // Measure what users run: the compiled build of these sources, never the tsx fallback.
  if (!distIsCurrent(ROOT)) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.js')], { stdio: 'ignore' });
  const floor = wallMs(['-e', '0']);
  const reference = { name: 'node -e 0', value: floor };
  return ['--help', '--version'].map((flag) => ({
    name: `dedup-lab ${flag} wall time`,
    value: wallMs([CLI, flag]),
    unit: 'ms',
    reference,
    target: TARGET_MS,
    lowerIsBetter: true,
    note: `median of ${STARTS}`,
  }));
}

/** Helpers for runner tests: real adapters, small generated data sets, temporary folders. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { RunProgress } from '../../src/cli/progress.js';
import { resolveRunSetup } from '../../src/experiment/setup.js';
import { runExperiment, type RunSummary } from '../../src/experiment/runner.js';
import { readRecords } from '../../src/experiment/results.js';
import type { StageRecord } from '../../src/experiment/record.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO, 'bin', 'dedup-lab.js');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dedup-${prefix}-`));
}

export const silentProgress: RunProgress = { start() {}, stageStart() {}, stageEnd() {}, cellEnd() {}, note() {}, stop() {} };

/** A config whose embedded systems keep their lab data under `labDir`. */
export function embeddedConfig(labDir: string, systems: string[], extra: Record<string, unknown> = {}): Config {
  return parseConfig({ systems: systems.map((id) => ({ id, options: { dataDir: join(labDir, id) } })), ...extra });
}

export interface InProcessRun {
  summary: RunSummary;
  records: StageRecord[];
  resultsDir: string;
}

/** Run the real runner in this process (no CLI start-up cost) on small generated data. */
export async function runInProcess(options: {
  config: Config;
  cli: Record<string, unknown>;
  dataDir: string;
  resultsDir: string;
  fresh?: boolean;
  repeat?: string[];
  signal?: AbortSignal;
  backoff?: { baseMs: number; maxMs: number };
}): Promise<InProcessRun> {
  const setup = await resolveRunSetup({ dataDir: options.dataDir, ...options.cli }, options.config);
  const summary = await runExperiment({
    config: options.config,
    targets: setup.targets,
    plan: setup.plan,
    datasets: setup.datasets,
    dataDir: setup.dataDir,
    resultsDir: options.resultsDir,
    fresh: options.fresh ?? false,
    repeat: options.repeat ?? [],
    maxRetries: setup.maxRetries,
    keepLab: setup.keepLab,
    traceIntervalMs: setup.traceIntervalMs,
    // run.reclaimWindowS of the test's config (else every watch gets the 600 s default).
    reclaimWindowS: setup.reclaimWindowS,
    signal: options.signal ?? new AbortController().signal,
    progress: silentProgress,
    argv: [],
    backoff: options.backoff ?? { baseMs: 1, maxMs: 5 },
  });
  return { summary, records: readRecords(options.resultsDir), resultsDir: options.resultsDir };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI; `onStderr` may act on progress lines (e.g. send a signal mid-run). */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** `cellId/stage` of every record, sorted, for comparing runs. */
export function stageKeys(records: readonly StageRecord[]): string[] {
  return records.map((record) => `${record.cellId}/${record.stage}`).sort();
}

/** A process's peak resident memory (VmHWM) in KiB, or null once it has exited. */
export function highWaterKiB(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null; // the process has exited
  }
}

/**
 * The part of `run` and `demo` around the runner: signals, progress, reports, the summary table
 * and the exit code of SPEC §2 (130 after SIGINT/SIGTERM, like a shell reports an interrupted job).
 */
import { join } from 'node:path';
import { EXIT } from '../core/errors.js';
import { log } from '../core/log.js';
import { createProgress } from '../cli/progress.js';
import type { Config } from '../config/schema.js';
import { renderSummaryTable, writeReports } from '../report/index.js';
import { readRecords } from './results.js';
import { runExperiment, type RunSummary } from './runner.js';
import type { RunSetup } from './setup.js';

export const EXIT_INTERRUPTED = 130;

export interface ExecuteOptions {
  config: Config;
  setup: RunSetup;
  resultsDir: string;
  fresh: boolean;
  repeat: string[];
}

/** Exit code of a finished run: 130 interrupted, 3 nothing reachable, 1 failed cells, else 0. */
export function exitCodeOf(summary: RunSummary): number {
  if (summary.interrupted) return EXIT_INTERRUPTED;
  if (summary.reachable.length === 0 && summary.unreachable.length > 0) return EXIT.unreachable;
  if (summary.failedCells.length > 0) return EXIT.cellsFailed;
  return EXIT.ok;
}

export async function executeRun(options: ExecuteOptions): Promise<number> {
  const { setup, resultsDir } = options;
  const abort = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      // A second signal means "now": checkpoints are atomic, so nothing half-written is marked complete.
      log.warn(`${signal} again: exiting immediately`);
      process.exit(EXIT_INTERRUPTED);
    }
    log.warn(`${signal}: stopping after the current operation (finished stages stay recorded; the unfinished cell is not checkpointed)`);
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const progress = createProgress();
  let summary: RunSummary;
  try {
    for (const note of setup.plan.notes) log.info(`note: ${note}`);
    summary = await runExperiment({
      config: options.config,
      targets: setup.targets,
      plan: setup.plan,
      datasets: setup.datasets,
      dataDir: setup.dataDir,
      resultsDir,
      fresh: options.fresh,
      repeat: options.repeat,
      maxRetries: setup.maxRetries,
      keepLab: setup.keepLab,
      traceIntervalMs: setup.traceIntervalMs,
      reclaimWindowS: setup.reclaimWindowS,
      signal: abort.signal,
      progress,
      argv: process.argv.slice(2),
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (summary.interrupted) {
    log.warn(`interrupted: ${summary.completedCells} cells completed in this run; run again with --results-dir ${resultsDir} to resume`);
    return exitCodeOf(summary);
  }
  await reportResults(resultsDir);
  if (summary.unreachable.length > 0) log.error(`unreachable: ${summary.unreachable.join(', ')}`);
  for (const failed of summary.failedCells) log.error(`cell failed: ${failed.cellId}: ${failed.error}`);
  log.info(`${summary.completedCells} cells completed, ${summary.skippedCells} skipped (already complete), ${summary.failedCells.length} failed`);
  return exitCodeOf(summary);
}

/** Reports, the summary table and the paths on stdout (shared by `run`, `demo` and `cascade`). */
export async function reportResults(resultsDir: string): Promise<void> {
  const records = readRecords(resultsDir);
  if (records.length === 0) {
    log.info(`no stage finished, so there is nothing to report (results dir ${resultsDir})`);
    return;
  }
  const paths = await writeReports(resultsDir);
  process.stdout.write(`${renderSummaryTable(records)}\n`);
  process.stdout.write(`results: ${join(resultsDir, 'results.jsonl')}\nreport:  ${paths.reportHtml}\n`);
}

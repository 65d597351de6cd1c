/**
 * The runner (SPEC §4): datasets, systems, cells with retries, checkpoints and resume, trace,
 * environment.json and the reports at the end. One failing cell or system never stops the rest.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ensureDataset, prepareSource } from '../dataset/index.js';
import type { DatasetParameters } from '../dataset/manifest.js';
import { compressibilityOf } from '../measure/compressibility.js';
import type { StageName } from '../systems/types.js';
import type { RunProgress } from '../cli/progress.js';
import type { CellDataset } from './cell.js';
import type { Plan, PlannedCell } from './plan.js';
import { acquireRunLock, isDiskError, ResultsWriteError, resultsWrite, tornLines } from './results-dir.js';
import { compactResults, readCheckpoints, RESULTS_FILE, type Checkpoint } from './results.js';
import { datasetKey, RunSession, type RunnerOptions, type RunSummary } from './session.js';

export { datasetKey, notApplicableRecord, RECONNECT_BACKOFF, RECONNECT_WINDOW_MS, RunSession } from './session.js';
export type { FailedCell, RunnerOptions, RunSummary } from './session.js';

export function newRunId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** Hash of what a cell measures: its data set's parameters and the stages. */
export function cellFingerprint(params: DatasetParameters | undefined, stages: readonly StageName[]): string {
  return createHash('sha256').update(JSON.stringify({ params: params ?? null, stages })).digest('hex').slice(0, 16);
}

/** Which planned cells still have to run, given checkpoints, --fresh and --repeat. */
export function cellsToRun(
  cells: readonly PlannedCell[],
  checkpoints: ReadonlyMap<string, Checkpoint>,
  fresh: boolean,
  repeat: readonly string[],
  fingerprintOf: (cell: PlannedCell) => string,
): PlannedCell[] {
  return cells.filter((cell) => {
    if (fresh || repeat.includes(cell.instance) || repeat.includes(cell.systemId)) return true;
    // Failed cells run again on resume; complete ones are skipped if they measured the same thing.
    const checkpoint = checkpoints.get(cell.cellId);
    return checkpoint?.status !== 'complete' || checkpoint.fingerprint !== fingerprintOf(cell);
  });
}

/** Fingerprint function for the cells of one plan. */
function fingerprinter(datasets: readonly DatasetParameters[], stages: readonly StageName[]): (cell: PlannedCell) => string {
  const paramsOf = new Map(datasets.map((params) => [datasetKey(params.payloadType, params.grade), params]));
  return (cell) => cellFingerprint(paramsOf.get(datasetKey(cell.payloadType, cell.grade)), stages);
}

/** Cell ids a run in `resultsDir` would skip (read-only: used by --dry-run). */
export function completeCells(plan: Plan, datasets: readonly DatasetParameters[], resultsDir: string, fresh: boolean, repeat: readonly string[]): Set<string> {
  const pending = new Set(cellsToRun(plan.cells, readCheckpoints(resultsDir), fresh, repeat, fingerprinter(datasets, plan.stages)).map((cell) => cell.cellId));
  return new Set(plan.cells.filter((cell) => !pending.has(cell.cellId)).map((cell) => cell.cellId));
}

/** One run per results dir (SPEC §13): the lock is held from the first write to the end. */
export async function runExperiment(options: RunnerOptions): Promise<RunSummary> {
  const { resultsDir } = options;
  resultsWrite(resultsDir, () => mkdirSync(resultsDir, { recursive: true }));
  const lock = acquireRunLock(resultsDir);
  options.progress.note(`results: ${resultsDir}`);
  try {
    return await runLocked(options);
  } catch (error) {
    throw isDiskError(error) ? new ResultsWriteError(resultsDir, error) : error;
  } finally {
    try {
      lock.release();
    } catch {
      // a full or gone disk: the lock of a dead pid is taken over by the next run
    }
  }
}

async function runLocked(options: RunnerOptions): Promise<RunSummary> {
  const { plan, resultsDir, signal, progress } = options;
  const startedAt = new Date();
  const runId = newRunId(startedAt);
  warnTornLines(resultsDir, progress);
  const dropped = compactResults(resultsDir);
  if (dropped > 0) progress.note(`dropped ${dropped} result lines of unfinished or superseded attempts`);
  const checkpoints = readCheckpoints(resultsDir);
  // URL sources are revalidated first: a cell measured on a set cut from other remote bytes must
  // not count as complete (the digest is part of the fingerprint).
  const datasetParams: DatasetParameters[] = [];
  for (const params of options.datasets) datasetParams.push((await prepareSource(params, signal)).params);
  const fingerprintOf = fingerprinter(datasetParams, plan.stages);
  const pending = cellsToRun(plan.cells, checkpoints, options.fresh, options.repeat, fingerprintOf);
  const changed = pending.filter((cell) => checkpoints.get(cell.cellId)?.status === 'complete' && !options.fresh && !options.repeat.includes(cell.instance) && !options.repeat.includes(cell.systemId));
  if (changed.length > 0) progress.note(`${changed.length} complete cells are redone: their data-set parameters or stages changed since they ran`);
  const session = new RunSession(options, { runId, startedAt, checkpoints, fingerprintOf, skippedCells: plan.cells.length - pending.length });
  // A resume with nothing left to do keeps the environment of the run that produced the results.
  if (pending.length > 0 || !existsSync(join(resultsDir, 'environment.json'))) session.saveEnvironment();
  const datasets = await generateDatasets(options, datasetParams, pending);
  if (signal.aborted) {
    session.summary.interrupted = true;
    return session.summary;
  }
  await session.runTargets(pending, datasets);
  if (!session.summary.interrupted) compactResults(resultsDir);
  return session.summary;
}

/** Data sets the pending cells need, generated when missing (one invocation does everything); stops early when interrupted. */
async function generateDatasets(options: RunnerOptions, datasetParams: readonly DatasetParameters[], pending: readonly PlannedCell[]): Promise<Map<string, CellDataset>> {
  const { signal, progress } = options;
  const datasets = new Map<string, CellDataset>();
  const needed = new Set(pending.map((cell) => datasetKey(cell.payloadType, cell.grade)));
  for (const params of datasetParams) {
    const key = datasetKey(params.payloadType, params.grade);
    if (!needed.has(key) || datasets.has(key)) continue;
    if (signal.aborted) break;
    try {
      const { dir, manifest, generated } = await ensureDataset(params, options.dataDir, { signal });
      if (generated) progress.note(`generated data set ${key} in ${dir}`);
      datasets.set(key, { dir, manifest, compressibility: await compressibilityOf(dir, manifest) });
    } catch (error) {
      // Interrupted while generating: nothing ran, exit like any interrupted run.
      if (signal.aborted) break;
      throw error;
    }
  }
  return datasets;
}

/** A results.jsonl cut by a crash: said once; compactResults then keeps only its whole lines. */
function warnTornLines(resultsDir: string, progress: RunProgress): void {
  const file = join(resultsDir, RESULTS_FILE);
  if (!existsSync(file)) return;
  const torn = tornLines(readFileSync(file, 'utf8'));
  if (torn > 0) progress.note(`warning: ${file}: ${torn} cut line${torn === 1 ? '' : 's'} (a crash mid-write) ignored; resuming from the last whole line`);
}

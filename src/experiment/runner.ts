/**
 * The runner (SPEC §4): datasets, systems, cells with retries, checkpoints and resume, trace,
 * environment.json and the reports at the end. One failing cell or system never stops the rest.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ensureDataset, prepareSource } from '../dataset/index.js';
import type { DatasetParameters } from '../dataset/manifest.js';
import type { Config, SystemEntry } from '../config/schema.js';
import { scrub } from '../config/secrets.js';
import { compressibilityOf } from '../measure/compressibility.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from '../measure/backoff.js';
import { fsProbe } from '../measure/probes/fs.js';
import { storageProbeFor } from '../storage/stage.js';
import { realClock, type Clock } from '../measure/settle.js';
import { startTrace } from '../trace/index.js';
import { type Probe, type StageName, type SystemAdapter } from '../systems/types.js';
import type { RunProgress } from '../cli/progress.js';
import { cellContextOf, emptyStageRecord, InterruptedError, runCell, StageFailedError, type CellDataset } from './cell.js';
import { describeEnvironment, writeEnvironment, type SystemEnvironment } from './environment.js';
import type { Plan, PlannedCell, SystemTarget } from './plan.js';
import { createAdapter } from './setup.js';
import type { StageRecord } from './record.js';
import { acquireRunLock, isDiskError, ResultsWriteError, resultsWrite, tornLines } from './results-dir.js';
import { appendRecord, compactResults, readCheckpoints, RESULTS_FILE, writeCheckpoint, type Checkpoint } from './results.js';

export interface RunnerOptions {
  config: Config;
  targets: SystemTarget[];
  plan: Plan;
  /** One entry per payload type × grade the plan uses. */
  datasets: DatasetParameters[];
  dataDir: string;
  resultsDir: string;
  fresh: boolean;
  /** Instances whose cells are redone despite their checkpoints (`--repeat`). */
  repeat: readonly string[];
  maxRetries: number;
  keepLab: boolean;
  traceIntervalMs: number;
  /** Upper bound of the reclaim watch, seconds; default DEFAULT_RECLAIM_WINDOW_S. */
  reclaimWindowS?: number;
  signal: AbortSignal;
  progress: RunProgress;
  argv: string[];
  backoff?: BackoffOptions;
  /** How long a retry keeps trying to reconnect to a restarting server (default RECONNECT_WINDOW_MS). */
  reconnectWindowMs?: number;
  clock?: Clock;
}

/**
 * A retry reconnects for up to 2 minutes (polling with backoff capped at 5 s): longer than a
 * normal restart of any server we run (PostgreSQL/MariaDB/Redis/NATS ~1–3 s, ClickHouse ~5 s,
 * Kafka's JVM + KRaft ~10–20 s, SeaweedFS ~5 s).
 */
export const RECONNECT_WINDOW_MS = 120_000;
export const RECONNECT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 5_000 };

export interface FailedCell {
  cellId: string;
  error: string;
}

export interface RunSummary {
  runId: string;
  totalCells: number;
  skippedCells: number;
  completedCells: number;
  failedCells: FailedCell[];
  interrupted: boolean;
  /** Instances that had cells to run and could not be connected. */
  unreachable: string[];
  /** Instances that had cells to run and were connected. */
  reachable: string[];
}

export function newRunId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
}

export function datasetKey(payloadType: string, grade: string): string {
  return `${payloadType}/${grade}`;
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

function messageOf(error: unknown): string {
  return scrub(error instanceof Error ? error.message : String(error));
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
  const clock = options.clock ?? realClock;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
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
  const summary: RunSummary = {
    runId,
    totalCells: plan.cells.length,
    skippedCells: plan.cells.length - pending.length,
    completedCells: 0,
    failedCells: [],
    interrupted: false,
    unreachable: [],
    reachable: [],
  };
  const systemsEnv: SystemEnvironment[] = [];
  /** version() per instance, copied into its records so every table row says which engine it measured. */
  const systemVersions = new Map<string, string>();
  const saveEnvironment = () => writeEnvironment(resultsDir, describeEnvironment(options.config, runId, options.argv, systemsEnv, startedAt));
  // A resume with nothing left to do keeps the environment of the run that produced the results.
  if (pending.length > 0 || !existsSync(join(resultsDir, 'environment.json'))) saveEnvironment();

  // Data sets the pending cells need, generated when missing (one invocation does everything).
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
  if (signal.aborted) {
    summary.interrupted = true;
    return summary;
  }

  const tracer = await startTrace({ resultsDir, intervalMs: options.traceIntervalMs, sinks: options.config.trace });
  progress.start(plan.cells.length, summary.skippedCells);
  try {
    for (const target of options.targets) {
      if (signal.aborted) break;
      const cells = pending.filter((cell) => cell.instance === target.instance);
      if (cells.length === 0) continue;
      await runSystem(target, cells);
    }
  } finally {
    await tracer.close();
    progress.stop();
  }
  summary.interrupted = signal.aborted;
  if (!summary.interrupted) compactResults(resultsDir);
  return summary;

  async function runSystem(target: SystemTarget, cells: PlannedCell[]): Promise<void> {
    const entry: SystemEntry = target.entry;
    const systemEnv: SystemEnvironment = { system: target.definition.id, instance: target.instance, version: null };
    systemsEnv.push(systemEnv);
    let adapter: SystemAdapter;
    try {
      adapter = createAdapter(target, options.config);
    } catch (error) {
      failAll(cells, `cannot create the ${target.instance} adapter: ${messageOf(error)}`);
      systemEnv.error = messageOf(error);
      saveEnvironment();
      summary.unreachable.push(target.instance);
      return;
    }
    const connectError = await connectWithRetries(adapter);
    if (connectError) {
      systemEnv.error = connectError;
      saveEnvironment();
      summary.unreachable.push(target.instance);
      failAll(cells, `cannot connect to ${target.instance}: ${connectError}`);
      return;
    }
    summary.reachable.push(target.instance);
    try {
      systemEnv.version = await adapter.version();
      systemVersions.set(target.instance, systemEnv.version);
    } catch (error) {
      systemEnv.error = `version: ${messageOf(error)}`;
    }
    saveEnvironment();
    const extraProbes = await extraProbesFor(entry, adapter);
    tracer.watch(adapter);
    try {
      for (const cell of cells) {
        if (signal.aborted) break;
        adapter = await runCellWithRetries(adapter, target, cell, extraProbes);
      }
    } finally {
      tracer.unwatch(adapter);
      await adapter.close().catch(() => {});
    }
  }

  async function connectWithRetries(adapter: SystemAdapter): Promise<string | null> {
    let lastError = '';
    for (let attempt = 1; attempt <= options.maxRetries + 1; attempt++) {
      if (signal.aborted) return 'interrupted';
      try {
        await adapter.connect();
        return null;
      } catch (error) {
        lastError = messageOf(error);
        await adapter.close().catch(() => {});
        if (attempt <= options.maxRetries) await clock.sleep(backoffDelayMs(attempt, backoff), signal);
      }
    }
    return lastError;
  }

  /**
   * Close and connect again until it works or the reconnect window passes: a server being
   * restarted refuses connections for a while, and every try must start from a fresh client.
   */
  async function reconnect(adapter: SystemAdapter): Promise<string | null> {
    const deadline = clock.now() + (options.reconnectWindowMs ?? RECONNECT_WINDOW_MS);
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return 'interrupted';
      await adapter.close().catch(() => {});
      try {
        await adapter.connect();
        return null;
      } catch (error) {
        if (clock.now() >= deadline) return messageOf(error);
      }
      await clock.sleep(Math.min(backoffDelayMs(attempt, RECONNECT_BACKOFF), Math.max(0, deadline - clock.now())), signal);
    }
  }

  function failAll(cells: PlannedCell[], reason: string): void {
    for (const cell of cells) {
      recordFailure(cell, 0, { kind: 'unreachable', message: reason });
      summary.failedCells.push({ cellId: cell.cellId, error: reason });
      progress.cellEnd(cell.cellId, 'failed');
    }
  }

  /**
   * Checkpoint a finally failed cell — unless an earlier run completed it (--fresh / --repeat):
   * a failed redo must not throw away a complete measurement, whose lines then stay the cell's.
   */
  function recordFailure(cell: PlannedCell, attempt: number, error: { kind: string; message: string }): void {
    if (checkpoints.get(cell.cellId)?.status === 'complete') {
      progress.note(`${cell.cellId}: the redo failed; the earlier complete result is kept`);
      return;
    }
    writeCheckpoint(resultsDir, { cellId: cell.cellId, status: 'failed', runId, attempt, finishedAt: new Date().toISOString(), error });
  }

  async function extraProbesFor(entry: SystemEntry, adapter: SystemAdapter): Promise<Probe[]> {
    const probes: Probe[] = [];
    const fsConfig = entry.probes.fs;
    if (fsConfig?.enabled !== false) {
      const paths = fsConfig?.paths ?? adapter.localDataPaths();
      if (paths.length > 0) probes.push(fsProbe({ paths, ...(fsConfig ? { settleTimeoutMs: fsConfig.settleTimeoutMs } : {}) }));
      const storage = storageProbeFor(paths);
      if (storage) probes.push(storage);
    }
    if (entry.probes.prometheus) {
      // Loaded only when configured: the Prometheus probe lives with the reports/trace code.
      // `volumes: auto` resolves the workload's Longhorn volumes first (src/k8s/volumes.ts).
      const { prometheusProbeFor } = await import('../k8s/volumes.js');
      probes.push(await prometheusProbeFor(entry, entry.probes.prometheus));
    }
    return probes;
  }

  /** Run one cell, retrying the whole cell after reconnect + reset; returns the (possibly new) connected adapter. */
  async function runCellWithRetries(adapter: SystemAdapter, target: SystemTarget, cell: PlannedCell, extraProbes: Probe[]): Promise<SystemAdapter> {
    const dataset = datasets.get(datasetKey(cell.payloadType, cell.grade));
    if (!dataset) {
      // Only when interrupted during generation.
      return adapter;
    }
    if (cell.notApplicable) {
      recordNotApplicableCell(cell, dataset, cell.notApplicable);
      return adapter;
    }
    let lastError = '';
    for (let attempt = 1; attempt <= options.maxRetries + 1; attempt++) {
      try {
        await runCell({
          runId,
          attempt,
          cell,
          adapter,
          extraProbes,
          primaryProbe: target.entry.probes.primary,
          ...(options.reclaimWindowS !== undefined ? { reclaimWindowMs: options.reclaimWindowS * 1000 } : {}),
          stages: plan.stages,
          dataset,
          keepLab: options.keepLab,
          signal,
          clock,
          ...(systemVersions.has(target.instance) ? { systemVersion: systemVersions.get(target.instance) } : {}),
          onRecord: (record) => {
            resultsWrite(resultsDir, () => appendRecord(resultsDir, record));
            tracer.result(record);
            progress.stageEnd(record);
          },
          onStage: (stage, phase, ok) => {
            if (phase === 'start') progress.stageStart(cell.cellId, stage);
            tracer.stage({ kind: phase === 'start' ? 'stage_start' : 'stage_end', system: cell.systemId, instance: cell.instance, cellId: cell.cellId, stage, ...(ok === undefined ? {} : { ok }) });
          },
        });
        resultsWrite(resultsDir, () => writeCheckpoint(resultsDir, { cellId: cell.cellId, status: 'complete', runId, attempt, finishedAt: new Date().toISOString(), error: null, fingerprint: fingerprintOf(cell) }));
        summary.completedCells += 1;
        progress.cellEnd(cell.cellId, 'complete');
        return adapter;
      } catch (error) {
        // A full results disk ends the run: retrying cannot help and every further line would be lost.
        if (error instanceof ResultsWriteError) throw error;
        if (error instanceof InterruptedError || signal.aborted) return adapter;
        lastError = error instanceof StageFailedError ? messageOf(error) : `${messageOf(error)}`;
        progress.note(`${cell.cellId} attempt ${attempt} failed: ${lastError}`);
        if (attempt > options.maxRetries) {
          recordFailure(cell, attempt, { kind: error instanceof StageFailedError ? error.kind : 'cell_failed', message: lastError });
          break;
        }
        await clock.sleep(backoffDelayMs(attempt, backoff), signal);
        if (signal.aborted) return adapter;
        // Reconnect before the retry: the failure may have been a lost connection or a restart.
        tracer.unwatch(adapter);
        const reconnectError = await reconnect(adapter);
        tracer.watch(adapter);
        if (reconnectError) {
          lastError = `reconnect failed: ${reconnectError}`;
          progress.note(`${cell.cellId}: ${lastError}`);
          recordFailure(cell, attempt, { kind: 'unreachable', message: lastError });
          break;
        }
        try {
          await adapter.resetLab(cellContextOf(cell, signal));
        } catch {
          // The cell's own step 1 resets again and reports the failure properly.
        }
      }
    }
    summary.failedCells.push({ cellId: cell.cellId, error: lastError });
    progress.cellEnd(cell.cellId, 'failed');
    return adapter;
  }

  /** A cell that cannot run (native mode of a mixed set): every stage recorded as not applicable, never as success. */
  function recordNotApplicableCell(cell: PlannedCell, dataset: CellDataset, reason: string): void {
    for (const stage of plan.stages) {
      appendRecord(resultsDir, notApplicableRecord(runId, cell, stage, dataset.manifest.totals.idealEdr, reason));
    }
    writeCheckpoint(resultsDir, { cellId: cell.cellId, status: 'complete', runId, attempt: 1, finishedAt: new Date().toISOString(), error: null, fingerprint: fingerprintOf(cell) });
    summary.completedCells += 1;
    progress.cellEnd(cell.cellId, 'complete');
  }
}

/** A results.jsonl cut by a crash: said once; compactResults then keeps only its whole lines. */
function warnTornLines(resultsDir: string, progress: RunProgress): void {
  const file = join(resultsDir, RESULTS_FILE);
  if (!existsSync(file)) return;
  const torn = tornLines(readFileSync(file, 'utf8'));
  if (torn > 0) progress.note(`warning: ${file}: ${torn} cut line${torn === 1 ? '' : 's'} (a crash mid-write) ignored; resuming from the last whole line`);
}

/** A stage of a cell that cannot run: recorded as not applicable with the reason, never as success. */
export function notApplicableRecord(runId: string, cell: PlannedCell, stage: StageName, idealEdr: number, reason: string): StageRecord {
  return { ...emptyStageRecord(runId, 1, cell, stage, idealEdr), edrFlag: { status: 'not-applicable', reason } };
}

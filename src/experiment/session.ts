/**
 * One run's systems and cells (SPEC §4, §13): connect each system with retries, run its cells with
 * retries that reconnect and reset, checkpoint every outcome, and keep environment.json current.
 * The state a run shares across its systems lives here; runner.ts prepares it (checkpoints, data
 * sets) and writes nothing else.
 */
import type { Config, SystemEntry } from '../config/schema.js';
import { scrub } from '../config/secrets.js';
import type { DatasetParameters } from '../dataset/manifest.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from '../measure/backoff.js';
import { fsProbe } from '../measure/probes/fs.js';
import { realClock, type Clock } from '../measure/settle.js';
import { storageProbeFor } from '../storage/stage.js';
import { startTrace, type TracerWithStats } from '../trace/index.js';
import type { Probe, StageName, SystemAdapter } from '../systems/types.js';
import type { RunProgress } from '../cli/progress.js';
import { cellContextOf, emptyStageRecord, InterruptedError, runCell, StageFailedError, type CellDataset } from './cell.js';
import { describeEnvironment, writeEnvironment, type SystemEnvironment } from './environment.js';
import type { Plan, PlannedCell, SystemTarget } from './plan.js';
import { createAdapter } from './setup.js';
import { ResultsWriteError, resultsWrite } from './results-dir.js';
import { appendRecord, writeCheckpoint, type Checkpoint } from './results.js';
import type { StageRecord } from './record.js';

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

export function datasetKey(payloadType: string, grade: string): string {
  return `${payloadType}/${grade}`;
}

/** A stage of a cell that cannot run: recorded as not applicable with the reason, never as success. */
export function notApplicableRecord(runId: string, cell: PlannedCell, stage: StageName, idealEdr: number, reason: string): StageRecord {
  return { ...emptyStageRecord(runId, 1, cell, stage, idealEdr), edrFlag: { status: 'not-applicable', reason } };
}

function messageOf(error: unknown): string {
  return scrub(error instanceof Error ? error.message : String(error));
}

export interface SessionStart {
  runId: string;
  startedAt: Date;
  checkpoints: ReadonlyMap<string, Checkpoint>;
  fingerprintOf: (cell: PlannedCell) => string;
  skippedCells: number;
}

export class RunSession {
  readonly summary: RunSummary;
  private readonly options: RunnerOptions;
  private readonly signal: AbortSignal;
  private readonly progress: RunProgress;
  private readonly resultsDir: string;
  private readonly plan: Plan;
  private readonly clock: Clock;
  private readonly backoff: BackoffOptions;
  private readonly runId: string;
  private readonly startedAt: Date;
  private readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  private readonly fingerprintOf: (cell: PlannedCell) => string;
  private readonly systemsEnv: SystemEnvironment[] = [];
  /** version() per instance, copied into its records so every table row says which engine it measured. */
  private readonly systemVersions = new Map<string, string>();
  private datasets = new Map<string, CellDataset>();
  // Assigned by runTargets before any system runs; every method that reads it is called from there.
  private tracer!: TracerWithStats;

  constructor(options: RunnerOptions, start: SessionStart) {
    this.options = options;
    this.signal = options.signal;
    this.progress = options.progress;
    this.resultsDir = options.resultsDir;
    this.plan = options.plan;
    this.clock = options.clock ?? realClock;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.runId = start.runId;
    this.startedAt = start.startedAt;
    this.checkpoints = start.checkpoints;
    this.fingerprintOf = start.fingerprintOf;
    this.summary = {
      runId: start.runId,
      totalCells: options.plan.cells.length,
      skippedCells: start.skippedCells,
      completedCells: 0,
      failedCells: [],
      interrupted: false,
      unreachable: [],
      reachable: [],
    };
  }

  saveEnvironment(): void {
    writeEnvironment(this.resultsDir, describeEnvironment(this.options.config, this.runId, this.options.argv, this.systemsEnv, this.startedAt));
  }

  /** Every system's pending cells, system by system in config order, with the trace running. */
  async runTargets(pending: readonly PlannedCell[], datasets: Map<string, CellDataset>): Promise<void> {
    this.datasets = datasets;
    this.tracer = await startTrace({ resultsDir: this.resultsDir, intervalMs: this.options.traceIntervalMs, sinks: this.options.config.trace });
    this.progress.start(this.plan.cells.length, this.summary.skippedCells);
    try {
      for (const target of this.options.targets) {
        if (this.signal.aborted) break;
        const cells = pending.filter((cell) => cell.instance === target.instance);
        if (cells.length === 0) continue;
        await this.runSystem(target, cells);
      }
    } finally {
      await this.tracer.close();
      this.progress.stop();
    }
    this.summary.interrupted = this.signal.aborted;
  }

  private async runSystem(target: SystemTarget, cells: PlannedCell[]): Promise<void> {
    const { options, signal, summary, systemsEnv, systemVersions, tracer } = this;
    const entry: SystemEntry = target.entry;
    const systemEnv: SystemEnvironment = { system: target.definition.id, instance: target.instance, version: null };
    systemsEnv.push(systemEnv);
    let adapter: SystemAdapter;
    try {
      adapter = createAdapter(target, options.config);
    } catch (error) {
      this.failAll(cells, `cannot create the ${target.instance} adapter: ${messageOf(error)}`);
      systemEnv.error = messageOf(error);
      this.saveEnvironment();
      summary.unreachable.push(target.instance);
      return;
    }
    const connectError = await this.connectWithRetries(adapter);
    if (connectError) {
      systemEnv.error = connectError;
      this.saveEnvironment();
      summary.unreachable.push(target.instance);
      this.failAll(cells, `cannot connect to ${target.instance}: ${connectError}`);
      return;
    }
    summary.reachable.push(target.instance);
    try {
      systemEnv.version = await adapter.version();
      systemVersions.set(target.instance, systemEnv.version);
    } catch (error) {
      systemEnv.error = `version: ${messageOf(error)}`;
    }
    this.saveEnvironment();
    const extraProbes = await this.extraProbesFor(entry, adapter);
    tracer.watch(adapter);
    try {
      for (const cell of cells) {
        if (signal.aborted) break;
        adapter = await this.runCellWithRetries(adapter, target, cell, extraProbes);
      }
    } finally {
      tracer.unwatch(adapter);
      await adapter.close().catch(() => {});
    }
  }

  private async connectWithRetries(adapter: SystemAdapter): Promise<string | null> {
    const { options, signal, clock, backoff } = this;
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
  private async reconnect(adapter: SystemAdapter): Promise<string | null> {
    const { options, signal, clock } = this;
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

  private failAll(cells: PlannedCell[], reason: string): void {
    const { summary, progress } = this;
    for (const cell of cells) {
      this.recordFailure(cell, 0, { kind: 'unreachable', message: reason });
      summary.failedCells.push({ cellId: cell.cellId, error: reason });
      progress.cellEnd(cell.cellId, 'failed');
    }
  }

  /**
   * Checkpoint a finally failed cell — unless an earlier run completed it (--fresh / --repeat):
   * a failed redo must not throw away a complete measurement, whose lines then stay the cell's.
   */
  private recordFailure(cell: PlannedCell, attempt: number, error: { kind: string; message: string }): void {
    const { resultsDir, checkpoints, runId, progress } = this;
    if (checkpoints.get(cell.cellId)?.status === 'complete') {
      progress.note(`${cell.cellId}: the redo failed; the earlier complete result is kept`);
      return;
    }
    writeCheckpoint(resultsDir, { cellId: cell.cellId, status: 'failed', runId, attempt, finishedAt: new Date().toISOString(), error });
  }

  private async extraProbesFor(entry: SystemEntry, adapter: SystemAdapter): Promise<Probe[]> {
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
  private async runCellWithRetries(adapter: SystemAdapter, target: SystemTarget, cell: PlannedCell, extraProbes: Probe[]): Promise<SystemAdapter> {
    const { options, signal, clock, backoff, summary, systemVersions, resultsDir, runId, tracer, progress, datasets, fingerprintOf, plan } = this;
    const dataset = datasets.get(datasetKey(cell.payloadType, cell.grade));
    if (!dataset) {
      // Only when interrupted during generation.
      return adapter;
    }
    if (cell.notApplicable) {
      this.recordNotApplicableCell(cell, dataset, cell.notApplicable);
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
          this.recordFailure(cell, attempt, { kind: error instanceof StageFailedError ? error.kind : 'cell_failed', message: lastError });
          break;
        }
        await clock.sleep(backoffDelayMs(attempt, backoff), signal);
        if (signal.aborted) return adapter;
        // Reconnect before the retry: the failure may have been a lost connection or a restart.
        tracer.unwatch(adapter);
        const reconnectError = await this.reconnect(adapter);
        tracer.watch(adapter);
        if (reconnectError) {
          lastError = `reconnect failed: ${reconnectError}`;
          progress.note(`${cell.cellId}: ${lastError}`);
          this.recordFailure(cell, attempt, { kind: 'unreachable', message: lastError });
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
  private recordNotApplicableCell(cell: PlannedCell, dataset: CellDataset, reason: string): void {
    const { summary, resultsDir, runId, progress, fingerprintOf, plan } = this;
    for (const stage of plan.stages) {
      appendRecord(resultsDir, notApplicableRecord(runId, cell, stage, dataset.manifest.totals.idealEdr, reason));
    }
    writeCheckpoint(resultsDir, { cellId: cell.cellId, status: 'complete', runId, attempt: 1, finishedAt: new Date().toISOString(), error: null, fingerprint: fingerprintOf(cell) });
    summary.completedCells += 1;
    progress.cellEnd(cell.cellId, 'complete');
  }
}

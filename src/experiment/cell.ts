/**
 * One cell, exactly the steps of SPEC §4:
 * 1 reset + empty baseline, 2 bulk_insert, 3 compaction, 4 reset (+ stuck-probe check),
 * 5 perfile_insert, 6 perfile_delete, 7 maintenance, 8 reset (unless --keep-lab).
 * Each stage reads every probe before, runs, lets the adapter settle, then reads every probe
 * settled-by-polling, and its record is handed to `onRecord` the moment it ends.
 */
import { scrub } from '../config/secrets.js';
import type { Manifest } from '../dataset/manifest.js';
import { iterateLabFiles, nativeTableFor, parseRecords } from '../dataset/index.js';
import { elapsedUs, summarizeLatencies } from '../measure/latency.js';
import { ratePerSecond, stuckProbeReason } from '../measure/edr.js';
import { probeResult, type ProbeReadings, type StageMeasure } from '../measure/probe-results.js';
import { readOnce, readSettled, realClock, type Clock } from '../measure/settle.js';
import type { CellContext, LabFile, NotApplicable, Probe, StageName, SystemAdapter, WriteOutcome } from '../systems/types.js';
import { releaseContent } from '../systems/shared/stages.js';
import type { PlannedCell } from './plan.js';
import { DEFAULT_DIMENSIONS, placementLabel } from './dimensions.js';
import { deleteOperation, maintenanceFullOperation, readOperation, refillOperation, type StageKit } from './stages/dimension-stages.js';
import { labPathsOf, storageDedupOutcome, type StorageStageInfo } from '../storage/stage.js';
import type { ProbeResult, StageRecord } from './record.js';
import { choosePrimaryProbe, DEFAULT_RECLAIM_WINDOW_S, physicalFields, RECLAIM_STAGES, reclaimWatchAfter } from './physical.js';

export interface CellDataset {
  dir: string;
  manifest: Manifest;
  /** Compression ratio of the unique files (≥ 1), for the plausibility ceiling. */
  compressibility: number;
}

export interface CellRun {
  runId: string;
  attempt: number;
  cell: PlannedCell;
  adapter: SystemAdapter;
  /** Extra probes besides the adapter's own (fs, prometheus), built by the runner for this system. */
  extraProbes: Probe[];
  /** The configured primary probe (`probes.primary`); absent = the deepest layer measured (SPEC §6.2). */
  primaryProbe?: string | undefined;
  /** Upper bound of the reclaim watch after delete/maintenance/compaction (`run.reclaimWindowS`). */
  reclaimWindowMs?: number;
  stages: readonly StageName[];
  dataset: CellDataset;
  keepLab: boolean;
  signal: AbortSignal;
  clock?: Clock;
  onRecord(record: StageRecord): void;
  /** The system's version() as the runner read it, copied into every record (SPEC §6.4). */
  systemVersion?: string;
  onStage?(stage: StageName, phase: 'start' | 'end', ok?: boolean): void;
}

/** A stage failed after its record was written; the runner retries the cell. */
export class StageFailedError extends Error {
  constructor(
    readonly stage: StageName,
    readonly kind: string,
    message: string,
  ) {
    super(`${stage}: ${message}`);
  }
}

/** The run was interrupted (SIGINT/SIGTERM): nothing of the unfinished stage is recorded. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
  }
}

const DATA_STAGES: readonly StageName[] = ['bulk_insert', 'perfile_insert', 'perfile_delete', 'refill', 'read'];

function isNotApplicable(value: unknown): value is NotApplicable {
  return typeof value === 'object' && value !== null && typeof (value as NotApplicable).notApplicable === 'string';
}

function messageOf(error: unknown): string {
  return scrub(error instanceof Error ? error.message : String(error));
}

/** The CellContext adapters see. Native mode gets the typed table and the record parser. */
export function cellContextOf(cell: PlannedCell, signal: AbortSignal): CellContext {
  const context: CellContext = {
    cellId: cell.cellId,
    objectTag: cell.objectTag,
    variant: cell.variant,
    mode: cell.mode,
    payloadType: cell.payloadType,
    grade: cell.grade,
    signal,
  };
  if (cell.dimensions?.placement.kind === 'across') context.placement = cell.dimensions.placement;
  if (cell.mode === 'native') {
    const table = nativeTableFor(cell.payloadType);
    if (table) context.nativeTable = table;
    context.parseRecords = (file: LabFile) => parseRecords(file.payloadType, file.content) as AsyncIterable<unknown[]>;
  }
  return context;
}

/** A stage record with the cell's identity and every measured field empty. */
export function emptyStageRecord(runId: string, attempt: number, cell: PlannedCell, stage: StageName, idealEdr: number): StageRecord {
  return {
    runId,
    cellId: cell.cellId,
    repetition: cell.repetition,
    attempt,
    system: cell.systemId,
    instance: cell.instance,
    variant: cell.variant,
    mode: cell.mode,
    payloadType: cell.payloadType,
    grade: cell.grade,
    stage,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    files: 0,
    logicalBytes: 0,
    storedLogicalBytes: 0,
    idealEdr,
    probes: [],
    primaryProbe: 'internal',
    edr: null,
    edrFlag: { status: 'unmeasurable', reason: null },
    reclaimedBytes: null,
    residualBytes: null,
    throughputBytesPerSec: null,
    filesPerSec: null,
    latencyUs: null,
    internalBefore: null,
    internalAfter: null,
    error: null,
    ...dimensionFields(cell),
  };
}

/** The cell's SPEC §4.1 dimensions as record fields (defaults spelled out, so reports can show them). */
function dimensionFields(cell: PlannedCell): Pick<StageRecord, 'deleteMethod' | 'deleteScope' | 'placement' | 'cache'> {
  const dimensions = cell.dimensions ?? DEFAULT_DIMENSIONS;
  return { deleteMethod: dimensions.deleteMethod, deleteScope: dimensions.deleteScope, placement: placementLabel(dimensions.placement), cache: dimensions.cache };
}

export interface StageOutcome {
  files: number;
  logicalBytes: number;
  durationMs: number;
  latenciesUs: number[];
  measure: StageMeasure;
  error: { kind: string; message: string } | null;
  /** Stage-specific record fields (refill's first-insert growth, read's cold-cache statement). */
  extra?: Partial<StageRecord>;
  /** storage_dedup: what the storage layer was and did (src/storage/stage.ts). */
  storage?: StorageStageInfo;
}

export async function runCell(run: CellRun): Promise<void> {
  await new CellExecution(run).execute();
}

type QuickReading = { bytes: number | null; error?: string };
type SettledReading = { bytes: number | null; settled: boolean; error?: string };

/** One cell's stages in SPEC §4 order, sharing the cell's probes, baseline and stored files. */
class CellExecution {
  private readonly adapter: SystemAdapter;
  private readonly cell: PlannedCell;
  private readonly dataset: CellDataset;
  private readonly signal: AbortSignal;
  private readonly clock: Clock;
  private readonly context: CellContext;
  private readonly probes: Probe[];
  private readonly choice: ReturnType<typeof choosePrimaryProbe>;
  private readonly watchContext: Parameters<typeof reclaimWatchAfter>[1];
  private readonly sizeOf: Map<number, number>;
  /** Probes that did not shrink back to the empty baseline after the mid-cell reset. */
  private readonly stuck = new Map<string, string>();
  private baseline: (number | null)[] = [];
  private stored: number[] = [];
  private firstInsertGrowth: number | null = null;

  constructor(private readonly job: CellRun) {
    const { adapter, cell, dataset, signal } = job;
    this.adapter = adapter;
    this.cell = cell;
    this.dataset = dataset;
    this.signal = signal;
    this.clock = job.clock ?? realClock;
    this.context = cellContextOf(cell, signal);
    if (job.stages.includes('maintenance_full')) this.context.twoMaintenanceLevels = true;
    this.probes = [...adapter.probes(this.context), ...job.extraProbes];
    this.choice = choosePrimaryProbe(this.probes, job.primaryProbe);
    this.watchContext = { adapter, context: this.context, probes: this.probes, choice: this.choice, windowMs: job.reclaimWindowMs ?? DEFAULT_RECLAIM_WINDOW_S * 1000, clock: this.clock, signal };
    this.sizeOf = new Map(dataset.manifest.entries.map((entry, id) => [id, entry.size]));
  }

  async execute(): Promise<void> {
    const wants = (stage: StageName) => this.job.stages.includes(stage);
    // Step 1: empty baseline.
    this.checkAbort();
    await this.adapter.resetLab(this.context);
    this.baseline = (await this.readAllSettled()).map((reading) => reading.bytes);
    const firstHalf = wants('bulk_insert') || wants('compaction') || wants('storage_dedup');
    const secondHalf = (['perfile_insert', 'perfile_delete', 'maintenance', 'maintenance_full', 'refill', 'read'] as const).some(wants);
    await this.dataAtRestStages(wants);
    // Step 4: reset, and catch probes that do not shrink back to the empty baseline.
    if (firstHalf && secondHalf) await this.resetBetweenHalves();
    await this.perFileStages(wants);
    // Step 8.
    if (!this.job.keepLab) {
      this.checkAbort();
      await this.adapter.resetLab(this.context);
    }
  }

  /** Steps 2–3: bulk_insert, compaction and the storage layer's pass, on data at rest. */
  private async dataAtRestStages(wants: (stage: StageName) => boolean): Promise<void> {
    const storedBytes = () => this.bytesOf(this.stored);
    if (wants('bulk_insert')) {
      await this.runStage('bulk_insert', () => this.bulkInsertOutcome(), storedBytes);
    } else if (wants('compaction') || wants('storage_dedup')) {
      // Compaction (and the storage layer's pass) work on data at rest: load it untimed and unrecorded first.
      const { outcome } = await this.bulkLoad();
      this.stored = [...outcome.acknowledged];
    }
    if (wants('compaction')) await this.runStage('compaction', () => this.timedWhole(() => this.adapter.compact(this.context), 'edr'), storedBytes);
    // Storage layer (SPEC §12): after compaction when it ran, else after bulk_insert, on the data at rest.
    if (wants('storage_dedup')) await this.runStage('storage_dedup', () => storageDedupOutcome(this.adapter.localDataPaths(), labPathsOf(this.probes)), storedBytes);
  }

  /** Steps 5–7 and the SPEC §4.1 stages, in STAGE_ORDER. */
  private async perFileStages(wants: (stage: StageName) => boolean): Promise<void> {
    const storedBytes = () => this.bytesOf(this.stored);
    // Step 5.
    if (wants('perfile_insert')) {
      await this.runStage('perfile_insert', () => this.insertEach(), storedBytes);
    } else if (wants('perfile_delete') || wants('read')) {
      // Deletes and reads need stored files: insert them untimed and unrecorded first.
      await this.insertEach();
    }
    const kit = this.stageKit();
    // Step 6 (under the cell's delete method and scope, SPEC §4.1).
    if (wants('perfile_delete')) await this.runStage('perfile_delete', () => deleteOperation(kit), storedBytes);
    // Step 7.
    if (wants('maintenance')) await this.runStage('maintenance', () => this.timedWhole(() => this.adapter.maintenance(this.context), 'space'), storedBytes);
    if (wants('maintenance_full')) await this.runStage('maintenance_full', () => maintenanceFullOperation(kit), storedBytes);
    if (wants('refill')) await this.runStage('refill', () => refillOperation(kit), storedBytes);
    if (wants('read')) await this.runStage('read', () => readOperation(kit), storedBytes);
  }

  private async resetBetweenHalves(): Promise<void> {
    this.checkAbort();
    await this.adapter.resetLab(this.context);
    this.stored = [];
    const afterReset = await this.readAllSettled();
    this.probes.forEach((probe, index) => {
      const reason = stuckProbeReason(this.baseline[index] ?? null, afterReset[index]?.bytes ?? null);
      if (reason) this.stuck.set(probe.name, reason);
    });
  }

  private stageKit(): StageKit {
    return {
      adapter: this.adapter,
      context: this.context,
      dimensions: this.cell.dimensions ?? DEFAULT_DIMENSIONS,
      entries: this.dataset.manifest.entries,
      stored: () => this.stored,
      setStored: (ids) => void (this.stored = ids),
      bytesOf: (ids) => this.bytesOf(ids),
      timeEach: (ids, operation) => this.timeEach(ids, operation),
      files: (ids) => iterateLabFiles(this.dataset.dir, this.dataset.manifest, { ids: [...ids] }),
      verifyCount: (expected, what) => this.verifyCount(expected, what),
      writeFailure,
      firstInsertGrowth: () => this.firstInsertGrowth,
    };
  }

  private bytesOf(ids: readonly number[]): number {
    return ids.reduce((sum, id) => sum + (this.sizeOf.get(id) ?? 0), 0);
  }

  private checkAbort(): void {
    if (this.signal.aborted) throw new InterruptedError();
  }

  private readAll(): Promise<QuickReading[]> {
    return Promise.all(this.probes.map((probe) => readOnce(probe)));
  }

  private async readAllSettled(): Promise<SettledReading[]> {
    await this.adapter.settle(this.context);
    return Promise.all(this.probes.map((probe) => readSettled(probe, this.clock, this.signal)));
  }

  /** One stage: probes before, the operation, the reclaim watch, probes settled after, one record. */
  private async runStage(stage: StageName, operation: () => Promise<StageOutcome>, storedAfter: () => number): Promise<void> {
    this.checkAbort();
    this.job.onStage?.(stage, 'start');
    const startedAt = new Date();
    const before = await this.readAll();
    let outcome: StageOutcome;
    try {
      outcome = await operation();
    } catch (error) {
      if (this.signal.aborted) throw new InterruptedError();
      outcome = { files: 0, logicalBytes: 0, durationMs: 0, latenciesUs: [], measure: { kind: 'failed', reason: `stage failed: ${messageOf(error)}` }, error: { kind: 'stage_failed', message: messageOf(error) } };
    }
    // An interrupted stage is not recorded: only what finished is written (SPEC §4).
    this.checkAbort();
    const watched = RECLAIM_STAGES.includes(stage) && outcome.measure.kind !== 'failed' && outcome.measure.kind !== 'not-applicable' ? await reclaimWatchAfter(stage, this.watchContext) : {};
    this.checkAbort();
    const after = await this.readAfter(outcome);
    this.checkAbort();
    const storedLogicalBytes = storedAfter();
    const probeResults = this.probeResultsOf(outcome, before, after, storedLogicalBytes);
    const record = this.recordOf(stage, startedAt, outcome, probeResults, watched, storedLogicalBytes);
    if (stage === 'perfile_insert') this.firstInsertGrowth = probeResults.find((probe) => probe.name === this.choice.name)?.delta ?? null;
    this.job.onRecord(record);
    this.job.onStage?.(stage, 'end', outcome.error === null);
    if (outcome.error) throw new StageFailedError(stage, outcome.error.kind, outcome.error.message);
  }

  /** Settled probe readings after a stage; none after a failed one (and a failed settle fails the stage). */
  private async readAfter(outcome: StageOutcome): Promise<SettledReading[]> {
    if (outcome.measure.kind === 'failed') return this.probes.map(() => ({ bytes: null, settled: false, error: 'not read: the stage failed' }));
    try {
      return await this.readAllSettled();
    } catch (error) {
      outcome.error ??= { kind: 'settle_failed', message: messageOf(error) };
      return this.probes.map(() => ({ bytes: null, settled: false, error: `settle failed: ${messageOf(error)}` }));
    }
  }

  private probeResultsOf(outcome: StageOutcome, before: QuickReading[], after: SettledReading[], storedLogicalBytes: number): ProbeResult[] {
    const { idealEdr } = this.dataset.manifest.totals;
    return this.probes.map((probe, index) => {
      const readings: ProbeReadings = {
        name: probe.name,
        layer: probe.layer,
        ...(probe.scope ? { scope: probe.scope } : {}),
        replicas: probe.replicas,
        baseline: this.baseline[index] ?? null,
        before: before[index]?.bytes ?? null,
        after: after[index]?.bytes ?? null,
        settled: after[index]?.settled ?? false,
        stuckReason: this.stuck.get(probe.name) ?? null,
      };
      const error = after[index]?.error ?? before[index]?.error;
      if (error) readings.error = error;
      return probeResult(readings, outcome.measure, { storedLogicalBytes, idealEdr, compressibility: this.dataset.compressibility });
    });
  }

  private recordOf(stage: StageName, startedAt: Date, outcome: StageOutcome, probeResults: ProbeResult[], watched: Partial<StageRecord>, storedLogicalBytes: number): StageRecord {
    const { choice, job } = this;
    // The headline number is the chosen primary probe's, never silently another probe's.
    const primary = probeResults.find((probe) => probe.name === choice.name);
    const internal = probeResults.find((probe) => probe.name === 'internal');
    return {
      ...emptyStageRecord(job.runId, job.attempt, this.cell, stage, this.dataset.manifest.totals.idealEdr),
      ...(job.systemVersion ? { systemVersion: job.systemVersion } : {}),
      startedAt: startedAt.toISOString(),
      durationMs: outcome.durationMs,
      files: outcome.files,
      logicalBytes: outcome.logicalBytes,
      storedLogicalBytes,
      probes: probeResults,
      primaryProbe: choice.name,
      ...physicalFields(probeResults, choice, outcome.measure.kind === 'space'),
      ...watched,
      edr: primary?.edr ?? null,
      edrFlag: primary?.edrFlag ?? { status: 'unmeasurable', reason: `primary probe ${choice.name} is not among this system's probes (${this.probes.map((probe) => probe.name).join(', ')})` },
      reclaimedBytes: primary?.reclaimedBytes ?? null,
      residualBytes: primary?.residualBytes ?? null,
      // Only stages that move payload have a throughput; compaction and maintenance move none.
      throughputBytesPerSec: DATA_STAGES.includes(stage) ? ratePerSecond(outcome.logicalBytes, outcome.durationMs) : null,
      filesPerSec: DATA_STAGES.includes(stage) ? ratePerSecond(outcome.files, outcome.durationMs) : null,
      latencyUs: summarizeLatencies(outcome.latenciesUs),
      internalBefore: internal?.before ?? null,
      internalAfter: internal?.after ?? null,
      error: outcome.error,
      ...outcome.extra,
      ...(outcome.storage ? { storage: outcome.storage } : {}),
    };
  }

  private async timedWhole(operation: () => Promise<void | NotApplicable>, kind: 'edr' | 'space'): Promise<StageOutcome> {
    const start = process.hrtime.bigint();
    const result = await operation();
    const durationMs = elapsedUs(start, process.hrtime.bigint()) / 1000;
    if (isNotApplicable(result)) {
      return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure: { kind: 'not-applicable', reason: result.notApplicable }, error: null };
    }
    return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure: { kind }, error: null };
  }

  private async bulkLoad(): Promise<{ outcome: WriteOutcome; durationMs: number }> {
    const start = process.hrtime.bigint();
    const outcome = await this.adapter.bulkInsert(iterateLabFiles(this.dataset.dir, this.dataset.manifest), this.context);
    return { outcome, durationMs: elapsedUs(start, process.hrtime.bigint()) / 1000 };
  }

  private async bulkInsertOutcome(): Promise<StageOutcome> {
    const { outcome, durationMs } = await this.bulkLoad();
    this.stored = [...outcome.acknowledged];
    const error = writeFailure(outcome.failed, outcome.acknowledged.length + outcome.failed.length) ?? (await this.verifyCount(this.stored.length, 'after bulk_insert'));
    return { files: this.stored.length, logicalBytes: this.bytesOf(this.stored), durationMs, latenciesUs: [], measure: { kind: 'edr' }, error };
  }

  private async verifyCount(expected: number, what: string): Promise<{ kind: string; message: string } | null> {
    const count = await this.adapter.countStored(this.context);
    if (count === expected) return null;
    return { kind: 'count_mismatch', message: `${what}: the lab holds ${count} files, expected ${expected}` };
  }

  /** Per-file stages: one timed operation per file; a failing file is recorded and the rest go on. */
  private async timeEach(ids: number[] | undefined, operation: (file: LabFile) => Promise<void>): Promise<{ latenciesUs: number[]; acknowledged: number[]; failed: WriteOutcome['failed']; durationMs: number }> {
    const latenciesUs: number[] = [];
    const acknowledged: number[] = [];
    const failed: WriteOutcome['failed'] = [];
    let durationMs = 0;
    for await (const file of iterateLabFiles(this.dataset.dir, this.dataset.manifest, ids ? { ids } : {})) {
      if (this.signal.aborted) break;
      const start = process.hrtime.bigint();
      try {
        await operation(file);
        const us = elapsedUs(start, process.hrtime.bigint());
        latenciesUs.push(us);
        durationMs += us / 1000;
        acknowledged.push(file.id);
        // Acknowledged: the driver is done with the bytes, so they are freed now, not at the next GC.
        releaseContent(file);
      } catch (error) {
        durationMs += elapsedUs(start, process.hrtime.bigint()) / 1000;
        failed.push({ id: file.id, error: messageOf(error) });
      }
    }
    return { latenciesUs, acknowledged, failed, durationMs };
  }

  private async insertEach(): Promise<StageOutcome> {
    const { latenciesUs, acknowledged, failed, durationMs } = await this.timeEach(undefined, (file) => this.adapter.insertOne(file, this.context));
    this.stored = acknowledged;
    const error = writeFailure(failed, this.dataset.manifest.entries.length) ?? (await this.verifyCount(this.stored.length, 'after perfile_insert'));
    return { files: acknowledged.length, logicalBytes: this.bytesOf(acknowledged), durationMs, latenciesUs, measure: { kind: 'edr' }, error };
  }
}

function writeFailure(failed: WriteOutcome['failed'], attempted: number): { kind: string; message: string } | null {
  return failed.length === 0 ? null : { kind: 'write_failed', message: `${failed.length} of ${attempted} writes failed; first (file ${failed[0]?.id}): ${failed[0]?.error}` };
}

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
  const { adapter, cell, dataset, signal } = run;
  const clock = run.clock ?? realClock;
  const context = cellContextOf(cell, signal);
  if (run.stages.includes('maintenance_full')) context.twoMaintenanceLevels = true;
  const probes = [...adapter.probes(context), ...run.extraProbes];
  const choice = choosePrimaryProbe(probes, run.primaryProbe);
  const watchContext = { adapter, context, probes, choice, windowMs: run.reclaimWindowMs ?? DEFAULT_RECLAIM_WINDOW_S * 1000, clock, signal };
  const sizeOf = new Map(dataset.manifest.entries.map((entry, id) => [id, entry.size]));
  const bytesOf = (ids: readonly number[]) => ids.reduce((sum, id) => sum + (sizeOf.get(id) ?? 0), 0);
  const stuck = new Map<string, string>();
  let stored: number[] = [];
  let firstInsertGrowth: number | null = null;

  const checkAbort = () => {
    if (signal.aborted) throw new InterruptedError();
  };
  const readAll = async (): Promise<{ bytes: number | null; error?: string }[]> => Promise.all(probes.map((probe) => readOnce(probe)));
  const readAllSettled = async () => {
    await adapter.settle(context);
    return Promise.all(probes.map((probe) => readSettled(probe, clock, signal)));
  };

  // Step 1: empty baseline.
  checkAbort();
  await adapter.resetLab(context);
  const baselineReads = await readAllSettled();
  const baseline = baselineReads.map((reading) => reading.bytes);

  const runStage = async (stage: StageName, operation: () => Promise<StageOutcome>, storedAfter: () => number) => {
    checkAbort();
    run.onStage?.(stage, 'start');
    const startedAt = new Date();
    const before = await readAll();
    let outcome: StageOutcome;
    try {
      outcome = await operation();
    } catch (error) {
      if (signal.aborted) throw new InterruptedError();
      outcome = { files: 0, logicalBytes: 0, durationMs: 0, latenciesUs: [], measure: { kind: 'failed', reason: `stage failed: ${messageOf(error)}` }, error: { kind: 'stage_failed', message: messageOf(error) } };
    }
    // An interrupted stage is not recorded: only what finished is written (SPEC §4).
    if (signal.aborted) throw new InterruptedError();
    const watched = RECLAIM_STAGES.includes(stage) && outcome.measure.kind !== 'failed' && outcome.measure.kind !== 'not-applicable' ? await reclaimWatchAfter(stage, watchContext) : {};
    if (signal.aborted) throw new InterruptedError();
    let after: { bytes: number | null; settled: boolean; error?: string }[];
    try {
      after = outcome.measure.kind === 'failed' ? probes.map(() => ({ bytes: null, settled: false, error: 'not read: the stage failed' })) : await readAllSettled();
    } catch (error) {
      after = probes.map(() => ({ bytes: null, settled: false, error: `settle failed: ${messageOf(error)}` }));
      outcome.error ??= { kind: 'settle_failed', message: messageOf(error) };
    }
    if (signal.aborted) throw new InterruptedError();
    const storedLogicalBytes = storedAfter();
    const probeResults: ProbeResult[] = probes.map((probe, index) => {
      const readings: ProbeReadings = {
        name: probe.name,
        layer: probe.layer,
        ...(probe.scope ? { scope: probe.scope } : {}),
        replicas: probe.replicas,
        baseline: baseline[index] ?? null,
        before: before[index]?.bytes ?? null,
        after: after[index]?.bytes ?? null,
        settled: after[index]?.settled ?? false,
        stuckReason: stuck.get(probe.name) ?? null,
      };
      const error = after[index]?.error ?? before[index]?.error;
      if (error) readings.error = error;
      return probeResult(readings, outcome.measure, { storedLogicalBytes, idealEdr: dataset.manifest.totals.idealEdr, compressibility: dataset.compressibility });
    });
    // The headline number is the chosen primary probe's, never silently another probe's.
    const primary = probeResults.find((probe) => probe.name === choice.name);
    const internal = probeResults.find((probe) => probe.name === 'internal');
    const record: StageRecord = {
      ...emptyStageRecord(run.runId, run.attempt, cell, stage, dataset.manifest.totals.idealEdr),
      ...(run.systemVersion ? { systemVersion: run.systemVersion } : {}),
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
      edrFlag: primary?.edrFlag ?? { status: 'unmeasurable', reason: `primary probe ${choice.name} is not among this system's probes (${probes.map((probe) => probe.name).join(', ')})` },
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
    if (stage === 'perfile_insert') firstInsertGrowth = primary?.delta ?? null;
    run.onRecord(record);
    run.onStage?.(stage, 'end', outcome.error === null);
    if (outcome.error) throw new StageFailedError(stage, outcome.error.kind, outcome.error.message);
  };

  const timedWhole = async (operation: () => Promise<void | NotApplicable>, kind: 'edr' | 'space'): Promise<StageOutcome> => {
    const start = process.hrtime.bigint();
    const result = await operation();
    const durationMs = elapsedUs(start, process.hrtime.bigint()) / 1000;
    if (isNotApplicable(result)) {
      return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure: { kind: 'not-applicable', reason: result.notApplicable }, error: null };
    }
    return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure: { kind }, error: null };
  };

  const bulkLoad = async (): Promise<{ outcome: WriteOutcome; durationMs: number }> => {
    const start = process.hrtime.bigint();
    const outcome = await adapter.bulkInsert(iterateLabFiles(dataset.dir, dataset.manifest), context);
    return { outcome, durationMs: elapsedUs(start, process.hrtime.bigint()) / 1000 };
  };

  const verifyCount = async (expected: number, what: string): Promise<{ kind: string; message: string } | null> => {
    const count = await adapter.countStored(context);
    if (count === expected) return null;
    return { kind: 'count_mismatch', message: `${what}: the lab holds ${count} files, expected ${expected}` };
  };

  const writeFailure = (failed: WriteOutcome['failed'], attempted: number) =>
    failed.length === 0 ? null : { kind: 'write_failed', message: `${failed.length} of ${attempted} writes failed; first (file ${failed[0]?.id}): ${failed[0]?.error}` };

  const wants = (stage: StageName) => run.stages.includes(stage);
  const firstHalf = wants('bulk_insert') || wants('compaction') || wants('storage_dedup');
  const secondHalf = (['perfile_insert', 'perfile_delete', 'maintenance', 'maintenance_full', 'refill', 'read'] as const).some(wants);

  // Step 2.
  if (wants('bulk_insert')) {
    await runStage(
      'bulk_insert',
      async () => {
        const { outcome, durationMs } = await bulkLoad();
        stored = [...outcome.acknowledged];
        const error = writeFailure(outcome.failed, outcome.acknowledged.length + outcome.failed.length) ?? (await verifyCount(stored.length, 'after bulk_insert'));
        return { files: stored.length, logicalBytes: bytesOf(stored), durationMs, latenciesUs: [], measure: { kind: 'edr' }, error };
      },
      () => bytesOf(stored),
    );
  } else if (wants('compaction') || wants('storage_dedup')) {
    // Compaction (and the storage layer's pass) work on data at rest: load it untimed and unrecorded first.
    const { outcome } = await bulkLoad();
    stored = [...outcome.acknowledged];
  }
  // Step 3.
  if (wants('compaction')) {
    await runStage('compaction', () => timedWhole(() => adapter.compact(context), 'edr'), () => bytesOf(stored));
  }
  // Storage layer (SPEC §12): after compaction when it ran, else after bulk_insert, on the data at rest.
  if (wants('storage_dedup')) {
    await runStage('storage_dedup', () => storageDedupOutcome(adapter.localDataPaths(), labPathsOf(probes)), () => bytesOf(stored));
  }
  // Step 4: reset, and catch probes that do not shrink back to the empty baseline.
  if (firstHalf && secondHalf) {
    checkAbort();
    await adapter.resetLab(context);
    stored = [];
    const afterReset = await readAllSettled();
    probes.forEach((probe, index) => {
      const reason = stuckProbeReason(baseline[index] ?? null, afterReset[index]?.bytes ?? null);
      if (reason) stuck.set(probe.name, reason);
    });
  }
  // Per-file stages: one timed operation per file; a failing file is recorded and the rest go on.
  const timeEach = async (ids: number[] | undefined, operation: (file: LabFile) => Promise<void>) => {
    const latenciesUs: number[] = [];
    const acknowledged: number[] = [];
    const failed: WriteOutcome['failed'] = [];
    let durationMs = 0;
    for await (const file of iterateLabFiles(dataset.dir, dataset.manifest, ids ? { ids } : {})) {
      if (signal.aborted) break;
      const start = process.hrtime.bigint();
      try {
        await operation(file);
        const us = elapsedUs(start, process.hrtime.bigint());
        latenciesUs.push(us);
        durationMs += us / 1000;
        acknowledged.push(file.id);
      } catch (error) {
        durationMs += elapsedUs(start, process.hrtime.bigint()) / 1000;
        failed.push({ id: file.id, error: messageOf(error) });
      }
    }
    return { latenciesUs, acknowledged, failed, durationMs };
  };
  // Step 5.
  const insertEach = async (): Promise<StageOutcome> => {
    const { latenciesUs, acknowledged, failed, durationMs } = await timeEach(undefined, (file) => adapter.insertOne(file, context));
    stored = acknowledged;
    const error = writeFailure(failed, dataset.manifest.entries.length) ?? (await verifyCount(stored.length, 'after perfile_insert'));
    return { files: acknowledged.length, logicalBytes: bytesOf(acknowledged), durationMs, latenciesUs, measure: { kind: 'edr' }, error };
  };
  if (wants('perfile_insert')) {
    await runStage('perfile_insert', insertEach, () => bytesOf(stored));
  } else if (wants('perfile_delete') || wants('read')) {
    // Deletes and reads need stored files: insert them untimed and unrecorded first.
    await insertEach();
  }
  const kit: StageKit = {
    adapter,
    context,
    dimensions: cell.dimensions ?? DEFAULT_DIMENSIONS,
    entries: dataset.manifest.entries,
    stored: () => stored,
    setStored: (ids) => void (stored = ids),
    bytesOf,
    timeEach,
    files: (ids) => iterateLabFiles(dataset.dir, dataset.manifest, { ids: [...ids] }),
    verifyCount,
    writeFailure,
    firstInsertGrowth: () => firstInsertGrowth,
  };
  // Step 6 (under the cell's delete method and scope, SPEC §4.1).
  if (wants('perfile_delete')) await runStage('perfile_delete', () => deleteOperation(kit), () => bytesOf(stored));
  // Step 7.
  if (wants('maintenance')) {
    await runStage(
      'maintenance',
      () => timedWhole(() => adapter.maintenance(context), 'space'),
      () => bytesOf(stored),
    );
  }
  // SPEC §4.1 stages, in STAGE_ORDER after maintenance.
  if (wants('maintenance_full')) await runStage('maintenance_full', () => maintenanceFullOperation(kit), () => bytesOf(stored));
  if (wants('refill')) await runStage('refill', () => refillOperation(kit), () => bytesOf(stored));
  if (wants('read')) await runStage('read', () => readOperation(kit), () => bytesOf(stored));
  // Step 8.
  if (!run.keepLab) {
    checkAbort();
    await adapter.resetLab(context);
  }
}

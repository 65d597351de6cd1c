/**
 * Realistic StageRecord fixtures, built the way the runner builds them (SPEC §6.3, §6.4), so
 * report tests do not depend on a run. Numbers follow from the inputs: EDR is computed from the
 * probe readings, reclaimed/residual from before/after/baseline.
 */
import type { EdrStatus, LatencySummary, ProbeResult, StageRecord } from '../../src/experiment/record.js';
import type { StageName } from '../../src/systems/types.js';
import { SPACE_STAGE_REASON } from '../../src/measure/probe-results.js';

export interface CellSpec {
  system: string;
  instance?: string;
  variant?: string;
  mode?: 'blob' | 'native';
  payloadType?: string;
  grade?: string;
  repetition?: number;
  attempt?: number;
  runId?: string;
  files?: number;
  /** Average file size in bytes. */
  fileSize?: number;
  /** Physical bytes per logical byte the system stores (1 / its own EDR on unique data). */
  costPerByte?: number;
  /** Whether the system stores duplicates only once (e.g. content-keyed variants). */
  dedups?: boolean;
  /** Share of the stored bytes that maintenance gives back (0..1). */
  maintenanceReclaims?: number;
  startMs?: number;
}

export const BASELINE = 8192;

function latency(medianUs: number, count: number): LatencySummary {
  return {
    count,
    min: Math.round(medianUs * 0.6),
    mean: Math.round(medianUs * 1.1),
    p50: medianUs,
    p90: Math.round(medianUs * 1.6),
    p95: Math.round(medianUs * 2),
    p99: Math.round(medianUs * 3.5),
    p999: Math.round(medianUs * 6),
    max: Math.round(medianUs * 7),
  };
}

function probe(name: string, before: number, after: number, stored: number, stage: StageName, replicas = 1): ProbeResult {
  const write = stage === 'bulk_insert' || stage === 'compaction' || stage === 'perfile_insert';
  const physical = (after - BASELINE) / replicas;
  const edr = write && physical > 0 ? stored / physical : null;
  let status: EdrStatus = write ? 'ok' : 'not-applicable';
  let reason: string | null = write ? null : SPACE_STAGE_REASON;
  if (write && edr === null) {
    status = 'unmeasurable';
    reason = `physical delta ${after - BASELINE} ≤ 0`;
  }
  return {
    name,
    // The fixture's `internal` is the system's accounting and `fs` the disk under it (SPEC §6.2).
    layer: name === 'fs' ? 'storage' : 'system',
    ...(name === 'fs' ? { scope: 'data-dir' as const } : {}),
    replicas,
    baseline: BASELINE * replicas,
    before: before * replicas,
    after: after * replicas,
    delta: (after - before) * replicas,
    settled: true,
    edr,
    edrFlag: { status, reason },
    reclaimedBytes: write ? null : (before - after) * replicas,
    residualBytes: write ? null : (after - BASELINE) * replicas,
  };
}

/** The five stage records of one cell, in stage order, with consistent numbers. */
export function makeCell(spec: CellSpec): StageRecord[] {
  const files = spec.files ?? 30;
  const fileSize = spec.fileSize ?? 34_000;
  const grade = spec.grade ?? 'U0';
  const duplicateShare = Number(grade.slice(1)) / 100;
  const duplicates = Math.round(files * duplicateShare);
  const logicalBytes = files * fileSize;
  const uniqueBytes = (files - duplicates) * fileSize;
  const idealEdr = logicalBytes / uniqueBytes;
  const cost = spec.costPerByte ?? 1.05;
  const storedPhysical = Math.round((spec.dedups ? uniqueBytes : logicalBytes) * cost);
  const afterBulk = BASELINE + storedPhysical;
  const afterCompaction = BASELINE + Math.round(storedPhysical * 0.97);
  const afterDelete = afterBulk; // deleting without maintenance keeps the pages
  const afterMaintenance = BASELINE + Math.round(storedPhysical * (1 - (spec.maintenanceReclaims ?? 0.98)));
  const variant = spec.variant ?? 'default';
  const mode = spec.mode ?? 'blob';
  const payloadType = spec.payloadType ?? 'random_binary';
  const repetition = spec.repetition ?? 1;
  const instance = spec.instance ?? spec.system;
  const cellId = [spec.system, instance === spec.system ? null : instance, variant, mode, payloadType, grade, `r${repetition}`]
    .filter(Boolean)
    .join('.');
  let clock = spec.startMs ?? Date.UTC(2025, 0, 15, 10, 0, 0);
  const stage = (
    name: StageName,
    durationMs: number,
    before: number,
    after: number,
    stored: number,
    acknowledged: number,
    perFile: boolean,
  ): StageRecord => {
    const startedAt = new Date(clock).toISOString();
    clock += durationMs + 50;
    const internal = probe('internal', before, after, stored, name);
    const fs = probe('fs', before + 4096, after + 4096 * 3, stored, name);
    const ackBytes = acknowledged * fileSize;
    return {
      runId: spec.runId ?? 'run-20250115T100000Z',
      cellId,
      repetition,
      attempt: spec.attempt ?? 1,
      system: spec.system,
      instance,
      variant,
      mode,
      payloadType,
      grade,
      stage: name,
      startedAt,
      durationMs,
      files: acknowledged,
      logicalBytes: ackBytes,
      storedLogicalBytes: stored,
      idealEdr,
      probes: [internal, fs],
      primaryProbe: 'internal',
      primaryLayer: 'system',
      edr: internal.edr,
      edrFlag: internal.edrFlag,
      reclaimedBytes: internal.reclaimedBytes,
      residualBytes: internal.residualBytes,
      throughputBytesPerSec: acknowledged > 0 ? (ackBytes / durationMs) * 1000 : null,
      filesPerSec: acknowledged > 0 ? (acknowledged / durationMs) * 1000 : null,
      latencyUs: perFile ? latency(name === 'perfile_insert' ? 180 : 95, files) : null,
      internalBefore: internal.before,
      internalAfter: internal.after,
      error: null,
    };
  };
  return [
    stage('bulk_insert', 120, BASELINE, afterBulk, logicalBytes, files, false),
    stage('compaction', 40, afterBulk, afterCompaction, logicalBytes, 0, false),
    stage('perfile_insert', 400, BASELINE, afterBulk, logicalBytes, files, true),
    stage('perfile_delete', 150, afterBulk, afterDelete, 0, files, true),
    stage('maintenance', 60, afterDelete, afterMaintenance, 0, 0, false),
  ];
}

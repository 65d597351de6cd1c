/** The result record of SPEC §6.4: one JSON object per stage, appended to results.jsonl. */
import type { Mode, ProbeLayer, ProbeScope, StageName } from '../systems/types.js';
import type { CacheState, DeleteMethod, DeleteScope } from './dimensions.js';
import type { StorageStageInfo } from '../storage/stage.js';

export type EdrStatus = 'ok' | 'unmeasurable' | 'implausible' | 'not-applicable';

export interface ProbeResult {
  name: string;
  /** The layer this probe reads (SPEC §6.2); absent only in records written before layers existed. */
  layer?: ProbeLayer;
  /** What a storage probe covers (lab files, data directory, volume, log only). */
  scope?: ProbeScope;
  replicas: number;
  /** Empty-baseline reading of this cell (after the reset), bytes or null when the read failed. */
  baseline: number | null;
  before: number | null;
  after: number | null;
  /** after − before, null when either read is missing. */
  delta: number | null;
  /** true when two consecutive reads agreed before the probe's timeout. */
  settled: boolean;
  /** EDR by this probe (write stages only), null when unmeasurable. */
  edr: number | null;
  edrFlag: { status: EdrStatus; reason: string | null };
  /** Delete/maintenance stages: bytes given back (before − after) and still held above baseline. */
  reclaimedBytes: number | null;
  residualBytes: number | null;
  error?: string;
}

export interface LatencySummary {
  /** Microseconds, nearest-rank percentiles over every per-file operation of the stage. */
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export interface StageRecord {
  runId: string;
  cellId: string;
  repetition: number;
  attempt: number;
  system: string;
  instance: string;
  variant: string;
  mode: Mode;
  payloadType: string;
  grade: string;
  stage: StageName;
  startedAt: string; // ISO 8601
  durationMs: number;
  /** Files whose operation the system acknowledged in this stage. */
  files: number;
  /** Acknowledged payload bytes of this stage (SPEC §6.1), from the manifest. */
  logicalBytes: number;
  /** Acknowledged payload held in the lab namespace after the stage. */
  storedLogicalBytes: number;
  idealEdr: number;
  probes: ProbeResult[];
  primaryProbe: string;
  /** The layer the headline numbers (edr, reclaimedBytes, residualBytes) come from (SPEC §6.2). */
  primaryLayer?: ProbeLayer | null;
  /** Write stages: where two layers' EDRs differ by more than 10 %, one short reason each. */
  layerGaps?: string[];
  /** EDR of the primary probe. */
  edr: number | null;
  edrFlag: { status: EdrStatus; reason: string | null };
  reclaimedBytes: number | null;
  residualBytes: number | null;
  /** Delete/maintenance: bytes the system layer gave back (space it can reuse), SPEC §6.4. */
  freedInside?: number | null;
  /** Delete/maintenance: bytes the storage layer got back (space others can use), SPEC §6.4. */
  returned?: number | null;
  /** Delete/maintenance/compaction: ms from the stage end until the storage layer reached its final value. */
  timeToReclaimMs?: number | null;
  /** The reclaim watch's samples: [ms since stage end, bytes of the watched storage probe]. */
  reclaimCurve?: [number, number][] | null;
  /** Which probe the watch sampled and, when timeToReclaimMs is null, why (e.g. "not reclaimed within 600 s"). */
  reclaimNote?: string | null;
  throughputBytesPerSec: number | null;
  filesPerSec: number | null;
  latencyUs: LatencySummary | null;
  /** Primary (internal) probe readings, for quick reading. */
  internalBefore: number | null;
  internalAfter: number | null;
  error: { kind: string; message: string } | null;
  /** SPEC §4.1: the cell's dimensions, on every record of the cell (absent in older results). */
  deleteMethod?: DeleteMethod;
  deleteScope?: DeleteScope;
  /** `within` or `across:K`. */
  placement?: string;
  cache?: CacheState;
  /** `refill` only: the primary probe's growth at this cell's first `perfile_insert` (compare with this stage's delta). */
  firstInsertGrowthBytes?: number | null;
  /** `read` only: what "cold" meant here (what was dropped), null for a warm read. */
  coldCache?: string | null;
  /** storage_dedup only: the file systems, the offline dedup pass and the simulated block dedup (SPEC §12). */
  storage?: StorageStageInfo;
  /** What the adapter's version() reported for this system (e.g. `ClickHouse 26.7.2.1 (chdb 3.4.0)`). */
  systemVersion?: string;
}

/** One line of trace.jsonl (SPEC §7): samples and stage events on one time axis. */
export type TraceEvent =
  | { t: number; kind: 'sample'; system: string; instance: string; metrics: Record<string, number> }
  | {
      t: number;
      kind: 'stage_start' | 'stage_end';
      system: string;
      instance: string;
      cellId: string;
      stage: StageName;
      /** stage_end only: whether the stage succeeded. */
      ok?: boolean;
    };

/**
 * Stage results to a Prometheus Pushgateway (SPEC §7, issue 15): one group per finished stage,
 * job/<job>/run_id/<run>/cell/<cell>/stage/<stage>/repetition/<n>, so every stage of every run stays
 * queryable side by side (a retried stage's PUT replaces its earlier attempt). The result's own
 * dimensions (system, instance, variant, mode, payload, grade) are labels on every line.
 */
import type { StageRecord } from '../experiment/record.js';
import { errorMessage } from '../core/errors.js';
import { physicalPerCopy } from '../report/summary.js';
import { escapeLabelValue, groupingSegment, putPushgatewayGroup } from './sinks.js';

type Labels = Record<string, string>;
interface Sample {
  labels?: Labels;
  value: number | null | undefined;
}
interface Family {
  name: string;
  help: string;
  samples: Sample[];
}

/** Fields other helpers add to the record (issue 10); read when present, never required. */
interface RecordExtras {
  clusterEdr?: number | null;
  freedInside?: unknown;
  returned?: unknown;
  timeToReclaimMs?: number | null;
}

/** A byte count from a field that is a number or an object with `bytes` (null when neither). */
export function bytesOf(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object' && typeof (value as { bytes?: unknown }).bytes === 'number') return (value as { bytes: number }).bytes;
  return null;
}

const LATENCY_STATS = ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'p999', 'max'] as const;

function probeFamilies(record: StageRecord): Family[] {
  const perProbe = (pick: (probe: StageRecord['probes'][number]) => number | null): Sample[] =>
    record.probes.map((probe) => ({
      labels: { probe: probe.name, layer: (probe as { layer?: string }).layer ?? 'unknown', primary: String(probe.name === record.primaryProbe) },
      value: pick(probe),
    }));
  return [
    { name: 'dedup_lab_result_probe_edr', help: 'EDR by one probe (layer label: logical, system, storage, memory).', samples: perProbe((p) => p.edr) },
    { name: 'dedup_lab_result_physical_delta_bytes', help: 'Physical bytes after − before the stage, by probe.', samples: perProbe((p) => p.delta) },
    { name: 'dedup_lab_result_physical_bytes', help: 'Physical bytes above the empty baseline after the stage, per stored copy, by probe.', samples: perProbe(physicalPerCopy) },
    { name: 'dedup_lab_result_probe_reclaimed_bytes', help: 'Bytes a delete or maintenance stage gave back, by probe.', samples: perProbe((p) => p.reclaimedBytes) },
    { name: 'dedup_lab_result_probe_residual_bytes', help: 'Bytes still held above the baseline after a delete or maintenance stage, by probe.', samples: perProbe((p) => p.residualBytes) },
  ];
}

function recordFamilies(record: StageRecord & RecordExtras): Family[] {
  const one = (value: number | null | undefined): Sample[] => [{ value }];
  const seconds = (ms: number | null | undefined) => (typeof ms === 'number' ? ms / 1000 : null);
  const latency = record.latencyUs;
  return [
    { name: 'dedup_lab_result_edr', help: 'Headline EDR of the stage (its primary probe).', samples: one(record.edr) },
    { name: 'dedup_lab_result_cluster_edr', help: 'EDR over every stored copy (replicas > 1).', samples: one(record.clusterEdr) },
    { name: 'dedup_lab_result_ideal_edr', help: 'The data set\'s ideal EDR (files / unique files).', samples: one(record.idealEdr) },
    { name: 'dedup_lab_result_logical_bytes', help: 'Acknowledged payload bytes of the stage.', samples: one(record.logicalBytes) },
    { name: 'dedup_lab_result_stored_logical_bytes', help: 'Acknowledged payload held in the lab namespace after the stage.', samples: one(record.storedLogicalBytes) },
    { name: 'dedup_lab_result_reclaimed_bytes', help: 'Bytes the stage gave back (primary probe).', samples: one(record.reclaimedBytes) },
    { name: 'dedup_lab_result_residual_bytes', help: 'Bytes held above the baseline after the stage (primary probe).', samples: one(record.residualBytes) },
    { name: 'dedup_lab_result_freed_inside_bytes', help: 'What the system layer gave back (reusable by the system).', samples: one(bytesOf(record.freedInside)) },
    { name: 'dedup_lab_result_returned_bytes', help: 'What the storage layer got back (reusable by others).', samples: one(bytesOf(record.returned)) },
    { name: 'dedup_lab_result_time_to_reclaim_seconds', help: 'Time from stage end until the storage layer reached its final size.', samples: one(seconds(record.timeToReclaimMs)) },
    { name: 'dedup_lab_result_duration_seconds', help: 'Wall time of the stage.', samples: one(seconds(record.durationMs)) },
    { name: 'dedup_lab_result_files', help: 'Files whose operation the system acknowledged.', samples: one(record.files) },
    { name: 'dedup_lab_result_throughput_bytes_per_second', help: 'Acknowledged payload bytes per second.', samples: one(record.throughputBytesPerSec) },
    { name: 'dedup_lab_result_files_per_second', help: 'Acknowledged files per second.', samples: one(record.filesPerSec) },
    {
      name: 'dedup_lab_result_latency_seconds',
      help: 'Per-file operation latency (nearest-rank percentiles, min, mean, max).',
      samples: latency ? LATENCY_STATS.map((stat) => ({ labels: { stat }, value: latency[stat] / 1e6 })) : [],
    },
    { name: 'dedup_lab_result_failed', help: '1 when the stage failed.', samples: one(record.error ? 1 : 0) },
    { name: 'dedup_lab_result_start_timestamp_seconds', help: 'When the stage started (unix seconds): stage markers for dashboards.', samples: one(Date.parse(record.startedAt) / 1000) },
    { name: 'dedup_lab_result_end_timestamp_seconds', help: 'When the stage ended (unix seconds).', samples: one((Date.parse(record.startedAt) + record.durationMs) / 1000) },
  ];
}

/** Labels every line of one record's group carries (besides the grouping key). */
export function resultLabels(record: StageRecord): Labels {
  return { system: record.system, instance: record.instance, variant: record.variant, mode: record.mode, payload: record.payloadType, grade: record.grade };
}

function labelText(labels: Labels): string {
  return `{${Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(',')}}`;
}

/** The Prometheus text body of one stage record: only finite values; a missing number is no line. */
export function resultBody(record: StageRecord): string {
  const common = resultLabels(record);
  const lines: string[] = [];
  for (const family of [...recordFamilies(record), ...probeFamilies(record)]) {
    const samples = family.samples.filter((s): s is Sample & { value: number } => typeof s.value === 'number' && Number.isFinite(s.value));
    if (samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} gauge`);
    for (const sample of samples) lines.push(`${family.name}${labelText({ ...common, ...sample.labels })} ${sample.value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The group path of one stage record under `job`. */
export function resultGroupPath(job: string, record: StageRecord): string {
  return [
    groupingSegment('job', job),
    groupingSegment('run_id', record.runId),
    groupingSegment('cell', record.cellId),
    groupingSegment('stage', record.stage),
    groupingSegment('repetition', String(record.repetition)),
  ].join('/');
}

export interface ResultPusher {
  /** Queue one finished stage's record; returns at once (never slows or fails the run). */
  push(record: StageRecord): void;
  /** Wait until every queued record was pushed or failed. */
  settle(): Promise<void>;
  readonly pushed: number;
  readonly failed: number;
}

/** Pushes records one after another in the background; a failure streak is reported once. */
export function resultPusher(options: { url: string; job: string }, onError: (message: string) => void): ResultPusher {
  let chain: Promise<void> = Promise.resolve();
  let pushed = 0;
  let failed = 0;
  let failing = false;
  return {
    push(record) {
      const body = resultBody(record);
      const group = resultGroupPath(options.job, record);
      chain = chain.then(async () => {
        try {
          await putPushgatewayGroup(options.url, group, body);
          pushed += 1;
          failing = false;
        } catch (error) {
          failed += 1;
          if (!failing) onError(`trace sink pushgateway (results): ${errorMessage(error)}`);
          failing = true;
        }
      });
    },
    settle: () => chain,
    get pushed() {
      return pushed;
    },
    get failed() {
      return failed;
    },
  };
}

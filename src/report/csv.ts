/**
 * results.csv: one flat row per kept stage record (columns documented in docs/results.md).
 * Quoting follows RFC 4180: a field containing a comma, a double quote, CR or LF is wrapped in
 * double quotes with inner quotes doubled. Missing values (null) are empty fields. Numbers are
 * written exactly as JSON writes them (no rounding, no thousands separators).
 */
import type { LatencySummary, ProbeResult, StageRecord } from '../experiment/record.js';

type Cell = string | number | boolean | null | undefined;

export function csvField(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly Cell[]): string {
  return values.map(csvField).join(',');
}

interface Column {
  name: string;
  get(record: StageRecord): Cell;
}

const LATENCY_FIELDS: (keyof LatencySummary)[] = ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'p999', 'max'];

export const FIXED_COLUMNS: Column[] = [
  { name: 'runId', get: (r) => r.runId },
  { name: 'cellId', get: (r) => r.cellId },
  { name: 'repetition', get: (r) => r.repetition },
  { name: 'attempt', get: (r) => r.attempt },
  { name: 'system', get: (r) => r.system },
  { name: 'instance', get: (r) => r.instance },
  { name: 'variant', get: (r) => r.variant },
  { name: 'mode', get: (r) => r.mode },
  { name: 'payloadType', get: (r) => r.payloadType },
  { name: 'grade', get: (r) => r.grade },
  { name: 'stage', get: (r) => r.stage },
  { name: 'startedAt', get: (r) => r.startedAt },
  { name: 'durationMs', get: (r) => r.durationMs },
  { name: 'files', get: (r) => r.files },
  { name: 'logicalBytes', get: (r) => r.logicalBytes },
  { name: 'storedLogicalBytes', get: (r) => r.storedLogicalBytes },
  { name: 'idealEdr', get: (r) => r.idealEdr },
  { name: 'primaryProbe', get: (r) => r.primaryProbe },
  { name: 'primaryLayer', get: (r) => r.primaryLayer },
  { name: 'edr', get: (r) => r.edr },
  { name: 'edrFlag_status', get: (r) => r.edrFlag?.status },
  { name: 'edrFlag_reason', get: (r) => r.edrFlag?.reason },
  { name: 'reclaimedBytes', get: (r) => r.reclaimedBytes },
  { name: 'residualBytes', get: (r) => r.residualBytes },
  { name: 'freedInside', get: (r) => r.freedInside },
  { name: 'returned', get: (r) => r.returned },
  { name: 'timeToReclaimMs', get: (r) => r.timeToReclaimMs },
  { name: 'reclaimNote', get: (r) => r.reclaimNote },
  // [[ms since stage end, bytes], …] as JSON: one field, still flat.
  { name: 'reclaimCurve', get: (r) => (r.reclaimCurve ? JSON.stringify(r.reclaimCurve) : null) },
  { name: 'layerGaps', get: (r) => (r.layerGaps && r.layerGaps.length > 0 ? r.layerGaps.join(' | ') : null) },
  { name: 'throughputBytesPerSec', get: (r) => r.throughputBytesPerSec },
  { name: 'filesPerSec', get: (r) => r.filesPerSec },
  { name: 'internalBefore', get: (r) => r.internalBefore },
  { name: 'internalAfter', get: (r) => r.internalAfter },
  { name: 'lat_count', get: (r) => r.latencyUs?.count },
  ...LATENCY_FIELDS.map((field) => ({ name: `lat_${field}_us`, get: (r: StageRecord) => r.latencyUs?.[field] })),
  { name: 'error_kind', get: (r) => r.error?.kind },
  { name: 'error_message', get: (r) => r.error?.message },
  // SPEC §4.1 dimensions (empty in records written before them).
  { name: 'deleteMethod', get: (r) => r.deleteMethod },
  { name: 'deleteScope', get: (r) => r.deleteScope },
  { name: 'placement', get: (r) => r.placement },
  { name: 'cache', get: (r) => r.cache },
  { name: 'firstInsertGrowthBytes', get: (r) => r.firstInsertGrowthBytes },
  { name: 'coldCache', get: (r) => r.coldCache },
];

/** Per-probe columns, in this order, for every probe name present in the records. */
export const PROBE_FIELDS: { suffix: string; get(probe: ProbeResult): Cell }[] = [
  { suffix: 'layer', get: (p) => p.layer },
  { suffix: 'scope', get: (p) => p.scope },
  { suffix: 'replicas', get: (p) => p.replicas },
  { suffix: 'baseline', get: (p) => p.baseline },
  { suffix: 'before', get: (p) => p.before },
  { suffix: 'after', get: (p) => p.after },
  { suffix: 'delta', get: (p) => p.delta },
  { suffix: 'settled', get: (p) => p.settled },
  { suffix: 'edr', get: (p) => p.edr },
  { suffix: 'edr_status', get: (p) => p.edrFlag?.status },
  { suffix: 'edr_reason', get: (p) => p.edrFlag?.reason },
  { suffix: 'reclaimed', get: (p) => p.reclaimedBytes },
  { suffix: 'residual', get: (p) => p.residualBytes },
  { suffix: 'error', get: (p) => p.error },
];

/** Probe names as they appear in column names: anything outside [A-Za-z0-9_] becomes `_`. */
export function probeColumnName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Probe names in first-seen order. */
export function probeNames(records: readonly StageRecord[]): string[] {
  const names = new Set<string>();
  for (const record of records) for (const probe of record.probes) names.add(probe.name);
  return [...names];
}

export function csvHeader(records: readonly StageRecord[]): string[] {
  const header = FIXED_COLUMNS.map((column) => column.name);
  for (const name of probeNames(records)) {
    for (const field of PROBE_FIELDS) header.push(`probe_${probeColumnName(name)}_${field.suffix}`);
  }
  return header;
}

export function toCsv(records: readonly StageRecord[]): string {
  const names = probeNames(records);
  const lines = [csvLine(csvHeader(records))];
  for (const record of records) {
    const row: Cell[] = FIXED_COLUMNS.map((column) => column.get(record));
    for (const name of names) {
      const probe = record.probes.find((candidate) => candidate.name === name);
      for (const field of PROBE_FIELDS) row.push(probe ? field.get(probe) : null);
    }
    lines.push(csvLine(row));
  }
  return `${lines.join('\r\n')}\r\n`;
}

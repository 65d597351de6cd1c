/**
 * The summary table (stdout) and summary.md: one row per
 * system/instance/variant/mode/payload type/grade/stage, repetitions aggregated as
 * mean ± sample standard deviation [min–max] (see stats.ts).
 */
import { variantWithDimensions } from './dimensions.js';
import type { StageRecord } from '../experiment/record.js';
import { STAGE_ORDER, type StageName } from '../systems/types.js';
import { aggregate, type Aggregate } from './stats.js';
import { SPACE_STAGE_REASON } from '../measure/probe-results.js';

export const BYTES_PER_MB = 1_000_000;
const WRITE_STAGES: readonly StageName[] = ['bulk_insert', 'compaction', 'perfile_insert', 'refill'];
const RECLAIM_STAGES: readonly StageName[] = ['perfile_delete', 'maintenance', 'maintenance_full'];
const PERFILE_STAGES: readonly StageName[] = ['perfile_insert', 'perfile_delete', 'refill', 'read'];

export function isWriteStage(stage: StageName): boolean {
  return WRITE_STAGES.includes(stage);
}
export function isReclaimStage(stage: StageName): boolean {
  return RECLAIM_STAGES.includes(stage);
}
export function isPerFileStage(stage: StageName): boolean {
  return PERFILE_STAGES.includes(stage);
}

/** The records of one (system, instance, variant, mode, payload type, grade, stage): its repetitions. */
export interface SummaryGroup {
  system: string;
  instance: string;
  variant: string;
  mode: string;
  payloadType: string;
  grade: string;
  stage: StageName;
  records: StageRecord[];
}

/** `system`, or `system/instance` when the instance name differs from the system id. */
export function systemLabel(record: { system: string; instance: string }): string {
  return record.instance && record.instance !== record.system ? `${record.system}/${record.instance}` : record.system;
}

function cellKey(record: StageRecord): string {
  return [record.system, record.instance, variantWithDimensions(record), record.mode, record.payloadType, record.grade].join('\u0000');
}

/** Groups in the matrix order the records came in, stages in SPEC order inside each cell. */
export function groupRecords(records: readonly StageRecord[]): SummaryGroup[] {
  const cells = new Map<string, Map<StageName, StageRecord[]>>();
  for (const record of records) {
    const key = cellKey(record);
    let stages = cells.get(key);
    if (!stages) cells.set(key, (stages = new Map()));
    const list = stages.get(record.stage) ?? [];
    list.push(record);
    stages.set(record.stage, list);
  }
  const stageOrder = (stage: StageName) => {
    const index = STAGE_ORDER.indexOf(stage);
    return index === -1 ? STAGE_ORDER.length : index;
  };
  const groups: SummaryGroup[] = [];
  for (const stages of cells.values()) {
    const ordered = [...stages.entries()].sort(([a], [b]) => stageOrder(a) - stageOrder(b));
    for (const [stage, list] of ordered) {
      const first = list[0]!;
      list.sort((a, b) => a.repetition - b.repetition);
      groups.push({
        system: first.system,
        instance: first.instance,
        variant: variantWithDimensions(first),
        mode: first.mode,
        payloadType: first.payloadType,
        grade: first.grade,
        stage,
        records: list,
      });
    }
  }
  return groups;
}

/** Raw reading of the record's primary probe, if the record has it. */
export function primaryProbeOf(record: StageRecord) {
  return record.probes.find((probe) => probe.name === record.primaryProbe);
}

/**
 * Physical bytes one copy of the data costs by a probe: (after − empty baseline) / replicas —
 * the denominator of the EDR (SPEC §6.3). Null when a read is missing.
 */
export function physicalPerCopy(probe: { after: number | null; baseline: number | null; replicas: number } | undefined): number | null {
  if (!probe || probe.after === null || probe.baseline === null || !(probe.replicas >= 1)) return null;
  return (probe.after - probe.baseline) / probe.replicas;
}

/**
 * The reason a flag shows, or null when there is nothing to show: delete/maintenance rows are
 * `not-applicable` by nature (the engine says so with SPACE_STAGE_REASON); only what is added to
 * that — a settle note — or another reason (the system has no such operation) is worth a flag.
 */
export function visibleFlag(flag: StageRecord['edrFlag'] | undefined): string | null {
  if (!flag || flag.status === 'ok') return null;
  let reason = flag.reason;
  if (flag.status === 'not-applicable' && reason?.startsWith(SPACE_STAGE_REASON)) {
    reason = reason.slice(SPACE_STAGE_REASON.length).replace(/^;\s*/, '') || null;
    return reason;
  }
  if (flag.status === 'not-applicable' && !reason) return null;
  return reason ? `${flag.status}: ${reason}` : flag.status;
}

/**
 * The flags of a group as short visible strings: failures, and every EDR status other than `ok`
 * (see visibleFlag). With several repetitions each distinct flag says in how many it occurred.
 */
export function groupFlags(records: readonly StageRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const record of records) {
    const flags: string[] = [];
    if (record.error) flags.push(`failed: ${record.error.kind}: ${record.error.message}`);
    const flag = visibleFlag(record.edrFlag);
    if (flag) flags.push(flag);
    for (const flag of new Set(flags)) counts.set(flag, (counts.get(flag) ?? 0) + 1);
  }
  return [...counts.entries()].map(([flag, count]) =>
    records.length > 1 ? `${flag} (${count}/${records.length} runs)` : flag,
  );
}

/** Decimals that keep about three significant digits for numbers of this size. */
export function decimalsFor(magnitude: number): number {
  const size = Math.abs(magnitude);
  if (size >= 100) return 0;
  if (size >= 10) return 1;
  if (size >= 1) return 2;
  return 3;
}

export function formatNumber(value: number, decimals = decimalsFor(value)): string {
  const text = value.toFixed(decimals);
  // Avoid "-0.00" for tiny negatives that round to zero.
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

export const MISSING = '—';

/**
 * One aggregated value: `x` for a single repetition (or identical values), else `mean ± sd [min–max]`; `(n=k/N)` is
 * appended when some repetitions had no value; `—` when none had one.
 */
export function formatAggregate(value: Aggregate | null, fixedDecimals?: number): string {
  if (!value) return MISSING;
  const decimals = fixedDecimals ?? decimalsFor(value.mean);
  const missing = value.n < value.total ? ` (n=${value.n}/${value.total})` : '';
  // Identical values in every run have no spread to show; the runs column says how many there were.
  if (value.total === 1 || (value.min === value.max && value.n === value.total)) return formatNumber(value.mean, decimals);
  const format = (x: number) => formatNumber(x, decimals);
  return `${format(value.mean)} ± ${format(value.sd)} [${format(value.min)}–${format(value.max)}]${missing}`;
}

export interface SummaryColumn {
  header: string;
  /** Right-aligned in the text table (numbers). */
  numeric: boolean;
  value(group: SummaryGroup): string;
}

const over = (group: SummaryGroup, pick: (record: StageRecord) => number | null | undefined) =>
  aggregate(group.records.map((record) => pick(record) ?? null));
const megabytes = (bytes: number | null | undefined) => (typeof bytes === 'number' ? bytes / BYTES_PER_MB : null);
const milliseconds = (microseconds: number | null | undefined) =>
  typeof microseconds === 'number' ? microseconds / 1000 : null;

export const SUMMARY_COLUMNS: SummaryColumn[] = [
  { header: 'system', numeric: false, value: (g) => systemLabel(g) },
  { header: 'variant', numeric: false, value: (g) => g.variant },
  { header: 'mode', numeric: false, value: (g) => g.mode },
  { header: 'payload', numeric: false, value: (g) => g.payloadType },
  { header: 'grade', numeric: false, value: (g) => g.grade },
  { header: 'stage', numeric: false, value: (g) => g.stage },
  { header: 'runs', numeric: true, value: (g) => String(g.records.length) },
  { header: 'files', numeric: true, value: (g) => formatAggregate(over(g, (r) => r.files), 0) },
  { header: 'logical MB', numeric: true, value: (g) => formatAggregate(over(g, (r) => megabytes(r.logicalBytes))) },
  {
    header: 'phys Δ MB',
    numeric: true,
    value: (g) => formatAggregate(over(g, (r) => megabytes(primaryProbeOf(r)?.delta))),
  },
  {
    header: 'EDR',
    numeric: true,
    value: (g) => (isWriteStage(g.stage) ? formatAggregate(over(g, (r) => r.edr), 2) : MISSING),
  },
  {
    header: 'ideal',
    numeric: true,
    value: (g) => (isWriteStage(g.stage) ? formatAggregate(over(g, (r) => r.idealEdr), 2) : MISSING),
  },
  {
    header: 'reclaimed MB',
    numeric: true,
    value: (g) => (isReclaimStage(g.stage) ? formatAggregate(over(g, (r) => megabytes(r.reclaimedBytes))) : MISSING),
  },
  {
    header: 'residual MB',
    numeric: true,
    value: (g) => (isReclaimStage(g.stage) ? formatAggregate(over(g, (r) => megabytes(r.residualBytes))) : MISSING),
  },
  {
    header: 'p50 ms',
    numeric: true,
    value: (g) => (isPerFileStage(g.stage) ? formatAggregate(over(g, (r) => milliseconds(r.latencyUs?.p50))) : MISSING),
  },
  {
    header: 'p99 ms',
    numeric: true,
    value: (g) => (isPerFileStage(g.stage) ? formatAggregate(over(g, (r) => milliseconds(r.latencyUs?.p99))) : MISSING),
  },
  {
    header: 'MB/s',
    numeric: true,
    value: (g) => formatAggregate(over(g, (r) => megabytes(r.throughputBytesPerSec))),
  },
  {
    header: 'flag',
    numeric: false,
    value: (g) => {
      const flags = groupFlags(g.records);
      return flags.length === 0 ? 'ok' : flags.join('; ');
    },
  },
];

export function summaryCells(records: readonly StageRecord[]): { headers: string[]; rows: string[][] } {
  return {
    headers: SUMMARY_COLUMNS.map((column) => column.header),
    rows: groupRecords(records).map((group) => SUMMARY_COLUMNS.map((column) => column.value(group))),
  };
}

/** Header, rule and rows as aligned text for a terminal: numbers right-aligned, text left-aligned. */
export function alignedTable(headers: readonly string[], rows: readonly string[][], numeric: readonly boolean[]): string[] {
  const widths = headers.map((header, index) => Math.max(header.length, ...rows.map((row) => row[index]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (numeric[index] ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(headers), rule, ...rows.map(line)];
}

/** The detailed summary as plain aligned text. */
export function renderTextTable(records: readonly StageRecord[]): string {
  if (records.length === 0) return 'no results\n';
  const { headers, rows } = summaryCells(records);
  return `${alignedTable(headers, rows, SUMMARY_COLUMNS.map((column) => column.numeric)).join('\n')}\n`;
}

export function markdownCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function markdownTable(headers: readonly string[], rows: readonly string[][], numeric: readonly boolean[]): string {
  const head = `| ${headers.map(markdownCell).join(' | ')} |`;
  const align = `|${numeric.map((isNumber) => (isNumber ? ' ---: ' : ' --- ')).join('|')}|`;
  const body = rows.map((row) => `| ${row.map(markdownCell).join(' | ')} |`);
  return [head, align, ...body].join('\n');
}

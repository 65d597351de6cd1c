/**
 * Chart.js configurations for report.html, built in Node as plain JSON (no functions) so they
 * can be embedded in the page and unit-tested here. The page's small inline script only
 * instantiates them and adds two drawing plugins (min–max whiskers, stage markers).
 * Works for any system ids: series are whatever system/instance/variant/mode the records hold.
 */
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import type { StageName } from '../systems/types.js';
import { aggregate } from './stats.js';
import { BYTES_PER_MB, groupFlags, physicalPerCopy, primaryProbeOf, systemLabel } from './summary.js';

/** A flagged data point shown in a table under its chart. */
export interface FlagRow {
  series: string;
  category: string;
  stage: string;
  flag: string;
}

export interface ChartSpec {
  id: string;
  section: 'edr' | 'bytes' | 'reclaimed' | 'latency' | 'trace';
  title: string;
  note: string;
  /** A Chart.js configuration (JSON only). */
  config: { type: string; data: { labels?: string[]; datasets: Dataset[] }; options: Record<string, unknown> };
  flags: FlagRow[];
}

export interface Dataset {
  label: string;
  type?: string;
  data: (number | null | { x: number; y: number })[];
  backgroundColor?: string | string[];
  borderColor?: string | string[];
  borderWidth?: number | number[];
  /** Per point [min, max] over repetitions, drawn as whiskers by the page's plugin. */
  whiskers?: ([number, number] | null)[];
  [option: string]: unknown;
}

// Okabe–Ito colour-blind-safe palette, then a few more distinct hues.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000', '#8C564B', '#7F7F7F', '#17BECF', '#BCBD22'];
export const colour = (index: number) => PALETTE[index % PALETTE.length]!;
const FLAG_COLOUR = '#C00000';

/** A series is one way of storing data: system (instance), variant, and mode when modes differ. */
export function seriesLabel(record: StageRecord, showMode: boolean): string {
  return `${systemLabel(record)} · ${record.variant}${showMode ? ` · ${record.mode}` : ''}`;
}

function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/** Grades in numeric order (U0 < U50 < U90), any other label after them alphabetically. */
export function sortGrades(grades: Iterable<string>): string[] {
  const number = (grade: string) => (/^U\d+$/.test(grade) ? Number(grade.slice(1)) : Number.POSITIVE_INFINITY);
  return unique(grades).sort((a, b) => number(a) - number(b) || a.localeCompare(b));
}

/** Mean over repetitions and [min, max] when there were several with different values. */
function meanWithRange(values: (number | null | undefined)[]): { mean: number | null; range: [number, number] | null } {
  const stats = aggregate(values);
  if (!stats) return { mean: null, range: null };
  return { mean: stats.mean, range: stats.n > 1 && stats.min !== stats.max ? [stats.min, stats.max] : null };
}

const mb = (bytes: number | null | undefined) => (typeof bytes === 'number' ? bytes / BYTES_PER_MB : null);

function baseOptions(yTitle: string, xTitle: string, logarithmic = false): Record<string, unknown> {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom' }, title: { display: false } },
    scales: {
      x: { title: { display: true, text: xTitle } },
      y: { type: logarithmic ? 'logarithmic' : 'linear', beginAtZero: !logarithmic, title: { display: true, text: yTitle } },
    },
  };
}

interface Context {
  records: readonly StageRecord[];
  showMode: boolean;
  series: string[];
  payloadTypes: string[];
}

function contextOf(records: readonly StageRecord[]): Context {
  const showMode = unique(records.map((r) => r.mode)).length > 1;
  return {
    records,
    showMode,
    series: unique(records.map((r) => seriesLabel(r, showMode))),
    payloadTypes: unique(records.map((r) => r.payloadType)),
  };
}

const slug = (text: string) => text.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();

function pick(ctx: Context, filter: { series?: string; payloadType?: string; grade?: string; stage?: StageName }): StageRecord[] {
  return ctx.records.filter(
    (r) =>
      (filter.series === undefined || seriesLabel(r, ctx.showMode) === filter.series) &&
      (filter.payloadType === undefined || r.payloadType === filter.payloadType) &&
      (filter.grade === undefined || r.grade === filter.grade) &&
      (filter.stage === undefined || r.stage === filter.stage),
  );
}

function flagRows(records: StageRecord[], series: string, category: string, stage: string): FlagRow[] {
  return groupFlags(records).map((flag) => ({ series, category, stage, flag }));
}

/** EDR per series × grade for one payload type and write stage, with the ideal EDR marked. */
function edrCharts(ctx: Context): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const payloadType of ctx.payloadTypes) {
    for (const stage of ['bulk_insert', 'compaction', 'perfile_insert'] as const) {
      const stageRecords = pick(ctx, { payloadType, stage });
      if (stageRecords.length === 0) continue;
      const grades = sortGrades(stageRecords.map((r) => r.grade));
      const series = ctx.series.filter((s) => stageRecords.some((r) => seriesLabel(r, ctx.showMode) === s));
      const flags: FlagRow[] = [];
      const datasets: Dataset[] = series.map((label) => {
        const colourOfSeries = colour(ctx.series.indexOf(label));
        const points = grades.map((grade) => {
          const cell = pick(ctx, { series: label, payloadType, grade, stage });
          flags.push(...flagRows(cell, label, grade, stage));
          return {
            ...meanWithRange(cell.map((r) => r.edr)),
            implausible: cell.some((r) => r.edrFlag?.status === 'implausible'),
          };
        });
        return {
          label,
          type: 'bar',
          data: points.map((p) => p.mean),
          whiskers: points.map((p) => p.range),
          backgroundColor: colourOfSeries,
          // Implausible values keep their bar but get a thick red outline (and a row below).
          borderColor: points.map((p) => (p.implausible ? FLAG_COLOUR : colourOfSeries)),
          borderWidth: points.map((p) => (p.implausible ? 3 : 0)),
        };
      });
      const ideal = grades.map((grade) => aggregate(pick(ctx, { payloadType, grade, stage }).map((r) => r.idealEdr))?.mean ?? null);
      datasets.push({
        label: 'ideal EDR (total / unique bytes)',
        type: 'line',
        data: ideal,
        showLine: false,
        pointStyle: 'line',
        pointRadius: 40,
        pointHoverRadius: 40,
        borderWidth: 3,
        borderColor: '#222222',
        backgroundColor: '#222222',
        order: -1,
      });
      charts.push({
        id: `edr-${slug(payloadType)}-${slug(stage)}`,
        section: 'edr',
        title: `EDR — ${payloadType} — ${stage}`,
        note: 'EDR by the primary probe; the black dash is the ideal EDR of the data set. Whiskers: min–max over runs. Red outline: implausible. A missing bar is unmeasurable (see flags).',
        config: { type: 'bar', data: { labels: grades, datasets }, options: baseOptions('EDR (logical / physical per copy)', 'grade') },
        flags,
      });
    }
  }
  return charts;
}

/** One category per series × grade, for the byte charts. */
function categories(ctx: Context, payloadType: string): { label: string; series: string; grade: string }[] {
  const records = pick(ctx, { payloadType });
  const out: { label: string; series: string; grade: string }[] = [];
  for (const series of ctx.series) {
    const grades = sortGrades(records.filter((r) => seriesLabel(r, ctx.showMode) === series).map((r) => r.grade));
    for (const grade of grades) out.push({ label: `${series} · ${grade}`, series, grade });
  }
  return out;
}

function barDataset(label: string, index: number, values: { mean: number | null; range: [number, number] | null }[]): Dataset {
  return { label, data: values.map((v) => v.mean), whiskers: values.map((v) => v.range), backgroundColor: colour(index) };
}

function physicalVsLogicalCharts(ctx: Context): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const payloadType of ctx.payloadTypes) {
    const cats = categories(ctx, payloadType);
    const writeStages = (['bulk_insert', 'compaction', 'perfile_insert'] as const).filter((stage) => pick(ctx, { payloadType, stage }).length > 0);
    if (cats.length === 0 || writeStages.length === 0) continue;
    const flags: FlagRow[] = [];
    const logical = cats.map((c) => {
      const cell = writeStages.flatMap((stage) => pick(ctx, { series: c.series, payloadType, grade: c.grade, stage }));
      return meanWithRange(cell.filter((r) => r.stage === cell[0]?.stage).map((r) => mb(r.storedLogicalBytes)));
    });
    const datasets = [barDataset('logical (stored payload)', 0, logical)];
    writeStages.forEach((stage, index) => {
      datasets.push(
        barDataset(
          `physical per copy after ${stage}`,
          index + 1,
          cats.map((c) => {
            const cell = pick(ctx, { series: c.series, payloadType, grade: c.grade, stage });
            if (cell.some((r) => physicalPerCopy(primaryProbeOf(r)) === null)) {
              flags.push({ series: c.series, category: c.grade, stage, flag: 'physical size missing (probe read failed)' });
            }
            return meanWithRange(cell.map((r) => mb(physicalPerCopy(primaryProbeOf(r)))));
          }),
        ),
      );
    });
    charts.push({
      id: `bytes-${slug(payloadType)}`,
      section: 'bytes',
      title: `Physical vs logical bytes — ${payloadType}`,
      note: 'MB = 10^6 bytes. Physical = (primary probe after the stage − empty baseline) / replicas.',
      config: { type: 'bar', data: { labels: cats.map((c) => c.label), datasets }, options: baseOptions('MB', 'system · variant · grade') },
      flags,
    });
  }
  return charts;
}

function reclaimedCharts(ctx: Context): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const payloadType of ctx.payloadTypes) {
    const cats = categories(ctx, payloadType);
    const stages = (['perfile_delete', 'maintenance'] as const).filter((stage) => pick(ctx, { payloadType, stage }).length > 0);
    if (cats.length === 0 || stages.length === 0) continue;
    const flags: FlagRow[] = [];
    const datasets: Dataset[] = stages.map((stage, index) =>
      barDataset(
        `reclaimed by ${stage === 'perfile_delete' ? 'delete' : 'maintenance'}`,
        index,
        cats.map((c) => {
          const cell = pick(ctx, { series: c.series, payloadType, grade: c.grade, stage });
          flags.push(...flagRows(cell, c.series, c.grade, stage));
          return meanWithRange(cell.map((r) => mb(r.reclaimedBytes)));
        }),
      ),
    );
    const last = stages[stages.length - 1]!;
    datasets.push(
      barDataset(
        `residual after ${last === 'perfile_delete' ? 'delete' : 'maintenance'} (above empty baseline)`,
        2,
        cats.map((c) => meanWithRange(pick(ctx, { series: c.series, payloadType, grade: c.grade, stage: last }).map((r) => mb(r.residualBytes)))),
      ),
    );
    charts.push({
      id: `reclaimed-${slug(payloadType)}`,
      section: 'reclaimed',
      title: `Bytes reclaimed by delete and by maintenance — ${payloadType}`,
      note: 'Reclaimed = primary probe before − after the stage; residual = after − empty baseline. MB = 10^6 bytes.',
      config: { type: 'bar', data: { labels: cats.map((c) => c.label), datasets }, options: baseOptions('MB', 'system · variant · grade') },
      flags,
    });
  }
  return charts;
}

const PERCENTILES = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p999', 'p99.9'],
] as const;

function latencyCharts(ctx: Context): ChartSpec[] {
  const charts: ChartSpec[] = [];
  for (const stage of ['perfile_insert', 'perfile_delete'] as const) {
    const stageRecords = pick(ctx, { stage }).filter((r) => r.latencyUs && r.latencyUs.count > 0);
    if (stageRecords.length === 0) continue;
    const cats: { label: string; records: StageRecord[] }[] = [];
    for (const series of ctx.series) {
      for (const payloadType of ctx.payloadTypes) {
        const mine = stageRecords.filter((r) => seriesLabel(r, ctx.showMode) === series && r.payloadType === payloadType);
        for (const grade of sortGrades(mine.map((r) => r.grade))) {
          cats.push({ label: `${series} · ${payloadType} · ${grade}`, records: mine.filter((r) => r.grade === grade) });
        }
      }
    }
    const datasets = PERCENTILES.map(([field, label], index) =>
      barDataset(label, index, cats.map((c) => meanWithRange(c.records.map((r) => (r.latencyUs ? r.latencyUs[field] / 1000 : null))))),
    );
    charts.push({
      id: `latency-${slug(stage)}`,
      section: 'latency',
      title: `Latency percentiles — ${stage}`,
      note: 'Milliseconds per file operation, nearest-rank percentiles; logarithmic axis; bars are the mean over runs.',
      config: { type: 'bar', data: { labels: cats.map((c) => c.label), datasets }, options: baseOptions('ms (log scale)', 'system · variant · payload · grade', true) },
      flags: [],
    });
  }
  return charts;
}

/** Trace metrics that are sizes (plotted in MB); other metrics are plotted raw in their own chart. */
export const SIZE_METRIC = /bytes|size/i;

/** Keep at most `limit` points, evenly spaced, always keeping the last one. */
export function thinPoints<T>(points: readonly T[], limit: number): T[] {
  if (points.length <= limit) return [...points];
  const step = points.length / limit;
  const out: T[] = [];
  for (let i = 0; i < limit - 1; i++) out.push(points[Math.floor(i * step)]!);
  out.push(points[points.length - 1]!);
  return out;
}

export interface StageMarker {
  start: number;
  end: number | null;
  stage: string;
  cellId: string;
  ok: boolean | null;
}

/** Pair stage_start/stage_end events of one system instance into time intervals (seconds). */
export function stageMarkers(events: readonly TraceEvent[], t0: number): StageMarker[] {
  const open = new Map<string, StageMarker>();
  const markers: StageMarker[] = [];
  for (const event of events) {
    if (event.kind === 'sample') continue;
    const key = `${event.cellId}\u0000${event.stage}`;
    if (event.kind === 'stage_start') {
      const marker: StageMarker = { start: (event.t - t0) / 1000, end: null, stage: event.stage, cellId: event.cellId, ok: null };
      open.set(key, marker);
      markers.push(marker);
    } else {
      const marker = open.get(key);
      if (marker) {
        marker.end = (event.t - t0) / 1000;
        marker.ok = event.ok ?? null;
        open.delete(key);
      }
    }
  }
  return markers;
}

const MAX_POINTS_PER_SERIES = 1500;

function traceCharts(trace: readonly TraceEvent[]): ChartSpec[] {
  if (trace.length === 0) return [];
  // A loop, not Math.min(...): a long trace would overflow the call stack.
  let t0 = Number.POSITIVE_INFINITY;
  for (const event of trace) if (event.t < t0) t0 = event.t;
  const instances = unique(trace.map((e) => `${e.system}\u0000${e.instance}`));
  const charts: ChartSpec[] = [];
  for (const key of instances) {
    const [system, instance] = key.split('\u0000') as [string, string];
    const events = trace.filter((e) => e.system === system && e.instance === instance);
    const samples = events.filter((e): e is Extract<TraceEvent, { kind: 'sample' }> => e.kind === 'sample');
    const metricNames = unique(samples.flatMap((s) => Object.keys(s.metrics)));
    const markers = stageMarkers(events, t0);
    const label = systemLabel({ system, instance });
    const plot = (names: string[], scale: (value: number) => number, idSuffix: string, title: string, yTitle: string, note: string) => {
      const datasets: Dataset[] = names.map((name, index) => ({
        label: name,
        type: 'line',
        data: thinPoints(
          samples.filter((s) => typeof s.metrics[name] === 'number').map((s) => ({ x: (s.t - t0) / 1000, y: scale(s.metrics[name]!) })),
          MAX_POINTS_PER_SERIES,
        ),
        borderColor: colour(index),
        backgroundColor: colour(index),
        // Sparse samples (a 1 s interval over short stages) are easier to read as points.
        pointRadius: samples.length <= 300 ? 2 : 0,
        borderWidth: 2,
      }));
      const options = baseOptions(yTitle, 'seconds since the trace started');
      (options.scales as Record<string, Record<string, unknown>>).x!.type = 'linear';
      (options.plugins as Record<string, unknown>).stageMarkers = { markers };
      charts.push({
        id: `trace-${slug(system)}-${slug(instance)}${idSuffix}`,
        section: 'trace',
        title: `${title} — ${label}`,
        note,
        config: { type: 'line', data: { datasets }, options },
        flags: markers
          .filter((m) => m.ok === false)
          .map((m) => ({ series: label, category: `${m.start.toFixed(1)} s`, stage: m.stage, flag: `stage failed (${m.cellId})` })),
      });
    };
    const sizes = metricNames.filter((name) => SIZE_METRIC.test(name));
    const others = metricNames.filter((name) => !SIZE_METRIC.test(name));
    const markerNote = 'Shaded bands: stages (start to end), labelled when wide enough; red band: failed stage.';
    if (sizes.length > 0) plot(sizes, (v) => v / BYTES_PER_MB, '', 'Size over time', 'MB', `Sampled size metrics (MB = 10^6 bytes). ${markerNote}`);
    if (others.length > 0) plot(others, (v) => v, '-other', 'Other sampled metrics', 'value', `Metrics without a size unit, as the adapter reports them. ${markerNote}`);
  }
  return charts;
}

export function buildCharts(records: readonly StageRecord[], trace: readonly TraceEvent[]): ChartSpec[] {
  const ctx = contextOf(records);
  return [...edrCharts(ctx), ...physicalVsLogicalCharts(ctx), ...reclaimedCharts(ctx), ...latencyCharts(ctx), ...traceCharts(trace)];
}

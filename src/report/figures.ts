/**
 * Figures for papers (`report --figures DIR`, issue 15): every chart of report.html as SVG (vector,
 * written first) and PNG, plus one compact EDR matrix (system/variant × grade) per payload type.
 * The charts are the same ChartSpecs report.html draws (charts.ts), translated to Vega-Lite and
 * rendered in Node by Vega (SVG, no browser) and resvg (PNG from that SVG). EDR and latency use a
 * log axis; EDR figures mark the ideal EDR; every figure carries the run's caption.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import { buildCharts, seriesLabel, sortGrades, type ChartSpec, type StageMarker } from './charts.js';
import { aggregate } from './stats.js';
import { loadEnvironment, loadResults, loadTrace } from './index.js';

export interface Figure {
  /** File name without extension. */
  id: string;
  spec: TopLevelSpec;
}

interface EnvironmentFacts {
  startedAt?: string;
  tool?: { version?: string };
  node?: string;
  systems?: { system: string; instance: string; version?: string | null }[];
}

const WIDTH = 640;
const HEIGHT = 300;
const FONT = 'DejaVu Sans, sans-serif';

/** A server version string cut to its name and number ("PostgreSQL 18.7 (PGlite 0.5.17) on wasm32 …" → up to " on "). */
export function shortVersion(version: string): string {
  return version.split(/ on |, compiled|\s*\(Debian|\s*\(Ubuntu/)[0]!.trim();
}

/** The caption lines every figure carries: systems with versions, data set, runs, date. */
export function captionLines(records: readonly StageRecord[], environment: unknown): string[] {
  const env = (environment ?? {}) as EnvironmentFacts;
  const systems = [...new Set(records.map((r) => `${r.system}\u0000${r.instance}`))].map((key) => {
    const [system, instance] = key.split('\u0000') as [string, string];
    const version = env.systems?.find((s) => s.system === system && s.instance === instance)?.version;
    const name = instance !== system ? `${system}/${instance}` : system;
    return version ? `${name} (${shortVersion(version)})` : name;
  });
  const writes = records.filter((r) => r.stage === 'bulk_insert');
  const files = [...new Set(writes.map((r) => r.files))].sort((a, b) => a - b);
  const runIds = [...new Set(records.map((r) => r.runId))];
  const repetitions = Math.max(...records.map((r) => r.repetition));
  const started = env.startedAt ?? records.map((r) => r.startedAt).sort()[0] ?? '';
  return [
    `Systems: ${systems.join(', ')}.`,
    `Data set: ${[...new Set(records.map((r) => r.payloadType))].join(', ')}; grades ${sortGrades(records.map((r) => r.grade)).join(', ')}${files.length > 0 ? `; ${files.join('/')} files per set` : ''}.`,
    `Runs: ${repetitions} repetition${repetitions === 1 ? '' : 's'}, run id ${runIds.join(', ')}; ${started.slice(0, 10)}; dedup-lab ${env.tool?.version ?? ''}${env.node ? `, Node ${env.node}` : ''}.`,
  ];
}

function title(text: string, caption: string[]) {
  return { text, subtitle: caption, anchor: 'start' as const, font: FONT, subtitleFont: FONT, fontSize: 14, subtitleFontSize: 10, subtitlePadding: 4, offset: 12 };
}

const CONFIG = { font: FONT, axis: { labelFont: FONT, titleFont: FONT, labelLimit: 220 }, legend: { labelFont: FONT, titleFont: FONT, labelLimit: 320, orient: 'bottom' as const, direction: 'vertical' as const } };

interface BarRow {
  category: string;
  series: string;
  value: number;
  low: number | null;
  high: number | null;
}

/** One row per category × dataset with a number (nulls are unmeasured: no mark). */
export function barRows(chart: ChartSpec): { rows: BarRow[]; ideal: { category: string; value: number }[] } {
  const labels = chart.config.data.labels ?? [];
  const rows: BarRow[] = [];
  const ideal: { category: string; value: number }[] = [];
  for (const dataset of chart.config.data.datasets) {
    const isIdeal = dataset.type === 'line';
    dataset.data.forEach((value, index) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return;
      const category = labels[index] ?? String(index);
      if (isIdeal) ideal.push({ category, value });
      else rows.push({ category, series: dataset.label, value, low: dataset.whiskers?.[index]?.[0] ?? null, high: dataset.whiskers?.[index]?.[1] ?? null });
    });
  }
  return { rows, ideal };
}

function axisTitles(chart: ChartSpec): { x: string; y: string; logarithmic: boolean } {
  const scales = chart.config.options.scales as { x?: { title?: { text?: string } }; y?: { type?: string; title?: { text?: string } } } | undefined;
  return { x: scales?.x?.title?.text ?? '', y: scales?.y?.title?.text ?? '', logarithmic: chart.section === 'edr' || scales?.y?.type === 'logarithmic' };
}

/** Bars (linear axis) or points with min–max rules (log axis: bars have no zero there). */
function barFigure(chart: ChartSpec, caption: string[]): TopLevelSpec {
  const { rows, ideal } = barRows(chart);
  const axes = axisTitles(chart);
  // A log axis cannot show zero or negative values; they stay in the report's table of flags.
  const shown = axes.logarithmic ? rows.filter((r) => r.value > 0) : rows;
  const x = { field: 'category', type: 'nominal' as const, title: axes.x, sort: null, axis: { labelAngle: -35 } };
  const y = { field: 'value', type: 'quantitative' as const, title: axes.y, scale: axes.logarithmic ? { type: 'log' as const } : { zero: true } };
  const colour = { field: 'series', type: 'nominal' as const, title: null, sort: null };
  const layers: object[] = [
    { data: { values: shown }, mark: axes.logarithmic ? { type: 'point', filled: true, size: 60 } : { type: 'bar' }, encoding: { x, xOffset: { field: 'series', sort: null }, y, color: colour } },
    {
      data: { values: shown.filter((r) => r.low !== null && r.high !== null && (!axes.logarithmic || r.low > 0)) },
      mark: { type: 'rule', color: '#333333' },
      encoding: { x, xOffset: { field: 'series', sort: null }, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } },
    },
  ];
  if (ideal.length > 0) {
    // A tick across the category, labelled: a tick mark has no legend symbol of its own.
    const idealMarks = { data: { values: ideal.map((i) => ({ ...i, label: `ideal ${i.value.toFixed(2)}` })) }, encoding: { x, y } };
    layers.push({ ...idealMarks, mark: { type: 'tick', thickness: 3, color: '#222222', bandSize: 0.9 } });
    layers.push({ ...idealMarks, mark: { type: 'text', dy: -9, fontSize: 9, color: '#222222' }, encoding: { x, y, text: { field: 'label' } } });
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: title(chart.title, caption), width: WIDTH, height: HEIGHT, config: CONFIG, layer: layers } as TopLevelSpec;
}

/** Size over time: one line per metric, stage bands (red when the stage failed) with their names. */
function lineFigure(chart: ChartSpec, caption: string[]): TopLevelSpec {
  const axes = axisTitles(chart);
  const points = chart.config.data.datasets.flatMap((dataset) =>
    dataset.data.filter((p): p is { x: number; y: number } => typeof p === 'object' && p !== null).map((p) => ({ series: dataset.label, x: p.x, y: p.y })),
  );
  const lastX = Math.max(0, ...points.map((p) => p.x));
  const markers = (((chart.config.options.plugins as { stageMarkers?: { markers?: StageMarker[] } } | undefined)?.stageMarkers?.markers ?? []) as StageMarker[]).map((m) => ({
    stage: m.stage,
    start: m.start,
    end: m.end ?? lastX,
    failed: m.ok === false,
  }));
  const layers: object[] = [
    {
      data: { values: markers },
      mark: { type: 'rect', opacity: 0.12 },
      encoding: { x: { field: 'start', type: 'quantitative' }, x2: { field: 'end' }, color: { condition: { test: 'datum.failed', value: '#C00000' }, value: '#666666' } },
    },
    {
      // Names only on bands wide enough to hold them apart.
      data: { values: markers.filter((m) => m.end - m.start >= lastX / 40) },
      mark: { type: 'text', angle: 270, align: 'right', baseline: 'top', dx: -4, dy: 2, fontSize: 8, color: '#444444' },
      encoding: { x: { field: 'start', type: 'quantitative' }, y: { value: 0 }, text: { field: 'stage' } },
    },
    {
      data: { values: points },
      mark: { type: 'line', point: points.length <= 300 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: axes.x },
        y: { field: 'y', type: 'quantitative', title: axes.y },
        color: { field: 'series', type: 'nominal', title: null, sort: null },
      },
    },
  ];
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: title(chart.title, caption), width: WIDTH, height: HEIGHT, config: CONFIG, layer: layers } as TopLevelSpec;
}

export function chartFigure(chart: ChartSpec, caption: string[]): Figure {
  const isLine = chart.config.type === 'line' && chart.section === 'trace';
  return { id: chart.id, spec: isLine ? lineFigure(chart, caption) : barFigure(chart, caption) };
}

/** One matrix cell: mean EDR over repetitions of the headline write stage (bulk_insert). */
export function edrMatrixCells(records: readonly StageRecord[], payloadType: string): { series: string; grade: string; edr: number | null; ideal: number | null }[] {
  const showMode = new Set(records.map((r) => r.mode)).size > 1;
  const mine = records.filter((r) => r.payloadType === payloadType && r.stage === 'bulk_insert');
  const cells = new Map<string, StageRecord[]>();
  for (const record of mine) {
    const key = `${seriesLabel(record, showMode)}\u0000${record.grade}`;
    cells.set(key, [...(cells.get(key) ?? []), record]);
  }
  return [...cells].map(([key, group]) => {
    const [series, grade] = key.split('\u0000') as [string, string];
    return { series, grade, edr: aggregate(group.map((r) => r.edr))?.mean ?? null, ideal: aggregate(group.map((r) => r.idealEdr))?.mean ?? null };
  });
}

/** Compact EDR matrix (system/variant × grade) for one payload type, colour on a log scale. */
export function edrMatrixFigure(records: readonly StageRecord[], payloadType: string, caption: string[]): Figure {
  const cells = edrMatrixCells(records, payloadType);
  const grades = sortGrades(cells.map((c) => c.grade));
  const idealOf = (grade: string) => cells.find((c) => c.grade === grade && c.ideal !== null)?.ideal;
  const values = cells.map((c) => {
    const ideal = idealOf(c.grade);
    return { ...c, column: ideal == null ? c.grade : `${c.grade} (ideal ${ideal.toFixed(2)})`, label: c.edr === null ? '–' : c.edr.toFixed(2) };
  });
  const columns = grades.map((grade) => values.find((v) => v.grade === grade)!.column);
  const x = { field: 'column', type: 'nominal' as const, title: 'grade (ideal EDR)', sort: columns, axis: { orient: 'top' as const, labelAngle: 0 } };
  const y = { field: 'series', type: 'nominal' as const, title: null, sort: null };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(`EDR matrix — ${payloadType} — bulk_insert`, caption),
    config: { ...CONFIG, view: { strokeWidth: 0 }, legend: { ...CONFIG.legend, orient: 'right' as const, gradientLength: 100 } },
    width: { step: 110 },
    height: { step: 24 },
    layer: [
      {
        data: { values: values.filter((v) => v.edr !== null && v.edr > 0) },
        mark: { type: 'rect' },
        encoding: { x, y, color: { field: 'edr', type: 'quantitative', title: 'EDR (log)', scale: { type: 'log', scheme: 'blues' } } },
      },
      { data: { values }, mark: { type: 'text', fontSize: 11 }, encoding: { x, y, text: { field: 'label' } } },
    ],
  };
  return { id: `edr-matrix-${payloadType.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`, spec: spec as TopLevelSpec };
}

/** Every figure of one results dir: the report's charts, then one EDR matrix per payload type. */
export function buildFigures(records: readonly StageRecord[], trace: readonly TraceEvent[], environment: unknown): Figure[] {
  const caption = captionLines(records, environment);
  const charts = buildCharts(records, trace).map((chart) => chartFigure(chart, caption));
  const payloads = [...new Set(records.filter((r) => r.stage === 'bulk_insert').map((r) => r.payloadType))];
  return [...charts, ...payloads.map((payloadType) => edrMatrixFigure(records, payloadType, caption))];
}

/** SVG by Vega's headless SVG renderer; PNG by resvg from that SVG at twice its size (print). */
export async function renderFigure(spec: TopLevelSpec): Promise<{ svg: string; png: Buffer }> {
  const [vegaLite, vega, { Resvg }] = await Promise.all([import('vega-lite'), import('vega'), import('@resvg/resvg-js')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' } }).render().asPng();
    return { svg, png };
  } finally {
    view.finalize();
  }
}

/** Write DIR/<id>.svg and DIR/<id>.png for every figure, and DIR/captions.md; returns the SVG paths. */
export async function writeFigures(dir: string, figures: readonly Figure[], caption: string[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const figure of figures) {
    const { svg, png } = await renderFigure(figure.spec);
    const base = join(dir, figure.id);
    await writeFile(`${base}.svg`, svg);
    await writeFile(`${base}.png`, png);
    written.push(`${base}.svg`);
  }
  const list = figures.map((f) => `- ${f.id}.svg / ${f.id}.png`).join('\n');
  await writeFile(join(dir, 'captions.md'), `# Figures\n\n${caption.join(' ')}\n\n${list}\n`);
  return written;
}

/** `report --figures DIR`: the figures of one results dir; returns the SVG paths written. */
export async function writeResultFigures(resultsDir: string, dir: string): Promise<string[]> {
  const records = await loadResults(resultsDir);
  const environment = await loadEnvironment(resultsDir);
  const figures = buildFigures(records, await loadTrace(resultsDir), environment);
  return writeFigures(dir, figures, captionLines(records, environment));
}

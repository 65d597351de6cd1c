/**
 * report.html: one self-contained file that opens offline. Chart.js (MIT, well kept, canvas
 * rendering, no dependencies) is read from node_modules at build time and inlined; the chart
 * configurations are embedded as JSON; a Content-Security-Policy forbids every network fetch,
 * so a stray reference could not load anything even if one slipped in.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { StageRecord, TraceEvent } from '../experiment/record.js';
import { buildCharts, type ChartSpec } from './charts.js';
import { summaryCells, SUMMARY_COLUMNS } from './summary.js';
import { TOOL_VERSION } from '../version.js';
import { VERDICT_NOTE, verdictCells } from './verdict.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** JSON that is safe inside a <script> element (no `</script>`, no HTML comment openers). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

let chartLibrary: string | undefined;

/**
 * Chart.js's UMD build, as inlined into the page. Its licence banners carry two web addresses;
 * only their scheme is removed (the notices stay), so the file holds no URL a browser could follow.
 */
export function chartLibrarySource(): string {
  if (chartLibrary !== undefined) return chartLibrary;
  const require = createRequire(import.meta.url);
  const path = join(dirname(require.resolve('chart.js')), 'chart.umd.js');
  const source = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/https?:\/\//g, ''));
  if (/https?:\/\//.test(source) || /<\/script/i.test(source)) {
    throw new Error(`${path} contains a URL or </script> outside its comments; it cannot be inlined as is`);
  }
  chartLibrary = source;
  return source;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header,main{max-width:1280px;margin:0 auto;padding:0 20px}
header{padding-top:18px}h1{font-size:24px;margin:0 0 4px}h2{margin:32px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin:0 0 6px}.meta{color:#555}nav a{margin-right:14px}
figure{background:#fff;border:1px solid #e2e2e2;border-radius:6px;margin:14px 0;padding:12px 14px}
.chart-box{position:relative;height:380px}figcaption{color:#555;font-size:12.5px;margin-top:6px}
.table-wrap{overflow-x:auto;background:#fff;border:1px solid #e2e2e2;border-radius:6px}
table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{padding:3px 8px;border-bottom:1px solid #eee;white-space:nowrap;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2;position:sticky;top:0}
td.flag-bad,.flags td.flag{color:#a00000;font-weight:600;white-space:normal;min-width:22em}td.flag-ok{color:#2a7a2a}
table.flags{margin-top:8px;border:1px solid #f0c8c8;background:#fff7f7}
.swatch{display:inline-block;width:14px;height:10px;margin:0 4px 0 10px;opacity:.45;border:1px solid #999}
.failed li{color:#a00000}details{margin:8px 0}pre{background:#fff;border:1px solid #e2e2e2;padding:8px;overflow:auto;font-size:12px}
`;

/** Draws min–max whiskers and stage bands; kept small and dependency-free. */
const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var STAGE_COLOURS = data.stageColours;
  var whiskers = {
    id: 'whiskers',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (dataset, index) {
        if (!dataset.whiskers || !chart.isDatasetVisible(index)) return;
        chart.getDatasetMeta(index).data.forEach(function (bar, point) {
          var range = dataset.whiskers[point];
          if (!range) return;
          var top = y.getPixelForValue(range[1]), bottom = y.getPixelForValue(range[0]);
          var cap = Math.max(2, Math.min(6, (bar.width || 8) / 4));
          ctx.save(); ctx.strokeStyle = '#222'; ctx.lineWidth = 1.2; ctx.beginPath();
          ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
          ctx.moveTo(bar.x - cap, top); ctx.lineTo(bar.x + cap, top);
          ctx.moveTo(bar.x - cap, bottom); ctx.lineTo(bar.x + cap, bottom);
          ctx.stroke(); ctx.restore();
        });
      });
    }
  };
  var stageMarkers = {
    id: 'stageMarkers',
    beforeDatasetsDraw: function (chart, args, options) {
      if (!options || !options.markers || !options.markers.length) return;
      var ctx = chart.ctx, area = chart.chartArea, x = chart.scales.x;
      ctx.save();
      ctx.beginPath(); ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top); ctx.clip();
      ctx.font = '10px sans-serif'; ctx.textBaseline = 'top';
      options.markers.forEach(function (marker) {
        var left = x.getPixelForValue(marker.start);
        var right = x.getPixelForValue(marker.end === null ? marker.start : marker.end);
        var colour = marker.ok === false ? '#C00000' : (STAGE_COLOURS[marker.stage] || '#777777');
        ctx.globalAlpha = marker.ok === false ? 0.25 : 0.13; ctx.fillStyle = colour;
        ctx.fillRect(left, area.top, Math.max(1, right - left), area.bottom - area.top);
        ctx.globalAlpha = 0.8; ctx.strokeStyle = colour; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(left, area.top); ctx.lineTo(left, area.bottom); ctx.stroke();
        var text = marker.stage.replace('perfile_', 'pf_');
        if (right - left > ctx.measureText(text).width + 4) { ctx.globalAlpha = 1; ctx.fillStyle = '#333'; ctx.fillText(text, left + 2, area.top + 2); }
      });
      ctx.restore();
    }
  };
  Chart.register(whiskers, stageMarkers);
  var charts = {};
  data.charts.forEach(function (spec) {
    charts[spec.id] = new Chart(document.getElementById('chart-' + spec.id), spec.config);
  });
  window.dedupLabCharts = charts;
  document.body.setAttribute('data-charts-ready', String(data.charts.length));
})();
`;

/** Colours of the stage bands in the trace charts (shared by the legend and the page script). */
const STAGE_COLOURS: Record<string, string> = {
  bulk_insert: '#0072B2',
  compaction: '#E69F00',
  perfile_insert: '#009E73',
  perfile_delete: '#CC79A7',
  maintenance: '#56B4E9',
};

function stageLegend(): string {
  const swatches = Object.entries(STAGE_COLOURS).map(
    ([stage, colour]) => `<span class="swatch" style="background:${colour}"></span>${escapeHtml(stage)}`,
  );
  return `<p class="legend">Stage bands: ${swatches.join(' ')} <span class="swatch" style="background:#C00000"></span>failed stage</p>`;
}

const SECTIONS: { id: ChartSpec['section']; title: string; intro: string }[] = [
  { id: 'edr', title: 'EDR by system and variant × grade', intro: 'Effective deduplication ratio per payload type and write stage.' },
  { id: 'bytes', title: 'Physical vs logical bytes', intro: 'What the stored payload cost on the primary probe.' },
  { id: 'reclaimed', title: 'Bytes reclaimed by delete and by maintenance', intro: 'How much space deletes gave back by themselves, and how much the system’s maintenance operation gave back after them.' },
  { id: 'latency', title: 'Latency of per-file stages', intro: 'Percentiles of one-file-at-a-time operations.' },
  { id: 'trace', title: 'Size over time (trace)', intro: 'Samples from trace.jsonl on one time axis, with the stages marked.' },
];

function flagsTable(chart: ChartSpec): string {
  if (chart.flags.length === 0) return '';
  const rows = chart.flags
    .map((f) => `<tr><td>${escapeHtml(f.series)}</td><td>${escapeHtml(f.category)}</td><td>${escapeHtml(f.stage)}</td><td class="flag">${escapeHtml(f.flag)}</td></tr>`)
    .join('');
  return `<table class="flags"><thead><tr><th>series</th><th>point</th><th>stage</th><th>flag</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function summaryTable(records: readonly StageRecord[]): string {
  const { headers, rows } = summaryCells(records);
  const body = rows
    .map((row) => {
      const cells = row.map((cell, index) => {
        const column = SUMMARY_COLUMNS[index]!;
        const css = column.header === 'flag' ? (cell === 'ok' ? 'flag-ok' : 'flag-bad') : column.numeric ? 'num' : '';
        return `<td${css ? ` class="${css}"` : ''}>${escapeHtml(cell)}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table id="summary-table"><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** The answer table: where deduplication happens, one row per system/variant/mode/payload. */
function answerSection(records: readonly StageRecord[]): string {
  const cells = verdictCells(records);
  if (!cells) return '';
  const head = cells.headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('');
  const body = cells.rows
    .map((row) => `<tr>${row.map((cell, index) => `<td${cells.numeric[index] ? ' class="num"' : ''}>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  const note = VERDICT_NOTE.split('\n').map(escapeHtml).join(' ');
  return `<section id="answer"><h2>Where does deduplication happen?</h2><p class="meta">${note}</p><div class="table-wrap"><table id="answer-table"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div></section>`;
}

export interface HtmlReportInput {
  records: readonly StageRecord[];
  trace: readonly TraceEvent[];
  /** environment.json as stored (already redacted by the runner; redacted again by the caller). */
  environment?: unknown;
  generatedAt?: Date;
}

export function renderHtmlReport(input: HtmlReportInput): string {
  const { records, trace } = input;
  const charts = buildCharts(records, trace);
  const runIds = [...new Set(records.map((r) => r.runId))];
  const failed = records.filter((r) => r.error);
  const sections = SECTIONS.map((section) => {
    const mine = charts.filter((chart) => chart.section === section.id);
    const figures = mine
      .map(
        (chart) =>
          `<figure id="figure-${chart.id}"><h3>${escapeHtml(chart.title)}</h3><div class="chart-box"><canvas id="chart-${chart.id}" role="img" aria-label="${escapeHtml(chart.title)}"></canvas></div><figcaption>${escapeHtml(chart.note)}</figcaption>${flagsTable(chart)}</figure>`,
      )
      .join('\n');
    const empty = section.id === 'trace' ? 'No trace samples were recorded.' : 'No results for this chart.';
    return `<section id="${section.id}"><h2>${escapeHtml(section.title)}</h2><p>${escapeHtml(section.intro)}</p>${section.id === 'trace' && figures ? stageLegend() : ''}${figures || `<p class="meta">${empty}</p>`}</section>`;
  }).join('\n');
  const failures =
    failed.length === 0
      ? ''
      : `<section id="failures"><h2>Failed stages</h2><ul class="failed">${failed
          .map((r) => `<li><code>${escapeHtml(r.cellId)}</code> ${escapeHtml(r.stage)} (attempt ${r.attempt}): ${escapeHtml(`${r.error!.kind}: ${r.error!.message}`)}</li>`)
          .join('')}</ul></section>`;
  const environment =
    input.environment === undefined
      ? ''
      : `<details><summary>Environment (environment.json)</summary><pre>${escapeHtml(JSON.stringify(input.environment, null, 2))}</pre></details>`;
  const generatedAt = (input.generatedAt ?? new Date()).toISOString();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dedup-lab report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>dedup-lab report</h1>
<p class="meta">${records.length} stage records · run ${runIds.map(escapeHtml).join(', ') || '(none)'} · generated ${escapeHtml(generatedAt)} by dedup-lab ${escapeHtml(TOOL_VERSION)}</p>
<nav><a href="#answer">Answer</a><a href="#summary">Summary</a>${SECTIONS.map((s) => `<a href="#${s.id}">${escapeHtml(s.title.split(' ')[0]!)}${s.id === 'edr' ? '' : '…'}</a>`).join('')}</nav>
${environment}
</header>
<main>
${answerSection(records)}
<section id="summary"><h2>Summary</h2><p class="meta">One row per system/variant/mode/payload/grade/stage. Several runs read mean ± sample sd [min–max]. MB = 10^6 bytes; latency in ms; flags in red.</p>${summaryTable(records)}</section>
${sections}
${failures}
</main>
<script>${chartLibrarySource()}</script>
<script type="application/json" id="report-data">${jsonForScript({ charts, stageColours: STAGE_COLOURS })}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

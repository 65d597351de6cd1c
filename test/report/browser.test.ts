/**
 * report.html in a real browser (headless Chromium from Debian, driven by playwright-core):
 * every chart renders with data, no console errors, no network request other than the file
 * itself, and a screenshot kept in test-artifacts/ for a person to look at.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { writeReports } from '../../src/report/index.js';
import { writeSampleResultsDir } from './sample-results.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
let browser: Browser;

before(async () => {
  // Installs Debian's chromium when missing; prints its path.
  const executablePath = execFileSync('bash', [join(ROOT, 'scripts/browser.sh')], { encoding: 'utf8' }).trim().split('\n').pop()!;
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
});

interface ChartCheck {
  id: string;
  type: string;
  datasets: number;
  drawnPoints: number;
  paintedPixels: number;
}

/** Open the report, check it, screenshot it; returns what each chart drew. */
export async function checkReport(htmlPath: string, screenshot: string): Promise<{ charts: ChartCheck[]; canvases: number; console: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const fileUrl = pathToFileURL(htmlPath).href;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(fileUrl, { waitUntil: 'load' });
  await page.waitForSelector('body[data-charts-ready]', { timeout: 30_000 });
  const result = await page.evaluate(() => {
    interface ChartLike {
      config: { type: string };
      canvas: HTMLCanvasElement;
      data: { datasets: unknown[] };
      getDatasetMeta(index: number): { data: { x: number; y: number; skip?: boolean }[]; hidden: boolean | null };
    }
    const charts = (window as unknown as { dedupLabCharts: Record<string, ChartLike> }).dedupLabCharts;
    return {
      canvases: document.querySelectorAll('canvas').length,
      charts: Object.entries(charts).map(([id, chart]) => {
        let drawnPoints = 0;
        chart.data.datasets.forEach((_, index) => {
          for (const element of chart.getDatasetMeta(index).data) {
            if (!element.skip && Number.isFinite(element.x) && Number.isFinite(element.y)) drawnPoints += 1;
          }
        });
        // Pixels that differ from a blank (transparent) canvas.
        const context = chart.canvas.getContext('2d')!;
        const pixels = context.getImageData(0, 0, chart.canvas.width, chart.canvas.height).data;
        let paintedPixels = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) paintedPixels += 1;
        return { id, type: chart.config.type, datasets: chart.data.datasets.length, drawnPoints, paintedPixels };
      }),
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();
  return { ...result, console: consoleErrors, requests: requests.filter((url) => url !== fileUrl) };
}

function assertAllChartsDrawn(charts: ChartCheck[], canvases: number): void {
  assert.equal(charts.length, canvases, 'every canvas has a chart');
  for (const chart of charts) {
    assert.ok(chart.datasets > 0, `${chart.id}: no datasets`);
    assert.ok(chart.drawnPoints > 0, `${chart.id}: no data point drawn`);
    assert.ok(chart.paintedPixels > 2000, `${chart.id}: canvas looks blank (${chart.paintedPixels} painted pixels)`);
  }
}

test('report.html of a multi-system results dir renders every chart offline, without errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-browser-'));
  writeSampleResultsDir(dir, 2);
  const { reportHtml } = await writeReports(dir);
  const html = readFileSync(reportHtml, 'utf8');
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'no external src/href');
  assert.doesNotMatch(html, /https?:\/\//i, 'no URL anywhere in the file');
  assert.doesNotMatch(html, /hunter2-secret/, 'secrets from environment.json are redacted');

  const { charts, canvases, console, requests } = await checkReport(reportHtml, join(ARTIFACTS, 'report.png'));
  assert.deepEqual(console, []);
  assert.deepEqual(requests, []);
  assertAllChartsDrawn(charts, canvases);
  const sections = new Set(charts.map((c) => c.id.split('-')[0]));
  assert.deepEqual([...sections].sort(), ['bytes', 'edr', 'latency', 'reclaimed', 'trace']);
  // 2 payload types × 3 write stages of EDR; one trace chart of sizes and one of other metrics per instance.
  assert.equal(charts.filter((c) => c.id.startsWith('edr-')).length, 6);
  assert.equal(charts.filter((c) => c.id.startsWith('trace-')).length, 8);
  // Flags are visible in the page, not only in the data.
  assert.match(html, /implausible: EDR 14\.20/);
  assert.match(html, /unmeasurable: internal probe read failed/);
  assert.match(html, /Redis has no space-reclaiming command/);
  // The answer table comes first: 4 systems × 2 payload types.
  const answer = /<table id="answer-table">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
  assert.ok(html.indexOf('id="answer"') < html.indexOf('id="summary"'));
  assert.equal(answer.match(/<tr>/g)?.length, 1 + 8);
  assert.match(answer, /<td>sqlite<\/td><td>default<\/td><td>blob<\/td><td>random_binary<\/td><td>system<\/td>.*<td class="num">0 % → 99 %<\/td>.*<td>no dedup; deletes grew the disk by 1 %; maintenance returns it<\/td>/);
});

test('report.html of a real run (sqlite + duckdb, 2 runs, trace at 100 ms) renders every chart, offline', async () => {
  const work = mkdtempSync(join(tmpdir(), 'dedup-lab-browser-run-'));
  const resultsDir = join(work, 'results');
  const run = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/dedup-lab.js'),
      'run',
      '--systems', 'sqlite,duckdb',
      '--payload-types', 'random_binary,text_document',
      '--grades', 'U0,U90',
      '--files', '16',
      '--min-size', '4096',
      '--max-size', '16384',
      '--runs', '2',
      '--trace-interval', '100',
      '--results-dir', resultsDir,
      '--data-dir', join(work, 'data'),
    ],
    { encoding: 'utf8', cwd: work },
  );
  assert.equal(run.status, 0, run.stderr);
  // The stdout table aggregates the two runs as mean ± sd [min–max].
  assert.match(run.stdout, /^system\s+variant/m);
  assert.match(run.stdout, /\d ± \d[^\n]*\[/);
  assert.match(readFileSync(join(resultsDir, 'summary.md'), 'utf8'), /\| sqlite \| default \| blob \| random_binary \| U0 \| bulk_insert \| 2 \|/);
  const reportHtml = join(resultsDir, 'report.html');
  assert.doesNotMatch(readFileSync(reportHtml, 'utf8'), /https?:\/\//i);

  const { charts, canvases, console, requests } = await checkReport(reportHtml, join(ARTIFACTS, 'report-real-run.png'));
  assert.deepEqual(console, []);
  assert.deepEqual(requests, []);
  assertAllChartsDrawn(charts, canvases);
  const ids = charts.map((c) => c.id);
  for (const id of ['edr-random-binary-bulk-insert', 'edr-text-document-perfile-insert', 'bytes-text-document', 'reclaimed-random-binary', 'latency-perfile-insert', 'latency-perfile-delete', 'trace-sqlite-sqlite', 'trace-duckdb-duckdb']) {
    assert.ok(ids.includes(id), `chart ${id} missing; have ${ids.join(', ')}`);
  }
});

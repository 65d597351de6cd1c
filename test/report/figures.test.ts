/**
 * `report --figures DIR` (issue 15): a real sqlite run, then the real CLI writes every chart of
 * report.html as SVG and PNG plus one EDR matrix per payload type; the files are parsed and checked.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { embeddedConfig, runCli, runInProcess, tempDir } from '../experiment/helpers.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { buildCharts } from '../../src/report/charts.js';
import { buildFigures } from '../../src/report/figures.js';
import { loadTrace } from '../../src/report/index.js';

let resultsDir = '';
let figuresDir = '';
let records: StageRecord[] = [];

/** The text content of every <text> element of an SVG, one entry per line (<tspan>). */
const svgTexts = (svg: string) =>
  [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/g)]
    .flatMap((m) => m[1]!.split(/<\/tspan>/))
    .map((line) => line.replace(/<[^>]+>/g, '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'))
    .filter(Boolean);
const svgSize = (svg: string) => {
  const match = /<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg)!;
  return { width: Number(match[1]), height: Number(match[2]) };
};
/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

before(async () => {
  const dir = tempDir('figures');
  const cli = { systems: 'sqlite', payloadTypes: 'random_binary,text_document', grades: 'U0,U50', files: '12', minSize: '4KiB', maxSize: '16KiB', traceInterval: '100' };
  ({ records, resultsDir } = await runInProcess({ config: embeddedConfig(join(dir, 'lab'), ['sqlite']), cli, dataDir: join(dir, 'data'), resultsDir: join(dir, 'results') }));
  figuresDir = join(dir, 'figures');
  const result = await runCli(['report', resultsDir, '--figures', figuresDir]);
  assert.equal(result.code, 0, result.stderr);
});

test('every chart of report.html is written as SVG and PNG, plus an EDR matrix per payload type', async () => {
  const charts = buildCharts(records, await loadTrace(resultsDir));
  const sections = new Set(charts.map((c) => c.section));
  for (const section of ['edr', 'bytes', 'reclaimed', 'latency', 'trace']) assert.ok(sections.has(section as never), `the run has a ${section} chart`);
  const ids = [...charts.map((c) => c.id), 'edr-matrix-random-binary', 'edr-matrix-text-document'];
  for (const id of ids) {
    const svg = readFileSync(join(figuresDir, `${id}.svg`), 'utf8');
    const png = readFileSync(join(figuresDir, `${id}.png`));
    assert.doesNotThrow(() => new Resvg(svg), `${id}.svg parses`);
    const texts = svgTexts(svg).join('\n');
    // The caption: systems with versions, data set, runs, date.
    assert.match(texts, /Systems: sqlite \(SQLite 3\.\d+/, id);
    assert.match(texts, /Data set: random_binary, text_document; grades U0, U50; 12 files per set/, id);
    assert.ok(texts.includes(`run id ${records[0]!.runId}`) && texts.includes(records[0]!.startedAt.slice(0, 10)), id);
    const title = charts.find((c) => c.id === id)?.title;
    if (title) assert.ok(texts.includes(title), `${id} has its title`);
    const { width, height } = svgSize(svg);
    assert.deepEqual(pngSize(png), { width: width * 2, height: height * 2 }, `${id}.png is the SVG at twice its size`);
  }
  assert.ok(existsSync(join(figuresDir, 'captions.md')));
});

test('EDR figures use a log axis and mark the ideal; the matrix shows every series × grade', () => {
  const figures = buildFigures(records, [], undefined);
  const edr = figures.find((f) => f.id === 'edr-random-binary-bulk-insert')!;
  assert.equal((edr.spec as { layer: { encoding: { y: { scale: { type?: string } } } }[] }).layer[0]!.encoding.y.scale.type, 'log');
  const edrTexts = svgTexts(readFileSync(join(figuresDir, 'edr-random-binary-bulk-insert.svg'), 'utf8'));
  const ideal = records.find((r) => r.stage === 'bulk_insert' && r.payloadType === 'random_binary' && r.grade === 'U50')!.idealEdr;
  assert.ok(edrTexts.includes(`ideal ${ideal.toFixed(2)}`), edrTexts.join('|'));
  const matrix = svgTexts(readFileSync(join(figuresDir, 'edr-matrix-text-document.svg'), 'utf8'));
  assert.ok(matrix.includes('sqlite · default'));
  for (const grade of ['U0', 'U50']) {
    const record = records.find((r) => r.stage === 'bulk_insert' && r.payloadType === 'text_document' && r.grade === grade)!;
    assert.ok(matrix.includes(`${grade} (ideal ${record.idealEdr.toFixed(2)})`), matrix.join('|'));
    assert.ok(matrix.includes(record.edr === null ? '–' : record.edr.toFixed(2)), `${grade} EDR ${record.edr} shown`);
  }
});

test('--figures naming a file is refused with one line and exit code 2', async () => {
  const file = join(tempDir('figures-bad'), 'a-file');
  writeFileSync(file, '');
  const result = await runCli(['report', resultsDir, '--figures', file]);
  assert.equal(result.code, 2);
  assert.match(result.stderr.trim(), /^error: --figures ".*a-file" is a file; give a dir \(created when missing\)$/);
});

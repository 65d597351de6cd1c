import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatAggregate,
  formatNumber,
  groupFlags,
  groupRecords,
  visibleFlag,
  renderTextTable,
  summaryCells,
} from '../../src/report/summary.js';
import { aggregate } from '../../src/report/stats.js';
import { SPACE_STAGE_REASON } from '../../src/measure/probe-results.js';
import { renderSummaryTable, writeReports } from '../../src/report/index.js';
import { makeCell } from './fixtures.js';

test('formatAggregate: single value, mean ± sd [min–max], missing runs', () => {
  assert.equal(formatAggregate(aggregate([2.345]), 2), '2.35');
  assert.equal(formatAggregate(aggregate([1, 2, 3]), 2), '2.00 ± 1.00 [1.00–3.00]');
  assert.equal(formatAggregate(aggregate([1, null, 3]), 1), '2.0 ± 1.4 [1.0–3.0] (n=2/3)');
  assert.equal(formatAggregate(aggregate([null])), '—');
  assert.equal(formatAggregate(aggregate([30, 30, 30]), 0), '30');
  assert.equal(formatAggregate(aggregate([30, null, 30]), 0), '30 ± 0 [30–30] (n=2/3)');
  assert.equal(formatNumber(-0.0001, 2), '0.00');
  assert.equal(formatNumber(1234.5), '1235');
  assert.equal(formatNumber(0.01234), '0.012');
});

test('repetitions are grouped into one row per stage with mean ± sd', () => {
  const records = [1, 2, 3].flatMap((repetition) =>
    makeCell({ system: 'sqlite', grade: 'U50', repetition, costPerByte: 1 + repetition / 100 }),
  );
  const groups = groupRecords(records);
  assert.equal(groups.length, 5);
  assert.deepEqual(groups.map((g) => g.stage), ['bulk_insert', 'compaction', 'perfile_insert', 'perfile_delete', 'maintenance']);
  assert.ok(groups.every((g) => g.records.length === 3));
  const { headers, rows } = summaryCells(records);
  const bulk = rows[0]!;
  const edrs = records.filter((r) => r.stage === 'bulk_insert').map((r) => r.edr!);
  const expected = aggregate(edrs)!;
  assert.equal(bulk[headers.indexOf('EDR')], formatAggregate(expected, 2));
  assert.match(bulk[headers.indexOf('EDR')]!, /^\d\.\d\d ± \d\.\d\d \[\d\.\d\d–\d\.\d\d\]$/);
  assert.equal(bulk[headers.indexOf('runs')], '3');
  // Per-file latency only on per-file stages; reclaimed only on delete/maintenance.
  assert.equal(bulk[headers.indexOf('p50 ms')], '—');
  assert.equal(rows[2]![headers.indexOf('p50 ms')], '0.180'); // identical in every run: no spread shown
  assert.equal(rows[0]![headers.indexOf('reclaimed MB')], '—');
  assert.match(rows[4]![headers.indexOf('reclaimed MB')]!, /±/);
});

test('flags are visible: implausible, unmeasurable with reason, failures, per-run counts', () => {
  const records = [1, 2].flatMap((repetition) => makeCell({ system: 'pglite', repetition }));
  records[0] = { ...records[0]!, edr: 100, edrFlag: { status: 'implausible', reason: 'EDR 100 > 1 × 1.0 × 1.25' } };
  records[7] = { ...records[7]!, edr: null, edrFlag: { status: 'unmeasurable', reason: 'physical delta 0 ≤ 0' } };
  records[9] = { ...records[9]!, error: { kind: 'stage', message: 'VACUUM refused' } };
  const groups = groupRecords(records);
  assert.deepEqual(groupFlags(groups[0]!.records), ['implausible: EDR 100 > 1 × 1.0 × 1.25 (1/2 runs)']);
  assert.deepEqual(groupFlags(groups[2]!.records), ['unmeasurable: physical delta 0 ≤ 0 (1/2 runs)']);
  assert.deepEqual(groupFlags(groups[4]!.records), ['failed: stage: VACUUM refused (1/2 runs)']);
  // Delete rows are not-applicable by nature and carry no noise, unless something is added.
  assert.deepEqual(groupFlags(groups[3]!.records), []);
  const spaceStage = { status: 'not-applicable' as const, reason: SPACE_STAGE_REASON };
  assert.equal(visibleFlag(spaceStage), null);
  assert.equal(visibleFlag({ ...spaceStage, reason: `${SPACE_STAGE_REASON}; probe did not settle` }), 'probe did not settle');
  assert.equal(visibleFlag({ status: 'not-applicable', reason: 'Redis has no space-reclaiming command' }), 'not-applicable: Redis has no space-reclaiming command');
  const table = renderTextTable(records);
  assert.match(table, /implausible: EDR 100/);
  assert.match(table, /unmeasurable: physical delta 0/);
  assert.match(table, /n=1\/2/); // the unmeasurable run has no EDR
});

test('the text table aligns columns and names systems with their instance when it differs', () => {
  const records = [
    ...makeCell({ system: 'postgresql', instance: 'pg-ssd', variant: 'lz4', grade: 'U90', payloadType: 'text_document' }),
    ...makeCell({ system: 'sqlite' }),
  ];
  const lines = renderSummaryTable(records).split('\n\n')[0]!.split('\n');
  assert.equal(lines.length, 2 + 10);
  assert.match(lines[2]!, /^postgresql\/pg-ssd\s+lz4\s+blob\s+text_document\s+U90\s+bulk_insert/);
  assert.match(lines[7]!, /^sqlite\s+default/);
  // Right-aligned numeric columns end at the same character position in every line.
  const headerEnd = lines[0]!.indexOf('EDR') + 'EDR'.length;
  for (const line of lines.slice(2, 5)) assert.match(line.slice(headerEnd - 4, headerEnd), /\d\.\d\d| {3}—/);
});

test('writeReports writes results.json, results.csv, summary.md and report.html from results.jsonl', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-report-'));
  const records = [
    ...makeCell({ system: 'sqlite', grade: 'U0' }),
    ...makeCell({ system: 'sqlite', grade: 'U90' }),
    ...makeCell({ system: 'duckdb', grade: 'U90', attempt: 1 }).slice(0, 2),
    ...makeCell({ system: 'duckdb', grade: 'U90', attempt: 2 }),
  ];
  writeFileSync(join(dir, 'results.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n{"runId":"torn`);
  const paths = await writeReports(dir);
  const json = JSON.parse(readFileSync(paths.resultsJson, 'utf8')) as { attempt: number }[];
  assert.equal(json.length, 15);
  assert.ok(json.slice(10).every((r) => r.attempt === 2));
  const csvLines = readFileSync(paths.resultsCsv, 'utf8').trimEnd().split('\r\n');
  assert.equal(csvLines.length, 16);
  const markdown = readFileSync(paths.summaryMd, 'utf8');
  assert.match(markdown, /^# dedup-lab results/);
  assert.match(markdown, /\| system \| variant \| mode \|/);
  // Summary (15 stage rows) + EDR by probe (9 write-stage rows) + where dedup happens (2 rows).
  assert.equal(markdown.split('\n').filter((line) => line.startsWith('| sqlite') || line.startsWith('| duckdb')).length, 15 + 9 + 2);
  assert.match(readFileSync(paths.reportHtml, 'utf8'), /<html/);
});

test('writeReports refuses a dir without results.jsonl', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-report-'));
  await assert.rejects(writeReports(dir), /no results\.jsonl/);
});

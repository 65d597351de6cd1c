import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StageRecord } from '../../src/experiment/record.js';
import { renderSummaryTable } from '../../src/report/index.js';
import { renderSummaryMarkdown } from '../../src/report/markdown.js';
import { classifyShare, dedupShare, dedupVerdicts, formatFreed, formatGradeEdr, reclaimWording, verdictText } from '../../src/report/verdict.js';
import { makeCell, type CellSpec } from './fixtures.js';

const GRADES = ['U0', 'U50', 'U90'];

function cells(spec: Omit<CellSpec, 'grade'>, grades = GRADES): StageRecord[] {
  return grades.flatMap((grade) => makeCell({ ...spec, grade }));
}

test('dedupShare is the log-scale share of the possible dedup, with compression factored out', () => {
  assert.equal(dedupShare(10, 1, 10), 1);
  assert.equal(dedupShare(1, 1, 10), 0);
  assert.ok(Math.abs((dedupShare(2, 1, 10) as number) - Math.log(2) / Math.log(10)) < 1e-12);
  // A compressing system that also stores each copy once: EDR = compression × ideal → 100 %.
  assert.ok(Math.abs((dedupShare(2 * 9.73, 2, 9.73) as number) - 1) < 1e-12);
  // Random data in PGlite (measured): 0.93 at U90 against 0.94 at U0 → about 0 %.
  assert.ok(Math.abs(dedupShare(0.93, 0.94, 11.89) as number) < 0.01);
  assert.equal(dedupShare(1.5, 1, 1.2), null, 'an ideal EDR this close to 1 cannot be judged');
  assert.equal(dedupShare(null, 1, 10), null);
  assert.equal(dedupShare(5, null, 10), null);
  assert.equal(dedupShare(0, 1, 10), null);
});

test('shares are classified at 80 % and 15 %', () => {
  assert.equal(classifyShare(0.97), 'dedup');
  assert.equal(classifyShare(0.8), 'dedup');
  assert.equal(classifyShare(0.5), 'partial');
  assert.equal(classifyShare(0.15), 'partial');
  assert.equal(classifyShare(0.05), 'none');
  assert.equal(classifyShare(-0.1), 'none');
});

test('verdict text says where dedup happens and what compression does', () => {
  assert.equal(verdictText(0.01, 0.02, 0.94), 'no dedup');
  assert.equal(verdictText(0.99, 0.99, 1), 'dedup at ingest (99 % of ideal)');
  assert.equal(verdictText(0.02, 0.98, 1), 'dedup at compaction (98 % of ideal; 2 % at ingest)');
  assert.equal(verdictText(0.4, 0.45, 2.05), 'partial dedup at ingest (45 % of ideal); compresses 2.0×');
  assert.equal(verdictText(null, null, 0.5), '— (needs U0 and a duplicated grade); stores 2.0× the bytes');
});

test('a system storing every copy gets "no dedup", a content-keyed one "dedup at ingest"; reclamation shares follow the probes', () => {
  const records = [
    ...cells({ system: 'sqlite', costPerByte: 1.04, maintenanceReclaims: 0.99 }),
    ...cells({ system: 'redis', variant: 'by-content', costPerByte: 1.3, dedups: true, maintenanceReclaims: 0 }),
    ...cells({ system: 'pglite', payloadType: 'text_document', costPerByte: 0.45, maintenanceReclaims: 0.95 }),
  ];
  const [sqlite, redis, pglite] = dedupVerdicts(records);
  assert.equal(sqlite?.verdict, 'no dedup');
  assert.ok(Math.abs(sqlite?.atRestShare as number) < 0.02);
  assert.equal(sqlite?.freedByDelete, 0, 'the fixture keeps the pages on delete');
  assert.ok(Math.abs((sqlite?.freedAfterMaintenance as number) - 0.99) < 0.001);
  // 1.3 × 0.97 physical bytes per logical byte at rest: shown as overhead.
  assert.equal(redis?.verdict, 'dedup at ingest (100 % of ideal); stores 1.3× the bytes');
  assert.ok(Math.abs((redis?.compression as number) - 1 / (1.3 * 0.97)) < 0.01, 'compression is read at rest (after compaction)');
  // 1 / (0.45 × 0.97) at rest.
  assert.equal(pglite?.verdict, 'no dedup; compresses 2.3×');
  assert.deepEqual(sqlite?.grades.map((grade) => grade.grade), GRADES);
});

test('dedup that only compaction brings (ClickHouse replacing, Kafka compact) is reported as such', () => {
  const records = cells({ system: 'clickhouse', variant: 'replacing', costPerByte: 1 });
  for (const record of records.filter((r) => r.stage === 'compaction' && r.grade !== 'U0')) record.edr = record.idealEdr * 0.99;
  const [verdict] = dedupVerdicts(records);
  // At rest U0 stores 0.97 bytes per byte (EDR 1.03), so 9.90 at U90 is ln(9.90 / 1.03) / ln(10) = 98 %.
  assert.equal(verdict?.verdict, 'dedup at compaction (98 % of ideal; 0 % at ingest)');
  const u90 = verdict?.grades.find((grade) => grade.grade === 'U90');
  assert.ok(u90);
  assert.equal(formatGradeEdr(u90), '1.00→9.90');
});

test('without U0 there is no compression baseline: the verdict says what is missing', () => {
  const [verdict] = dedupVerdicts(cells({ system: 'duckdb' }, ['U50', 'U90']));
  assert.equal(verdict?.verdict, '— (needs U0 and a duplicated grade)');
});

test('failed stages are left out of the answer', () => {
  const records = cells({ system: 'redis', variant: 'by-content', dedups: true });
  const failed = records.find((r) => r.stage === 'bulk_insert' && r.grade === 'U90')!;
  failed.error = { kind: 'write', message: 'OOM' };
  failed.edr = 55;
  const text = renderSummaryTable(records);
  const answer = text.slice(text.indexOf('Where does deduplication happen?'));
  assert.match(answer, /\nredis +by-content +blob +random_binary +system +[\d.]+ +[\d.]+ +[\d.]+ /);
  assert.doesNotMatch(answer, /55\.00/);
});

test('stdout and summary.md carry the answer table after / before the detailed table', () => {
  const records = [...cells({ system: 'sqlite' }), ...cells({ system: 'redis', variant: 'by-content', dedups: true })];
  const text = renderSummaryTable(records);
  const answer = text.indexOf('Where does deduplication happen?');
  assert.ok(answer > text.indexOf('perfile_delete'), 'after the detailed table');
  assert.match(text.slice(answer), /\nsqlite +default +blob +random_binary +system +[\d.]+ +[\d.]+ +[\d.]+ +0 % → 98 % +-1 % → 97 % +no dedup; deletes grew the disk by 1 %; maintenance returns it\n/);
  assert.match(text.slice(answer), /\nredis +by-content +blob +random_binary .* dedup at ingest \(100 % of ideal\); deletes grew the disk by 3 %; maintenance returns it\n/);
  const markdown = renderSummaryMarkdown(records);
  assert.ok(markdown.indexOf('## Where does deduplication happen?') < markdown.indexOf('## Summary'));
  assert.match(markdown, /\| sqlite \| default \| blob \| random_binary \| system \|.*\| no dedup; deletes grew the disk by 1 %; maintenance returns it \|/);
});

test('an implausible EDR is never used for the answer', () => {
  const records = cells({ system: 'redis', variant: 'by-content', dedups: true });
  for (const record of records.filter((r) => r.grade === 'U90' && (r.stage === 'bulk_insert' || r.stage === 'compaction'))) {
    record.edr = 14.2;
    record.edrFlag = { status: 'implausible', reason: 'EDR 14.20 > ideal 10.00 × compressibility 1.00 × 1.25' };
  }
  const [verdict] = dedupVerdicts(records);
  assert.equal(verdict?.grades.find((grade) => grade.grade === 'U90')?.atRest, null);
  // The verdict then rests on U50, the most duplicated grade with a usable EDR.
  assert.equal(verdict?.verdict, 'dedup at ingest (100 % of ideal)');
  assert.equal(formatGradeEdr(verdict!.grades.find((grade) => grade.grade === 'U90')!), '—');
});

test('a logical layer alone never gives a dedup verdict; deleting is not reclaiming', () => {
  const records = cells({ system: 'minio', variant: 'by-content', dedups: true });
  for (const record of records) record.primaryLayer = 'logical';
  const [verdict] = dedupVerdicts(records);
  assert.equal(verdict?.layer, 'logical');
  assert.match(verdict?.verdict ?? '', /^no physical answer: only the logical layer was measured \(logical: dedup at ingest/);
  assert.equal(reclaimWording({ byDelete: 1, afterMaintenance: 1 }, { byDelete: 0, afterMaintenance: 0.95 }), 'deletes freed inside the system but returned 0 % to storage; maintenance returns it');
  assert.equal(reclaimWording({ byDelete: 1, afterMaintenance: 1 }, { byDelete: -0.3, afterMaintenance: 0.1 }), 'deletes freed inside the system but grew the disk by 30 %; after maintenance 10 % returned');
  assert.equal(reclaimWording({ byDelete: 1, afterMaintenance: 1 }, { byDelete: 0.97, afterMaintenance: 0.99 }), 'deletes return the space physically');
});

test('freed inside comes from the system layer, returned from the storage layer (lab-scoped first)', () => {
  const records = cells({ system: 'mariadb', maintenanceReclaims: 0.99 });
  const [verdict] = dedupVerdicts(records);
  assert.equal(formatFreed(verdict!.freedInside), '0 % → 99 %');
  assert.equal(formatFreed({ byDelete: null, afterMaintenance: null }), '—');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepFinalRecords, readResultLines } from '../../src/report/load.js';
import { makeCell } from './fixtures.js';

test('a torn last line of results.jsonl is skipped and reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-load-'));
  const records = makeCell({ system: 'sqlite' });
  const full = records.map((record) => JSON.stringify(record)).join('\n');
  const torn = JSON.stringify(records[0]).slice(0, 57);
  writeFileSync(join(dir, 'results.jsonl'), `${full}\n${torn}`);
  const parsed = await readResultLines(join(dir, 'results.jsonl'));
  assert.equal(parsed.items.length, 5);
  assert.deepEqual(parsed.items.map((r) => r.stage), records.map((r) => r.stage));
  assert.deepEqual(parsed.skipped, [{ line: 6, reason: 'not valid JSON (torn write?)' }]);
});

test('lines without the record fields are skipped with a reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-load-'));
  writeFileSync(join(dir, 'results.jsonl'), `{"hello":1}\n${JSON.stringify(makeCell({ system: 'duckdb' })[0])}\n`);
  const parsed = await readResultLines(join(dir, 'results.jsonl'));
  assert.equal(parsed.items.length, 1);
  assert.equal(parsed.skipped[0]!.line, 1);
  assert.match(parsed.skipped[0]!.reason, /runId/);
});

test('keepFinalRecords keeps the highest attempt of the latest run per cell, whole', () => {
  const firstAttempt = makeCell({ system: 'sqlite', attempt: 1 }).slice(0, 2); // failed after compaction
  firstAttempt[1] = { ...firstAttempt[1]!, error: { kind: 'connection', message: 'lost' } };
  const secondAttempt = makeCell({ system: 'sqlite', attempt: 2 }).slice(0, 1); // only bulk_insert, then failed
  secondAttempt[0] = { ...secondAttempt[0]!, error: { kind: 'stage', message: 'disk full' } };
  const other = makeCell({ system: 'duckdb' });
  const kept = keepFinalRecords([...firstAttempt, ...other, ...secondAttempt]);
  // The sqlite cell shows only attempt 2: the compaction line of attempt 1 is not mixed in.
  const sqlite = kept.filter((r) => r.system === 'sqlite');
  assert.deepEqual(sqlite.map((r) => [r.stage, r.attempt]), [['bulk_insert', 2]]);
  assert.equal(kept.filter((r) => r.system === 'duckdb').length, 5);
});

test('keepFinalRecords prefers a later run of the same cell even with a lower attempt number', () => {
  const oldRun = makeCell({ system: 'pglite', runId: 'run-a', attempt: 3 });
  const newRun = makeCell({ system: 'pglite', runId: 'run-b', attempt: 1 });
  const kept = keepFinalRecords([...oldRun, ...newRun]);
  assert.equal(kept.length, 5);
  assert.ok(kept.every((r) => r.runId === 'run-b'));
  // Idempotent: the kept set is already final.
  assert.deepEqual(keepFinalRecords(kept), kept);
});

test('loadTrace keeps every stage event and thins samples per instance to the limit, last one included', async () => {
  const { loadTrace } = await import('../../src/report/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-trace-load-'));
  const lines: string[] = [];
  for (let i = 0; i < 1000; i++) {
    lines.push(JSON.stringify({ t: i, kind: 'sample', system: 'a', instance: 'a', metrics: { bytes: i } }));
    if (i < 30) lines.push(JSON.stringify({ t: i, kind: 'sample', system: 'b', instance: 'b', metrics: { bytes: i } }));
    if (i % 100 === 0) lines.push(JSON.stringify({ t: i, kind: 'stage_start', system: 'a', instance: 'a', cellId: 'c', stage: 'bulk_insert' }));
  }
  writeFileSync(join(dir, 'trace.jsonl'), `${lines.join('\n')}\n{"t":12`);
  const events = await loadTrace(dir, 100);
  const a = events.filter((e) => e.kind === 'sample' && e.system === 'a');
  assert.ok(a.length >= 100 && a.length <= 101, `kept ${a.length}`);
  assert.equal(a[0]!.t, 0);
  assert.equal(a[a.length - 1]!.t, 999);
  assert.equal(events.filter((e) => e.kind === 'sample' && e.system === 'b').length, 30);
  assert.equal(events.filter((e) => e.kind === 'stage_start').length, 10);
});

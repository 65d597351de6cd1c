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

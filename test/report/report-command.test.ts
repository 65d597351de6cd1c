import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSampleResultsDir } from './sample-results.js';

const BIN = resolve(import.meta.dirname, '../../bin/dedup-lab.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

test('report RESULTS_DIR rebuilds every file and prints the summary table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-cli-report-'));
  const records = writeSampleResultsDir(dir, 1);
  const result = cli('report', dir);
  assert.equal(result.status, 0, result.stderr);
  for (const file of ['results.json', 'results.csv', 'summary.md', 'report.html']) assert.ok(existsSync(join(dir, file)), file);
  const [detail, answer] = result.stdout.trimEnd().split('\n\n');
  const lines = detail!.split('\n');
  assert.match(lines[0]!, /^system\s+variant\s+mode\s+payload\s+grade\s+stage/);
  assert.equal(lines.length, 2 + records.length); // one run: one row per record
  // Then the answer: one row per system/variant/mode/payload (4 systems × 2 payload types).
  assert.match(answer!, /^Where does deduplication happen\?\n/);
  assert.equal(answer!.split('\n').filter((line) => /^(sqlite|pglite|duckdb|redis)/.test(line)).length, 8);
  assert.match(result.stderr, /report\.html/);
});

test('report of a dir without results.jsonl exits 2 with one line and writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-lab-cli-report-'));
  const result = cli('report', dir);
  assert.equal(result.status, 2);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.match(result.stderr, /no results\.jsonl/);
  assert.deepEqual(readdirSync(dir), []);
  const missing = cli('report', join(dir, 'nope'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /does not exist/);
});

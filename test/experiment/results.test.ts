import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendRecord, compactResults, finalRecords, parseRecordLines, readCheckpoints, readRecords, writeCheckpoint, type Checkpoint } from '../../src/experiment/results.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { cellFingerprint, cellsToRun } from '../../src/experiment/runner.js';
import type { PlannedCell } from '../../src/experiment/plan.js';

function record(cellId: string, runId: string, attempt: number, stage: StageRecord['stage']): StageRecord {
  return { cellId, runId, attempt, stage } as StageRecord;
}
function checkpoint(cellId: string, runId: string, attempt: number, status: Checkpoint['status'] = 'complete'): Checkpoint {
  return { cellId, runId, attempt, status, finishedAt: '2026-01-01T00:00:00Z', error: null };
}

describe('results files', () => {
  it('finalRecords keeps only each checkpointed cell’s final attempt of its final run', () => {
    const records = [
      record('a', 'run1', 1, 'bulk_insert'), // superseded attempt
      record('a', 'run1', 2, 'bulk_insert'),
      record('a', 'run1', 2, 'compaction'),
      record('b', 'run1', 1, 'bulk_insert'), // no checkpoint: unfinished
      record('c', 'run0', 1, 'bulk_insert'), // old run, redone by run1 (--fresh)
      record('c', 'run1', 1, 'bulk_insert'),
    ];
    const checkpoints = new Map([
      ['a', checkpoint('a', 'run1', 2)],
      ['c', checkpoint('c', 'run1', 1)],
    ]);
    assert.deepEqual(finalRecords(records, checkpoints).map((r) => `${r.cellId}/${r.runId}/${r.attempt}/${r.stage}`), ['a/run1/2/bulk_insert', 'a/run1/2/compaction', 'c/run1/1/bulk_insert']);
  });

  it('parseRecordLines drops a torn last line', () => {
    const text = `${JSON.stringify(record('a', 'r', 1, 'bulk_insert'))}\n{"cellId":"a","ru`;
    assert.equal(parseRecordLines(text).length, 1);
  });

  it('appends durably, checkpoints atomically, and compacts results.jsonl in place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedup-results-'));
    appendRecord(dir, record('a', 'r1', 1, 'bulk_insert'));
    appendRecord(dir, record('a', 'r1', 2, 'bulk_insert'));
    appendRecord(dir, record('b', 'r1', 1, 'bulk_insert'));
    appendFileSync(join(dir, 'results.jsonl'), '{"torn');
    writeCheckpoint(dir, checkpoint('a', 'r1', 2));
    assert.deepEqual(readdirSync(join(dir, 'checkpoints')), ['a.json']);
    assert.equal(readCheckpoints(dir).get('a')?.attempt, 2);
    assert.equal(compactResults(dir), 3);
    assert.deepEqual(readRecords(dir).map((r) => `${r.cellId}/${r.attempt}`), ['a/2']);
    assert.ok(readFileSync(join(dir, 'results.jsonl'), 'utf8').endsWith('\n'));
    assert.equal(compactResults(dir), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unreadable checkpoint is ignored (the cell runs again)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedup-results-'));
    writeCheckpoint(dir, checkpoint('a', 'r1', 1));
    writeFileSync(join(dir, 'checkpoints', 'b.json'), '{');
    assert.deepEqual([...readCheckpoints(dir).keys()], ['a']);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('cellsToRun', () => {
  const cells = ['a', 'b', 'c'].map((cellId, index) => ({ cellId, instance: index === 2 ? 'pglite' : 'sqlite', systemId: index === 2 ? 'pglite' : 'sqlite' }) as PlannedCell);
  const done = (cellId: string, status: Checkpoint['status'] = 'complete') => ({ ...checkpoint(cellId, 'r', 1, status), fingerprint: 'same' });
  const checkpoints = new Map([
    ['a', done('a')],
    ['b', done('b', 'failed')],
    ['c', done('c')],
  ]);
  const same = () => 'same';
  it('resume skips complete cells and retries failed ones', () => {
    assert.deepEqual(cellsToRun(cells, checkpoints, false, [], same).map((cell) => cell.cellId), ['b']);
  });
  it('--fresh redoes everything, --repeat redoes one system’s cells', () => {
    assert.equal(cellsToRun(cells, checkpoints, true, [], same).length, 3);
    assert.deepEqual(cellsToRun(cells, checkpoints, false, ['pglite'], same).map((cell) => cell.cellId), ['b', 'c']);
  });
  it('a complete cell that measured other data or stages runs again', () => {
    assert.deepEqual(cellsToRun(cells, checkpoints, false, [], (cell) => (cell.cellId === 'c' ? 'changed' : 'same')).map((cell) => cell.cellId), ['b', 'c']);
  });
  it('the fingerprint changes with the data-set parameters and the stages', () => {
    const params = { payloadType: 'random_binary', grade: 'U0', files: 10, minSize: 1, maxSize: 2, seed: 42, dupDistribution: 'uniform' as const, source: null };
    const base = cellFingerprint(params, ['bulk_insert']);
    assert.equal(cellFingerprint({ ...params }, ['bulk_insert']), base);
    assert.notEqual(cellFingerprint({ ...params, files: 11 }, ['bulk_insert']), base);
    assert.notEqual(cellFingerprint({ ...params, seed: 1 }, ['bulk_insert']), base);
    assert.notEqual(cellFingerprint(params, ['bulk_insert', 'compaction']), base);
  });
});

it('appendRecord scrubs registered secrets from result lines', async () => {
  const { registerSecret } = await import('../../src/config/secrets.js');
  const dir = mkdtempSync(join(tmpdir(), 'dedup-results-'));
  registerSecret('s3cr3t-pass-word');
  appendRecord(dir, { ...record('a', 'r', 1, 'bulk_insert'), error: { kind: 'stage_failed', message: 'auth failed for lab:s3cr3t-pass-word@db' } });
  const text = readFileSync(join(dir, 'results.jsonl'), 'utf8');
  assert.ok(!text.includes('s3cr3t-pass-word'));
  assert.match(text, /lab:\*\*\*@db/);
  rmSync(dir, { recursive: true, force: true });
});

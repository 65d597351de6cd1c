import { it } from 'node:test';
import assert from 'node:assert/strict';
import { stageLine } from '../../src/cli/progress.js';
import type { StageRecord } from '../../src/experiment/record.js';

it('a finished stage is one plain line with the headline number, flags and errors', () => {
  const base = { cellId: 'sqlite.default.blob.random_binary.U0.r1', stage: 'bulk_insert', durationMs: 12.4, files: 30, edr: 0.974, idealEdr: 1, reclaimedBytes: null, edrFlag: { status: 'ok', reason: null }, error: null } as unknown as StageRecord;
  assert.equal(stageLine(base), 'sqlite.default.blob.random_binary.U0.r1 bulk_insert | 12 ms | 30 files | EDR 0.97 (ideal 1.00)');
  const flagged = { ...base, edr: null, edrFlag: { status: 'unmeasurable', reason: 'the read after the stage is missing' }, error: { kind: 'write_failed', message: '1 of 30 writes failed' } } as StageRecord;
  assert.equal(stageLine(flagged), 'sqlite.default.blob.random_binary.U0.r1 bulk_insert | 12 ms | 30 files | unmeasurable: the read after the stage is missing | ERROR write_failed: 1 of 30 writes failed');
  const maintenance = { ...base, stage: 'maintenance', edr: null, reclaimedBytes: 4096, edrFlag: { status: 'not-applicable', reason: 'x' } } as StageRecord;
  assert.equal(stageLine(maintenance), 'sqlite.default.blob.random_binary.U0.r1 maintenance | 12 ms | 30 files | reclaimed 4096 B');
  const na = { ...base, stage: 'compaction', edr: null, edrFlag: { status: 'not-applicable', reason: 'Redis has no compaction' } } as StageRecord;
  assert.match(stageLine(na), /not applicable: Redis has no compaction$/);
});

it('remaining time comes from this run’s pace and is unknown before the first cell', async () => {
  const { remainingText, formatDuration } = await import('../../src/cli/progress.js');
  assert.equal(remainingText(10_000, 0, 5), '?');
  assert.equal(remainingText(10_000, 2, 3), '15s');
  assert.equal(remainingText(10_000, 2, 0), '0s');
  assert.equal(formatDuration(61_000), '1m01s');
  assert.equal(formatDuration(3_720_000), '1h02m');
});

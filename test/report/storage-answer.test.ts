import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StageRecord } from '../../src/experiment/record.js';
import { renderVerdictText } from '../../src/report/verdict.js';
import { formatStorageAnswer, shareOfIdeal, storageAnswerOf } from '../../src/report/storage-answer.js';
import { makeCell } from './fixtures.js';

function storageRecord(base: StageRecord, real: { baseline: number; after: number } | null, simulated4k: number): StageRecord {
  return {
    ...base,
    stage: 'storage_dedup',
    edr: null,
    probes: real ? [{ name: 'storage', replicas: 1, baseline: real.baseline, before: null, after: real.after, delta: null, settled: true, edr: null, edrFlag: { status: 'not-applicable', reason: 'space' }, reclaimedBytes: null, residualBytes: null }] : [],
    storage: {
      fileSystems: [{ path: '/data', fsType: real ? 'btrfs' : 'ext4', reading: real ? 'statfs' : 'st_blocks' }],
      zfs: 'ZFS cannot be measured here',
      offlineDedup: real ? { tool: 'duperemove', args: [], durationMs: 1 } : { notApplicable: 'ext4' },
      simulated: { bytes: 1, durationMs: 1, units: [{ unit: '4KiB', dedupRatio: simulated4k, compressionRatio: 1, storageRatio: simulated4k, allocatedBytes: 1 }] },
    },
  } as StageRecord;
}

test('share of the ideal on the log scale', () => {
  assert.equal(shareOfIdeal(10, 10), 1);
  assert.equal(shareOfIdeal(1, 10), 0);
  assert.equal(shareOfIdeal(5, 1), null);
});

test('real layer: the storage probe after duperemove; simulated: system EDR × 4 KiB block ratio', () => {
  const [bulk] = makeCell({ system: 'postgresql', grade: 'U90' }).filter((record) => record.stage === 'bulk_insert') as StageRecord[];
  assert.ok(bulk);
  const stored = bulk.storedLogicalBytes;
  const real = storageAnswerOf(storageRecord(bulk, { baseline: 1000, after: 1000 + stored / bulk.idealEdr }, 1), null);
  assert.equal(real?.source, 'real');
  assert.ok(Math.abs((real?.edr ?? 0) - bulk.idealEdr) < 1e-9);
  assert.match(formatStorageAnswer(real), /^100 % \(EDR .*, real btrfs\+duperemove\)$/);
  const simulated = storageAnswerOf(storageRecord(bulk, null, 1), 0.98);
  assert.equal(simulated?.source, 'simulated');
  assert.match(formatStorageAnswer(simulated), /^0 % \(EDR 0\.98, simulated 4 KiB blocks\)$/);
  const labScoped = storageRecord(bulk, null, 1);
  (labScoped.storage?.simulated as { scope?: string }).scope = 'lab-files';
  assert.match(formatStorageAnswer(storageAnswerOf(labScoped, 0.98)), /^0 % \(EDR 0\.98, simulated 4 KiB blocks, lab files\)$/);
  assert.equal(storageAnswerOf(storageRecord(bulk, null, 2), null), null, 'no system EDR, no simulated answer');
});

test('the answer table gains the storage column only when storage_dedup ran', () => {
  const records = ['U0', 'U90'].flatMap((grade) => makeCell({ system: 'postgresql', grade }));
  // The column header, not the legend (whose "returned" line also speaks of the storage layer).
  assert.doesNotMatch(renderVerdictText(records) ?? '', /storage layer +where dedup happens/);
  const bulk = records.find((record) => record.grade === 'U90' && record.stage === 'bulk_insert') as StageRecord;
  const withStorage = [...records, storageRecord(bulk, { baseline: 0, after: bulk.storedLogicalBytes }, 1)];
  const text = renderVerdictText(withStorage) ?? '';
  assert.match(text, /storage layer +where dedup happens/);
  assert.match(text, /U90: 0 % \(EDR 1\.00, real btrfs\+duperemove\)/);
});

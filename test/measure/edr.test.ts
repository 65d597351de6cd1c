import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeEdr, computeSpace, plausibleEdrCeiling, probeDelta, ratePerSecond, stuckProbeReason } from '../../src/measure/edr.js';

const base = { storedLogicalBytes: 1000, baseline: 100, after: 1100, replicas: 1, idealEdr: 1, compressibility: 1 };

describe('computeEdr', () => {
  it('is logical bytes over the physical growth above the empty baseline', () => {
    const result = computeEdr(base);
    assert.equal(result.edr, 1);
    assert.deepEqual(result.flag, { status: 'ok', reason: null });
  });

  it('divides the physical growth by the replica count (three copies cost three times the bytes)', () => {
    const result = computeEdr({ ...base, after: 100 + 3000, replicas: 3 });
    assert.equal(result.edr, 1);
  });

  it('uses the baseline, not the before reading: 2x dedup over ideal 2 is fine', () => {
    const result = computeEdr({ ...base, after: 600, idealEdr: 2 });
    assert.equal(result.edr, 2);
    assert.equal(result.flag.status, 'ok');
  });

  it('is null and unmeasurable when the physical growth is zero or negative', () => {
    for (const after of [100, 50]) {
      const result = computeEdr({ ...base, after });
      assert.equal(result.edr, null);
      assert.equal(result.flag.status, 'unmeasurable');
      assert.match(result.flag.reason ?? '', /≤ 0/);
    }
  });

  it('is null and unmeasurable when a read is missing (never treats a failed read as a number)', () => {
    assert.match(computeEdr({ ...base, baseline: null }).flag.reason ?? '', /baseline/);
    assert.match(computeEdr({ ...base, after: null }).flag.reason ?? '', /after/);
    assert.equal(computeEdr({ ...base, after: null }).edr, null);
  });

  it('is unmeasurable when nothing acknowledged is stored', () => {
    const result = computeEdr({ ...base, storedLogicalBytes: 0 });
    assert.equal(result.edr, null);
    assert.equal(result.flag.status, 'unmeasurable');
  });

  it('flags random-data EDRs of 100 as implausible, stating the numbers', () => {
    const result = computeEdr({ ...base, storedLogicalBytes: 100_000, after: 1100 });
    assert.equal(result.edr, 100);
    assert.equal(result.flag.status, 'implausible');
    assert.match(result.flag.reason ?? '', /100\.00 exceeds ideal EDR 1\.00 × compressibility 1\.00 × 1\.25 = 1\.25/);
  });

  it('allows compressible data up to ideal × compressibility × 1.25', () => {
    assert.equal(plausibleEdrCeiling(2, 3), 7.5);
    assert.equal(computeEdr({ ...base, storedLogicalBytes: 7400, idealEdr: 2, compressibility: 3 }).flag.status, 'ok');
    assert.equal(computeEdr({ ...base, storedLogicalBytes: 7600, idealEdr: 2, compressibility: 3 }).flag.status, 'implausible');
  });

  it('takes unknown compressibility as 1 and says so', () => {
    const result = computeEdr({ ...base, storedLogicalBytes: 2000, compressibility: null });
    assert.equal(result.flag.status, 'implausible');
    assert.match(result.flag.reason ?? '', /unknown/);
  });
});

describe('computeSpace', () => {
  it('reclaimed = before − after and residual = after − baseline, per copy', () => {
    assert.deepEqual(computeSpace(1000, 400, 100, 1), { reclaimedBytes: 600, residualBytes: 300 });
    assert.deepEqual(computeSpace(3000, 1200, 300, 3), { reclaimedBytes: 600, residualBytes: 300 });
  });
  it('is null where a read is missing and negative when the stage grew', () => {
    assert.deepEqual(computeSpace(null, 400, 100, 1), { reclaimedBytes: null, residualBytes: 300 });
    assert.deepEqual(computeSpace(1000, null, 100, 1), { reclaimedBytes: null, residualBytes: null });
    assert.equal(computeSpace(1000, 1200, 100, 1).reclaimedBytes, -200);
  });
});

describe('probeDelta, ratePerSecond', () => {
  it('delta is null with a missing read', () => {
    assert.equal(probeDelta(null, 5), null);
    assert.equal(probeDelta(5, 12), 7);
  });
  it('rate is null when nothing was timed', () => {
    assert.equal(ratePerSecond(100, 0), null);
    assert.equal(ratePerSecond(100, 500), 200);
  });
});

describe('stuckProbeReason', () => {
  it('accepts a probe back within max(1 MiB, 5 %) of its baseline', () => {
    assert.equal(stuckProbeReason(10_000, 10_000 + 1024 * 1024), null);
    assert.equal(stuckProbeReason(100 * 1024 * 1024, 104 * 1024 * 1024), null);
    assert.equal(stuckProbeReason(null, 5), null);
  });
  it('flags a block-storage probe that never shrinks', () => {
    const reason = stuckProbeReason(10_000, 50 * 1024 * 1024);
    assert.match(reason ?? '', /probe did not shrink after reset: 52428800 bytes after the reset vs 10000 bytes/);
  });
});

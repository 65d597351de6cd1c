import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { probeResult, SPACE_STAGE_REASON } from '../../src/measure/probe-results.js';

const readings = { name: 'internal', layer: 'system' as const, replicas: 1, baseline: 1000, before: 1000, after: 11_000, settled: true };
const facts = { storedLogicalBytes: 10_000, idealEdr: 1, compressibility: 1 };

describe('probeResult', () => {
  it('write stages get an EDR against the empty baseline and a delta against before', () => {
    const result = probeResult({ ...readings, before: 6000 }, { kind: 'edr' }, facts);
    assert.equal(result.edr, 1);
    assert.equal(result.delta, 5000);
    assert.equal(result.edrFlag.status, 'ok');
    assert.equal(result.reclaimedBytes, null);
  });

  it('space stages report reclaimed and residual bytes, never an EDR', () => {
    const result = probeResult({ ...readings, before: 11_000, after: 3000 }, { kind: 'space' }, facts);
    assert.equal(result.edr, null);
    assert.equal(result.reclaimedBytes, 8000);
    assert.equal(result.residualBytes, 2000);
    assert.deepEqual(result.edrFlag, { status: 'not-applicable', reason: SPACE_STAGE_REASON });
  });

  it('a stage the system cannot do carries the reason and no numbers', () => {
    const result = probeResult(readings, { kind: 'not-applicable', reason: 'Redis has no space-reclaiming command' }, facts);
    assert.equal(result.edr, null);
    assert.equal(result.reclaimedBytes, null);
    assert.deepEqual(result.edrFlag, { status: 'not-applicable', reason: 'Redis has no space-reclaiming command' });
  });

  it('a stuck probe gives no EDR and says why', () => {
    const result = probeResult({ ...readings, stuckReason: 'probe did not shrink after reset: …' }, { kind: 'edr' }, facts);
    assert.equal(result.edr, null);
    assert.equal(result.edrFlag.status, 'unmeasurable');
    assert.match(result.edrFlag.reason ?? '', /did not shrink/);
  });

  it('an unsettled reading keeps its number and the flag mentions it', () => {
    const result = probeResult({ ...readings, settled: false }, { kind: 'edr' }, facts);
    assert.equal(result.edr, 1);
    assert.match(result.edrFlag.reason ?? '', /did not settle/);
  });

  it('a failed stage is unmeasurable with the failure as reason', () => {
    const result = probeResult(readings, { kind: 'failed', reason: 'stage failed: disk full' }, facts);
    assert.equal(result.edr, null);
    assert.deepEqual(result.edrFlag, { status: 'unmeasurable', reason: 'stage failed: disk full' });
  });
});

describe('probeResult layer', () => {
  it('carries the probe layer and scope into the record', () => {
    const result = probeResult({ ...readings, name: 'lab_fs', layer: 'storage', scope: 'lab' }, { kind: 'space' }, facts);
    assert.equal(result.layer, 'storage');
    assert.equal(result.scope, 'lab');
  });
});

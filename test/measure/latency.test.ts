import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { elapsedUs, nearestRank, summarizeLatencies } from '../../src/measure/latency.js';

describe('nearestRank', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);
  it('is the value at rank ceil(p/100·n)', () => {
    assert.equal(nearestRank(oneToHundred, 50), 50);
    assert.equal(nearestRank(oneToHundred, 90), 90);
    assert.equal(nearestRank(oneToHundred, 99), 99);
    assert.equal(nearestRank(oneToHundred, 99.9), 100);
    assert.equal(nearestRank(oneToHundred, 100), 100);
    assert.equal(nearestRank(oneToHundred, 0.5), 1);
  });
  it('does not round 0.9·10 = 9.000000000000002 up to rank 10', () => {
    const ten = Array.from({ length: 10 }, (_, i) => (i + 1) * 10);
    assert.equal(nearestRank(ten, 90), 90);
    assert.equal(nearestRank(ten, 95), 100);
  });
  it('refuses empty input and p outside (0, 100]', () => {
    assert.throws(() => nearestRank([], 50), RangeError);
    assert.throws(() => nearestRank([1], 0), RangeError);
    assert.throws(() => nearestRank([1], 101), RangeError);
  });
});

describe('summarizeLatencies', () => {
  it('is null with no operations', () => {
    assert.equal(summarizeLatencies([]), null);
  });
  it('summarises unsorted values exactly', () => {
    const summary = summarizeLatencies([30, 10, 20, 40]);
    assert.deepEqual(summary, { count: 4, min: 10, mean: 25, p50: 20, p90: 40, p95: 40, p99: 40, p999: 40, max: 40 });
  });
  it('one value is every percentile', () => {
    const summary = summarizeLatencies([7]);
    assert.equal(summary?.p50, 7);
    assert.equal(summary?.p999, 7);
  });
  it('p99.9 of 2000 values is rank 1998', () => {
    const values = Array.from({ length: 2000 }, (_, i) => 2000 - i);
    assert.equal(summarizeLatencies(values)?.p999, 1998);
  });
});

it('elapsedUs converts nanoseconds to microseconds', () => {
  assert.equal(elapsedUs(1_000n, 2_501_000n), 2500);
});

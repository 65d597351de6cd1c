import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregate, mean, median, sampleStandardDeviation } from '../../src/report/stats.js';

test('mean of known values', () => {
  assert.equal(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5);
  assert.throws(() => mean([]), RangeError);
});

test('sample standard deviation uses n − 1', () => {
  // Population sd of this set is 2; the sample sd is sqrt(32/7).
  assert.equal(sampleStandardDeviation([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  assert.equal(sampleStandardDeviation([3, 5]), Math.SQRT2);
  assert.equal(sampleStandardDeviation([42]), 0);
});

test('aggregate skips missing values and says how many there were', () => {
  assert.deepEqual(aggregate([1.5, null, 2.5, undefined]), { n: 2, total: 4, mean: 2, sd: Math.SQRT1_2, min: 1.5, max: 2.5 });
  assert.equal(aggregate([null, null]), null);
  assert.equal(aggregate([]), null);
  // NaN and Infinity are not measurements.
  assert.deepEqual(aggregate([Number.NaN, 4, Infinity]), { n: 1, total: 3, mean: 4, sd: 0, min: 4, max: 4 });
});

test('median of odd and even counts, order-independent', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), RangeError);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateCount, parseGrade } from '../../src/dataset/index.js';
import { UsageError } from '../../src/core/errors.js';

test('U90 of 100 files is 90 duplicates and 10 unique (the predecessor gave 91/9)', () => {
  assert.equal(duplicateCount(100, 90), 90);
  assert.equal(100 - duplicateCount(100, 90), 10);
});

test('round half up on exact integers for odd set sizes', () => {
  // 37·50/100 = 18.5 → 19; 37·90/100 = 33.3 → 33; 37·10/100 = 3.7 → 4; 37·1/100 = 0.37 → 0
  assert.equal(duplicateCount(37, 50), 19);
  assert.equal(duplicateCount(37, 90), 33);
  assert.equal(duplicateCount(37, 10), 4);
  assert.equal(duplicateCount(37, 1), 0);
  assert.equal(duplicateCount(37, 2), 1); // 0.74 → 1
  assert.equal(duplicateCount(3, 50), 2); // 1.5 → 2
  assert.equal(duplicateCount(3, 10), 0); // 0.3 → 0
  // 0.5 exactly rounds up, where floating point Math.round(N·d/100) can drift.
  assert.equal(duplicateCount(50, 1), 1);
  assert.equal(duplicateCount(150, 1), 2); // 1.5 → 2
});

test('the first file is always unique, so tiny sets are clamped to N − 1 duplicates', () => {
  assert.equal(duplicateCount(1, 99), 0);
  assert.equal(duplicateCount(1, 50), 0);
  assert.equal(duplicateCount(3, 90), 2); // round gives 3, clamp 2
  assert.equal(duplicateCount(2, 75), 1);
});

test('U0 has no duplicates for any size', () => {
  for (const files of [1, 3, 37, 100, 1000]) assert.equal(duplicateCount(files, 0), 0);
});

test('parseGrade accepts U0…U99 and names the valid form otherwise', () => {
  assert.equal(parseGrade('U0'), 0);
  assert.equal(parseGrade('U9'), 9);
  assert.equal(parseGrade('U99'), 99);
  for (const bad of ['U100', 'X5', 'u50', 'U', 'U05', 'U-1', '50', ' U50']) {
    assert.throws(() => parseGrade(bad), (error: unknown) => error instanceof UsageError && /valid: U0 … U99/.test(error.message) && error.message.includes(JSON.stringify(bad)));
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDataset, chooseEarlier } from '../../src/dataset/plan.js';
import { Xoshiro128 } from '../../src/dataset/prng.js';
import { duplicateCount } from '../../src/dataset/index.js';
import { params } from './helpers.js';

test('plans have exact counts, a unique first file, and duplicates of earlier unique files', () => {
  for (const files of [1, 2, 3, 37, 100, 257]) {
    for (const grade of ['U0', 'U1', 'U33', 'U50', 'U75', 'U90', 'U99']) {
      const plan = planDataset(params({ files, grade }));
      const duplicates = plan.filter((file) => file.duplicateOf !== null);
      assert.equal(plan.length, files);
      assert.equal(duplicates.length, duplicateCount(files, Number(grade.slice(1))), `${files} ${grade}`);
      assert.equal(plan[0]?.duplicateOf, null);
      for (const file of duplicates) {
        const original = plan[file.duplicateOf as number];
        assert.ok(original && original.index < file.index && original.duplicateOf === null);
        assert.equal(file.size, original.size);
      }
    }
  }
});

test('duplicates are spread through the set, not bunched at the end', () => {
  const plan = planDataset(params({ files: 1000, grade: 'U50' }));
  const firstHalf = plan.slice(0, 500).filter((file) => file.duplicateOf !== null).length;
  // 500 duplicates over 999 positions: about half in each half; bunching would give 0 or 500.
  assert.ok(firstHalf > 200 && firstHalf < 300, `duplicates in the first half: ${firstHalf}`);
});

test('sizes are seeded and uniform in [min, max]; a fixed size is exact', () => {
  const plan = planDataset(params({ files: 2000, grade: 'U0', minSize: 1000, maxSize: 2000 }));
  assert.ok(plan.every((file) => file.size >= 1000 && file.size <= 2000));
  const mean = plan.reduce((sum, file) => sum + file.size, 0) / plan.length;
  assert.ok(Math.abs(mean - 1500) < 30, `mean ${mean}`);
  assert.ok(planDataset(params({ minSize: 777, maxSize: 777 })).every((file) => file.size === 777));
});

test('same parameters give the same plan, another seed another plan', () => {
  const a = JSON.stringify(planDataset(params({ files: 100 })));
  assert.equal(JSON.stringify(planDataset(params({ files: 100 }))), a);
  assert.notEqual(JSON.stringify(planDataset(params({ files: 100, seed: 43 }))), a);
});

test('zipf concentrates duplicates on the first unique files, uniform does not', () => {
  const count = (distribution: 'uniform' | 'zipf'): number => {
    const rng = Xoshiro128.from('zipf-test');
    let hits = 0;
    for (let i = 0; i < 10000; i++) if (chooseEarlier(rng, 100, distribution) < 10) hits++;
    return hits;
  };
  const uniform = count('uniform');
  const zipf = count('zipf');
  assert.ok(uniform > 800 && uniform < 1200, `uniform top-10 share ${uniform}`);
  // P(rank < 10) = ln(11)/ln(101) ≈ 0.52 for the continuous s = 1 approximation.
  assert.ok(zipf > 4700 && zipf < 5700, `zipf top-10 share ${zipf}`);
});

test('mixed plans draw each unique file type from the synthetic types; duplicates keep their original type', () => {
  const plan = planDataset(params({ payloadType: 'mixed', files: 200, grade: 'U50' }));
  const types = new Set(plan.map((file) => file.payloadType));
  assert.ok(types.size >= 6, [...types].join(','));
  assert.ok(!types.has('mixed'));
  for (const file of plan) if (file.duplicateOf !== null) assert.equal(file.payloadType, plan[file.duplicateOf]?.payloadType);
});

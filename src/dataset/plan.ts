/**
 * The plan of a data set before any byte is written: each file's size, payload type and whether it
 * is a duplicate (and of which earlier unique file). Pure and seeded, so it is unit-testable.
 */
import type { DatasetParameters } from './manifest.js';
import { duplicateCount, parseGrade } from './grades.js';
import { Xoshiro128 } from './prng.js';
import { MIXED, SYNTHETIC_TYPES } from './types.js';

export interface PlannedFile {
  index: number;
  /** Planned size; line-aligned real-world slices may come out shorter. */
  size: number;
  payloadType: string;
  /** Index of the unique file this one copies, or null for a unique file. */
  duplicateOf: number | null;
  /** For unique files: 0-based rank among the unique files (drives per-file content streams). */
  uniqueRank: number | null;
}

export function planDataset(params: DatasetParameters): PlannedFile[] {
  const count = params.files;
  const duplicates = duplicateCount(count, parseGrade(params.grade));
  const rng = Xoshiro128.from('plan', params.seed, params.payloadType, params.grade, count);

  // Which positions are duplicates: a seeded partial Fisher–Yates over positions 1…N−1
  // (position 0 is always unique), so duplicates are spread through the whole set.
  const positions = Array.from({ length: Math.max(0, count - 1) }, (_, i) => i + 1);
  for (let i = 0; i < duplicates; i++) {
    const j = i + rng.below(positions.length - i);
    const chosen = positions[j] as number;
    positions[j] = positions[i] as number;
    positions[i] = chosen;
  }
  const isDuplicate = new Uint8Array(count);
  for (let i = 0; i < duplicates; i++) isDuplicate[positions[i] as number] = 1;

  const files: PlannedFile[] = [];
  const uniqueIndexes: number[] = [];
  for (let index = 0; index < count; index++) {
    if (isDuplicate[index]) {
      const source = uniqueIndexes[chooseEarlier(rng, uniqueIndexes.length, params.dupDistribution)] as number;
      const original = files[source] as PlannedFile;
      files.push({ index, size: original.size, payloadType: original.payloadType, duplicateOf: source, uniqueRank: null });
    } else {
      const size = params.minSize === params.maxSize ? params.minSize : rng.between(params.minSize, params.maxSize);
      const payloadType = params.payloadType === MIXED ? rng.pick(SYNTHETIC_TYPES) : params.payloadType;
      files.push({ index, size, payloadType, duplicateOf: null, uniqueRank: uniqueIndexes.length });
      uniqueIndexes.push(index);
    }
  }
  return files;
}

/**
 * Which earlier unique file a duplicate copies, as a rank among the k unique files so far.
 * uniform: every earlier unique file equally likely. zipf: P(rank r) ∝ 1/(r+1) (s = 1, drawn by
 * the continuous inverse CDF r = ⌊(k+1)^u⌋ − 1), so the first files are hot spots.
 */
export function chooseEarlier(rng: Xoshiro128, k: number, distribution: 'uniform' | 'zipf'): number {
  if (k <= 0) throw new RangeError('a duplicate needs an earlier unique file');
  if (distribution === 'uniform') return rng.below(k);
  const rank = Math.floor(Math.pow(k + 1, rng.next())) - 1;
  return Math.min(Math.max(rank, 0), k - 1);
}

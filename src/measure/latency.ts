/**
 * Per-file latency (SPEC §6.4): every operation is kept exactly (one double per file — a stage has
 * as many values as the data set has files), and percentiles use the nearest-rank method:
 * p-th percentile = the value at 1-based rank ceil(p/100 · n) of the sorted values.
 * Exact values rather than an HDR histogram, so no bucket rounding enters the numbers.
 */
import type { LatencySummary } from '../experiment/record.js';

/** Nearest-rank percentile of ascending-sorted values (p in (0, 100]). */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('no values');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * n - 1e-9));
  return sorted[Math.min(n, rank) - 1] as number;
}

/** Summary of latencies in microseconds, or null when no operation was timed. */
export function summarizeLatencies(valuesUs: readonly number[]): LatencySummary | null {
  if (valuesUs.length === 0) return null;
  const sorted = Float64Array.from(valuesUs).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    min: sorted[0] as number,
    mean: sum / sorted.length,
    p50: nearestRank(sorted, 50),
    p90: nearestRank(sorted, 90),
    p95: nearestRank(sorted, 95),
    p99: nearestRank(sorted, 99),
    p999: nearestRank(sorted, 99.9),
    max: sorted[sorted.length - 1] as number,
  };
}

/** Microseconds between two `process.hrtime.bigint()` stamps. */
export function elapsedUs(startNs: bigint, endNs: bigint): number {
  return Number(endNs - startNs) / 1000;
}

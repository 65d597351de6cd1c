/**
 * Repetition statistics for the summary (SPEC §6.4: "mean, standard deviation and min/max").
 * The standard deviation is the SAMPLE standard deviation (divisor n − 1): repetitions are a
 * sample of the system's behaviour, not the whole population. With one value it is 0.
 */

export interface Aggregate {
  /** How many non-null values were aggregated. */
  n: number;
  /** How many values there were in total, null ones included. */
  total: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of no values');
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** The middle value (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Sample standard deviation (n − 1 divisor); 0 for a single value. */
export function sampleStandardDeviation(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('standard deviation of no values');
  if (values.length === 1) return 0;
  const average = mean(values);
  let squares = 0;
  for (const value of values) squares += (value - average) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}

/** Aggregate the non-null values; null when every value is null (nothing was measured). */
export function aggregate(values: readonly (number | null | undefined)[]): Aggregate | null {
  const present = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  if (present.length === 0) return null;
  return {
    n: present.length,
    total: values.length,
    mean: mean(present),
    sd: sampleStandardDeviation(present),
    min: Math.min(...present),
    max: Math.max(...present),
  };
}

/** Grades `U0` … `U99` and the exact duplicate arithmetic of SPEC §1. */
import { UsageError } from '../core/errors.js';

export const GRADE_PATTERN = /^U([0-9]|[1-9][0-9])$/;
export const DEFAULT_GRADES: readonly string[] = ['U0', 'U50', 'U90'];

/** `U90` → 90. Anything else is a usage error naming the valid form. */
export function parseGrade(grade: string): number {
  const match = GRADE_PATTERN.exec(grade);
  if (!match?.[1]) throw new UsageError(`unknown grade ${JSON.stringify(grade)}; valid: U0 … U99 (e.g. U0, U50, U90)`);
  return Number(match[1]);
}

/**
 * Duplicates = round(N·d/100) with round-half-up done on integers: floor((2·N·d + 100) / 200).
 * Clamped to N − 1 because the first file is always unique (a duplicate needs an earlier unique
 * file to copy): only matters for tiny sets such as N = 1 or N = 2 at U75+.
 */
export function duplicateCount(files: number, percent: number): number {
  if (!Number.isInteger(files) || files < 0) throw new RangeError(`files must be a non-negative integer, got ${files}`);
  if (!Number.isInteger(percent) || percent < 0 || percent > 99) throw new RangeError(`percent must be 0…99, got ${percent}`);
  if (files === 0) return 0;
  const rounded = Math.floor((2 * files * percent + 100) / 200);
  return Math.min(rounded, files - 1);
}

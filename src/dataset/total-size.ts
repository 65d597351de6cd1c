/**
 * `--total-size` (SPEC §4.1): the number of files a data set needs so that its planned bytes reach
 * the target. The plan (sizes, which files are copies) is the seeded one of plan.ts for that count,
 * so exact grades still hold; the result is the smallest count whose plan reaches the total.
 */
import type { DatasetParameters } from './manifest.js';
import { planDataset } from './plan.js';
import { UsageError } from '../core/errors.js';

/** Most files a total-size set may have (the `dataset.files` limit). */
export const MAX_FILES = 1_000_000;

export function plannedBytes(params: DatasetParameters): number {
  return planDataset(params).reduce((sum, file) => sum + file.size, 0);
}

/**
 * Smallest file count whose plan holds ≥ `totalSize` bytes. The plan changes with the count (its
 * seed includes it), so the sum is not monotone: start at the mean-size estimate and walk.
 */
export function filesForTotalSize(params: Omit<DatasetParameters, 'files'>, totalSize: number): number {
  const bytesAt = (files: number) => plannedBytes({ ...params, files });
  const mean = (params.minSize + params.maxSize) / 2;
  let files = Math.min(MAX_FILES, Math.max(1, Math.ceil(totalSize / mean)));
  while (files < MAX_FILES && bytesAt(files) < totalSize) files++;
  while (files > 1 && bytesAt(files - 1) >= totalSize) files--;
  if (bytesAt(files) < totalSize) throw new UsageError(`total size ${totalSize} needs more than ${MAX_FILES} files of ${params.minSize}–${params.maxSize} bytes`);
  return files;
}

/**
 * SPEC §4.1 `--placement`: the names of the K tables / topics / buckets / streams a cell spreads its
 * files over, and which one holds a file. One helper for every adapter so the naming is the same
 * everywhere: `within` (or no placement) keeps the adapter's one object under its usual name, so
 * classic cells and their checkpoints are unchanged; `across:K` names object k `<base><sep>p<k>`.
 */
import { objectIndexOf, placementObjects, type Placement } from '../../experiment/dimensions.js';
import type { CellContext } from '../types.js';
import { labTableName } from './layout.js';

/** The cell's objects in index order: `[base]` for within, else `base<sep>p0 … base<sep>p<K-1>`. */
export function objectNames(base: string, placement: Placement | undefined, separator = '_'): string[] {
  const count = placementObjects(placement);
  if (count === 1) return [base];
  return Array.from({ length: count }, (_, index) => `${base}${separator}p${index}`);
}

/** The object file `fileId` lives in (round-robin, `objectIndexOf`). */
export function objectFor(fileId: number, base: string, placement: Placement | undefined, separator = '_'): string {
  return objectNames(base, placement, separator)[objectIndexOf(fileId, placement)]!;
}

/** Files grouped by the object they live in, in object order; objects without a file are left out. */
export function groupByObject<T extends { id: number }>(files: readonly T[], base: string, placement: Placement | undefined, separator = '_'): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const name of objectNames(base, placement, separator)) groups.set(name, []);
  for (const file of files) groups.get(objectFor(file.id, base, placement, separator))!.push(file);
  for (const [name, group] of groups) if (group.length === 0) groups.delete(name);
  return groups;
}

/** The suffix pattern `objectNames` adds (for adapters that recognise their own objects by name). */
export const PLACEMENT_SUFFIX = /p[0-9]{1,2}/;

/** SQL adapters: every table of the cell (`blobs` / `n_<type>`, or its `_p<k>` tables under `across:K`). */
export function labTablesOf(cell: CellContext): string[] {
  return objectNames(labTableName(cell), cell.placement);
}

/** SQL adapters: the table file `fileId` lives in. */
export function labTableOf(cell: CellContext, fileId: number): string {
  return objectFor(fileId, labTableName(cell), cell.placement);
}

/**
 * How the SPEC §4.1 dimensions of a cell show in the reports: a short label beside the variant,
 * so cells that differ only in a dimension are never averaged together as repetitions.
 */
import type { StageRecord } from '../experiment/record.js';

type Dimensioned = Pick<StageRecord, 'variant' | 'deleteMethod' | 'deleteScope' | 'placement' | 'cache'>;

/** e.g. `delete bulk, copies only, across:4, cold`; empty for a cell at every default. */
export function dimensionLabel(record: Dimensioned): string {
  const parts: string[] = [];
  if (record.deleteMethod && record.deleteMethod !== 'perfile') parts.push(`delete ${record.deleteMethod}`);
  if (record.deleteScope === 'duplicates') parts.push('copies only');
  if (record.placement && record.placement !== 'within') parts.push(record.placement);
  if (record.cache === 'cold') parts.push('cold');
  return parts.join(', ');
}

/** The variant as the reports show it: `default [delete bulk, cold]`. */
export function variantWithDimensions(record: Dimensioned): string {
  const label = dimensionLabel(record);
  return label ? `${record.variant} [${label}]` : record.variant;
}

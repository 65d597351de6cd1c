/**
 * The research plan's dimensions (SPEC §4.1): how data leaves (delete method), what leaves
 * (delete scope), where files go (placement) and the cache state of the `read` stage. Pure:
 * parsing, the cell-id suffix and the file → object mapping, each with a unit test.
 */
import { invalidChoice, UsageError } from '../core/errors.js';

export const DELETE_METHODS = ['perfile', 'bulk', 'truncate', 'drop'] as const;
export type DeleteMethod = (typeof DELETE_METHODS)[number];
export const DELETE_SCOPES = ['all', 'duplicates'] as const;
export type DeleteScope = (typeof DELETE_SCOPES)[number];
export const CACHE_STATES = ['warm', 'cold'] as const;
export type CacheState = (typeof CACHE_STATES)[number];

/** All files in one table/topic/bucket/stream, or round-robin over `objects` of them. */
export type Placement = { kind: 'within' } | { kind: 'across'; objects: number };

/** The dimensions of one cell; every field at its default is the classic cell of SPEC §4. */
export interface CellDimensions {
  deleteMethod: DeleteMethod;
  deleteScope: DeleteScope;
  placement: Placement;
  cache: CacheState;
}

export const DEFAULT_DIMENSIONS: CellDimensions = { deleteMethod: 'perfile', deleteScope: 'all', placement: { kind: 'within' }, cache: 'warm' };

/** Most objects `across:K` may spread over: enough for the plan, few enough to stay cheap. */
export const MAX_PLACEMENT_OBJECTS = 64;

export function parseDeleteMethods(raw: readonly string[]): DeleteMethod[] {
  if (raw.length === 0) throw new UsageError(`empty delete method list; valid: ${DELETE_METHODS.join(', ')}`);
  for (const method of raw) if (!(DELETE_METHODS as readonly string[]).includes(method)) throw invalidChoice('delete method', method, DELETE_METHODS);
  // Kept in the documented order, each once.
  return DELETE_METHODS.filter((method) => raw.includes(method));
}

export function parseDeleteScope(raw: string): DeleteScope {
  if (!(DELETE_SCOPES as readonly string[]).includes(raw)) throw invalidChoice('delete scope', raw, DELETE_SCOPES);
  return raw as DeleteScope;
}

export function parseCacheState(raw: string): CacheState {
  if (!(CACHE_STATES as readonly string[]).includes(raw)) throw invalidChoice('cache', raw, CACHE_STATES);
  return raw as CacheState;
}

/** `within` or `across:K` with 2 ≤ K ≤ 64 (one object is `within`). */
export function parsePlacement(raw: string): Placement {
  const text = raw.trim();
  if (text === 'within') return { kind: 'within' };
  const match = /^across:([0-9]+)$/.exec(text);
  const objects = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(objects) || objects < 2 || objects > MAX_PLACEMENT_OBJECTS) {
    throw new UsageError(`invalid placement ${JSON.stringify(raw)}; valid: within, across:K with K from 2 to ${MAX_PLACEMENT_OBJECTS}`);
  }
  return { kind: 'across', objects };
}

export function placementLabel(placement: Placement): string {
  return placement.kind === 'within' ? 'within' : `across:${placement.objects}`;
}

/** How many objects the cell's files are spread over (1 for `within`). */
export function placementObjects(placement: Placement | undefined): number {
  return placement?.kind === 'across' ? placement.objects : 1;
}

/** Round-robin: file id i goes to object i mod K (0 for `within`). */
export function objectIndexOf(fileId: number, placement: Placement | undefined): number {
  return fileId % placementObjects(placement);
}

/**
 * The cell-id suffix of the non-default dimensions, e.g. `.del-bulk.dup.across4.cold` — empty
 * for the default cell, so existing cell ids (and their checkpoints) stay what they were.
 */
export function dimensionSuffix(dimensions: CellDimensions): string {
  const parts: string[] = [];
  if (dimensions.deleteMethod !== 'perfile') parts.push(`del-${dimensions.deleteMethod}`);
  if (dimensions.deleteScope !== 'all') parts.push('dup');
  if (dimensions.placement.kind === 'across') parts.push(`across${dimensions.placement.objects}`);
  if (dimensions.cache !== 'warm') parts.push(dimensions.cache);
  return parts.map((part) => `.${part}`).join('');
}

/** The manifest's duplicate copies: every file whose sha256 an earlier file already has. */
export function duplicateCopyIds(entries: readonly { sha256: string }[]): number[] {
  const seen = new Set<string>();
  const copies: number[] = [];
  entries.forEach((entry, id) => {
    if (seen.has(entry.sha256)) copies.push(id);
    else seen.add(entry.sha256);
  });
  return copies;
}

/** Which of the stored files a delete stage removes under the scope. */
export function filesToDelete(stored: readonly number[], scope: DeleteScope, entries: readonly { sha256: string }[]): number[] {
  if (scope === 'all') return [...stored];
  const copies = new Set(duplicateCopyIds(entries));
  return stored.filter((id) => copies.has(id));
}

/** Why a delete method cannot honour the scope (truncate and drop take everything), or null. */
export function scopeConflict(method: DeleteMethod, scope: DeleteScope): string | null {
  if (scope === 'duplicates' && (method === 'truncate' || method === 'drop')) {
    return `--delete-methods ${method} removes every file of the object; it cannot keep the originals that --delete-scope duplicates keeps`;
  }
  return null;
}

/** The plan's dimensions: several delete methods (one cell each), one scope, placement and cache state. */
export type PlanDimensions = { deleteMethods: readonly DeleteMethod[] } & Omit<CellDimensions, 'deleteMethod'>;

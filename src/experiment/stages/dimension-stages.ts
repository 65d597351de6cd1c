/**
 * The operations of the research-plan stages (SPEC §4.1): the delete stage under a method and a
 * scope, `maintenance_full`, `refill` and `read`. runCell (cell.ts) measures them through its
 * `runStage` exactly like the classic stages; these functions only do the work and say what it was.
 */
import { createHash } from 'node:crypto';
import { elapsedUs } from '../../measure/latency.js';
import { dropOsPageCache } from '../../measure/page-cache.js';
import type { ManifestEntry } from '../../dataset/manifest.js';
import type { CellContext, LabFile, LabFileRef, NotApplicable, SystemAdapter, WriteOutcome } from '../../systems/types.js';
import type { StageOutcome } from '../cell.js';
import type { StageRecord } from '../record.js';
import { recordsDigest } from '../../systems/shared/native-readback.js';
import { releaseOwned, requireNative } from '../../systems/shared/stages.js';
import { filesToDelete, scopeConflict, type CellDimensions, type DeleteMethod } from '../dimensions.js';

type Failure = { kind: string; message: string } | null;

export interface TimedEach {
  latenciesUs: number[];
  acknowledged: number[];
  failed: WriteOutcome['failed'];
  durationMs: number;
}

/** What runCell lends these operations: its adapter, context and the files the lab holds. */
export interface StageKit {
  adapter: SystemAdapter;
  context: CellContext;
  dimensions: CellDimensions;
  entries: readonly ManifestEntry[];
  stored(): number[];
  setStored(ids: number[]): void;
  bytesOf(ids: readonly number[]): number;
  timeEach(ids: number[] | undefined, operation: (file: LabFile) => Promise<void>): Promise<TimedEach>;
  /** The given files with their bytes, untimed (the native read check parses them). */
  files(ids: readonly number[]): AsyncIterable<LabFile>;
  verifyCount(expected: number, what: string): Promise<Failure>;
  writeFailure(failed: WriteOutcome['failed'], attempted: number): Failure;
  /** Primary-probe growth of this cell's `perfile_insert`, once recorded (for `refill`). */
  firstInsertGrowth(): number | null;
}

function isNotApplicable(value: unknown): value is NotApplicable {
  return typeof value === 'object' && value !== null && typeof (value as NotApplicable).notApplicable === 'string';
}

export function notApplicableOutcome(reason: string, extra?: Partial<StageRecord>): StageOutcome {
  return { files: 0, logicalBytes: 0, durationMs: 0, latenciesUs: [], measure: { kind: 'not-applicable', reason }, error: null, ...(extra ? { extra } : {}) };
}

function refOf(entries: readonly ManifestEntry[], id: number): LabFileRef {
  const entry = entries[id];
  if (!entry) throw new RangeError(`file id ${id} is not in the manifest (${entries.length} files)`);
  return { id, name: entry.name, size: entry.size, sha256: entry.sha256, payloadType: entry.payloadType };
}

async function timed<T>(operation: () => Promise<T>): Promise<{ result: T; durationMs: number }> {
  const start = process.hrtime.bigint();
  const result = await operation();
  return { result, durationMs: elapsedUs(start, process.hrtime.bigint()) / 1000 };
}

/** The one-operation delete of a method, or why the system has none. */
function wholeDelete(kit: StageKit, method: Exclude<DeleteMethod, 'perfile'>, ids: readonly number[]): (() => Promise<void | NotApplicable>) | string {
  const { adapter, context } = kit;
  if (method === 'bulk') return adapter.deleteMany ? () => adapter.deleteMany!(ids.map((id) => refOf(kit.entries, id)), context) : `${adapter.id} has no bulk delete`;
  if (method === 'truncate') return adapter.truncate ? () => adapter.truncate!(context) : `${adapter.id} has no truncate or purge`;
  return adapter.dropAndRecreate ? () => adapter.dropAndRecreate!(context) : `${adapter.id} cannot drop and recreate its lab object`;
}

/** The delete stage (recorded as `perfile_delete` with its `deleteMethod`/`deleteScope`). */
export async function deleteOperation(kit: StageKit): Promise<StageOutcome> {
  const { deleteMethod: method, deleteScope: scope } = kit.dimensions;
  const conflict = scopeConflict(method, scope);
  if (conflict) return notApplicableOutcome(conflict);
  const toDelete = filesToDelete(kit.stored(), scope, kit.entries);
  const keep = (removed: readonly number[]) => {
    const gone = new Set(removed);
    kit.setStored(kit.stored().filter((id) => !gone.has(id)));
  };
  if (method === 'perfile') {
    const { latenciesUs, acknowledged, failed, durationMs } = await kit.timeEach(toDelete, (file) => kit.adapter.deleteOne(file, kit.context));
    keep(acknowledged);
    // Deletes are verified by reading back what remains ("delete did nothing" was a predecessor bug).
    const error = kit.writeFailure(failed, toDelete.length) ?? (await kit.verifyCount(kit.stored().length, 'after perfile_delete'));
    return { files: acknowledged.length, logicalBytes: kit.bytesOf(acknowledged), durationMs, latenciesUs, measure: { kind: 'space' }, error };
  }
  const operation = wholeDelete(kit, method, toDelete);
  if (typeof operation === 'string') return notApplicableOutcome(operation);
  const { result, durationMs } = await timed(operation);
  if (isNotApplicable(result)) return notApplicableOutcome(result.notApplicable);
  keep(toDelete);
  const error = await kit.verifyCount(kit.stored().length, `after the ${method} delete`);
  return { files: toDelete.length, logicalBytes: kit.bytesOf(toDelete), durationMs, latenciesUs: [], measure: { kind: 'space' }, error };
}

/** `maintenance_full`: the rewriting level, or why the system has only one. */
export async function maintenanceFullOperation(kit: StageKit): Promise<StageOutcome> {
  const { adapter, context } = kit;
  if (!adapter.maintenanceFull) return notApplicableOutcome(`${adapter.id} has no second, rewriting maintenance level`);
  const { result, durationMs } = await timed(() => adapter.maintenanceFull!(context));
  if (isNotApplicable(result)) return { ...notApplicableOutcome(result.notApplicable), durationMs };
  return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure: { kind: 'space' }, error: null };
}

/** `refill`: every file the lab does not hold inserted again, one at a time, like perfile_insert. */
export async function refillOperation(kit: StageKit): Promise<StageOutcome> {
  const held = new Set(kit.stored());
  const ids = kit.entries.map((_, id) => id).filter((id) => !held.has(id));
  const { latenciesUs, acknowledged, failed, durationMs } = await kit.timeEach(ids, (file) => kit.adapter.insertOne(file, kit.context));
  kit.setStored([...kit.stored(), ...acknowledged].sort((a, b) => a - b));
  const error = kit.writeFailure(failed, ids.length) ?? (await kit.verifyCount(kit.stored().length, 'after refill'));
  const extra: Partial<StageRecord> = { firstInsertGrowthBytes: kit.firstInsertGrowth() };
  return { files: acknowledged.length, logicalBytes: kit.bytesOf(acknowledged), durationMs, latenciesUs, measure: { kind: 'edr' }, error, extra };
}

/** `--cache cold`: the system's own cache drop plus the OS page cache; a reason string when impossible. */
export async function makeCold(adapter: SystemAdapter, context: CellContext): Promise<string | NotApplicable> {
  if (!adapter.dropCaches) return { notApplicable: `${adapter.id} has no cache the tool can drop, so a cold read is not possible` };
  const own = await adapter.dropCaches(context);
  if (isNotApplicable(own)) return own;
  return `${own}; ${dropOsPageCache(adapter.localDataPaths())}`;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Why a read has no EDR and no reclaimed bytes (the probes' deltas still show it stored nothing). */
export const READ_STAGE_REASON = 'a read stores and frees nothing: it reports latency and throughput, not an EDR';

/** `read`: every stored file read back and checked against the manifest's sha256 (native: its records). */
export async function readOperation(kit: StageKit): Promise<StageOutcome> {
  const { adapter, context } = kit;
  const unreadable = readUnavailable(adapter, context);
  if (unreadable) return notApplicableOutcome(unreadable);
  let coldCache: string | null = null;
  if (kit.dimensions.cache === 'cold') {
    const cold = await makeCold(adapter, context);
    if (isNotApplicable(cold)) return notApplicableOutcome(cold.notApplicable);
    coldCache = cold;
  }
  const ids = kit.stored();
  const check = context.mode === 'native' ? nativeCheck(kit) : blobCheck(kit);
  const latenciesUs: number[] = [];
  const mismatched: number[] = [];
  let durationMs = 0;
  for await (const { id, ms, matches } of check(ids)) {
    if (context.signal.aborted) break;
    latenciesUs.push(ms * 1000);
    durationMs += ms;
    if (!matches) mismatched.push(id);
  }
  const extra: Partial<StageRecord> = { coldCache };
  if (mismatched.length > 0) {
    const what = context.mode === 'native' ? 'files whose records read back differ from the records the file parses into' : 'files read back differ from their manifest sha256';
    const message = `${mismatched.length} of ${ids.length} ${what}; first: file ${mismatched[0]} (${kit.entries[mismatched[0] as number]?.name})`;
    return { files: 0, logicalBytes: 0, durationMs, latenciesUs: [], measure: { kind: 'failed', reason: message }, error: { kind: 'integrity', message }, extra };
  }
  return { files: ids.length, logicalBytes: kit.bytesOf(ids), durationMs, latenciesUs, measure: { kind: 'not-applicable', reason: READ_STAGE_REASON }, error: null, extra };
}

/** Why this cell cannot be read back, or null. */
function readUnavailable(adapter: SystemAdapter, context: CellContext): string | null {
  if (context.mode === 'native') return adapter.readRecords ? null : `${adapter.id} cannot read native records back`;
  return adapter.readOne ? null : `${adapter.id} cannot read a file back`;
}

interface FileCheck {
  id: number;
  /** The system's read only; hashing and parsing are the tool's work, not the system's. */
  ms: number;
  matches: boolean;
}

function blobCheck(kit: StageKit): (ids: readonly number[]) => AsyncIterable<FileCheck> {
  return async function* (ids) {
    for (const id of ids) {
      const file = refOf(kit.entries, id);
      const { result: bytes, durationMs: ms } = await timed(() => kit.adapter.readOne!(file, kit.context));
      const matches = sha256Hex(bytes) === file.sha256;
      if (kit.adapter.readOneOwned) releaseOwned(bytes);
      yield { id, ms, matches };
    }
  };
}

/** Native: the records read back against the rows the file parses into (as multisets, per column type). */
function nativeCheck(kit: StageKit): (ids: readonly number[]) => AsyncIterable<FileCheck> {
  const { adapter, context } = kit;
  const { table, parse } = requireNative(context);
  return async function* (ids) {
    for await (const file of kit.files(ids)) {
      const { result: rows, durationMs: ms } = await timed(() => adapter.readRecords!(refOf(kit.entries, file.id), context));
      const expected: unknown[][] = [];
      for await (const row of parse(file)) expected.push(row);
      yield { id: file.id, ms, matches: recordsDigest(table, rows).digest === recordsDigest(table, expected).digest };
    }
  };
}

/**
 * The adapter contract every storage system implements (SPEC §5).
 *
 * Shape borrowed from go-ycsb / unstorage: a small required interface, a few optional
 * capabilities, one file per system, drivers imported lazily inside that file. The core
 * (runner, CLI) only ever sees these types and never imports a driver.
 */
import type { NativeTable } from '../dataset/records.js';

export type Mode = 'blob' | 'native';
export const MODES: readonly Mode[] = ['blob', 'native'];

/**
 * Every stage name of SPEC §1. The first five run by default (`STAGES`); the others are opt-in
 * (`--stages`) and are added to `OPT_IN_STAGES` by the features that implement them.
 */
export type StageName =
  | 'bulk_insert'
  | 'compaction'
  | 'perfile_insert'
  | 'perfile_delete'
  | 'maintenance'
  | 'maintenance_full'
  | 'refill'
  | 'read'
  | 'storage_dedup';
/** The default stages, in cell order (SPEC §4). */
export const STAGES: readonly StageName[] = [
  'bulk_insert',
  'compaction',
  'perfile_insert',
  'perfile_delete',
  'maintenance',
];
/** Opt-in stages that are implemented (accepted by `--stages`); each feature adds its own. */
export const OPT_IN_STAGES: readonly StageName[] = ['maintenance_full', 'refill', 'read', 'storage_dedup'];
/** Where every stage sits in a cell (SPEC §4, §4.1, §12): `--stages` is kept in this order. */
export const STAGE_ORDER: readonly StageName[] = [
  'bulk_insert',
  'compaction',
  // After compaction when that ran, else after bulk_insert: on the data at rest (src/storage/stage.ts).
  'storage_dedup',
  'perfile_insert',
  'perfile_delete',
  'maintenance',
  'maintenance_full',
  'refill',
  'read',
];

/** One data-set file as the runner hands it to an adapter. */
export interface LabFile {
  /** Stable id inside the cell: the file's index in the manifest (0-based). */
  id: number;
  /** File name in the data set, e.g. `00042.bin`. */
  name: string;
  size: number;
  /** Hex sha256 of the content; content-addressed variants key on it. */
  sha256: string;
  /** Payload type of this file (differs per file in `mixed` sets). */
  payloadType: string;
  /** Blob mode: the raw bytes. */
  content: Buffer;
}

/** A data-set file without its bytes: what a bulk delete needs (id, and sha256 for content-addressed variants). */
export type LabFileRef = Omit<LabFile, 'content'>;

/** Everything an adapter needs to know about the cell it is working on. */
export interface CellContext {
  /** Readable cell id for logs and results, e.g. `sqlite.default.blob.random_binary.U50.r1`. */
  cellId: string;
  /**
   * Short, already validated tag (`[a-z0-9]{1,16}`) unique per cell, for object names that must be
   * per cell (Kafka topic, S3 bucket, NATS stream): `<lab>_<objectTag>`.
   */
  objectTag: string;
  variant: string;
  mode: Mode;
  payloadType: string;
  grade: string;
  /** Native mode: the typed table shape for this payload type (SPEC §5.4). */
  nativeTable?: NativeTable;
  /** Native mode: parse a file into rows for `nativeTable`. */
  parseRecords?: (file: LabFile) => AsyncIterable<unknown[]>;
  /** Cooperative cancellation (SIGINT/SIGTERM): adapters check it between operations. */
  signal: AbortSignal;
  /**
   * SPEC §4.1 `--placement`: absent or `within` = one table/topic/bucket/stream; `across` = file i
   * lives in object `i mod objects` (`objectIndexOf`, src/experiment/dimensions.ts). Only adapters
   * whose definition sets `placementAcross` get `across`.
   */
  placement?: { kind: 'within' } | { kind: 'across'; objects: number };
  /**
   * SPEC §4.1: set when the cell also runs `maintenance_full`; then a system with two levels runs
   * its light one in `maintenance` (otherwise `maintenance` stays its strongest reclaiming one).
   */
  twoMaintenanceLevels?: boolean;
}

/** What a write stage really got acknowledged by the system (SPEC §6.1). */
export interface WriteOutcome {
  /** Ids of files whose write the system acknowledged. A failed write is never listed. */
  acknowledged: number[];
  /** Files the system refused, with the system's own error text. */
  failed: { id: number; error: string }[];
}

/** A stage the system has no operation for is recorded as not applicable, never as success. */
export interface NotApplicable {
  notApplicable: string; // the reason, e.g. "Redis has no space-reclaiming command"
}

export interface ProbeReading {
  /** Bytes, or null when the read failed (recorded as missing, never as a number). */
  bytes: number | null;
  error?: string;
}

/**
 * What a probe measures, from the top down (SPEC §6.2): what the system lists as stored payload
 * (`logical`), its own allocation accounting (`system`), blocks the file system or volume really
 * allocates (`storage`), resident memory of an in-memory system (`memory`).
 */
export type ProbeLayer = 'logical' | 'system' | 'storage' | 'memory';
export const PROBE_LAYERS: readonly ProbeLayer[] = ['logical', 'system', 'storage', 'memory'];

/**
 * What a probe covers: only the lab's own files/objects (`lab`), a server's whole data directory
 * with its WAL, other databases and temporary files (`data-dir`), a whole volume (`volume`), or
 * only the system's write-ahead / redo log (`log`, reported beside the data, never the headline).
 */
export type ProbeScope = 'lab' | 'data-dir' | 'volume' | 'log';
export const PROBE_SCOPES: readonly ProbeScope[] = ['lab', 'data-dir', 'volume', 'log'];

/** One way of reading a physical size (SPEC §6.2). */
export interface Probe {
  name: string; // 'internal' | 'fs' | 'prometheus' | 'memory' | adapter-specific extras
  /** The layer this probe reads (SPEC §6.2). */
  layer: ProbeLayer;
  /** What it covers; absent = the lab namespace as the system reports it (system/logical probes). */
  scope?: ProbeScope;
  /** How many stored copies the reading counts (1 for internal probes). */
  replicas: number;
  read(): Promise<ProbeReading>;
  /** How long the runner polls this probe for two equal consecutive reads. */
  settleTimeoutMs: number;
  /** Pause between settle polls (no fixed sleeps elsewhere). */
  pollIntervalMs: number;
  /** File probes (`fs`, `lab_fs`): the local paths they read now; the storage simulation scopes to `lab_fs`'s. */
  paths?: () => Promise<readonly string[]>;
}

export interface SystemAdapter {
  readonly id: string;
  /** Instance name from the config (several instances of one system are allowed). */
  readonly instance: string;

  connect(): Promise<void>;
  close(): Promise<void>;
  version(): Promise<string>;

  /** Make the lab namespace exist and be empty, with the objects the cell needs (table, topic …). */
  resetLab(cell: CellContext): Promise<void>;
  /** Remove the whole lab namespace, and nothing else. */
  dropLab(): Promise<void>;

  bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome>;
  /** Merge / compaction / vacuum on the data at rest, waited for until done. */
  compact(cell: CellContext): Promise<void | NotApplicable>;
  insertOne(file: LabFile, cell: CellContext): Promise<void>;
  deleteOne(file: LabFile, cell: CellContext): Promise<void>;
  /** Space-reclaiming operation after deletes, waited for until done. */
  maintenance(cell: CellContext): Promise<void | NotApplicable>;

  /**
   * How many of the cell's files the lab holds now, read back from the system: the number of
   * DISTINCT FILE IDS still stored/retrievable (blob mode: one value per id; native mode: distinct
   * `file_id` of the rows). Content-addressed variants (one value per sha256) keep a per-file
   * reference (index key/row/object) inside the lab namespace so they can answer by id, and
   * delete a content only when its last reference goes. A variant that legitimately holds fewer
   * ids (e.g. ClickHouse `replacing` after a merge collapsed duplicates) documents that and
   * declares it to the contract suite via `expectedStoredCount` (test/systems/contract.ts).
   */
  countStored(cell: CellContext): Promise<number>;

  /** Flush / checkpoint / analyze so the internal probe reports the truth. */
  settle(cell: CellContext): Promise<void>;
  /** The system's own size probes (at least `internal`). */
  probes(cell: CellContext): Probe[];
  /** Local directories holding this system's data, for the `fs` probe (empty when remote). */
  localDataPaths(): string[];
  /** Cheap numbers for the trace sampler; must not disturb the measured work. */
  sampleMetrics(): Promise<Record<string, number>>;
  /**
   * Space the system frees later than the stage ends (SPEC §6.4), read from the server's real
   * settings where it can: the reclaim watch samples until these have passed.
   */
  deferrals?(cell: CellContext, stage: StageName): Promise<Deferral[]>;

  // Optional capabilities of the research dimensions (SPEC §4.1). Absent = the stage or method is
  // not applicable for this system (recorded with a reason), never a silent substitute.
  /** `--delete-methods bulk`: the given files (all, or the copies) deleted in one operation. */
  deleteMany?(files: readonly LabFileRef[], cell: CellContext): Promise<void | NotApplicable>;
  /** `--delete-methods truncate`: the system's own truncate/purge of the cell's objects. */
  truncate?(cell: CellContext): Promise<void | NotApplicable>;
  /** `--delete-methods drop`: drop the cell's table/topic/bucket/stream and create it again, empty. */
  dropAndRecreate?(cell: CellContext): Promise<void | NotApplicable>;
  /** `maintenance_full`: the rewriting maintenance level (VACUUM FULL, OPTIMIZE FINAL …). */
  maintenanceFull?(cell: CellContext): Promise<void | NotApplicable>;
  /** `read`: one stored file's bytes as the system returns them (blob mode). */
  readOne?(file: LabFileRef, cell: CellContext): Promise<Buffer>;
  /**
   * `readOne` hands back a buffer of its own that nothing else references (not a view into a
   * driver's pool or response): the read stage frees it as soon as it is checked, instead of
   * leaving it to V8's next collection (shared/stages.ts `releaseContent`).
   */
  readonly readOneOwned?: boolean;
  /**
   * `read` in native mode: one stored file's records as the system returns them, each row's values
   * in `cell.nativeTable` column order without the file id (any row order; compared as a multiset
   * by src/systems/shared/native-readback.ts). A file not stored gives no rows, which then
   * differ from what the file parses into.
   */
  readRecords?(file: LabFileRef, cell: CellContext): Promise<unknown[][]>;
  /** `--cache cold`: drop the system's own caches; returns what was done (stated in the record). */
  dropCaches?(cell: CellContext): Promise<string | NotApplicable>;
}

/** A known delayed reclamation (ClickHouse old_parts_lifetime, Kafka file.delete.delay.ms …). */
export interface Deferral {
  /** The setting or mechanism, e.g. `old_parts_lifetime`. */
  name: string;
  /** How long after the stage ends the space is given back at the latest, ms. */
  durationMs: number;
  /** Where the number came from, e.g. "system.merge_tree_settings" or "Kafka default". */
  source: string;
  /** Whether the server still holds space this deferral will free (e.g. inactive parts exist): when given, it decides — the watch continues while true (past durationMs too) and the deferral is over once false. */
  stillPending?(): Promise<boolean>;
  /** The space cannot come back before durationMs (a TTL, not a periodic check): a watch window shorter than it does not wait for it and says so. */
  notBefore?: boolean;
}

/** Static description + factory, registered by id in `registry.ts`. */
export interface SystemDefinition<Options = unknown> {
  id: string;
  kind: 'embedded' | 'server';
  /** The first variant is the default (SPEC §5.3). */
  variants: readonly string[];
  modes: readonly Mode[];
  /** SPEC §4.1: the adapter honours `CellContext.placement` `across` (else those cells are not applicable). */
  placementAcross?: boolean;
  /** Parse + validate this system's options from the config (zod), with defaults. */
  parseOptions(raw: unknown): Options;
  create(instance: string, options: Options, labName: string): SystemAdapter;
}

/** Lab names: lower-case letters, digits and underscores, starting with a letter (SPEC §5). */
export const LAB_NAME_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

export class InvalidLabNameError extends Error {}

/** Refuse anything that could inject before any I/O happens. */
export function assertLabName(name: string): string {
  if (!LAB_NAME_PATTERN.test(name)) {
    throw new InvalidLabNameError(
      `invalid lab name ${JSON.stringify(name)}: must match ${LAB_NAME_PATTERN} (lower-case letters, digits, underscores; starts with a letter; at most 31 characters)`,
    );
  }
  return name;
}

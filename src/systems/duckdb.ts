/**
 * `duckdb` — embedded DuckDB through @duckdb/node-api (SPEC §5.1, §5.2).
 *
 * Lab namespace: one database file `<dataDir>/<lab>.duckdb` (+ `.wal`, and `.tmp/` while DuckDB
 * spills), attached to an in-memory instance so it can take a row-group size. Reset deletes and
 * recreates the file so the empty baseline is truly empty (DuckDB never shrinks a file).
 * Blob storage model (bounded memory, docs/systems-embedded.md): a file is stored as rows of at
 * most 8 KiB (`seq` 0, 1, …; each row repeats the file's id, name, sha256 and size), in row groups
 * of 2048 rows, under a 32 MiB `memory_limit`. Bulk: the appender (it joins the open transaction),
 * inside one transaction, flushed every 8 MiB. Per-file insert: the file's rows in one transaction.
 * Compaction and maintenance: `CHECKPOINT`, `VACUUM`, `CHECKPOINT` — DuckDB's VACUUM
 * does not give deleted space back (see docs/systems-embedded.md; the tests pin that behaviour).
 * Internal probe: `pragma_database_size()` used_blocks × block_size (blocks are 256 KiB, so the
 * probe moves in 256 KiB steps); settle = `CHECKPOINT` so the WAL is folded into the file.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBAppender, DuckDBBlobVector, DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { minorCollector } from '../core/gc.js';
import type { ColumnType } from '../dataset/records.js';
import type { CellContext, LabFile, LabFileRef, NotApplicable, Probe, SystemAdapter, SystemDefinition, WriteOutcome } from './types.js';
import { assertLabName, MODES } from './types.js';
import { parseEmbeddedOptions, type EmbeddedOptions } from './shared/options.js';
import { quoteIdent } from './shared/identifiers.js';
import { EMBEDDED_POLL_INTERVAL_MS, SYSTEM_LAYER, sizeProbe } from './shared/probes.js';
import { labFilesProbe, logFilesProbe } from './shared/lab-files.js';
import { fileIdColumn, labTableName } from './shared/layout.js';
import { groupByObject, labTableOf, labTablesOf } from './shared/placement.js';
import { checkRowWidth, DUCKDB_NATIVE_TYPES, nativeColumnsDdl } from './shared/native.js';
import { assertDeleted, notApplicable, releaseContent, requireNative, sqlTransaction, throwIfAborted, transactionalBulk, type RunInTransaction } from './shared/stages.js';
import { nativeReadSql, rowsInColumnOrder, type ReadbackExpression } from './shared/native-readback.js';

type DuckApi = typeof import('@duckdb/node-api');

/**
 * The allocator settings DuckDB's own jemalloc (linked into libduckdb, symbols prefixed
 * `duckdb_je_`) reads from this environment variable when it starts. DuckDB's built-in default is
 * `dirty_decay_ms:1000,muzzy_decay_ms:1000`: a freed page stays resident for up to a second, and
 * jemalloc only purges when an allocation comes by (no background thread). A lab run allocates and
 * frees hundreds of MiB a second (row groups, checkpoints, read results): through the tool at
 * 256 MiB the peak was 246 MiB with that setting and 218 MiB with 0, which gives a freed page back at once.
 */
export const DUCKDB_ALLOCATOR_ENV = 'DUCKDB_JE_MALLOC_CONF';
export const DUCKDB_ALLOCATOR_CONF = 'dirty_decay_ms:0,muzzy_decay_ms:0';

/** Loads @duckdb/node-api with the allocator configured first (a value the user set is kept). */
async function loadDuckdb(): Promise<DuckApi> {
  process.env[DUCKDB_ALLOCATOR_ENV] ??= DUCKDB_ALLOCATOR_CONF;
  return import('@duckdb/node-api');
}

/**
 * DuckDB's results and data chunks live in native memory that the JavaScript wrappers free only in
 * their finalizers, i.e. at V8's next collection — and V8 does not know about that memory (the
 * bindings do not report it), so nothing makes it collect. Reading 256 MiB file by file twice
 * (standalone probe) peaked at 311–440 MiB RSS, and at 158–183 MiB with a collection after each
 * read; through the tool at 256 MiB, 240 MiB without and 218 MiB with these collections. So after every `DUCKDB_COLLECT_EVERY_BYTES` of content passed
 * through results, the adapter asks V8 for a minor (young-generation) collection, where the short-lived
 * wrappers are. It is queued with setImmediate: it runs on the main thread at the next turn of the
 * event loop, i.e. while the next query runs on DuckDB's worker thread, not inside the caller's
 * own timing of the read that triggered it.
 */
export const DUCKDB_COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

let nativeBytesSinceCollect = 0;
let collectQueued = false;
/** Count `bytes` of DuckDB result memory handed to JavaScript; queue a collection past the bound. */
export function noteNativeResultBytes(bytes: number): void {
  nativeBytesSinceCollect += bytes;
  if (nativeBytesSinceCollect < DUCKDB_COLLECT_EVERY_BYTES || collectQueued) return;
  collectQueued = true;
  setImmediate(() => {
    collectQueued = false;
    nativeBytesSinceCollect = 0;
    minorCollector()?.();
  }).unref();
}

export const DUCKDB_VARIANTS = ['default'] as const;

/** Appender flush threshold: bounds memory whatever the file sizes. */
const APPENDER_FLUSH_BYTES = 8 * 1024 * 1024;

/**
 * Blob mode stores a file as rows of at most this many content bytes. Why: DuckDB keeps a
 * transaction's rows in memory until a row group is full, then writes it to the file (and a
 * checkpoint pins a whole row group); one row per file put a whole 1 GiB set in one row group
 * (5 GB RSS; under a memory_limit, "failed to pin block"). Chunks make a row group small.
 */
export const DUCKDB_BLOB_CHUNK_BYTES = 8 * 1024;

/** Rows per row group in blob mode (DuckDB's smallest, one vector): 2048 × 8 KiB = 16 MiB of content. */
export const DUCKDB_BLOB_ROW_GROUP_ROWS = 2048;

/**
 * DuckDB's buffer-pool limit; beyond it DuckDB spills to `<lab>.duckdb.tmp/`. It must hold a row
 * group (16 MiB) plus what an autocheckpoint pins (the 16 MiB `checkpoint_threshold` of committed
 * rows): at 16 MiB the per-file inserts' autocheckpoint failed ("failed to pin block"). 32 MiB
 * (48 MiB before) completes every stage at 1 GiB and takes ≈ 10 MiB less RSS; the used blocks
 * and file sizes are the same (docs/systems-embedded.md).
 */
export const DUCKDB_MEMORY_LIMIT = '32MiB';

/** A lab database file attached to an in-memory instance (one per file per process, shared). */
export interface DuckdbLabDatabase {
  /** A connection whose default database is the lab file. */
  connect(): Promise<DuckDBConnection>;
  /** Drops this handle; the instance closes with the last one. */
  release(): void;
}

interface SharedLabInstance {
  instance: Promise<DuckDBInstance>;
  handles: number;
}

const labInstances = new Map<string, SharedLabInstance>();

/**
 * Opens (or shares) the database file `path`: a second handle in this process must share the
 * open instance, as two instances on one file would corrupt it. `rowGroupRows` applies to row
 * groups written from now on (null: DuckDB's default); it is fixed when the instance opens.
 */
export async function openDuckdbLab(path: string, rowGroupRows: number | null): Promise<DuckdbLabDatabase> {
  let shared = labInstances.get(path);
  if (!shared) {
    shared = { instance: createLabInstance(path, rowGroupRows), handles: 0 };
    labInstances.set(path, shared);
  }
  shared.handles += 1;
  const owner = shared;
  let instance: DuckDBInstance;
  try {
    instance = await owner.instance;
  } catch (error) {
    if (--owner.handles === 0 && labInstances.get(path) === owner) labInstances.delete(path);
    throw error;
  }
  let released = false;
  return {
    async connect() {
      const connection = await instance.connect();
      await connection.run('USE lab');
      return connection;
    },
    release() {
      if (released) return;
      released = true;
      if (--owner.handles > 0) return;
      if (labInstances.get(path) === owner) labInstances.delete(path);
      instance.closeSync();
    },
  };
}

async function createLabInstance(path: string, rowGroupRows: number | null): Promise<DuckDBInstance> {
  const api = await loadDuckdb();
  const instance = await api.DuckDBInstance.create(':memory:', { memory_limit: DUCKDB_MEMORY_LIMIT, temp_directory: `${path}.tmp` });
  try {
    const connection = await instance.connect();
    const rowGroup = rowGroupRows === null ? '' : ` (ROW_GROUP_SIZE ${rowGroupRows})`;
    await connection.run(`ATTACH '${path.replaceAll("'", "''")}' AS lab${rowGroup}`);
    connection.closeSync();
    return instance;
  } catch (error) {
    instance.closeSync();
    throw error;
  }
}

/** The content rows of one file: at least one (an empty file is one empty row). */
export function blobChunks(content: Buffer, chunkBytes = DUCKDB_BLOB_CHUNK_BYTES): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += chunkBytes) chunks.push(content.subarray(offset, offset + chunkBytes));
  return chunks.length > 0 ? chunks : [content];
}

/** used_blocks × block_size — pure so the arithmetic has its own test. */
export function duckdbUsedBytes(usedBlocks: bigint | number, blockSize: bigint | number): number {
  return Number(BigInt(usedBlocks) * BigInt(blockSize));
}

/** Append one native value with the appender method for its portable type (strings are cast by DuckDB). */
export function appendNativeValue(appender: DuckDBAppender, type: ColumnType, value: unknown): void {
  if (value === null || value === undefined) return appender.appendNull();
  switch (type) {
    case 'int':
      if (typeof value !== 'number' && typeof value !== 'bigint') throw new TypeError(`int column got ${typeof value}`);
      return appender.appendBigInt(BigInt(value));
    case 'float':
      if (typeof value !== 'number') throw new TypeError(`float column got ${typeof value}`);
      return appender.appendDouble(value);
    case 'bool':
      if (typeof value !== 'boolean') throw new TypeError(`bool column got ${typeof value}`);
      return appender.appendBoolean(value);
    case 'bytes':
      if (!Buffer.isBuffer(value)) throw new TypeError('bytes column needs a Buffer');
      return appender.appendBlob(value);
    default:
      if (typeof value === 'object') throw new TypeError(`${type} column got an object; values arrive as text`);
      return appender.appendVarchar(String(value)); // DuckDB casts to DECIMAL/TIMESTAMPTZ/UUID/JSON
  }
}

class DuckdbAdapter implements SystemAdapter {
  readonly id = 'duckdb';
  private api: DuckApi | null = null;
  private database: DuckdbLabDatabase | null = null;
  private connection: DuckDBConnection | null = null;
  /** The row-group size the lab file is opened with: blob mode's, or DuckDB's default (native). */
  private rowGroupRows: number | null = DUCKDB_BLOB_ROW_GROUP_ROWS;
  private readonly dbPath: string;

  constructor(
    readonly instance: string,
    private readonly options: EmbeddedOptions,
    labName: string,
  ) {
    this.dbPath = join(options.dataDir, `${labName}.duckdb`);
  }

  async connect(): Promise<void> {
    if (!this.api) this.api = await loadDuckdb();
    mkdirSync(this.options.dataDir, { recursive: true });
    if (!this.connection && existsSync(this.dbPath)) await this.open();
  }

  async close(): Promise<void> {
    this.connection?.closeSync();
    this.database?.release();
    this.connection = null;
    this.database = null;
  }

  async version(): Promise<string> {
    const api = this.requireApi();
    const memory = await api.DuckDBInstance.create(':memory:');
    try {
      const connection = await memory.connect();
      const rows = (await connection.runAndReadAll('SELECT version() AS v')).getRowObjectsJS();
      connection.closeSync();
      return `DuckDB ${String(rows[0]?.v ?? '')}`;
    } finally {
      memory.closeSync();
    }
  }

  async resetLab(cell: CellContext): Promise<void> {
    await this.close();
    this.removeFiles();
    // Native rows are small: DuckDB's default row groups (and so its compression) stay as they were.
    this.rowGroupRows = cell.mode === 'blob' ? DUCKDB_BLOB_ROW_GROUP_ROWS : null;
    const connection = await this.open();
    await this.createTable(cell);
    await connection.run('CHECKPOINT');
  }

  private async createTable(cell: CellContext): Promise<void> {
    const connection = this.requireConnection();
    // One table, or the K tables of `--placement across:K`.
    for (const table of labTablesOf(cell).map((name) => quoteIdent(name))) {
      if (cell.mode === 'blob') {
        // One row per ≤ 8 KiB chunk; name, sha256 and size repeat per row (DuckDB compresses the repeats).
        await connection.run(`CREATE TABLE ${table} (id INTEGER NOT NULL, seq INTEGER NOT NULL, name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL)`);
      } else {
        await connection.run(`CREATE TABLE ${table} (${nativeColumnsDdl(requireNative(cell).table, DUCKDB_NATIVE_TYPES, 'INTEGER')})`);
      }
    }
  }

  async dropLab(): Promise<void> {
    await this.close();
    this.removeFiles();
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const connection = this.requireConnection();
    // One appender per table: one, or K under `--placement across:K`.
    const appenders = new Map<string, DuckDBAppender>();
    let pendingBytes = 0;
    const appendFile = this.appendFile(cell);
    const write = async (file: LabFile) => {
      const table = labTableOf(cell, file.id);
      let appender = appenders.get(table);
      if (!appender) appenders.set(table, (appender = await connection.createAppender(table)));
      pendingBytes += await appendFile(appender, file);
      // The appender copied the bytes into DuckDB's chunk: the file's buffer is free now.
      releaseContent(file);
      if (pendingBytes >= APPENDER_FLUSH_BYTES) {
        for (const open of appenders.values()) open.flushSync();
        pendingBytes = 0;
      }
    };
    const flush = () => {
      // closeSync flushes the rest; an error here (e.g. a refused value) fails the transaction.
      const open = [...appenders.values()];
      appenders.clear();
      for (const appender of open) appender.closeSync();
    };
    const inTransaction: RunInTransaction = async (body) =>
      this.transaction()(async () => {
        try {
          await body();
        } finally {
          // On failure the appenders are discarded without flushing; the rollback drops what they sent.
          for (const appender of appenders.values()) {
            appender.clear();
            appender.closeSync();
          }
          appenders.clear();
        }
      });
    return transactionalBulk(files, cell, inTransaction, write, flush);
  }

  async compact(_cell: CellContext): Promise<void> {
    await this.vacuum();
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    const connection = this.requireConnection();
    // All rows of the file (its chunks, or its native rows) or none.
    const appendFile = this.appendFile(cell);
    await this.transaction()(async () => {
      const appender = await connection.createAppender(labTableOf(cell, file.id));
      try {
        await appendFile(appender, file);
      } catch (error) {
        appender.clear();
        appender.closeSync();
        throw error;
      }
      appender.closeSync();
    });
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    const sql = `DELETE FROM ${quoteIdent(labTableOf(cell, file.id))} WHERE ${quoteIdent(fileIdColumn(cell))} = $1`;
    const result = await this.requireConnection().run(sql, [file.id]);
    assertDeleted(result.rowsChanged, file, `duckdb ${this.dbPath}`);
  }

  async maintenance(_cell: CellContext): Promise<void> {
    await this.vacuum();
  }

  async countStored(cell: CellContext): Promise<number> {
    // File ids are disjoint between the tables of `across:K`: the counts add up.
    let stored = 0;
    for (const table of labTablesOf(cell)) {
      const sql = `SELECT count(DISTINCT ${quoteIdent(fileIdColumn(cell))})::BIGINT AS n FROM ${quoteIdent(table)}`;
      stored += Number((await this.requireConnection().runAndReadAll(sql)).getRowObjectsJS()[0]?.n);
    }
    return stored;
  }

  async settle(_cell: CellContext): Promise<void> {
    await this.requireConnection().run('CHECKPOINT');
  }

  probes(_cell: CellContext): Probe[] {
    // settle() ran CHECKPOINT, so two reads agree at once: poll fast, no idle wait.
    return [
      sizeProbe('internal', SYSTEM_LAYER, () => this.usedBytes(), { settleTimeoutMs: 5_000, pollIntervalMs: EMBEDDED_POLL_INTERVAL_MS }),
      labFilesProbe(() => [this.dbPath]),
      logFilesProbe(() => [`${this.dbPath}.wal`]),
    ];
  }

  localDataPaths(): string[] {
    return [this.dbPath, `${this.dbPath}.wal`];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // File sizes by stat only: a query on the work's connection would queue behind it.
    const metrics: Record<string, number> = {};
    for (const [name, path] of [['fileBytes', this.dbPath], ['walBytes', `${this.dbPath}.wal`]] as const) {
      metrics[name] = existsSync(path) ? statSync(path).size : 0;
    }
    return metrics;
  }

  private async usedBytes(): Promise<number> {
    const rows = (await this.requireConnection().runAndReadAll('SELECT used_blocks, block_size FROM pragma_database_size()')).getRowObjects();
    const row = rows[0];
    if (!row) throw new Error('pragma_database_size() returned no row');
    return duckdbUsedBytes(row.used_blocks as bigint, row.block_size as bigint);
  }

  private async vacuum(): Promise<void> {
    const connection = this.requireConnection();
    await connection.run('CHECKPOINT');
    await connection.run('VACUUM');
    await connection.run('CHECKPOINT');
  }

  /** Append one file's row(s); returns the payload bytes appended (for the flush threshold). */
  private appendFile(cell: CellContext): (appender: DuckDBAppender, file: LabFile) => Promise<number> {
    if (cell.mode === 'blob') {
      return async (appender, file) => {
        blobChunks(file.content).forEach((chunk, seq) => {
          appender.appendInteger(file.id);
          appender.appendInteger(seq);
          appender.appendVarchar(file.name);
          appender.appendVarchar(file.sha256);
          appender.appendInteger(file.size);
          appender.appendBlob(chunk);
          appender.endRow();
        });
        return file.content.length;
      };
    }
    const { table, parse } = requireNative(cell);
    return async (appender, file) => {
      let bytes = 0;
      for await (const row of parse(file)) {
        checkRowWidth(table, row, file.name);
        appender.appendInteger(file.id);
        row.forEach((value, index) => appendNativeValue(appender, table.columns[index]!.type, value));
        appender.endRow();
        bytes += row.reduce<number>((sum, value) => sum + (Buffer.isBuffer(value) ? value.length : String(value ?? '').length), 0);
      }
      return bytes;
    };
  }

  private transaction(): RunInTransaction {
    const connection = this.requireConnection();
    return sqlTransaction({
      begin: () => connection.run('BEGIN TRANSACTION'),
      commit: () => connection.run('COMMIT'),
      rollback: () => connection.run('ROLLBACK'),
    });
  }

  private async open(): Promise<DuckDBConnection> {
    // Shared per file and process, so a second handle (tests, tools) does not open it twice.
    this.database = await openDuckdbLab(this.dbPath, this.rowGroupRows);
    this.connection = await this.database.connect();
    return this.connection;
  }

  // SPEC §4.1 capabilities.
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    // One statement per table; the ids are integers from the manifest, bound as a list parameter.
    for (const [table, group] of groupByObject(files, labTableName(cell), cell.placement)) {
      const sql = `DELETE FROM ${quoteIdent(table)} WHERE list_contains($1::INTEGER[], ${quoteIdent(fileIdColumn(cell))})`;
      await this.requireConnection().run(sql, [this.requireApi().listValue(group.map((file) => file.id))]);
    }
  }

  async truncate(cell: CellContext): Promise<void> {
    for (const table of labTablesOf(cell)) await this.requireConnection().run(`TRUNCATE ${quoteIdent(table)}`);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    for (const table of labTablesOf(cell)) await this.requireConnection().run(`DROP TABLE ${quoteIdent(table)}`);
    await this.createTable(cell);
  }

  async maintenanceFull(_cell: CellContext): Promise<NotApplicable> {
    return notApplicable('duckdb has one maintenance level: VACUUM + CHECKPOINT (no rewriting VACUUM FULL; a rewrite means copying the database)');
  }

  /** readOne copies the chunks into a buffer of its own: the read stage may free it after the check. */
  readonly readOneOwned = true;

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const sql = `SELECT seq, size, content FROM ${quoteIdent(labTableOf(cell, file.id))} WHERE id = $1 ORDER BY seq`;
    const result = await this.requireConnection().run(sql, [file.id]);
    // Straight from the vectors into one buffer of the stored size: one copy of each chunk (the
    // row objects copied every chunk twice, then Buffer.concat a third time).
    let content: Buffer | null = null;
    let stored = 0;
    let seq = 0;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      const seqs = chunk.getColumnVector(0);
      const sizes = chunk.getColumnVector(1);
      const blobs = chunk.getColumnVector(2) as DuckDBBlobVector;
      for (let row = 0; row < chunk.rowCount; row += 1, seq += 1) {
        // The runner checks the sha256; a lost or repeated chunk is named here, where it is visible.
        const found = seqs.getItem(row);
        if (found !== seq) throw new Error(`file ${file.id} in duckdb ${this.dbPath}: chunk ${seq} is missing (found seq ${String(found)})`);
        content ??= Buffer.allocUnsafeSlow(Number(sizes.getItem(row)));
        const bytes = blobs.getItemBytes(row) ?? new Uint8Array(0);
        if (stored + bytes.length <= content.length) content.set(bytes, stored);
        stored += bytes.length;
      }
    }
    if (content === null) throw new Error(`file ${file.id} is not stored in duckdb ${this.dbPath}`);
    noteNativeResultBytes(stored);
    if (stored !== content.length) throw new Error(`file ${file.id} in duckdb ${this.dbPath}: ${stored} bytes stored, ${content.length} expected`);
    return content;
  }

  /** Native read-back: timestamps as epoch ms, DECIMAL/UUID/JSON as text, so no DuckDB value class leaks. */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    const { table } = requireNative(cell);
    const duckdbReadback: ReadbackExpression = (column, type) =>
      type === 'timestamp' ? `epoch_ms(${column})` : ['decimal', 'uuid', 'json'].includes(type) ? `CAST(${column} AS VARCHAR)` : column;
    const sql = nativeReadSql(table, quoteIdent(labTableName(cell)), fileIdColumn(cell), '$1', (name) => quoteIdent(name), duckdbReadback);
    const reader = await this.requireConnection().runAndReadAll(sql, [file.id]);
    return rowsInColumnOrder(table, reader.getRowObjects() as Record<string, unknown>[]);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    // DuckDB's buffer pool belongs to the database instance.
    await this.close();
    await this.open();
    return 'DuckDB buffer pool: instance closed and reopened';
  }

  private removeFiles(): void {
    for (const path of [...this.localDataPaths(), `${this.dbPath}.tmp`]) rmSync(path, { force: true, recursive: true });
  }

  private requireApi(): DuckApi {
    if (!this.api) throw new Error('duckdb adapter is not connected (call connect first)');
    return this.api;
  }

  private requireConnection(): DuckDBConnection {
    if (!this.connection) throw new Error(`duckdb lab database ${this.dbPath} is not open (call resetLab first)`);
    return this.connection;
  }
}

export const definition: SystemDefinition<EmbeddedOptions> = {
  id: 'duckdb',
  kind: 'embedded',
  variants: DUCKDB_VARIANTS,
  modes: MODES,
  placementAcross: true,
  parseOptions: (raw) => parseEmbeddedOptions('duckdb', raw),
  create(instance, options, labName) {
    assertLabName(labName);
    return new DuckdbAdapter(instance, options, labName);
  },
};

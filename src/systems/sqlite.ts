/**
 * `sqlite` — embedded SQLite through better-sqlite3 (SPEC §5.1, §5.2).
 *
 * Lab namespace: one database file `<dataDir>/<lab>.sqlite` (+ its `-wal`/`-shm`). Reset deletes
 * and recreates the file, so the empty baseline is a truly empty database: dropping tables would
 * leave their pages on SQLite's freelist, and the next cell would then reuse them and show ~0
 * growth (the predecessor's "size that never shrinks" bug).
 * Journal: WAL; `settle` runs `wal_checkpoint(TRUNCATE)` so the main file holds everything.
 * Bulk: one transaction, one prepared insert. Compaction and maintenance: `VACUUM`.
 * Probes: `internal` = page_count × page_size (the file SQLite keeps, freelist included),
 * `dbstat` = bytes of pages in use by b-trees (excludes free pages).
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { CellContext, LabFile, LabFileRef, NotApplicable, Probe, SystemAdapter, SystemDefinition, WriteOutcome } from './types.js';
import { assertLabName, MODES } from './types.js';
import { parseEmbeddedOptions, type EmbeddedOptions } from './shared/options.js';
import { quoteIdent } from './shared/identifiers.js';
import { EMBEDDED_POLL_INTERVAL_MS, SYSTEM_LAYER, sizeProbe } from './shared/probes.js';
import { labFilesProbe, logFilesProbe } from './shared/lab-files.js';
import { fileIdColumn, labTableName } from './shared/layout.js';
import { groupByObject, labTableOf, labTablesOf } from './shared/placement.js';
import { checkRowWidth, nativeColumnsDdl, nativeInsertColumns, SQLITE_NATIVE_TYPES } from './shared/native.js';
import { assertDeleted, notApplicable, releaseContent, requireNative, sqlTransaction, throwIfAborted, transactionalBulk, type RunInTransaction } from './shared/stages.js';
import { nativeReadSql, rowsInColumnOrder } from './shared/native-readback.js';

type SqliteDriver = typeof BetterSqlite3;
type Db = BetterSqlite3.Database;

export const SQLITE_VARIANTS = ['default'] as const;

/** A native value as better-sqlite3 binds it (it refuses booleans and undefined). */
export function toSqliteValue(value: unknown): string | number | bigint | Buffer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || Buffer.isBuffer(value)) return value;
  throw new TypeError(`unsupported native value of type ${typeof value}`);
}

/** page_count × page_size — pure so the arithmetic has its own test. */
export function sqliteFileBytes(pageCount: number, pageSize: number): number {
  return pageCount * pageSize;
}

class SqliteAdapter implements SystemAdapter {
  readonly id = 'sqlite';
  private driver: SqliteDriver | null = null;
  private db: Db | null = null;
  private readonly dbPath: string;

  constructor(
    readonly instance: string,
    private readonly options: EmbeddedOptions,
    labName: string,
  ) {
    this.dbPath = join(options.dataDir, `${labName}.sqlite`);
  }

  async connect(): Promise<void> {
    if (!this.driver) this.driver = (await import('better-sqlite3')).default;
    mkdirSync(this.options.dataDir, { recursive: true });
    // An existing lab database is reopened (reconnect after a lost connection keeps the data).
    if (!this.db && existsSync(this.dbPath)) this.open();
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = null;
  }

  async version(): Promise<string> {
    const memory = new (this.requireDriver())(':memory:');
    try {
      const row = memory.prepare('SELECT sqlite_version() AS v').get() as { v: string };
      return `SQLite ${row.v}`;
    } finally {
      memory.close();
    }
  }

  async resetLab(cell: CellContext): Promise<void> {
    await this.close();
    this.removeFiles();
    // Two maintenance levels (SPEC §4.1): `auto_vacuum = INCREMENTAL`, so the light level
    // (`PRAGMA incremental_vacuum`, gives the freelist pages back) means something before VACUUM.
    // Only a fresh database takes a new auto_vacuum mode: before WAL mode writes its first page.
    this.open(cell.twoMaintenanceLevels === true);
    this.createTable(cell);
    this.checkpoint();
  }

  private createTable(cell: CellContext): void {
    const db = this.requireDb();
    // One table, or the K tables of `--placement across:K`.
    for (const table of labTablesOf(cell).map((name) => quoteIdent(name))) {
      if (cell.mode === 'blob') {
        // INTEGER PRIMARY KEY is SQLite's rowid: no separate index, so no extra bytes.
        db.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL)`);
      } else {
        db.exec(`CREATE TABLE ${table} (${nativeColumnsDdl(requireNative(cell).table, SQLITE_NATIVE_TYPES, 'INTEGER')})`);
      }
    }
  }

  async dropLab(): Promise<void> {
    await this.close();
    this.removeFiles();
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const write = this.writer(cell);
    // SQLite copies a bound value when the statement runs: the file's bytes are free right after.
    return transactionalBulk(files, cell, this.transaction(), async (file) => {
      await write(file);
      releaseContent(file);
    });
  }

  async compact(_cell: CellContext): Promise<void> {
    this.requireDb().exec('VACUUM');
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    const write = this.writer(cell);
    // Blob: one statement is its own transaction. Native: all rows of the file or none.
    if (cell.mode === 'blob') await write(file);
    else await this.transaction()(async () => write(file));
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    const sql = `DELETE FROM ${quoteIdent(labTableOf(cell, file.id))} WHERE ${quoteIdent(fileIdColumn(cell))} = ?`;
    const result = this.requireDb().prepare(sql).run(file.id);
    assertDeleted(result.changes, file, `sqlite ${this.dbPath}`);
  }

  async maintenance(cell: CellContext): Promise<void> {
    // Two levels: the light one gives the free pages back without rewriting; else VACUUM.
    if (cell.twoMaintenanceLevels) this.requireDb().pragma('incremental_vacuum');
    else this.requireDb().exec('VACUUM');
  }

  async countStored(cell: CellContext): Promise<number> {
    // File ids are disjoint between the tables of `across:K`: the counts add up.
    const count = (table: string) => `SELECT count(DISTINCT ${quoteIdent(fileIdColumn(cell))}) AS n FROM ${quoteIdent(table)}`;
    return labTablesOf(cell).reduce((sum, table) => sum + (this.requireDb().prepare(count(table)).get() as { n: number }).n, 0);
  }

  async settle(_cell: CellContext): Promise<void> {
    this.checkpoint();
  }

  probes(_cell: CellContext): Probe[] {
    // settle() checkpointed synchronously, so two reads agree at once: poll fast, no idle wait.
    const timings = { settleTimeoutMs: 5_000, pollIntervalMs: EMBEDDED_POLL_INTERVAL_MS };
    return [
      sizeProbe('internal', SYSTEM_LAYER, () => this.fileBytes(), timings),
      sizeProbe('dbstat', SYSTEM_LAYER, () => this.dbstatBytes(), timings),
      labFilesProbe(() => [this.dbPath]),
      logFilesProbe(() => [`${this.dbPath}-wal`]),
    ];
  }

  localDataPaths(): string[] {
    return [this.dbPath, `${this.dbPath}-wal`, `${this.dbPath}-shm`];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // Same process and connection as the work: two pragma reads and a stat, microseconds.
    if (!this.db) return {};
    const wal = `${this.dbPath}-wal`;
    return { internalBytes: this.fileBytes(), walBytes: existsSync(wal) ? statSync(wal).size : 0 };
  }

  private transaction(): RunInTransaction {
    const db = this.requireDb();
    return sqlTransaction({
      begin: () => db.exec('BEGIN'),
      commit: () => db.exec('COMMIT'),
      rollback: () => db.inTransaction && db.exec('ROLLBACK'),
    });
  }

  private requireDriver(): SqliteDriver {
    if (!this.driver) throw new Error('sqlite adapter is not connected (call connect first)');
    return this.driver;
  }

  private requireDb(): Db {
    if (!this.db) throw new Error(`sqlite lab database ${this.dbPath} is not open (call resetLab first)`);
    return this.db;
  }

  private open(incrementalVacuum = false): Db {
    const db = new (this.requireDriver())(this.dbPath);
    if (incrementalVacuum) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // NORMAL is crash-safe in WAL mode; durability of the last transaction is not what we measure.
    db.pragma('synchronous = NORMAL');
    this.db = db;
    return db;
  }

  private removeFiles(): void {
    for (const path of this.localDataPaths()) rmSync(path, { force: true });
  }

  private checkpoint(): void {
    const [result] = this.requireDb().pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (result && result.busy !== 0) throw new Error(`sqlite wal_checkpoint(TRUNCATE) could not complete (busy) on ${this.dbPath}`);
  }

  private fileBytes(): number {
    const db = this.requireDb();
    return sqliteFileBytes(db.pragma('page_count', { simple: true }) as number, db.pragma('page_size', { simple: true }) as number);
  }

  private dbstatBytes(): number {
    const row = this.requireDb().prepare('SELECT coalesce(sum(pgsize), 0) AS bytes FROM dbstat').get() as { bytes: number };
    return row.bytes;
  }

  // SPEC §4.1 capabilities.
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    const db = this.requireDb();
    const groups = [...groupByObject(files, labTableName(cell), cell.placement)];
    const removes = groups.map(([table, group]) => [db.prepare(`DELETE FROM ${quoteIdent(table)} WHERE ${quoteIdent(fileIdColumn(cell))} = ?`), group] as const);
    // One transaction: one bulk operation as SQLite sees it (one commit, one WAL append).
    db.transaction(() => removes.forEach(([remove, group]) => group.forEach((file) => remove.run(file.id))))();
  }

  async truncate(cell: CellContext): Promise<void> {
    // SQLite has no TRUNCATE; a DELETE without WHERE is its "truncate optimization" (drops the pages at once).
    for (const table of labTablesOf(cell)) this.requireDb().exec(`DELETE FROM ${quoteIdent(table)}`);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    for (const table of labTablesOf(cell)) this.requireDb().exec(`DROP TABLE ${quoteIdent(table)}`);
    this.createTable(cell);
  }

  async maintenanceFull(cell: CellContext): Promise<void | NotApplicable> {
    if (!cell.twoMaintenanceLevels) return notApplicable('sqlite without maintenance_full in the cell (auto_vacuum NONE): its maintenance already is VACUUM, the full level');
    this.requireDb().exec('VACUUM');
  }

  /** better-sqlite3 copies a BLOB into a new Buffer per row. */
  readonly readOneOwned = true;

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const row = this.requireDb().prepare(`SELECT content FROM ${quoteIdent(labTableOf(cell, file.id))} WHERE id = ?`).get(file.id) as { content: Buffer } | undefined;
    if (!row) throw new Error(`file ${file.id} is not stored in sqlite ${this.dbPath}`);
    return row.content;
  }

  /** Native read-back: TEXT timestamps/JSON, REAL decimals and 0/1 booleans as SQLite stores them. */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    const { table } = requireNative(cell);
    const sql = nativeReadSql(table, quoteIdent(labTableName(cell)), fileIdColumn(cell), '?', (name) => quoteIdent(name));
    return rowsInColumnOrder(table, this.requireDb().prepare(sql).all(file.id) as Record<string, unknown>[]);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    // SQLite's page cache lives in the connection: a new connection starts with none.
    await this.close();
    this.open();
    return 'SQLite page cache: dropped (connection closed and reopened)';
  }

  /** A function writing one file's row(s) into the cell's table with a prepared statement. */
  private writer(cell: CellContext): (file: LabFile) => Promise<void> {
    const db = this.requireDb();
    // One prepared INSERT per table (one, or K under `across:K`), picked by the file's id.
    const prepared = (columns: string, placeholders: string) => {
      const inserts = new Map(labTablesOf(cell).map((table) => [table, db.prepare(`INSERT INTO ${quoteIdent(table)} (${columns}) VALUES (${placeholders})`)]));
      return (file: LabFile) => inserts.get(labTableOf(cell, file.id))!;
    };
    if (cell.mode === 'blob') {
      const insertFor = prepared('id, name, sha256, size, content', '?, ?, ?, ?, ?');
      return async (file) => void insertFor(file).run(file.id, file.name, file.sha256, file.size, file.content);
    }
    const { table: nativeTable, parse } = requireNative(cell);
    const placeholders = Array.from({ length: nativeTable.columns.length + 1 }, () => '?').join(', ');
    const insertFor = prepared(nativeInsertColumns(nativeTable), placeholders);
    return async (file) => {
      const insert = insertFor(file);
      for await (const row of parse(file)) {
        checkRowWidth(nativeTable, row, file.name);
        insert.run(file.id, ...row.map(toSqliteValue));
      }
    };
  }
}

export const definition: SystemDefinition<EmbeddedOptions> = {
  id: 'sqlite',
  kind: 'embedded',
  variants: SQLITE_VARIANTS,
  modes: MODES,
  placementAcross: true,
  parseOptions: (raw) => parseEmbeddedOptions('sqlite', raw),
  create(instance, options, labName) {
    assertLabName(labName);
    return new SqliteAdapter(instance, options, labName);
  },
};

/**
 * `mariadb` adapter (SPEC §5.1–§5.3): a real MariaDB server through the official `mariadb`
 * connector.
 *
 * Lab namespace: the database `<lab>`. Blob table `<lab>.blobs (id, name, sha256, size, content
 * LONGBLOB)`, InnoDB; native tables `<lab>.n_<type>`. Bulk load, in one transaction: the
 * connector's `batch()` (MariaDB's binary bulk protocol: content bytes travel unescaped) in groups
 * of `batchBytes`, each checked for exactly its rows' affected count — measured faster than LOAD
 * DATA because escaping every content byte in JavaScript cost more than the server's whole load.
 * Option `blobBulk: load-data` keeps the `LOAD DATA LOCAL INFILE` path fed from a stream (the
 * connector's `infileStreamFactory`), the rows escaped in the statement's tab-separated format,
 * committed only when the server reports exactly the rows sent and no warning (LOAD DATA turns
 * bad rows into warnings, not errors).
 *
 * Identifiers are validated and back-quoted; values travel as `?` parameters; the lab name is
 * validated by `assertLabName` in `create()` before any I/O.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type * as Mariadb from 'mariadb';
import type { ColumnType } from '../dataset/records.js';
import { assertIdentifier } from './shared/identifiers.js';
import { BLOB_TABLE, fileIdColumn, labTableName } from './shared/layout.js';
import { checkRowWidth, FILE_ID_COLUMN, nativeTableName, type NativeTypeMap } from './shared/native.js';
import { parseSystemOptions } from './shared/options.js';
import { assertDeleted, batchFiles, requireNative, throwIfAborted } from './shared/stages.js';
import { groupByObject, labTableOf, labTablesOf } from './shared/placement.js';
import { checkVariant, numberOf } from './postgresql.js';
import { SYSTEM_LAYER, sizeProbe, timingsOf } from './shared/probes.js';
import { entriesOf, labFilesProbe, logFilesProbe } from './shared/lab-files.js';
import { historyLength, innodbPurgeDeferral } from './shared/deferrals.js';
import {
  assertLabName,
  type CellContext,
  type Deferral,
  type LabFile,
  type LabFileRef,
  type NotApplicable,
  type Probe,
  type StageName,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';
import { nativeReadSql, rowsInColumnOrder, type ReadbackExpression } from './shared/native-readback.js';

export const MARIADB_VARIANTS = ['default', 'page-compressed'] as const;
export type MariadbVariant = (typeof MARIADB_VARIANTS)[number];

const mariadbOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535).default(3306),
    user: z.string().min(1).default('root'),
    password: z.string().optional(),
    /** The server's data directory when local (for the `fs` probe; it covers the whole server). */
    dataDir: z.string().min(1).optional(),
    connectTimeoutSeconds: z.coerce.number().positive().default(10),
    settleTimeoutMs: z.coerce.number().int().positive().default(30_000),
    pollIntervalMs: z.coerce.number().int().positive().default(250),
    /** `batch()` groups rows up to this many bytes (kept below max_allowed_packet / 2). */
    batchBytes: z.coerce.number().int().positive().default(16 * 1024 * 1024),
    /**
     * Blob-mode bulk path: `batch` (binary bulk protocol, bytes sent unescaped; measured fastest,
     * see docs/systems-sql.md) or `load-data` (LOAD DATA LOCAL INFILE from an escaped stream).
     */
    blobBulk: z.enum(['batch', 'load-data']).default('batch'),
  })
  .strict();
export type MariadbOptions = z.infer<typeof mariadbOptionsSchema>;

/** Portable native column types → MariaDB types (SPEC §5.4). */
export const MARIADB_NATIVE_TYPES: NativeTypeMap = {
  text: 'LONGTEXT',
  int: 'BIGINT',
  float: 'DOUBLE',
  decimal: 'DECIMAL(38,10)',
  timestamp: 'DATETIME(6)', // TIMESTAMP stops at 2038 and converts time zones; values are UTC
  uuid: 'UUID', // native type since MariaDB 10.7
  json: 'JSON',
  bytes: 'LONGBLOB',
  bool: 'BOOLEAN',
};

/** `name` → `` `name` `` after validation (MariaDB quotes identifiers with back-quotes). */
export function myIdent(name: string, what?: string): string {
  return `\`${assertIdentifier(name, what).replaceAll('`', '``')}\``;
}

export function myQualified(database: string, table: string): string {
  return `${myIdent(database, 'database name')}.${myIdent(table, 'table name')}`;
}

export function mariadbBlobTableDdl(lab: string, variant: MariadbVariant, name = BLOB_TABLE): string {
  const options = variant === 'page-compressed' ? ' PAGE_COMPRESSED=1' : '';
  return (
    `CREATE TABLE ${myQualified(lab, name)} (id INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, ` +
    `sha256 CHAR(64) NOT NULL, size BIGINT NOT NULL, content LONGBLOB NOT NULL) ENGINE=InnoDB${options}`
  );
}

export function mariadbNativeTableDdl(lab: string, cell: CellContext, variant: MariadbVariant, name?: string): string {
  const { table } = requireNative(cell);
  const columns = table.columns.map((column) => `${myIdent(column.name, 'native column name')} ${MARIADB_NATIVE_TYPES[column.type]}`);
  const options = variant === 'page-compressed' ? ' PAGE_COMPRESSED=1' : '';
  // No key on file_id that would reject duplicate records; InnoDB adds its hidden row id.
  return `CREATE TABLE ${myQualified(lab, name ?? nativeTableName(table))} (${[`${myIdent(FILE_ID_COLUMN)} INT NOT NULL`, ...columns].join(', ')}, KEY (${myIdent(FILE_ID_COLUMN)})) ENGINE=InnoDB${options}`;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

/**
 * Escape bytes for `LOAD DATA … FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'`
 * (binary character set): backslash, tab and newline get a backslash escape, every other byte is
 * literal. Returns the input itself when nothing needs escaping (random data: most of the time
 * some byte does; text: usually nothing but newlines).
 */
export function escapeLoadDataField(bytes: Buffer): Buffer {
  let specials = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = bytes[i]!;
    if (byte === BACKSLASH || byte === TAB || byte === NEWLINE) specials += 1;
  }
  if (specials === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + specials);
  let at = 0;
  let start = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = bytes[i]!;
    if (byte !== BACKSLASH && byte !== TAB && byte !== NEWLINE) continue;
    at += bytes.copy(out, at, start, i);
    out[at++] = BACKSLASH;
    out[at++] = byte === TAB ? 0x74 /* t */ : byte === NEWLINE ? 0x6e /* n */ : BACKSLASH;
    start = i + 1;
  }
  bytes.copy(out, at, start);
  return out;
}

/** One LOAD DATA line for a blob row: id, name, sha256, size, content. */
export function loadDataBlobLine(file: Pick<LabFile, 'id' | 'name' | 'sha256' | 'size' | 'content'>): Buffer[] {
  const head = Buffer.concat([
    Buffer.from(`${file.id}\t`),
    escapeLoadDataField(Buffer.from(file.name, 'utf8')),
    Buffer.from(`\t${file.sha256}\t${file.size}\t`),
  ]);
  return [head, escapeLoadDataField(file.content), Buffer.from('\n')];
}

/** ISO 8601 (`2024-01-01T00:00:05.000Z`) → DATETIME literal text in UTC (`2024-01-01 00:00:05.000000`). */
export function toMariadbDatetime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`invalid timestamp ${JSON.stringify(iso)}`);
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}.${String(date.getUTCMilliseconds()).padStart(3, '0')}000`;
}

function nativeParam(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'timestamp' && typeof value === 'string') return toMariadbDatetime(value);
  return value;
}

function approxBytes(row: readonly unknown[]): number {
  let bytes = 16;
  for (const value of row) bytes += Buffer.isBuffer(value) ? value.length : typeof value === 'string' ? Buffer.byteLength(value) : 8;
  return bytes;
}

interface OptimizeRow {
  Table: string;
  Op: string;
  Msg_type: string;
  Msg_text: string;
}

/**
 * `OPTIMIZE TABLE` answers with rows instead of errors. InnoDB's "Table does not support optimize,
 * doing recreate + analyze instead" is a `note` (the documented InnoDB behaviour: the table is
 * rebuilt), not a failure; any `error` row is.
 */
export function checkOptimizeResult(rows: readonly OptimizeRow[]): void {
  const errors = rows.filter((row) => row.Msg_type.toLowerCase() === 'error');
  if (errors.length > 0) throw new Error(`OPTIMIZE TABLE failed: ${errors.map((row) => `${row.Table}: ${row.Msg_text}`).join('; ')}`);
  if (!rows.some((row) => row.Msg_type.toLowerCase() === 'status' && row.Msg_text === 'OK')) {
    throw new Error(`OPTIMIZE TABLE did not report OK: ${JSON.stringify(rows)}`);
  }
}

class MariadbAdapter implements SystemAdapter {
  readonly id = 'mariadb';
  private conn: Mariadb.Connection | null = null;
  private metricsConn: Mariadb.Connection | null = null;
  private maxAllowedPacket = 0;
  /** LOAD DATA LOCAL streams by file name: the connector asks the factory when the server requests it. */
  private readonly infiles = new Map<string, Readable>();
  private infileCounter = 0;

  constructor(
    readonly instance: string,
    private readonly options: MariadbOptions,
    private readonly lab: string,
  ) {}

  private get db(): Mariadb.Connection {
    if (!this.conn) throw new Error('mariadb: not connected');
    return this.conn;
  }

  private async open(purpose: string): Promise<Mariadb.Connection> {
    const driver = await import('mariadb');
    const conn = await driver.createConnection({
      host: this.options.host,
      port: this.options.port,
      user: this.options.user,
      password: this.options.password,
      connectTimeout: Math.round(this.options.connectTimeoutSeconds * 1000),
      permitLocalInfile: purpose === 'work',
      infileStreamFactory: (path: string) => {
        const stream = this.infiles.get(path);
        if (!stream) throw new Error(`LOAD DATA asked for an unknown stream ${JSON.stringify(path)}`);
        this.infiles.delete(path);
        return stream;
      },
      bigIntAsNumber: true,
      decimalAsNumber: false,
      connectAttributes: { program_name: `dedup-lab-${purpose}` },
    });
    // A dropped connection surfaces on the next query; without a listener node would throw here.
    conn.on('error', () => undefined);
    return conn;
  }

  async connect(): Promise<void> {
    if (this.conn) return;
    this.conn = await this.open('work');
    const rows = await this.conn.query<{ packet: number }[]>('SELECT @@max_allowed_packet AS packet');
    this.maxAllowedPacket = numberOf(rows[0]?.packet);
  }

  async close(): Promise<void> {
    const conns = [this.conn, this.metricsConn];
    this.conn = null;
    this.metricsConn = null;
    await Promise.all(conns.map((conn) => conn?.end().catch(() => undefined)));
  }

  async version(): Promise<string> {
    const rows = await this.db.query<{ v: string }[]>('SELECT VERSION() AS v');
    return rows[0]?.v ?? 'unknown';
  }

  private table(cell: CellContext): string {
    return myQualified(this.lab, labTableName(cell));
  }

  /** The table file `fileId` lives in (`--placement across:K`: one of K; within: the one table). */
  private tableOf(cell: CellContext, fileId: number): string {
    return myQualified(this.lab, labTableOf(cell, fileId));
  }

  /** Every table of the cell, comma-separated (OPTIMIZE / ANALYZE / FLUSH take several). */
  private tableList(cell: CellContext): string {
    return labTablesOf(cell).map((name) => myQualified(this.lab, name)).join(', ');
  }

  async resetLab(cell: CellContext): Promise<void> {
    checkVariant(MARIADB_VARIANTS, cell.variant, 'mariadb');
    await this.db.query(`DROP DATABASE IF EXISTS ${myIdent(this.lab, 'database name')}`);
    await this.db.query(`CREATE DATABASE ${myIdent(this.lab, 'database name')}`);
    await this.createTable(cell);
  }

  private async createTable(cell: CellContext): Promise<void> {
    const variant = checkVariant(MARIADB_VARIANTS, cell.variant, 'mariadb');
    for (const name of labTablesOf(cell)) {
      await this.db.query(cell.mode === 'native' ? mariadbNativeTableDdl(this.lab, cell, variant, name) : mariadbBlobTableDdl(this.lab, variant, name));
    }
  }

  async dropLab(): Promise<void> {
    await this.db.query(`DROP DATABASE IF EXISTS ${myIdent(this.lab, 'database name')}`);
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const seen: number[] = [];
    await this.db.beginTransaction();
    try {
      if (cell.mode === 'native') await this.nativeBatches(files, cell, seen);
      else if (this.options.blobBulk === 'batch') await this.blobBatches(files, cell, seen);
      else await this.loadDataPlaced(files, cell, seen);
      throwIfAborted(cell.signal);
      await this.db.commit();
      return { acknowledged: seen, failed: [] };
    } catch (error) {
      await this.db.rollback().catch(() => undefined);
      if (cell.signal.aborted) throw error;
      const message = error instanceof Error ? error.message : String(error);
      return { acknowledged: [], failed: seen.map((id) => ({ id, error: message })) };
    }
  }

  /** Within: one LOAD DATA of all files; `across:K`: one per table per batch of ≤ batchLimit bytes (same transaction). */
  private async loadDataPlaced(files: AsyncIterable<LabFile>, cell: CellContext, seen: number[]): Promise<void> {
    if (labTablesOf(cell).length === 1) return this.loadData(files, cell, seen, this.table(cell));
    for await (const batch of batchFiles(files, Number.MAX_SAFE_INTEGER, this.batchLimit)) {
      for (const [name, group] of groupByObject(batch, labTableName(cell), cell.placement)) {
        await this.loadData((async function* () { yield* group; })(), cell, seen, myQualified(this.lab, name));
      }
    }
  }

  /** One streamed LOAD DATA LOCAL statement into `table`; exactly the rows sent, no warnings, or it fails. */
  private async loadData(files: AsyncIterable<LabFile>, cell: CellContext, seen: number[], table: string): Promise<void> {
    const before = seen.length;
    const name = `dedup-lab-bulk-${(this.infileCounter += 1)}.tsv`;
    const stream = Readable.from(
      (async function* () {
        for await (const file of files) {
          throwIfAborted(cell.signal);
          seen.push(file.id);
          yield* loadDataBlobLine(file);
        }
      })(),
      { objectMode: false },
    );
    this.infiles.set(name, stream);
    try {
      const result = await this.db.query<Mariadb.UpsertResult>(
        `LOAD DATA LOCAL INFILE ? INTO TABLE ${table} CHARACTER SET binary ` +
          `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (id, name, sha256, size, content)`,
        [name],
      );
      const sent = seen.length - before;
      if (result.affectedRows !== sent || result.warningStatus !== 0) {
        const warnings = result.warningStatus ? await this.db.query<{ Message: string }[]>('SHOW WARNINGS LIMIT 3') : [];
        throw new Error(
          `LOAD DATA stored ${result.affectedRows} of ${sent} rows with ${result.warningStatus} warnings` +
            (warnings.length ? `: ${warnings.map((row) => row.Message).join('; ')}` : ''),
        );
      }
    } finally {
      this.infiles.delete(name);
      stream.destroy();
    }
  }

  private get batchLimit(): number {
    return Math.min(this.options.batchBytes, Math.floor(this.maxAllowedPacket / 2));
  }

  /** Blob rows through `batch()` in groups of about `batchLimit` bytes (a bigger file goes alone). */
  private async blobBatches(files: AsyncIterable<LabFile>, cell: CellContext, seen: number[]): Promise<void> {
    const sql = (table: string) => `INSERT INTO ${table} (id, name, sha256, size, content) VALUES (?, ?, ?, ?, ?)`;
    // Rows pending per table (`--placement across:K`: K tables; within: one).
    let rows = new Map<string, unknown[][]>();
    let bytes = 0;
    const flush = async () => {
      for (const [table, group] of rows) await this.batchRows(sql(table), group);
      rows = new Map();
      bytes = 0;
    };
    for await (const file of files) {
      throwIfAborted(cell.signal);
      seen.push(file.id);
      const table = this.tableOf(cell, file.id);
      const group = rows.get(table) ?? [];
      group.push([file.id, file.name, file.sha256, file.size, file.content]);
      rows.set(table, group);
      bytes += file.content.length + 128;
      if (bytes >= this.batchLimit) await flush();
    }
    await flush();
  }

  private async nativeBatches(files: AsyncIterable<LabFile>, cell: CellContext, seen: number[]): Promise<void> {
    const limit = this.batchLimit;
    // Rows pending per table (`--placement across:K`: K tables; within: one).
    let rows = new Map<string, unknown[][]>();
    let bytes = 0;
    const flush = async () => {
      for (const [table, group] of rows) if (group.length) await this.insertRows(cell, group, table);
      rows = new Map();
      bytes = 0;
    };
    for await (const file of files) {
      throwIfAborted(cell.signal);
      seen.push(file.id);
      const table = this.tableOf(cell, file.id);
      for await (const row of this.nativeRows(file, cell)) {
        const group = rows.get(table) ?? [];
        group.push(row);
        rows.set(table, group);
        bytes += approxBytes(row);
        if (bytes >= limit) await flush();
      }
    }
    await flush();
  }

  private async *nativeRows(file: LabFile, cell: CellContext): AsyncIterable<unknown[]> {
    const { table, parse } = requireNative(cell);
    for await (const row of parse(file)) {
      checkRowWidth(table, row, file.name);
      yield [file.id, ...row.map((value, index) => nativeParam(table.columns[index]!.type, value))];
    }
  }

  private async insertRows(cell: CellContext, rows: unknown[][], table: string): Promise<void> {
    const columns = [FILE_ID_COLUMN, ...requireNative(cell).table.columns.map((column) => column.name)];
    await this.batchRows(`INSERT INTO ${table} (${columns.map((column) => myIdent(column)).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, rows);
  }

  /** One `batch()`; the server must report exactly one affected row per row sent. */
  private async batchRows(sql: string, rows: unknown[][]): Promise<void> {
    const result = await this.db.batch<Mariadb.UpsertResult | Mariadb.UpsertResult[]>(sql, rows);
    const affected = (Array.isArray(result) ? result : [result]).reduce((sum, item) => sum + item.affectedRows, 0);
    if (affected !== rows.length) throw new Error(`batch insert stored ${affected} of ${rows.length} rows`);
  }

  async compact(cell: CellContext): Promise<void | NotApplicable> {
    await this.optimize(cell);
  }

  async maintenance(cell: CellContext): Promise<void | NotApplicable> {
    // With maintenance_full in the cell this is the light level: InnoDB's purge, waited for (SPEC §4.1).
    if (cell.twoMaintenanceLevels) await this.waitForPurge();
    else await this.optimize(cell);
  }

  // SPEC §4.1 capabilities.
  async maintenanceFull(cell: CellContext): Promise<void> {
    await this.optimize(cell);
  }

  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    for (const [name, group] of groupByObject(files, labTableName(cell), cell.placement)) {
      const placeholders = group.map(() => '?').join(', ');
      await this.db.query(`DELETE FROM ${myQualified(this.lab, name)} WHERE ${myIdent(fileIdColumn(cell))} IN (${placeholders})`, group.map((file) => file.id));
    }
  }

  async truncate(cell: CellContext): Promise<void> {
    for (const name of labTablesOf(cell)) await this.db.query(`TRUNCATE TABLE ${myQualified(this.lab, name)}`);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    await this.db.query(`DROP TABLE ${this.tableList(cell)}`);
    await this.createTable(cell);
  }

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const rows = await this.db.query<{ content: Buffer }[]>(`SELECT content FROM ${this.tableOf(cell, file.id)} WHERE id = ?`, [file.id]);
    if (!rows[0]) throw new Error(`file ${file.id} is not stored in ${this.lab}.${labTableOf(cell, file.id)}`);
    return rows[0].content;
  }

  /** Native read-back: DATETIME(6) (UTC wall time) as epoch ms, DECIMAL as text, BOOLEAN as 0/1. */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    const { table } = requireNative(cell);
    const timestampMs: ReadbackExpression = (column, type) => (type === 'timestamp' ? `TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ${column}) DIV 1000` : column);
    const sql = nativeReadSql(table, this.table(cell), FILE_ID_COLUMN, '?', (name) => myIdent(name), timestampMs);
    return rowsInColumnOrder(table, await this.db.query<Record<string, unknown>[]>(sql, [file.id]));
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    return 'InnoDB buffer pool: kept (only a server restart empties it, which the tool does not do)';
  }

  private async optimize(cell: CellContext): Promise<void> {
    // One OPTIMIZE per table: checkOptimizeResult wants each table's own OK.
    for (const name of labTablesOf(cell)) checkOptimizeResult(await this.db.query<OptimizeRow[]>(`OPTIMIZE TABLE ${myQualified(this.lab, name)}`));
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    if (cell.mode === 'native') {
      const rows: unknown[][] = [];
      for await (const row of this.nativeRows(file, cell)) rows.push(row);
      await this.db.beginTransaction();
      try {
        if (rows.length) await this.insertRows(cell, rows, this.tableOf(cell, file.id));
        await this.db.commit();
      } catch (error) {
        await this.db.rollback().catch(() => undefined);
        throw error;
      }
      return;
    }
    if (file.size + 1024 > this.maxAllowedPacket) {
      throw new Error(`file ${file.name} (${file.size} bytes) exceeds the server's max_allowed_packet (${this.maxAllowedPacket})`);
    }
    const result = await this.db.execute<Mariadb.UpsertResult>(
      `INSERT INTO ${this.tableOf(cell, file.id)} (id, name, sha256, size, content) VALUES (?, ?, ?, ?, ?)`,
      [file.id, file.name, file.sha256, file.size, file.content],
    );
    if (result.affectedRows !== 1) throw new Error(`insert of file ${file.id} reported ${result.affectedRows} rows`);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    const result = await this.db.query<Mariadb.UpsertResult>(`DELETE FROM ${this.tableOf(cell, file.id)} WHERE ${myIdent(fileIdColumn(cell))} = ?`, [file.id]);
    assertDeleted(result.affectedRows, file, `${this.lab}.${labTableOf(cell, file.id)}`);
  }

  async countStored(cell: CellContext): Promise<number> {
    // File ids are disjoint between the tables of `across:K`: the counts add up.
    let stored = 0;
    for (const name of labTablesOf(cell)) {
      const table = myQualified(this.lab, name);
      const sql = cell.mode === 'native' ? `SELECT COUNT(DISTINCT ${myIdent(FILE_ID_COLUMN)}) AS n FROM ${table}` : `SELECT COUNT(*) AS n FROM ${table}`;
      const rows = await this.db.query<{ n: number }[]>(sql);
      stored += numberOf(rows[0]?.n);
    }
    return stored;
  }

  async settle(cell: CellContext): Promise<void> {
    // Deleted rows (and their externally stored BLOB pages) are freed by InnoDB's background purge,
    // so without waiting for it DATA_LENGTH after a delete depends on timing (observed: 0 % to 55 %
    // reclaimed for the same stage). Wait until the purge history is empty first.
    await this.waitForPurge();
    // ANALYZE refreshes DATA_LENGTH/INDEX_LENGTH; FLUSH … FOR EXPORT writes the table's dirty
    // pages, so page compression's punched holes (ALLOCATED_SIZE) and the `fs` probe are true.
    await this.db.query(`ANALYZE TABLE ${this.tableList(cell)}`);
    await this.db.query(`FLUSH TABLES ${this.tableList(cell)} FOR EXPORT`);
    await this.db.query('UNLOCK TABLES');
  }

  /**
   * MariaDB ≥ 10.5.7: `SET GLOBAL innodb_max_purge_lag_wait = 0` returns once the purge history is
   * empty. Without the privilege for it, poll the history length (INNODB_METRICS) instead.
   */
  private async waitForPurge(): Promise<void> {
    try {
      await this.db.query('SET GLOBAL innodb_max_purge_lag_wait = 0');
      return;
    } catch {
      // Not permitted or not supported: fall back to polling below.
    }
    const deadline = Date.now() + this.options.settleTimeoutMs;
    while (Date.now() < deadline) {
      const length = await this.purgeHistoryLength();
      if (length === null || length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs));
    }
  }

  /** InnoDB's purge history list length (undo records purge has not processed yet); null when the metric is absent. */
  private async purgeHistoryLength(): Promise<number | null> {
    return historyLength(await this.db.query<{ n: number | string | null }[]>("SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"));
  }

  /**
   * Deleted rows' pages (and their BLOB pages) are freed inside the tablespace by InnoDB's
   * background purge: pending while the history list is non-empty (server-wide; other databases'
   * transactions count too). The .ibd file itself only shrinks at OPTIMIZE.
   */
  async deferrals(_cell: CellContext, _stage: StageName): Promise<Deferral[]> {
    return innodbPurgeDeferral(await this.purgeHistoryLength(), async () => ((await this.purgeHistoryLength()) ?? 0) > 0);
  }

  private async statusBytes(conn: Mariadb.Connection): Promise<number> {
    const rows = await conn.query<{ bytes: number | string | null }[]>(
      'SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
      [this.lab],
    );
    return numberOf(rows[0]?.bytes);
  }

  private async tablespaceBytes(column: 'ALLOCATED_SIZE' | 'FILE_SIZE'): Promise<number> {
    // Tablespace names are `<database>/<table>`; compare the database part exactly (LIKE would
    // treat the `_` of lab names as a wildcard).
    const rows = await this.db.query<{ bytes: number | string | null; n: number }[]>(
      `SELECT COALESCE(SUM(${column}), 0) AS bytes, COUNT(*) AS n FROM information_schema.INNODB_SYS_TABLESPACES WHERE SUBSTRING_INDEX(NAME, '/', 1) = ?`,
      [this.lab],
    );
    return numberOf(rows[0]?.bytes);
  }

  probes(_cell: CellContext): Probe[] {
    return [
      // DATA_LENGTH + INDEX_LENGTH: InnoDB's page-count view (pages reserved for the table's indexes, BLOB pages included).
      sizeProbe('internal', SYSTEM_LAYER, () => this.statusBytes(this.db), timingsOf(this.options)),
      // The .ibd file's allocated bytes: what page compression (punched holes) really saves.
      sizeProbe('tablespace', { layer: 'storage', scope: 'lab' }, () => this.tablespaceBytes('ALLOCATED_SIZE'), timingsOf(this.options)),
      // The .ibd file's apparent size, which page compression does not shrink.
      sizeProbe('tablespace_file', SYSTEM_LAYER, () => this.tablespaceBytes('FILE_SIZE'), timingsOf(this.options)),
      ...this.labFileProbes(),
    ];
  }

  /** The lab database's directory (`.ibd` + `.frm`) and the redo log, read from the file system. */
  private labFileProbes(): Probe[] {
    const dataDir = this.options.dataDir;
    if (!dataDir) return [];
    return [labFilesProbe(() => [join(dataDir, this.lab)]), logFilesProbe(() => entriesOf(dataDir, (name) => /^ib_logfile[0-9]+$/.test(name)))];
  }

  localDataPaths(): string[] {
    return this.options.dataDir ? [this.options.dataDir] : [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // A separate connection and only server status counters: no table is opened or locked.
    this.metricsConn ??= await this.open('metrics');
    const rows = await this.metricsConn.query<{ Variable_name: string; Value: string }[]>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_data_written', 'Innodb_rows_inserted', 'Innodb_rows_deleted', 'Innodb_buffer_pool_pages_dirty', 'Innodb_data_fsyncs')",
    );
    return Object.fromEntries(rows.map((row) => [row.Variable_name.toLowerCase(), Number(row.Value)]));
  }
}

export const definition: SystemDefinition<MariadbOptions> = {
  id: 'mariadb',
  kind: 'server',
  variants: MARIADB_VARIANTS,
  modes: ['blob', 'native'],
  placementAcross: true,
  parseOptions: (raw) => parseSystemOptions('mariadb', mariadbOptionsSchema, raw),
  create: (instance, options, labName) => new MariadbAdapter(instance, options, assertLabName(labName)),
};

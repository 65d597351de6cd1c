/**
 * PostgreSQL dialect shared by `pglite` and `postgresql` (and the PostgreSQL-compatible parts of
 * others): lab schema lifecycle, the blob table with the variants of SPEC §5.3, native tables,
 * the size probe, deletes, counts and the binary COPY encoding.
 *
 * Driver-free by design: every function takes a `PgExecute` callback ("run this SQL with these
 * parameters, give me rows and the affected-row count"), so pg, PGlite or a pooled client can
 * all use it. Values always travel as parameters; identifiers are validated and quoted.
 */
import type { NativeTable } from '../../dataset/records.js';
import type { CellContext, LabFile } from '../types.js';
import { assertLabName, InvalidLabNameError } from '../types.js';
import { qualifiedName, quoteIdent } from './identifiers.js';
import { BLOB_TABLE, fileIdColumn, labTableName } from './layout.js';
import { FILE_ID_COLUMN, nativeColumnsDdl, nativeInsertColumns, PG_NATIVE_TYPES } from './native.js';
import { assertDeleted, requireNative } from './stages.js';
import { labTableOf, labTablesOf } from './placement.js';

export interface PgQueryResult {
  rows: Record<string, unknown>[];
  /** Rows inserted/updated/deleted by the statement (0 for DDL and SELECT). */
  affectedRows: number;
}

/** Run one statement with positional parameters ($1, $2 …). */
export type PgExecute = (sql: string, params?: readonly unknown[]) => Promise<PgQueryResult>;

/** Every PostgreSQL variant (SPEC §5.3); `pglite` offers all but `lz4`. */
export const PG_VARIANTS = ['default', 'lz4', 'uncompressed', 'hash-index'] as const;
export type PgVariant = (typeof PG_VARIANTS)[number];

export interface PgVariantSettings {
  /** `ALTER COLUMN … SET STORAGE`: EXTENDED = compress then move out of line; EXTERNAL = out of line, never compressed. */
  storage: 'EXTENDED' | 'EXTERNAL';
  /** `ALTER COLUMN … SET COMPRESSION` (only meaningful with EXTENDED). */
  compression: 'pglz' | 'lz4' | null;
  /** A B-tree on the content hash (blob) / file id (native); PostgreSQL 13+ deduplicates its entries. */
  hashIndex: boolean;
}

export function pgVariantSettings(variant: string): PgVariantSettings {
  switch (variant) {
    case 'default':
      return { storage: 'EXTENDED', compression: 'pglz', hashIndex: false };
    case 'lz4':
      return { storage: 'EXTENDED', compression: 'lz4', hashIndex: false };
    case 'uncompressed':
      return { storage: 'EXTERNAL', compression: null, hashIndex: false };
    case 'hash-index':
      return { storage: 'EXTENDED', compression: 'pglz', hashIndex: true };
    default:
      throw new Error(`unknown PostgreSQL variant ${JSON.stringify(variant)}; valid: ${PG_VARIANTS.join(', ')}`);
  }
}

/** Schemas a lab may never be: dropping them CASCADE would destroy the database's own objects. */
const PROTECTED_SCHEMAS = new Set(['public', 'information_schema']);

/** A lab schema must be a valid lab name and never a system or shared schema. */
export function assertLabSchema(schema: string): string {
  assertLabName(schema);
  if (PROTECTED_SCHEMAS.has(schema) || schema.startsWith('pg_')) {
    throw new InvalidLabNameError(`refusing lab name ${JSON.stringify(schema)}: it is a system or shared PostgreSQL schema`);
  }
  return schema;
}

/** Name of the content-hash index (blob) / file-id index (native) of the `hash-index` variant. */
export function pgIndexName(cell: CellContext, table = labTableName(cell)): string {
  return `${table}_hash_idx`;
}

/** Varlena columns the storage/compression settings apply to in native mode. */
function nativeVarlenaColumns(table: NativeTable): string[] {
  return table.columns.filter((column) => ['text', 'json', 'bytes', 'decimal'].includes(column.type)).map((column) => column.name);
}

/** DDL creating the cell's table in the lab schema with the variant's storage settings. */
export function pgCreateTableStatements(schema: string, cell: CellContext): string[] {
  // One table, or the K tables of `--placement across:K`.
  return labTablesOf(cell).flatMap((name) => pgCreateOneTable(schema, cell, name));
}

function pgCreateOneTable(schema: string, cell: CellContext, name: string): string[] {
  assertLabSchema(schema);
  const settings = pgVariantSettings(cell.variant);
  const table = qualifiedName(schema, name);
  const statements: string[] = [];
  let varlena: string[];
  if (cell.mode === 'blob') {
    statements.push(`CREATE TABLE ${table} (id int NOT NULL, name text NOT NULL, sha256 text NOT NULL, size int NOT NULL, content bytea NOT NULL)`);
    varlena = ['content'];
  } else {
    const native = requireNative(cell).table;
    statements.push(`CREATE TABLE ${table} (${nativeColumnsDdl(native, PG_NATIVE_TYPES, 'int')})`);
    varlena = nativeVarlenaColumns(native);
  }
  for (const column of varlena) {
    statements.push(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column)} SET STORAGE ${settings.storage}`);
    if (settings.compression) statements.push(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column)} SET COMPRESSION ${settings.compression}`);
  }
  if (settings.hashIndex) {
    const column = cell.mode === 'blob' ? 'sha256' : FILE_ID_COLUMN;
    statements.push(`CREATE INDEX ${quoteIdent(pgIndexName(cell, name))} ON ${table} USING btree (${quoteIdent(column)})`);
  }
  return statements;
}

/** Drop and recreate the lab schema with the cell's table: an empty lab, nothing else touched. */
export async function pgResetLab(execute: PgExecute, schema: string, cell: CellContext): Promise<void> {
  await pgDropLab(execute, schema);
  await execute(`CREATE SCHEMA ${quoteIdent(assertLabSchema(schema))}`);
  for (const statement of pgCreateTableStatements(schema, cell)) await execute(statement);
}

/** `DROP SCHEMA IF EXISTS <lab> CASCADE` — only ever on a checked lab schema. */
export async function pgDropLab(execute: PgExecute, schema: string): Promise<void> {
  await execute(`DROP SCHEMA IF EXISTS ${quoteIdent(assertLabSchema(schema))} CASCADE`);
}

/** Whether the lab schema exists (parameterised catalog lookup). */
export async function pgLabExists(execute: PgExecute, schema: string): Promise<boolean> {
  const result = await execute('SELECT 1 FROM pg_namespace WHERE nspname = $1', [assertLabSchema(schema)]);
  return result.rows.length > 0;
}

/**
 * Bytes of every table in the lab schema: `pg_total_relation_size` = heap + TOAST (+ its index) +
 * all indexes + FSM/VM forks. Summed over tables and materialized views only, so indexes and
 * TOAST relations are counted exactly once (through their table).
 */
export const PG_LAB_SIZE_SQL = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`;

export async function pgLabSize(execute: PgExecute, schema: string): Promise<number> {
  const result = await execute(PG_LAB_SIZE_SQL, [assertLabSchema(schema)]);
  return toNumber(result.rows[0]?.bytes, 'lab size');
}

export async function pgCountStored(execute: PgExecute, schema: string, cell: CellContext): Promise<number> {
  // File ids are disjoint between the tables of `across:K`: the counts add up.
  let stored = 0;
  for (const table of labTablesOf(cell)) {
    const sql = `SELECT count(DISTINCT ${quoteIdent(fileIdColumn(cell))})::bigint AS n FROM ${qualifiedName(schema, table)}`;
    stored += toNumber((await execute(sql)).rows[0]?.n, 'stored count');
  }
  return stored;
}

/** Delete one file's row(s); 0 rows removed is an error (never a silent success). */
export async function pgDeleteOne(execute: PgExecute, schema: string, cell: CellContext, file: LabFile): Promise<void> {
  const sql = `DELETE FROM ${qualifiedName(schema, labTableOf(cell, file.id))} WHERE ${quoteIdent(fileIdColumn(cell))} = $1`;
  const result = await execute(sql, [file.id]);
  assertDeleted(result.affectedRows, file, `schema ${schema}`);
}

/** `VACUUM FULL` of the cell's table: rewrites heap + TOAST, giving dead space back to the OS. */
export function pgVacuumFullSql(schema: string, cell: CellContext): string {
  return `VACUUM FULL ${pgTableList(schema, cell)}`;
}

/** Every table of the cell, comma-separated (VACUUM and TRUNCATE take several). */
export function pgTableList(schema: string, cell: CellContext): string {
  return labTablesOf(cell).map((table) => qualifiedName(schema, table)).join(', ');
}

/** One-row INSERT of a blob-mode file (per-file stage); `table` = the file's table under `across:K`. */
export function pgInsertBlobSql(schema: string, table = BLOB_TABLE): string {
  return `INSERT INTO ${qualifiedName(schema, table)} (id, name, sha256, size, content) VALUES ($1, $2, $3, $4, $5)`;
}

export function pgBlobParams(file: LabFile): unknown[] {
  return [file.id, file.name, file.sha256, file.size, file.content];
}

/**
 * Multi-row INSERT for native rows. Every value travels as text and is cast to the column's type
 * on the server (`$n::text::jsonb`), so drivers never guess types; bytes travel as bytea.
 */
export function pgNativeInsertSql(schema: string, table: NativeTable, tableName: string, rowCount: number): string {
  const casts = ['int', ...table.columns.map((column) => PG_NATIVE_TYPES[column.type])];
  const rows: string[] = [];
  let parameter = 1;
  for (let row = 0; row < rowCount; row++) {
    const values = casts.map((cast, index) => {
      const type = index === 0 ? 'int' : table.columns[index - 1]!.type;
      return type === 'bytes' ? `$${parameter++}::bytea` : `$${parameter++}::text::${cast}`;
    });
    rows.push(`(${values.join(', ')})`);
  }
  return `INSERT INTO ${qualifiedName(schema, tableName)} (${nativeInsertColumns(table)}) VALUES ${rows.join(', ')}`;
}

/** Parameters of one native row for `pgNativeInsertSql`: file id, then each value as text/bytea. */
export function pgNativeRowParams(table: NativeTable, fileId: number, row: readonly unknown[]): unknown[] {
  return [String(fileId), ...row.map((value, index) => pgNativeValue(table.columns[index]!.type, value))];
}

function pgNativeValue(type: string, value: unknown): string | Buffer | null {
  if (value === null || value === undefined) return null;
  if (type === 'bytes') {
    if (!Buffer.isBuffer(value)) throw new TypeError('bytes column needs a Buffer');
    return value;
  }
  if (Buffer.isBuffer(value)) throw new TypeError(`${type} column got a Buffer`);
  if (typeof value === 'object') throw new TypeError(`${type} column got an object; JSON values arrive as text`);
  return String(value);
}

/** PostgreSQL caps a statement at 65535 parameters; stay well below and bound the batch bytes. */
export const PG_MAX_PARAMETERS = 30_000;
export const PG_MAX_BATCH_BYTES = 8 * 1024 * 1024;

// ---- Binary COPY (FORMAT binary) for the blob table -------------------------------------------

/** `PGCOPY\n\377\r\n\0` + flags (int32 0) + header extension length (int32 0). */
export const PG_COPY_BINARY_HEADER = Buffer.concat([Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]), Buffer.alloc(8)]);
/** Field count -1 ends the data. */
export const PG_COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

/** Binary COPY into the blob table; source `STDIN` (pg-copy-streams) or PGlite's `'/dev/blob'`. */
export function pgCopyBlobSql(schema: string, source: 'STDIN' | "'/dev/blob'" = 'STDIN', table = BLOB_TABLE): string {
  return `COPY ${qualifiedName(schema, table)} (id, name, sha256, size, content) FROM ${source} WITH (FORMAT binary)`;
}

/** One blob-table row in COPY binary format: int16 field count, then (int32 length, bytes) per field. */
export function pgCopyBinaryBlobRow(file: LabFile): Buffer[] {
  const name = Buffer.from(file.name, 'utf8');
  const sha = Buffer.from(file.sha256, 'utf8');
  const head = Buffer.alloc(2 + 4 + 4 + 4 + name.length + 4 + sha.length + 4 + 4 + 4);
  let offset = head.writeInt16BE(5, 0);
  offset = head.writeInt32BE(4, offset);
  offset = head.writeInt32BE(file.id, offset);
  offset = head.writeInt32BE(name.length, offset);
  offset += name.copy(head, offset);
  offset = head.writeInt32BE(sha.length, offset);
  offset += sha.copy(head, offset);
  offset = head.writeInt32BE(4, offset);
  offset = head.writeInt32BE(file.size, offset);
  head.writeInt32BE(file.content.length, offset);
  return [head, file.content];
}

function toNumber(value: unknown, what: string): number {
  const number = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new Error(`PostgreSQL returned a non-numeric ${what}: ${String(value)}`);
  return number;
}

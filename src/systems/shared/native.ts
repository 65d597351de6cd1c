/**
 * Native mode (SPEC §5.4) for SQL adapters: portable column types → each engine's natural types,
 * the table DDL with the extra `file_id` column, and value conversion for drivers.
 */
import type { ColumnType, NativeColumn, NativeTable } from '../../dataset/records.js';
import { assertIdentifier, quoteIdent } from './identifiers.js';

/** Every native table carries the id of the file a row came from (per-file delete, countStored). */
export const FILE_ID_COLUMN = 'file_id';

export type NativeTypeMap = Readonly<Record<ColumnType, string>>;

export const SQLITE_NATIVE_TYPES: NativeTypeMap = {
  text: 'TEXT',
  int: 'INTEGER',
  float: 'REAL',
  decimal: 'REAL', // SQLite has no decimal type; REAL is its natural numeric storage
  timestamp: 'TEXT', // ISO 8601 text is SQLite's documented date/time representation
  uuid: 'TEXT',
  json: 'TEXT',
  bytes: 'BLOB',
  bool: 'INTEGER',
};

export const DUCKDB_NATIVE_TYPES: NativeTypeMap = {
  text: 'VARCHAR',
  int: 'BIGINT',
  float: 'DOUBLE',
  decimal: 'DECIMAL(18,4)',
  timestamp: 'TIMESTAMPTZ',
  uuid: 'UUID',
  json: 'JSON',
  bytes: 'BLOB',
  bool: 'BOOLEAN',
};

export const PG_NATIVE_TYPES: NativeTypeMap = {
  text: 'text',
  int: 'bigint',
  float: 'double precision',
  decimal: 'numeric',
  timestamp: 'timestamptz',
  uuid: 'uuid',
  json: 'jsonb',
  bytes: 'bytea',
  bool: 'boolean',
};

/** Lab-side table name of a native table: `n_<name>` (validated). */
export function nativeTableName(table: NativeTable): string {
  return assertIdentifier(`n_${assertIdentifier(table.name, 'native table name')}`, 'native table name');
}

function checkedColumns(table: NativeTable): NativeColumn[] {
  const names = new Set<string>([FILE_ID_COLUMN]);
  for (const column of table.columns) {
    assertIdentifier(column.name, 'native column name');
    if (names.has(column.name)) throw new Error(`native table ${table.name}: duplicate column ${column.name}`);
    names.add(column.name);
  }
  return table.columns;
}

/** Column list for CREATE TABLE: `"file_id" <idType> NOT NULL, "col" TYPE, …`. */
export function nativeColumnsDdl(table: NativeTable, types: NativeTypeMap, fileIdType: string): string {
  const columns = checkedColumns(table).map((column) => `${quoteIdent(column.name)} ${types[column.type]}`);
  return [`${quoteIdent(FILE_ID_COLUMN)} ${fileIdType} NOT NULL`, ...columns].join(', ');
}

/** Quoted column names in insert order: file_id first, then the table's columns. */
export function nativeInsertColumns(table: NativeTable): string {
  return [FILE_ID_COLUMN, ...checkedColumns(table).map((column) => column.name)].map((name) => quoteIdent(name)).join(', ');
}

/** Check a parsed row has one value per column (a parser bug must not shift columns silently). */
export function checkRowWidth(table: NativeTable, row: readonly unknown[], fileName: string): void {
  if (row.length !== table.columns.length) {
    throw new Error(`native row of ${fileName} has ${row.length} values, table ${table.name} has ${table.columns.length} columns`);
  }
}

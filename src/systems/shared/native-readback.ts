/**
 * Native-mode read-back (SPEC §4.1 `read`): the records a system returns for one file, brought to
 * one canonical text per row so they can be compared with the rows the file parses into. Each
 * engine hands values back in its own shape (pg: Date/object/string, SQLite: 0/1 and REAL,
 * DuckDB: value objects), so the comparison is per portable column type, never per driver.
 *
 * What "equal" means per type (docs/running.md): text/uuid exact (uuid case-insensitive), int
 * exact, float as the same IEEE double, decimal as the same decimal number (trailing zeros
 * ignored; an engine storing REAL gives a double whose shortest text must equal it), timestamp as
 * the same instant to the millisecond, json as the same value (key order and spacing ignored),
 * bytes byte-exact, bool as true/false.
 */
import { createHash } from 'node:crypto';
import type { ColumnType, NativeTable } from '../../dataset/records.js';

const NULL_MARK = null;

/** `-012.3400` → `-12.34`, `100.00` → `100`, `-0.0` → `0`: exact decimal text without noise. */
export function normalizeDecimalText(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
  if (match[4] !== undefined) return normalizeDecimalText(expandExponent(text.trim()));
  const integer = (match[2] ?? '').replace(/^0+/, '') || '0';
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  const body = fraction ? `${integer}.${fraction}` : integer;
  return match[1] === '-' && body !== '0' ? `-${body}` : body;
}

/** A number written with an exponent (REAL engines may print one) as plain decimal text. */
function expandExponent(text: string): string {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
  // toFixed keeps up to 100 digits; a double's shortest form never needs more than 20 after the point here.
  return value.toFixed(20);
}

/** JSON text with object keys sorted at every level, so jsonb's reordering compares equal. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => stableJson(item)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function bytesOf(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const inner = (value as { bytes?: unknown } | null)?.bytes; // DuckDB's DuckDBBlobValue
  if (inner instanceof Uint8Array) return Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength);
  throw new TypeError(`bytes column holds ${typeof value}, not bytes`);
}

function instantMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value); // adapters hand epoch milliseconds
  const ms = Date.parse(String(value));
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${JSON.stringify(String(value)).slice(0, 60)}`);
  return ms;
}

function boolOf(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 1n || value === '1' || value === 't' || value === 'true') return true;
  if (value === 0 || value === 0n || value === '0' || value === 'f' || value === 'false') return false;
  throw new Error(`not a boolean: ${JSON.stringify(String(value))}`);
}

/** One value in its canonical text for its portable column type (null stays null). */
export function canonicalValue(type: ColumnType, value: unknown): string | null {
  if (value === null || value === undefined) return NULL_MARK;
  switch (type) {
    case 'bytes':
      return bytesOf(value).toString('hex');
    case 'int':
      return BigInt(String(value)).toString();
    case 'float':
      return String(Number(String(value)));
    case 'decimal':
      return normalizeDecimalText(String(value));
    case 'timestamp':
      return String(instantMs(value));
    case 'uuid':
      return String(value).toLowerCase();
    case 'json':
      return stableJson(typeof value === 'string' ? JSON.parse(value) : value);
    case 'bool':
      return String(boolOf(value));
    case 'text':
      return String(value);
  }
}

/** One row (values in the table's column order, no file id) as one canonical line. */
export function canonicalRow(table: NativeTable, row: readonly unknown[]): string {
  if (row.length !== table.columns.length) throw new Error(`row has ${row.length} values, table ${table.name} has ${table.columns.length} columns`);
  return JSON.stringify(table.columns.map((column, index) => canonicalValue(column.type, row[index])));
}

/**
 * Digest of a file's records as a multiset: canonical lines sorted, so an engine returning rows in
 * another order still matches, while a lost, extra, doubled or altered row does not.
 */
export function recordsDigest(table: NativeTable, rows: Iterable<readonly unknown[]>): { digest: string; rows: number } {
  const lines = Array.from(rows, (row) => canonicalRow(table, row)).sort();
  const hash = createHash('sha256');
  for (const line of lines) hash.update(line).update('\n');
  return { digest: hash.digest('hex'), rows: lines.length };
}

/** How an engine selects a column so its driver hands back a value `canonicalValue` reads exactly. */
export type ReadbackExpression = (quotedColumn: string, type: ColumnType) => string;

/** Plain columns: the driver's own values already compare (pg, PGlite, SQLite). */
export const PLAIN_COLUMN: ReadbackExpression = (column) => column;

/**
 * `SELECT <columns> FROM <table> WHERE <file id> = <placeholder>`: one file's records, columns in
 * table order and aliased c0…cN so a driver returning objects keeps them apart.
 */
export function nativeReadSql(table: NativeTable, from: string, fileIdColumn: string, placeholder: string, quote: (name: string) => string, expression: ReadbackExpression = PLAIN_COLUMN): string {
  const columns = table.columns.map((column, index) => `${expression(quote(column.name), column.type)} AS c${index}`);
  return `SELECT ${columns.join(', ')} FROM ${from} WHERE ${quote(fileIdColumn)} = ${placeholder}`;
}

/** Driver rows of `nativeReadSql` (objects keyed c0…cN) as value arrays in column order. */
export function rowsInColumnOrder(table: NativeTable, rows: readonly Record<string, unknown>[]): unknown[][] {
  return rows.map((row) => table.columns.map((_, index) => row[`c${index}`]));
}

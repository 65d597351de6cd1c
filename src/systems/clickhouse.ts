/**
 * `clickhouse` adapter (SPEC §5.1–§5.3) through the official `@clickhouse/client` over HTTP.
 * Written for and tested against ClickHouse 18.16 (Debian bookworm's `clickhouse-server`), which
 * predates server-side query parameters, `mutations_sync`, lightweight deletes and
 * `system.mutations.latest_fail_reason`; everything here uses what 18.16 has.
 *
 * Lab namespace: the database `<lab>`. Blob table `<lab>.blobs (id UInt32, name String, sha256
 * String, size UInt64, content String)`:
 * - `mergetree`: `MergeTree ORDER BY id` (no dedup);
 * - `replacing`: `ReplacingMergeTree ORDER BY sha256` — rows with equal content collapse to one
 *   when parts merge (`compaction` forces that with `OPTIMIZE … FINAL`). Because collapsing drops
 *   the ids of duplicate rows, the variant keeps a small reference table `<lab>.file_refs (id,
 *   sha256)`: `countStored` counts files held (as in every other adapter), a per-file delete drops
 *   the file's reference and deletes the content only when no other stored file references it.
 *
 * Placement (SPEC §4.1) `across:K`: K content tables `blobs_p<k>` (or `n_<type>_p<k>`), file i in
 * table i mod K; one `file_refs` for all, a ref's table being `id % K`. `replacing` collapses equal
 * contents only inside one table, so a content goes from a table when no file of that table still
 * references it. Every stage covers all K tables; probes read the whole lab database.
 *
 * Every statement's HTTP or server error is an error (the client throws on any non-200 answer);
 * mutations (`ALTER TABLE … DELETE`) and merges are waited for in `system.mutations` /
 * `system.merges`. 18.16 has no query parameters, so values are either validated numbers / hex
 * hashes or string literals escaped by `chString`; identifiers are validated and back-quoted.
 *
 * Native mode (SPEC §5.4): `<lab>.n_<type> (file_id UInt32, file_sha256 String, row_no UInt32,
 * <typed columns>)`, each typed column `Nullable` of its 18.16 type (CLICKHOUSE_NATIVE_TYPES), rows
 * sent as one streamed `INSERT … FORMAT TabSeparated` whose text the server parses into the types.
 * `mergetree` orders by (file_id, row_no); `replacing` by (file_sha256, row_no) with the same
 * `file_refs` table as blob mode, so the rows of duplicate files collapse at merge exactly like
 * blob rows do. Timestamps are Int64 milliseconds since the epoch (UTC): 18.16 has no DateTime64
 * and its DateTime holds whole seconds in 1970–2106 only. Values a column cannot hold exactly
 * (decimals beyond Decimal(18, 4), non-integers in Int64 …) are refused with an error, never rounded.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { ClickHouseClient } from '@clickhouse/client';
import { assertIdentifier } from './shared/identifiers.js';
import { groupByObject, objectFor, objectNames } from './shared/placement.js';
import { placementObjects } from '../experiment/dimensions.js';
import type { ColumnType, NativeTable } from '../dataset/records.js';
import { BLOB_TABLE, fileIdColumn, labTableName } from './shared/layout.js';
import { checkRowWidth, FILE_ID_COLUMN, nativeTableName, type NativeTypeMap } from './shared/native.js';
import { parseSystemOptions } from './shared/options.js';
import { nativeReadSql, type ReadbackExpression } from './shared/native-readback.js';
import { batchFiles, consecutiveStreams, DeleteDidNothingError, releaseOwned, requireNative, throwIfAborted } from './shared/stages.js';
import { checkVariant, numberOf } from './postgresql.js';
import { SYSTEM_LAYER, sizeProbe, timingsOf } from './shared/probes.js';
import { labFilesProbe } from './shared/lab-files.js';
import {
  assertLabName,
  type CellContext,
  type Deferral,
  type StageName,
  type LabFile,
  type LabFileRef,
  type NotApplicable,
  type Probe,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';

export const CLICKHOUSE_VARIANTS = ['mergetree', 'replacing'] as const;
export type ClickhouseVariant = (typeof CLICKHOUSE_VARIANTS)[number];

/** `--placement across:K` bulk loads: bytes of files per round of K INSERTs (bounds memory). */
const ACROSS_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * A bulk load into one table is one streamed INSERT per this many bytes of files. ClickHouse 18.16
 * forms an insert block of up to max_insert_block_size (1 048 576) rows in the server's memory, so a
 * single INSERT of a 1 GiB set asked for one 1 GiB column chunk and failed on the default 2 GB query
 * memory limit (measured with `--total-size 1GiB`); smaller sets are still one INSERT, one part.
 */
const BULK_INSERT_BYTES = 256 * 1024 * 1024;

/** Reference table of the `replacing` variant: which file ids are stored, by content hash. */
export const REFS_TABLE = 'file_refs';

const clickhouseOptionsSchema = z
  .object({
    /** HTTP interface, e.g. http://127.0.0.1:8123 — credentials go in user/password, never here. */
    url: z
      .string()
      .url()
      .refine((value) => !new URL(value).password && !new URL(value).username, 'put credentials in user/password, not in the URL')
      .default('http://127.0.0.1:8123'),
    user: z.string().min(1).default('default'),
    password: z.string().default(''),
    /** The server's data directory when local (for the `fs` probe; it covers the whole server). */
    dataDir: z.string().min(1).optional(),
    requestTimeoutMs: z.coerce.number().int().positive().default(300_000),
    /** How long a merge or mutation may take before the stage fails. */
    mutationTimeoutMs: z.coerce.number().int().positive().default(300_000),
    settleTimeoutMs: z.coerce.number().int().positive().default(30_000),
    pollIntervalMs: z.coerce.number().int().positive().default(100),
  })
  .strict();
export type ClickhouseOptions = z.infer<typeof clickhouseOptionsSchema>;

/** `` `name` `` after validation. */
export function chIdent(name: string, what?: string): string {
  return `\`${assertIdentifier(name, what)}\``;
}

export function chQualified(database: string, table: string): string {
  return `${chIdent(database, 'database name')}.${chIdent(table, 'table name')}`;
}

/** A ClickHouse string literal (backslash and quote escaped) — 18.16 has no query parameters. */
export function chString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

export function assertSha256(value: string): string {
  if (!HEX_SHA256.test(value)) throw new Error(`invalid sha256 ${JSON.stringify(value)}`);
  return value;
}

export function assertFileId(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`invalid file id ${id}: expected UInt32`);
  return id;
}

/**
 * Rows per granule of the blob tables (the server default is 8192). A SELECT of one file reads and
 * decompresses its whole granule, and 18.16 has no granularity by bytes (index_granularity_bytes
 * came in 19.x): with 8192 rows a granule was every file of a part, and reading one file of a
 * 1 GiB set failed on the 2 GB query memory limit. 64 rows bound a granule to 64 × the largest
 * file (32 MiB for 512 KiB files) and keep the default's 1 MiB compression blocks for files of
 * 16 KiB and more (a block is cut at a mark only once it holds 64 KiB; docs/systems-sql.md).
 */
export const BLOB_INDEX_GRANULARITY = 64;

/** `tables`: the content tables (one, or K under `--placement across:K`). */
export function clickhouseBlobTableDdl(lab: string, variant: ClickhouseVariant, tables: readonly string[] = [BLOB_TABLE]): string[] {
  const columns = '(id UInt32, name String, sha256 String, size UInt64, content String)';
  const settings = `SETTINGS index_granularity = ${BLOB_INDEX_GRANULARITY}`;
  if (variant === 'mergetree') {
    return tables.map((table) => `CREATE TABLE ${chQualified(lab, table)} ${columns} ENGINE = MergeTree() ORDER BY id ${settings}`);
  }
  return [
    ...tables.map((table) => `CREATE TABLE ${chQualified(lab, table)} ${columns} ENGINE = ReplacingMergeTree() ORDER BY sha256 ${settings}`),
    `CREATE TABLE ${chQualified(lab, REFS_TABLE)} (id UInt32, sha256 String) ENGINE = MergeTree() ORDER BY id`,
  ];
}

/** Portable native column types → ClickHouse 18.16 types (each column is made `Nullable`). */
export const CLICKHOUSE_NATIVE_TYPES: NativeTypeMap = {
  text: 'String',
  int: 'Int64',
  float: 'Float64',
  decimal: 'Decimal(18, 4)', // Decimal exists in 18.16; values with more digits are refused
  // Milliseconds since 1970-01-01 UTC: 18.16 has no DateTime64, and its DateTime holds only whole
  // seconds from 1970 to 2106 — Int64 milliseconds keep every ISO 8601 timestamp exactly.
  timestamp: 'Int64',
  uuid: 'UUID',
  json: 'String', // 18.16 has no JSON type
  bytes: 'String', // ClickHouse strings hold arbitrary bytes
  bool: 'UInt8',
};

/** Column holding the content hash of the file a native row came from (the replacing key). */
export const FILE_SHA_COLUMN = 'file_sha256';
/** Row number inside its file: with the file hash it is the replacing variant's sorting key. */
export const ROW_NO_COLUMN = 'row_no';

export function clickhouseNativeTableDdl(lab: string, table: NativeTable, variant: ClickhouseVariant, tables: readonly string[] = [nativeTableName(table)]): string[] {
  const names = new Set([FILE_ID_COLUMN, FILE_SHA_COLUMN, ROW_NO_COLUMN]);
  const typed = table.columns.map((column) => {
    if (names.has(column.name)) throw new Error(`native table ${table.name}: column ${column.name} clashes with a lab column`);
    names.add(column.name);
    return `${chIdent(column.name, 'native column name')} Nullable(${CLICKHOUSE_NATIVE_TYPES[column.type]})`;
  });
  const columns = [`${FILE_ID_COLUMN} UInt32`, `${FILE_SHA_COLUMN} String`, `${ROW_NO_COLUMN} UInt32`, ...typed].join(', ');
  const contentNames = tables.map((name) => chQualified(lab, name));
  if (variant === 'mergetree') return contentNames.map((name) => `CREATE TABLE ${name} (${columns}) ENGINE = MergeTree() ORDER BY (${FILE_ID_COLUMN}, ${ROW_NO_COLUMN})`);
  return [
    ...contentNames.map((name) => `CREATE TABLE ${name} (${columns}) ENGINE = ReplacingMergeTree() ORDER BY (${FILE_SHA_COLUMN}, ${ROW_NO_COLUMN})`),
    `CREATE TABLE ${chQualified(lab, REFS_TABLE)} (id UInt32, sha256 String) ENGINE = MergeTree() ORDER BY id`,
  ];
}

/** Byte → the letter of its TabSeparated escape (0 = no escape). A typed array: the loops below
 * run once per payload byte, and an object lookup there cost ≈ 0.7 s per MiB (measured). */
const TSV_ESCAPE_OF = new Uint8Array(256);
TSV_ESCAPE_OF[0x5c] = 0x5c;
TSV_ESCAPE_OF[0x09] = 0x74;
TSV_ESCAPE_OF[0x0a] = 0x6e;
TSV_ESCAPE_OF[0x0d] = 0x72;

/** TabSeparated escaping: backslash, tab, newline and carriage return get a backslash escape. */
export function tsvEscape(bytes: Buffer): Buffer {
  let specials = 0;
  for (let index = 0; index < bytes.length; index++) if (TSV_ESCAPE_OF[bytes[index]!] !== 0) specials += 1;
  if (specials === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + specials);
  let at = 0;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index]!;
    const escape = TSV_ESCAPE_OF[byte]!;
    if (escape === 0) out[at++] = byte;
    else {
      out[at++] = 0x5c;
      out[at++] = escape;
    }
  }
  return out;
}

const DECIMAL_18_4 = /^-?\d{1,14}(\.\d{1,4})?$/;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One native value as TabSeparated text for its 18.16 column; anything not held exactly throws. */
export function clickhouseNativeText(type: ColumnType, value: unknown): Buffer {
  if (value === null || value === undefined) return Buffer.from('\\N');
  const refuse = (why: string) => new Error(`clickhouse native ${type}: ${JSON.stringify(String(value)).slice(0, 80)} ${why}`);
  switch (type) {
    case 'int':
      if (typeof value === 'bigint') return Buffer.from(value.toString());
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw refuse('is not an integer');
      return Buffer.from(String(value));
    case 'float':
      if (typeof value !== 'number') throw refuse('is not a number');
      return Buffer.from(Number.isNaN(value) ? 'nan' : value === Infinity ? 'inf' : value === -Infinity ? '-inf' : String(value));
    case 'decimal':
      if (!DECIMAL_18_4.test(String(value))) throw refuse('does not fit Decimal(18, 4) exactly');
      return Buffer.from(String(value));
    case 'timestamp': {
      const ms = new Date(String(value)).getTime();
      if (Number.isNaN(ms)) throw refuse('is not a timestamp');
      return Buffer.from(String(ms));
    }
    case 'uuid':
      if (!UUID_TEXT.test(String(value))) throw refuse('is not a UUID');
      return Buffer.from(String(value).toLowerCase());
    case 'bool':
      if (typeof value !== 'boolean') throw refuse('is not a boolean');
      return Buffer.from(value ? '1' : '0');
    case 'bytes':
      if (!Buffer.isBuffer(value)) throw refuse('is not bytes');
      return tsvEscape(value);
    case 'text':
    case 'json':
      return tsvEscape(Buffer.from(String(value), 'utf8'));
  }
}

const TAB = Buffer.from('\t');
const NEWLINE = Buffer.from('\n');

/** TabSeparated text of one file's rows (file_id, file_sha256, row_no, typed values …). */
export async function* clickhouseNativeLines(file: LabFile, table: NativeTable, parse: (file: LabFile) => AsyncIterable<unknown[]>): AsyncIterable<Buffer> {
  const head = `${assertFileId(file.id)}\t${assertSha256(file.sha256)}\t`;
  let rowNo = 0;
  for await (const row of parse(file)) {
    checkRowWidth(table, row, file.name);
    const parts: Buffer[] = [Buffer.from(`${head}${rowNo}`)];
    row.forEach((value, index) => parts.push(TAB, clickhouseNativeText(table.columns[index]!.type, value)));
    parts.push(NEWLINE);
    yield Buffer.concat(parts);
    rowNo += 1;
  }
}

/**
 * Native read-back: every value selected as text, so no JSON number rounds a Decimal or an Int64
 * and no JSON string mangles bytes: strings, JSON and bytes as hex(), the rest as toString().
 */
export const CLICKHOUSE_READBACK: ReadbackExpression = (column, type) => (type === 'text' || type === 'json' || type === 'bytes' ? `hex(${column})` : `toString(${column})`);

/** One value of a CLICKHOUSE_READBACK column back in a shape `canonicalValue` reads exactly. */
export function clickhouseReadbackValue(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const text = String(value);
  switch (type) {
    case 'bytes':
      return Buffer.from(text, 'hex');
    case 'text':
    case 'json':
      return Buffer.from(text, 'hex').toString('utf8');
    case 'float': // ClickHouse prints non-finite doubles as inf, -inf, nan
      return text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text);
    case 'timestamp':
      return Number(text); // Int64 milliseconds since the epoch
    default:
      return text;
  }
}

/**
 * One file's records. `mergetree` (and every variant keyed by file): the rows of its file_id.
 * `replacing` (`byContent`): the DISTINCT (row_no, values) rows of its content hash — before a
 * merge each stored copy of the content has its rows there, after it one copy is left; identical
 * copies are one row either way, so a correct collapse reads as exactly the file's records, while
 * a copy that differs in any value stays a row of its own and makes the read differ.
 */
export function clickhouseRecordsSql(table: NativeTable, from: string, file: Pick<LabFileRef, 'id' | 'sha256'>, byContent: boolean): string {
  if (!byContent) return nativeReadSql(table, from, FILE_ID_COLUMN, String(assertFileId(file.id)), (name) => chIdent(name), CLICKHOUSE_READBACK);
  const columns = table.columns.map((column, index) => `${CLICKHOUSE_READBACK(chIdent(column.name), column.type)} AS c${index}`);
  return `SELECT DISTINCT ${ROW_NO_COLUMN}, ${columns.join(', ')} FROM ${from} WHERE ${FILE_SHA_COLUMN} = ${chString(assertSha256(file.sha256))}`;
}

/** Compact rows of `clickhouseRecordsSql` as values in column order (the `byContent` row_no dropped). */
export function clickhouseRecordsOf(table: NativeTable, rows: readonly unknown[][], byContent: boolean): unknown[][] {
  const skip = byContent ? 1 : 0;
  return rows.map((row) => {
    if (row.length !== table.columns.length + skip) throw new Error(`clickhouse read-back row has ${row.length} values, expected ${table.columns.length + skip}`);
    return table.columns.map((column, index) => clickhouseReadbackValue(column.type, row[index + skip]));
  });
}

/** Unsigned LEB128, the length prefix of RowBinary strings. */
export function varUInt(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

/** RowBinary encoding of one blob row; content is returned as-is (never copied). */
export function rowBinaryBlobRow(file: Pick<LabFile, 'id' | 'name' | 'sha256' | 'size' | 'content'>): Buffer[] {
  const id = Buffer.alloc(4);
  id.writeUInt32LE(assertFileId(file.id));
  const name = Buffer.from(file.name, 'utf8');
  const sha = Buffer.from(file.sha256, 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(file.size));
  return [id, varUInt(name.length), name, varUInt(sha.length), sha, size, varUInt(file.content.length), file.content];
}

/**
 * The one RowBinary String of an answer, decoded as its chunks arrive: the length prefix (which
 * may span chunks) sizes one buffer of its own (never a pool slice), the bytes are copied into it
 * and the chunks are left behind. No concatenation of the whole answer and no view into one, so
 * the read stage can free the result as soon as it is checked (`readOneOwned`).
 */
export class RowBinaryStringReader {
  private length = 0;
  private shift = 1;
  private prefixBytes = 0;
  private received = 0;
  private content: Buffer | null = null;
  private at = 0;

  push(chunk: Uint8Array): void {
    this.received += chunk.length;
    let index = 0;
    while (!this.content && index < chunk.length) {
      if (this.prefixBytes > 9) break;
      const byte = chunk[index++]!;
      this.prefixBytes += 1;
      this.length += (byte & 0x7f) * this.shift;
      this.shift *= 128;
      if (byte < 0x80) this.content = Buffer.allocUnsafeSlow(this.length);
    }
    if (!this.content) {
      if (this.prefixBytes > 9) throw new Error(`clickhouse RowBinary answer of ${this.received} bytes has no complete length prefix`);
      return;
    }
    const rest = chunk.length - index;
    if (this.at + rest > this.content.length) throw new Error(`clickhouse RowBinary answer: prefix says ${this.length} bytes, more follow`);
    this.content.set(index === 0 ? chunk : chunk.subarray(index), this.at);
    this.at += rest;
  }

  /** The string's bytes; null when the answer was empty (no row). */
  finish(): Buffer | null {
    if (this.received === 0) return null;
    if (!this.content) throw new Error(`clickhouse RowBinary answer of ${this.received} bytes has no complete length prefix`);
    if (this.at !== this.content.length) throw new Error(`clickhouse RowBinary answer: prefix says ${this.length} bytes, ${this.at} follow`);
    return this.content;
  }
}

/** The one RowBinary String of `answer` (length prefix, bytes); anything else in it is an error. */
export function rowBinaryString(answer: Buffer): Buffer {
  const reader = new RowBinaryStringReader();
  reader.push(answer);
  const content = reader.finish();
  if (!content) throw new Error('clickhouse RowBinary answer of 0 bytes has no complete length prefix');
  return content;
}

export function rowBinaryRefRow(file: Pick<LabFile, 'id' | 'sha256'>): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32LE(assertFileId(file.id));
  const sha = Buffer.from(file.sha256, 'utf8');
  return Buffer.concat([id, varUInt(sha.length), sha]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class ClickhouseAdapter implements SystemAdapter {
  readonly id = 'clickhouse';
  /** readOne returns a buffer of its own (RowBinaryStringReader), nothing else references it. */
  readonly readOneOwned = true;
  private client: ClickHouseClient | null = null;
  private metricsClient: ClickHouseClient | null = null;

  constructor(
    readonly instance: string,
    private readonly options: ClickhouseOptions,
    private readonly lab: string,
  ) {}

  private get ch(): ClickHouseClient {
    if (!this.client) throw new Error('clickhouse: not connected');
    return this.client;
  }

  private async open(): Promise<ClickHouseClient> {
    const { createClient, ClickHouseLogLevel } = await import('@clickhouse/client');
    return createClient({
      url: this.options.url,
      username: this.options.user,
      password: this.options.password,
      request_timeout: this.options.requestTimeoutMs,
      application: 'dedup-lab',
      // Errors reach the caller as thrown errors; the client's own logger would print them (and
      // their query text) a second time on stderr.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async connect(): Promise<void> {
    if (this.client) return;
    this.client = await this.open();
    await this.scalar('SELECT 1'); // fail here (not later) when the server is unreachable
  }

  async close(): Promise<void> {
    const clients = [this.client, this.metricsClient];
    this.client = null;
    this.metricsClient = null;
    await Promise.all(clients.map((client) => client?.close().catch(() => undefined)));
  }

  /** Run a statement that returns nothing; a non-200 answer throws. */
  private async command(query: string, settings: Record<string, string | number> = {}): Promise<void> {
    await this.ch.command({ query, clickhouse_settings: settings });
  }

  /** First column of the first row, as text (18.16 quotes 64-bit integers in JSON). */
  private async scalar(query: string, client: ClickHouseClient = this.ch): Promise<string> {
    const result = await client.query({ query, format: 'JSONCompact' });
    const body = (await result.json()) as { data: unknown[][] };
    const value = body.data[0]?.[0];
    if (value === undefined) throw new Error(`query returned no row: ${query}`);
    return String(value);
  }

  async version(): Promise<string> {
    return this.scalar('SELECT version()');
  }

  private variantOf(cell: CellContext): ClickhouseVariant {
    return checkVariant(CLICKHOUSE_VARIANTS, cell.variant, 'clickhouse');
  }

  /** The content table of file `fileId`: `blobs` / `n_<type>`, or its `_p<k>` under `across:K`. */
  private tableOf(cell: CellContext, fileId = 0): string {
    return objectFor(fileId, labTableName(cell), cell.placement);
  }

  /** Every content table of the cell (one, or K under `across:K`). */
  private contentTables(cell: CellContext): string[] {
    return objectNames(labTableName(cell), cell.placement);
  }

  /** `file_refs` rows whose file lives in `table` (all of them within). */
  private refsOfTable(cell: CellContext, table: string): string {
    const count = placementObjects(cell.placement);
    return count === 1 ? '1' : `id % ${count} = ${this.contentTables(cell).indexOf(table)}`;
  }

  private idColumn(cell: CellContext): string {
    return fileIdColumn(cell);
  }

  private shaColumn(cell: CellContext): string {
    return cell.mode === 'blob' ? 'sha256' : FILE_SHA_COLUMN;
  }

  async resetLab(cell: CellContext): Promise<void> {
    await this.command(`DROP DATABASE IF EXISTS ${chIdent(this.lab, 'database name')}`);
    await this.command(`CREATE DATABASE ${chIdent(this.lab, 'database name')}`);
    await this.createTables(cell);
  }

  private async createTables(cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    const tables = this.contentTables(cell);
    const ddl = cell.mode === 'blob' ? clickhouseBlobTableDdl(this.lab, variant, tables) : clickhouseNativeTableDdl(this.lab, requireNative(cell).table, variant, tables);
    for (const statement of ddl) await this.command(statement);
  }

  /** The cell's tables: the content table, plus the reference table of `replacing`. */
  private cellTables(cell: CellContext): string[] {
    return this.variantOf(cell) === 'replacing' ? [...this.contentTables(cell), REFS_TABLE] : this.contentTables(cell);
  }

  async dropLab(): Promise<void> {
    await this.command(`DROP DATABASE IF EXISTS ${chIdent(this.lab, 'database name')}`);
  }

  /** One streamed `INSERT … FORMAT …`; the server answers 200 only when every row is written. */
  private async insertStream(table: string, rows: AsyncIterable<Buffer>, format: 'RowBinary' | 'TabSeparated' = 'RowBinary'): Promise<void> {
    const result = await this.ch.exec({
      query: `INSERT INTO ${chQualified(this.lab, table)} FORMAT ${format}`,
      values: Readable.from(rows, { objectMode: false }),
    });
    // Drain the (empty) answer so the connection returns to the pool.
    for await (const _chunk of result.stream) void _chunk;
  }

  /** The cell's rows of `files`: RowBinary blob rows or TabSeparated native rows. */
  /**
   * The cell's rows of `files`: RowBinary blob rows, or TabSeparated native rows. A native file is
   * parsed whole before any of its rows is sent: a file that fails to parse is skipped (listed in
   * `unparsable`) and the INSERT goes on cleanly — cutting the stream short would not help, as
   * ClickHouse may still write the rows it had received after the client has seen the error.
   * (So native mode holds one file's rows in memory at a time.)
   */
  private rowsOf(
    files: AsyncIterable<LabFile>,
    cell: CellContext,
    seen: { id: number; sha256: string }[],
    unparsable: { id: number; error: string }[],
  ): AsyncIterable<Buffer> {
    const native = cell.mode === 'native' ? requireNative(cell) : null;
    return (async function* () {
      for await (const file of files) {
        throwIfAborted(cell.signal);
        const sha256 = assertSha256(file.sha256);
        if (!native) {
          seen.push({ id: file.id, sha256 });
          yield* rowBinaryBlobRow(file);
          continue;
        }
        const lines: Buffer[] = [];
        try {
          for await (const line of clickhouseNativeLines(file, native.table, native.parse)) lines.push(line);
        } catch (error) {
          unparsable.push({ id: file.id, error: error instanceof Error ? error.message : String(error) });
          continue;
        }
        seen.push({ id: file.id, sha256 });
        yield Buffer.concat(lines);
      }
    })();
  }

  private formatOf(cell: CellContext): 'RowBinary' | 'TabSeparated' {
    return cell.mode === 'blob' ? 'RowBinary' : 'TabSeparated';
  }

  /**
   * After a failed INSERT nothing of it may stay: a stream cut short (a parse error, a lost
   * connection) can still leave blocks the server had already written. Remove the rows of the
   * files sent; in `replacing`, only contents that no stored file references.
   */
  private async removePartial(cell: CellContext, sent: { id: number; sha256: string }[]): Promise<void> {
    for (const [table, group] of groupByObject(sent, labTableName(cell), cell.placement)) {
      if (this.variantOf(cell) === 'mergetree') {
        const ids = group.map((file) => assertFileId(file.id)).join(', ');
        if ((await this.count(table, `${this.idColumn(cell)} IN (${ids})`)) > 0) await this.mutateDelete(table, `${this.idColumn(cell)} IN (${ids})`, cell.signal);
        continue;
      }
      for (const sha of new Set(group.map((file) => chString(assertSha256(file.sha256))))) {
        const where = `${this.shaColumn(cell)} = ${sha}`;
        if ((await this.count(REFS_TABLE, `sha256 = ${sha} AND ${this.refsOfTable(cell, table)}`)) === 0 && (await this.count(table, where)) > 0) await this.mutateDelete(table, where, cell.signal);
      }
    }
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const variant = this.variantOf(cell);
    const seen: { id: number; sha256: string }[] = [];
    const unparsable: { id: number; error: string }[] = [];
    try {
      if (placementObjects(cell.placement) === 1) {
        for await (const part of consecutiveStreams(files, BULK_INSERT_BYTES)) await this.insertStream(this.tableOf(cell), this.rowsOf(part, cell, seen, unparsable), this.formatOf(cell));
      } else await this.insertAcross(files, cell, seen, unparsable);
      if (variant === 'replacing') {
        await this.insertStream(
          REFS_TABLE,
          (async function* () {
            for (const ref of seen) yield rowBinaryRefRow(ref);
          })(),
        );
      }
      return { acknowledged: seen.map((file) => file.id), failed: unparsable };
    } catch (error) {
      if (cell.signal.aborted) throw error;
      let message = error instanceof Error ? error.message : String(error);
      // A failed clean-up (e.g. the table itself is gone) is reported with the write's own error.
      await this.removePartial(cell, seen).catch((cleanup: unknown) => {
        message += `; removing the partial insert failed too: ${cleanup instanceof Error ? cleanup.message : String(cleanup)}`;
      });
      return { acknowledged: [], failed: [...unparsable, ...seen.map((file) => ({ id: file.id, error: message }))] };
    }
  }

  /**
   * `across:K`: the files in batches of ≤ ACROSS_BATCH_BYTES, each batch one INSERT per table it
   * touches (one streamed INSERT cannot feed K tables). Any failure fails the whole bulk insert, as within.
   */
  private async insertAcross(files: AsyncIterable<LabFile>, cell: CellContext, seen: { id: number; sha256: string }[], unparsable: { id: number; error: string }[]): Promise<void> {
    for await (const batch of batchFiles(files, Number.MAX_SAFE_INTEGER, ACROSS_BATCH_BYTES)) {
      for (const [table, group] of groupByObject(batch, labTableName(cell), cell.placement)) {
        await this.insertStream(table, this.rowsOf((async function* () { yield* group; })(), cell, seen, unparsable), this.formatOf(cell));
      }
    }
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    const sent: { id: number; sha256: string }[] = [];
    const unparsable: { id: number; error: string }[] = [];
    try {
      await this.insertStream(
        this.tableOf(cell, file.id),
        this.rowsOf(
          (async function* () {
            yield file;
          })(),
          cell,
          sent,
          unparsable,
        ),
        this.formatOf(cell),
      );
      if (unparsable[0]) throw new Error(unparsable[0].error);
    } catch (error) {
      // The write's own error is the one to report; a failed clean-up cannot make it succeed.
      if (!cell.signal.aborted) await this.removePartial(cell, sent).catch(() => undefined);
      throw error;
    }
    if (variant === 'replacing') {
      await this.insertStream(
        REFS_TABLE,
        (async function* () {
          yield rowBinaryRefRow(file);
        })(),
      );
    }
  }

  private async count(table: string, where = '1'): Promise<number> {
    return numberOf(await this.scalar(`SELECT count() FROM ${chQualified(this.lab, table)} WHERE ${where}`));
  }

  /** `ALTER TABLE … DELETE` is an asynchronous mutation in ClickHouse: wait until it is done. */
  private async mutateDelete(table: string, where: string, signal: AbortSignal): Promise<void> {
    await this.command(`ALTER TABLE ${chQualified(this.lab, table)} DELETE WHERE ${where}`);
    await this.waitUntilIdle(signal);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    const id = assertFileId(file.id);
    const table = this.tableOf(cell, id);
    if (variant === 'mergetree') {
      const where = `${this.idColumn(cell)} = ${id}`;
      if ((await this.count(table, where)) === 0) throw this.notStored(file);
      await this.mutateDelete(table, where, cell.signal);
      const left = await this.count(table, where);
      if (left !== 0) throw new Error(`delete of file ${id} left ${left} rows after its mutation finished`);
      return;
    }
    const refs = await this.count(REFS_TABLE, `id = ${id}`);
    if (refs === 0) throw this.notStored(file);
    const sha = chString(assertSha256(file.sha256));
    await this.mutateDelete(REFS_TABLE, `id = ${id}`, cell.signal);
    if ((await this.count(REFS_TABLE, `id = ${id}`)) !== 0) throw new Error(`delete of file ${id}: its reference survived the mutation`);
    // The content goes only when no other stored file references it (a duplicate may still be held).
    if ((await this.count(REFS_TABLE, `sha256 = ${sha} AND ${this.refsOfTable(cell, table)}`)) === 0) {
      const where = `${this.shaColumn(cell)} = ${sha}`;
      // A file that parsed into no rows has no content rows to delete.
      if ((await this.count(table, where)) > 0) await this.mutateDelete(table, where, cell.signal);
      if ((await this.count(table, where)) !== 0) throw new Error(`delete of file ${id}: its content survived the mutation`);
    }
  }

  private notStored(file: LabFileRef): Error {
    return new DeleteDidNothingError(`delete did nothing: file ${file.id} (${file.name}) is not stored in ${this.lab}`);
  }

  async countStored(cell: CellContext): Promise<number> {
    if (this.variantOf(cell) === 'replacing') return this.count(REFS_TABLE);
    let stored = 0;
    // File ids are disjoint between the tables of `across:K`: the per-table counts add up.
    for (const table of this.contentTables(cell)) {
      stored += cell.mode === 'blob' ? await this.count(table) : numberOf(await this.scalar(`SELECT uniqExact(${FILE_ID_COLUMN}) FROM ${chQualified(this.lab, table)}`));
    }
    return stored;
  }

  /** Rows physically present in the blob table(s) (the replacing variant's dedup shows here). */
  async countContentRows(cell?: CellContext): Promise<number> {
    let rows = 0;
    for (const table of cell ? this.contentTables(cell) : [BLOB_TABLE]) rows += await this.count(table);
    return rows;
  }

  async compact(cell: CellContext): Promise<void | NotApplicable> {
    await this.optimizeFinal(cell);
  }

  async maintenance(cell: CellContext): Promise<void | NotApplicable> {
    // With maintenance_full in the cell this is the light level: OPTIMIZE without FINAL (SPEC §4.1).
    if (cell.twoMaintenanceLevels) await this.optimizeLight(cell);
    else await this.optimizeFinal(cell);
  }

  // SPEC §4.1 capabilities.
  async maintenanceFull(cell: CellContext): Promise<void> {
    await this.optimizeFinal(cell);
  }

  /** `OPTIMIZE TABLE` without FINAL: one merge round the server chooses (it may merge nothing). */
  private async optimizeLight(cell: CellContext): Promise<void> {
    await this.waitUntilIdle(cell.signal);
    for (const table of this.cellTables(cell)) await this.command(`OPTIMIZE TABLE ${chQualified(this.lab, table)}`);
    await this.waitUntilIdle(cell.signal);
  }

  /** One mutation per table for all the files; `replacing` drops a content only when no reference is left. */
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    if (files.length === 0) return;
    const groups = groupByObject(files, labTableName(cell), cell.placement);
    const idsOf = (group: readonly LabFileRef[]) => group.map((file) => assertFileId(file.id)).join(', ');
    if (this.variantOf(cell) === 'mergetree') {
      for (const [table, group] of groups) await this.mutateDelete(table, `${this.idColumn(cell)} IN (${idsOf(group)})`, cell.signal);
      return;
    }
    await this.mutateDelete(REFS_TABLE, `id IN (${idsOf(files)})`, cell.signal);
    for (const [table, group] of groups) {
      const shas = [...new Set(group.map((file) => chString(assertSha256(file.sha256))))];
      const kept = await this.ch.query({
        query: `SELECT DISTINCT sha256 FROM ${chQualified(this.lab, REFS_TABLE)} WHERE sha256 IN (${shas.join(', ')}) AND ${this.refsOfTable(cell, table)}`,
        format: 'JSONCompact',
      });
      const stillReferenced = new Set(((await kept.json()) as { data: string[][] }).data.map((row) => chString(String(row[0]))));
      const orphans = shas.filter((sha) => !stillReferenced.has(sha));
      if (orphans.length > 0) await this.mutateDelete(table, `${this.shaColumn(cell)} IN (${orphans.join(', ')})`, cell.signal);
    }
  }

  async truncate(cell: CellContext): Promise<void> {
    for (const table of this.cellTables(cell)) await this.command(`TRUNCATE TABLE ${chQualified(this.lab, table)}`);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    for (const table of this.cellTables(cell)) await this.command(`DROP TABLE ${chQualified(this.lab, table)}`);
    await this.createTables(cell);
  }

  /**
   * The content as RowBinary (a length prefix, then the bytes as stored): no hex text and no JSON
   * string of twice the file's size, which at 1 GiB sets kept the tool's heap growing during `read`.
   * The bytes land in a buffer of their own (RowBinaryStringReader), which the read stage frees
   * once it has checked them (`readOneOwned`), and each response chunk is freed once copied: at
   * 1 GiB the dead chunks of the first reads (≈ 30 MiB before V8 collected them) were the read
   * stage's step above the perfile_insert peak.
   */
  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const where = this.variantOf(cell) === 'replacing' ? `sha256 = ${chString(assertSha256(file.sha256))}` : `id = ${assertFileId(file.id)}`;
    if (this.variantOf(cell) === 'replacing' && (await this.count(REFS_TABLE, `id = ${assertFileId(file.id)}`)) === 0) throw this.notStored(file);
    const result = await this.ch.exec({ query: `SELECT content FROM ${chQualified(this.lab, this.tableOf(cell, file.id))} WHERE ${where} LIMIT 1 FORMAT RowBinary` });
    const reader = new RowBinaryStringReader();
    for await (const chunk of result.stream) {
      reader.push(chunk as Buffer);
      // Node's HTTP parser hands each body chunk over as a copy in an ArrayBuffer of its own: once
      // copied into the content nothing references it, so it is freed now, not at the next GC.
      releaseOwned(chunk as Buffer);
    }
    const content = reader.finish();
    if (!content) throw this.notStored(file);
    return content;
  }

  /** Native read-back (see clickhouseRecordsSql); a file whose reference is gone (`replacing`) has no records. */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    const { table } = requireNative(cell);
    const byContent = this.variantOf(cell) === 'replacing';
    if (byContent && (await this.count(REFS_TABLE, `id = ${assertFileId(file.id)}`)) === 0) return [];
    const query = clickhouseRecordsSql(table, chQualified(this.lab, this.tableOf(cell, file.id)), file, byContent);
    const result = await this.ch.query({ query, format: 'JSONCompact' });
    return clickhouseRecordsOf(table, ((await result.json()) as { data: unknown[][] }).data, byContent);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    await this.command('SYSTEM DROP MARK CACHE');
    await this.command('SYSTEM DROP UNCOMPRESSED CACHE');
    return 'ClickHouse: SYSTEM DROP MARK CACHE and SYSTEM DROP UNCOMPRESSED CACHE';
  }

  /** `OPTIMIZE TABLE … FINAL` on every lab table with data, then wait for merges and mutations. */
  private async optimizeFinal(cell: CellContext): Promise<void> {
    await this.waitUntilIdle(cell.signal);
    for (const table of this.cellTables(cell)) {
      const parts = numberOf(
        await this.scalar(`SELECT count() FROM system.parts WHERE active AND database = ${chString(this.lab)} AND table = ${chString(table)}`),
      );
      if (parts === 0) continue; // nothing to merge; OPTIMIZE would be a no-op
      // optimize_throw_if_noop: an OPTIMIZE that merges nothing is an error, not a silent success.
      await this.command(`OPTIMIZE TABLE ${chQualified(this.lab, table)} FINAL`, { optimize_throw_if_noop: 1 });
    }
    await this.waitUntilIdle(cell.signal);
  }

  /** Poll until the lab has no running merge and no unfinished mutation (or time out with an error). */
  private async waitUntilIdle(signal: AbortSignal): Promise<void> {
    const lab = chString(this.lab);
    const deadline = Date.now() + this.options.mutationTimeoutMs;
    for (;;) {
      throwIfAborted(signal);
      const busy = numberOf(
        await this.scalar(
          `SELECT (SELECT count() FROM system.merges WHERE database = ${lab}) + (SELECT count() FROM system.mutations WHERE database = ${lab} AND is_done = 0)`,
        ),
      );
      if (busy === 0) return;
      if (Date.now() > deadline) throw new Error(`merges/mutations in ${this.lab} still running after ${this.options.mutationTimeoutMs} ms`);
      await sleep(this.options.pollIntervalMs);
    }
  }

  /**
   * Merges (OPTIMIZE) and mutations (deletes) leave the replaced parts on disk, inactive, until
   * the cleanup thread removes them: old_parts_lifetime after they were replaced, checked every
   * cleanup_delay_period (+ a random add). Read from the server (production default 480 + 30 + 10 s).
   */
  async deferrals(_cell: CellContext, _stage: StageName): Promise<Deferral[]> {
    // Nothing replaced, nothing pending: no inactive part of the lab is waiting for removal.
    const inactiveParts = async () => numberOf(await this.scalar(`SELECT count() FROM system.parts WHERE NOT active AND database = ${chString(this.lab)}`));
    if ((await inactiveParts()) === 0) return [];
    const result = await this.ch.query({
      query: `SELECT name, value FROM system.merge_tree_settings WHERE name IN ('old_parts_lifetime', 'cleanup_delay_period', 'cleanup_delay_period_random_add')`,
      format: 'JSONCompact',
    });
    const settings = new Map(((await result.json()) as { data: [string, string][] }).data.map(([name, value]) => [name, Number(value)]));
    const seconds = (settings.get('old_parts_lifetime') ?? 480) + (settings.get('cleanup_delay_period') ?? 30) + (settings.get('cleanup_delay_period_random_add') ?? 10);
    return [
      {
        name: 'old_parts_lifetime',
        durationMs: seconds * 1000,
        source: 'system.merge_tree_settings: old_parts_lifetime + cleanup_delay_period + cleanup_delay_period_random_add',
        // The lifetime counts from when a part became inactive, and a merged-away part can wait longer: watch until none is left.
        stillPending: async () => (await inactiveParts()) > 0,
      },
    ];
  }

  async settle(cell: CellContext): Promise<void> {
    // Inserts write their parts synchronously; only wait for mutations a delete may have left.
    await this.waitUntilIdle(cell.signal);
  }

  private async activeBytes(client: ClickHouseClient): Promise<number> {
    return numberOf(await this.scalar(`SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = ${chString(this.lab)}`, client));
  }

  probes(_cell: CellContext): Probe[] {
    const internal = sizeProbe('internal', SYSTEM_LAYER, () => this.activeBytes(this.ch), timingsOf(this.options));
    const dataDir = this.options.dataDir;
    // `<path>/data/<lab database>/`: every part of the lab's tables, active or not yet removed (old_parts_lifetime).
    return dataDir ? [internal, labFilesProbe(() => [join(dataDir, 'data', this.lab)])] : [internal];
  }

  localDataPaths(): string[] {
    return this.options.dataDir ? [this.options.dataDir] : [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // Its own client (own HTTP connections): a sample never queues behind a long INSERT.
    this.metricsClient ??= await this.open();
    const result = await this.metricsClient.query({
      query: `SELECT metric, value FROM system.metrics WHERE metric IN ('Merge', 'PartMutation', 'Query')`,
      format: 'JSONCompact',
    });
    const body = (await result.json()) as { data: [string, string | number][] };
    const metrics: Record<string, number> = Object.fromEntries(body.data.map(([name, value]) => [name.toLowerCase(), Number(value)]));
    metrics.lab_bytes = await this.activeBytes(this.metricsClient);
    return metrics;
  }
}

export const definition: SystemDefinition<ClickhouseOptions> = {
  id: 'clickhouse',
  kind: 'server',
  variants: CLICKHOUSE_VARIANTS,
  modes: ['blob', 'native'],
  placementAcross: true,
  parseOptions: (raw) => parseSystemOptions('clickhouse', clickhouseOptionsSchema, raw),
  create: (instance, options, labName) => new ClickhouseAdapter(instance, options, assertLabName(labName)),
};

/**
 * `chdb` — a current ClickHouse engine (26.x) embedded through the `chdb` npm package
 * (SPEC §5.1–§5.3), run in a host process beside the tool (`chdb-host.ts`). The only ClickHouse server Debian installs here is 18.16 (`clickhouse`); this
 * adapter measures the engine people run today: column codecs, lightweight DELETE, current merges.
 *
 * `chdb` is an OPTIONAL dependency (≈ 540 MB installed): it is not in package.json, the tool
 * resolves it at option-parsing time and, when it is missing, says in one line how to add it.
 *
 * Lab namespace: the directory `<dataDir>/<lab>/` is the engine's data path (a chdb `Session`),
 * holding the database `<lab>`. Reset closes the session, deletes the directory and opens a new
 * one (inside the host), so the baseline is truly empty.
 *
 * The engine runs in a child process (`chdb-host.ts`, through shared/host-process.ts like PGlite's
 * host), not in the dedup-lab process: it took ≈ 290 MiB RSS open on an empty lab and 614 MiB at
 * `--total-size 256MiB` there, and SPEC §10 allows the tool 256 MiB. chdb runs ONE engine per
 * process with one data path at a time, so there is one host per lab directory, shared by
 * reference count (tests join it with openChdbSession). A crashed host is a lost connection
 * (every pending and later call rejects with ChdbHostLostError; `connect()` after `close()` starts
 * a fresh host on the same directory, the committed parts still there).
 *
 * Variants (content column codec / engine / per-file delete path):
 * - `mergetree`: MergeTree ORDER BY id, default codec (LZ4), lightweight `DELETE FROM`;
 * - `uncompressed`: as mergetree with `CODEC(NONE)` on the content column(s);
 * - `zstd`: as mergetree with `CODEC(ZSTD(1))` on the content column(s);
 * - `replacing`: ReplacingMergeTree ORDER BY content hash + `file_refs` table (as `clickhouse`);
 * - `mutation`: as mergetree, but a per-file delete is an `ALTER TABLE … DELETE` mutation that
 *   rewrites the part, instead of a lightweight delete that only marks rows (`_row_exists`).
 * The delete path is a variant, not an option, so the cell id (and every table row) says which
 * mechanism produced a number.
 *
 * Writes, in chunks of ~8 MiB: blob rows as RowBinary in a temporary file the engine reads with
 * `file()` (only the statement crosses to the host), native rows as TabSeparated through chdb's raw
 * insert (the payload crosses as a Buffer, no base64). Each chunk is one INSERT and its files are
 * acknowledged when it returns. Blob read-back: one RowBinary String per file, as bytes.
 * A refused chunk's files are reported failed and whatever part of it was written is removed.
 * Settle, compaction and maintenance wait until `system.merges` / `system.mutations` are idle.
 *
 * `--placement across:K` (SPEC §4.1), as `clickhouse`: content tables `blobs_p<k>` / `n_<type>_p<k>`
 * (file i in table i mod K), one `file_refs`; in `replacing` a content is "still referenced" in a
 * table only by refs of that table (`id % K = k`). Within, names and SQL are the single-table ones.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { CHDB_HOST_FLAG, type ChdbHostRequest, type ChdbHostResult } from './chdb-host.js';
import { HostClient, hostEntry, HostPool, HostProcess, type RemoteError } from './shared/host-process.js';
import type { NativeTable } from '../dataset/records.js';
import {
  assertFileId,
  assertSha256,
  chIdent,
  chQualified,
  chString,
  CLICKHOUSE_NATIVE_TYPES,
  clickhouseNativeLines,
  clickhouseRecordsOf,
  clickhouseRecordsSql,
  FILE_SHA_COLUMN,
  REFS_TABLE,
  ROW_NO_COLUMN,
  rowBinaryBlobRow,
  RowBinaryStringReader,
} from './clickhouse.js';
import { checkVariant, numberOf } from './postgresql.js';
import { BLOB_TABLE, fileIdColumn, labTableName } from './shared/layout.js';
import { groupByObject, labTableOf, labTablesOf } from './shared/placement.js';
import { placementObjects } from '../experiment/dimensions.js';
import { FILE_ID_COLUMN, nativeTableName } from './shared/native.js';
import { defaultDataDir, parseSystemOptions } from './shared/options.js';
import { SYSTEM_LAYER, sizeProbe } from './shared/probes.js';
import { labFilesProbe } from './shared/lab-files.js';
import { DeleteDidNothingError, requireNative, throwIfAborted } from './shared/stages.js';
import { assertLabName, MODES, type CellContext, type LabFile, type LabFileRef, type NotApplicable, type Probe, type SystemAdapter, type SystemDefinition, type WriteOutcome } from './types.js';

export const CHDB_VARIANTS = ['mergetree', 'uncompressed', 'zstd', 'replacing', 'mutation'] as const;
export type ChdbVariant = (typeof CHDB_VARIANTS)[number];

/** The chdb release this adapter is written and tested against (scripts/test.sh installs it). */
export const CHDB_PACKAGE = 'chdb@3.4.0';
export const CHDB_MISSING_MESSAGE = `system chdb needs the optional package chdb (≈ 540 MB, not installed by npm ci): add it with \`npm install --no-save ${CHDB_PACKAGE}\``;

/** Payload bytes per INSERT: bounds memory whatever the file sizes. */
export const INSERT_CHUNK_BYTES = 8 * 1024 * 1024;

/** A chdb session as tests and tools see it (the host's session on a data path, joined). */
interface ChdbResult {
  text(): string;
}
export interface ChdbSession {
  queryAsync(query: string, options?: { format?: string }): Promise<ChdbResult>;
  insert(params: { table: string; values: Buffer; format: 'TabSeparated' }): Promise<{ rowsWritten: number }>;
  /** Drops this reference to the host (it exits with the last one). */
  close(): void;
}

/** True when `chdb` resolves from this installation (or from the module at `from`). */
export function chdbInstalled(from: string = import.meta.url): boolean {
  try {
    createRequire(from).resolve('chdb');
    return true;
  } catch {
    return false;
  }
}

// ---- the host process and its client ------------------------------------------------------------

/** An error the engine raised (its text as ClickHouse wrote it). */
export class ChdbError extends Error {
  constructor(error: RemoteError) {
    super(error.message);
    this.name = error.name === 'Error' ? 'ChdbError' : error.name;
  }
}

/** The host is gone (crashed, killed or closed): a lost connection, retried by the runner. */
export class ChdbHostLostError extends Error {}

/**
 * Environment additions of the host (a value the user set is kept). libchdb's jemalloc (its
 * variable is `JE_MALLOC_CONF`; plain `MALLOC_CONF` is not read) keeps freed pages for 10 s by
 * default, so the pages of each INSERT and merge piled up: with `dirty_decay_ms:0,muzzy_decay_ms:0`
 * freed pages go back at once. Standalone through the host (256 MiB bulk load of 512 KiB files,
 * then a read of each; 2026-12-03, load 5–8): host peak 507–511 → 437–438 MiB, RSS after the load
 * 474–478 → 297–298 MiB. docs/systems-embedded.md, "chdb host process".
 */
export const CHDB_HOST_ENV: Record<string, string> = { JE_MALLOC_CONF: 'dirty_decay_ms:0,muzzy_decay_ms:0' };

/** The client of one chdb host: the engine on one data path, in its own process. */
export class ChdbClient extends HostClient<ChdbHostRequest, ChdbHostResult> {
  /** Fork a host for `path` and wait until the engine inside it has opened the path. */
  static async start(path: string): Promise<ChdbClient> {
    const host = await HostProcess.start<ChdbHostRequest, ChdbHostResult>({
      engine: 'chdb',
      target: path,
      entry: hostEntry(import.meta.url, 'chdb-host'),
      args: [CHDB_HOST_FLAG, path],
      env: CHDB_HOST_ENV,
      lost: (message) => new ChdbHostLostError(message),
      failed: (error) => new ChdbError(error),
    });
    return new ChdbClient(host);
  }

  /** The result as text (chdb's default format, CSV, unless `format` says otherwise). */
  async query(sql: string, format?: string): Promise<string> {
    return (await this.host.request({ op: 'query', sql, ...(format ? { format } : {}) })) as string;
  }

  /** The result's bytes, in a Buffer of their own (the copy the IPC channel made, nothing else holds it). */
  async queryBytes(sql: string, format: string): Promise<Buffer> {
    const bytes = (await this.host.request({ op: 'query', sql, format, bytes: true })) as Uint8Array;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async insert(params: { table: string; values: Buffer; format: 'TabSeparated' }): Promise<{ rowsWritten: number }> {
    return { rowsWritten: (await this.host.request({ op: 'insert', ...params })) as number };
  }

  /** Close the session, delete the data path, open a fresh session on it (a truly empty lab). */
  async reset(): Promise<void> {
    await this.host.request({ op: 'reset' });
  }

  /** The chdb package's version. */
  async packageVersion(): Promise<string> {
    return (await this.host.request({ op: 'version' })) as string;
  }
}

/** One host per data path in this process: chdb opens one data path per process, and a path once. */
const hosts = new HostPool((path) => ChdbClient.start(path));

export interface ChdbHandle {
  db: ChdbClient;
  /** Drop this reference; the host closes when the last one is released. */
  release(): Promise<void>;
}

/** Open (or join) this process's chdb host of a data path. */
export async function acquireChdb(path: string): Promise<ChdbHandle> {
  if (!chdbInstalled()) throw new UsageError(CHDB_MISSING_MESSAGE);
  const handle = await hosts.acquire(path);
  return { db: handle.client, release: handle.release };
}

/**
 * A chdb session on `path` (tests, tools): joins the host the adapter has open on that path (or
 * starts one). `close()` drops the reference.
 */
export async function openChdbSession(path: string): Promise<ChdbSession> {
  const handle = await acquireChdb(path);
  return {
    async queryAsync(query, options) {
      const text = await handle.db.query(query, options?.format);
      return { text: () => text };
    },
    insert: (params) => handle.db.insert(params),
    close() {
      void handle.release();
    },
  };
}

const chdbOptionsSchema = z
  .object({
    /** Folder holding the lab's engine directory; default `.dedup-lab/chdb/` in the cwd. */
    dataDir: z.string().min(1).optional(),
    /** How long a merge or mutation may take before the stage fails. */
    mutationTimeoutMs: z.coerce.number().int().positive().default(300_000),
    pollIntervalMs: z.coerce.number().int().positive().default(50),
  })
  .strict();
export interface ChdbOptions {
  dataDir: string;
  mutationTimeoutMs: number;
  pollIntervalMs: number;
}

export function parseChdbOptions(raw: unknown): ChdbOptions {
  const parsed = parseSystemOptions('chdb', chdbOptionsSchema, raw);
  if (!chdbInstalled()) throw new UsageError(CHDB_MISSING_MESSAGE);
  return { ...parsed, dataDir: parsed.dataDir ? resolve(parsed.dataDir) : defaultDataDir('chdb') };
}

/** The codec clause of the content column(s) per variant ('' = the engine's default, LZ4). */
export function contentCodec(variant: ChdbVariant): string {
  if (variant === 'uncompressed') return ' CODEC(NONE)';
  if (variant === 'zstd') return ' CODEC(ZSTD(1))';
  return '';
}

function engineOf(variant: ChdbVariant, mergeKey: string, replaceKey: string): string {
  return variant === 'replacing' ? `ENGINE = ReplacingMergeTree ORDER BY ${replaceKey}` : `ENGINE = MergeTree ORDER BY ${mergeKey}`;
}

const REFS_DDL = (lab: string) => `CREATE TABLE ${chQualified(lab, REFS_TABLE)} (id UInt32, sha256 String) ENGINE = MergeTree ORDER BY id`;

/** `tables`: the content tables (one, or K under `--placement across:K`); one `file_refs` for all. */
export function chdbBlobTableDdl(lab: string, variant: ChdbVariant, tables: readonly string[] = [BLOB_TABLE]): string[] {
  const columns = `(id UInt32, name String, sha256 String, size UInt64, content String${contentCodec(variant)})`;
  const ddl = tables.map((name) => `CREATE TABLE ${chQualified(lab, name)} ${columns} ${engineOf(variant, 'id', 'sha256')}`);
  return variant === 'replacing' ? [...ddl, REFS_DDL(lab)] : ddl;
}

export function chdbNativeTableDdl(lab: string, table: NativeTable, variant: ChdbVariant, tables: readonly string[] = [nativeTableName(table)]): string[] {
  const names = new Set([FILE_ID_COLUMN, FILE_SHA_COLUMN, ROW_NO_COLUMN]);
  const typed = table.columns.map((column) => {
    if (names.has(column.name)) throw new Error(`native table ${table.name}: column ${column.name} clashes with a lab column`);
    names.add(column.name);
    return `${chIdent(column.name, 'native column name')} Nullable(${CLICKHOUSE_NATIVE_TYPES[column.type]})${contentCodec(variant)}`;
  });
  const columns = [`${FILE_ID_COLUMN} UInt32`, `${FILE_SHA_COLUMN} String`, `${ROW_NO_COLUMN} UInt32`, ...typed].join(', ');
  const engine = engineOf(variant, `(${FILE_ID_COLUMN}, ${ROW_NO_COLUMN})`, `(${FILE_SHA_COLUMN}, ${ROW_NO_COLUMN})`);
  const ddl = tables.map((name) => `CREATE TABLE ${chQualified(lab, name)} (${columns}) ${engine}`);
  return variant === 'replacing' ? [...ddl, REFS_DDL(lab)] : ddl;
}

/** Column list of the blob table, for reading RowBinary chunks with `file()`. */
export const BLOB_STRUCTURE = 'id UInt32, name String, sha256 String, size UInt64, content String';

export function tsvRefRow(file: Pick<LabFile, 'id' | 'sha256'>): Buffer {
  return Buffer.from(`${assertFileId(file.id)}\t${assertSha256(file.sha256)}\n`);
}

interface EncodedFile {
  id: number;
  sha256: string;
  /** Blob mode: one RowBinary row; native mode: TabSeparated lines. */
  rows: Buffer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

class ChdbAdapter implements SystemAdapter {
  readonly id = 'chdb';
  /** readOne returns a buffer of its own (RowBinaryStringReader), nothing else references it. */
  readonly readOneOwned = true;
  private handle: ChdbHandle | null = null;
  private readonly labDir: string;

  constructor(
    readonly instance: string,
    private readonly options: ChdbOptions,
    private readonly lab: string,
  ) {
    this.labDir = join(options.dataDir, lab);
  }

  async connect(): Promise<void> {
    if (!chdbInstalled()) throw new UsageError(CHDB_MISSING_MESSAGE);
    // A handle whose host died is a lost connection: drop it and start (or join) a fresh host.
    if (this.handle && !this.handle.db.alive) await this.close();
    mkdirSync(this.options.dataDir, { recursive: true });
    if (!this.handle && existsSync(this.labDir)) await this.open();
  }

  /** Drops the adapter's reference to the host; the host closes the engine and exits with the last one. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.release();
  }

  /** The engine's own `version()` and the chdb package's. */
  async version(): Promise<string> {
    const db = this.handle?.db ?? (await this.open());
    const text = (await db.query('SELECT version()', 'JSONCompactEachRow')).trim();
    const engine = String((JSON.parse(text) as unknown[])[0]);
    return `ClickHouse ${engine} (chdb ${await db.packageVersion()})`;
  }

  /** Start (or join) the host of the lab directory; the host creates the directory. */
  private async open(): Promise<ChdbClient> {
    this.handle = await acquireChdb(this.labDir);
    return this.handle.db;
  }

  private get db(): ChdbClient {
    if (!this.handle) throw new Error(`chdb lab ${this.labDir} is not open (call resetLab first)`);
    return this.handle.db;
  }

  private async command(query: string): Promise<void> {
    await this.db.query(query);
  }

  /** First column of the first row. */
  private async scalar(query: string): Promise<number> {
    const text = (await this.db.query(query, 'JSONCompactEachRow')).trim();
    const row = text ? (JSON.parse(text.split('\n')[0]!) as unknown[]) : [];
    if (row.length === 0) throw new Error(`chdb query returned no row: ${query}`);
    return numberOf(row[0]);
  }

  private variantOf(cell: CellContext): ChdbVariant {
    return checkVariant(CHDB_VARIANTS, cell.variant, 'chdb');
  }

  /** The content table of file `fileId`: `blobs` / `n_<type>`, or its `_p<k>` under `across:K`. */
  private tableOf(cell: CellContext, fileId = 0): string {
    return labTableOf(cell, fileId);
  }

  /** Every content table of the cell (one, or K under `across:K`). */
  private contentTables(cell: CellContext): string[] {
    return labTablesOf(cell);
  }

  /** `file_refs` rows whose file lives in `table` (all of them within): ` AND id % K = k` or ''. */
  private refsOfTable(cell: CellContext, table: string): string {
    const count = placementObjects(cell.placement);
    return count === 1 ? '' : ` AND id % ${count} = ${this.contentTables(cell).indexOf(table)}`;
  }

  private idColumn(cell: CellContext): string {
    return fileIdColumn(cell);
  }

  private shaColumn(cell: CellContext): string {
    return cell.mode === 'blob' ? 'sha256' : FILE_SHA_COLUMN;
  }

  async resetLab(cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    // In the host: close the session, delete the directory, open a new session on it.
    if (this.handle) await this.handle.db.reset();
    else {
      rmSync(this.labDir, { recursive: true, force: true });
      await this.open();
    }
    await this.command(`CREATE DATABASE ${chIdent(this.lab, 'database name')}`);
    const tables = this.contentTables(cell);
    const ddl = cell.mode === 'blob' ? chdbBlobTableDdl(this.lab, variant, tables) : chdbNativeTableDdl(this.lab, requireNative(cell).table, variant, tables);
    for (const statement of ddl) await this.command(statement);
  }

  async dropLab(): Promise<void> {
    await this.close();
    rmSync(this.labDir, { recursive: true, force: true });
  }

  /** A file as the TabSeparated rows of the cell's content table (native: parsed whole first). */
  private async encode(file: LabFile, cell: CellContext): Promise<EncodedFile> {
    const sha256 = assertSha256(file.sha256);
    if (cell.mode === 'blob') return { id: file.id, sha256, rows: Buffer.concat(rowBinaryBlobRow(file)) };
    const { table, parse } = requireNative(cell);
    const lines: Buffer[] = [];
    for await (const line of clickhouseNativeLines(file, table, parse)) lines.push(line);
    return { id: file.id, sha256, rows: Buffer.concat(lines) };
  }

  private async insertRows(table: string, rows: Buffer): Promise<void> {
    if (rows.length === 0) return; // a native file may parse into no rows
    await this.db.insert({ table: `${assertLabName(this.lab)}.${table}`, values: rows, format: 'TabSeparated' });
  }

  /**
   * Blob rows as RowBinary, read by the engine from a temporary file: chdb's insert() takes only
   * text formats, and escaping random bytes for TabSeparated and parsing them back cost ≈ 6× the
   * time (measured on 8 MiB: 1.9 s against 0.33 s). The file sits outside the lab directory.
   */
  private async insertBlobRows(table: string, rows: Buffer): Promise<void> {
    const path = join(tmpdir(), `dedup-lab-chdb-${process.pid}-${this.lab}.rowbinary`);
    await writeFile(path, rows);
    try {
      await this.command(`INSERT INTO ${chQualified(this.lab, table)} SELECT * FROM file(${chString(path)}, 'RowBinary', ${chString(BLOB_STRUCTURE)})`);
    } finally {
      await unlink(path).catch(() => undefined);
    }
  }

  /**
   * One INSERT of a chunk of files per content table it touches (one within, up to K across), plus
   * their references in `replacing`; on failure nothing of it stays.
   */
  private async writeChunk(chunk: EncodedFile[], cell: CellContext): Promise<string | null> {
    try {
      for (const [table, group] of groupByObject(chunk, labTableName(cell), cell.placement)) {
        const rows = Buffer.concat(group.map((file) => file.rows));
        if (cell.mode === 'blob') await this.insertBlobRows(table, rows);
        else await this.insertRows(table, rows);
      }
      if (this.variantOf(cell) === 'replacing') await this.insertRows(REFS_TABLE, Buffer.concat(chunk.map(tsvRefRow)));
      return null;
    } catch (error) {
      let message = messageOf(error);
      await this.removePartial(cell, chunk).catch((cleanup: unknown) => {
        message += `; removing the partial insert failed too: ${messageOf(cleanup)}`;
      });
      return message;
    }
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    throwIfAborted(cell.signal);
    const outcome: WriteOutcome = { acknowledged: [], failed: [] };
    let chunk: EncodedFile[] = [];
    let chunkBytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const error = await this.writeChunk(chunk, cell);
      for (const file of chunk) {
        if (error === null) outcome.acknowledged.push(file.id);
        else outcome.failed.push({ id: file.id, error });
      }
      chunk = [];
      chunkBytes = 0;
    };
    for await (const file of files) {
      throwIfAborted(cell.signal);
      let encoded: EncodedFile;
      try {
        encoded = await this.encode(file, cell);
      } catch (error) {
        outcome.failed.push({ id: file.id, error: messageOf(error) });
        continue;
      }
      if (chunk.length > 0 && chunkBytes + encoded.rows.length > INSERT_CHUNK_BYTES) await flush();
      chunk.push(encoded);
      chunkBytes += encoded.rows.length;
    }
    throwIfAborted(cell.signal);
    await flush();
    return outcome;
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    const error = await this.writeChunk([await this.encode(file, cell)], cell);
    if (error !== null) throw new Error(error);
  }

  /**
   * Remove the rows a failed INSERT may have left (a chunk parsed into several blocks can be
   * written in part); in `replacing`, only contents no stored file references.
   */
  private async removePartial(cell: CellContext, sent: readonly { id: number; sha256: string }[]): Promise<void> {
    const idsOf = (files: readonly { id: number }[]) => files.map((file) => assertFileId(file.id)).join(', ');
    const groups = groupByObject(sent, labTableName(cell), cell.placement);
    if (this.variantOf(cell) !== 'replacing') {
      for (const [table, group] of groups) {
        const where = `${this.idColumn(cell)} IN (${idsOf(group)})`;
        if ((await this.count(table, where)) > 0) await this.deleteWhere(table, where, cell);
      }
      return;
    }
    const ids = idsOf(sent);
    if ((await this.count(REFS_TABLE, `id IN (${ids})`)) > 0) await this.deleteWhere(REFS_TABLE, `id IN (${ids})`, cell);
    for (const [table, group] of groups) {
      for (const sha of new Set(group.map((file) => chString(assertSha256(file.sha256))))) await this.removeOrphanContent(cell, table, sha);
    }
  }

  /** `replacing`: delete content `sha` (a quoted literal) from `table` unless a file of that table still references it. */
  private async removeOrphanContent(cell: CellContext, table: string, sha: string, what?: string): Promise<void> {
    if ((await this.count(REFS_TABLE, `sha256 = ${sha}${this.refsOfTable(cell, table)}`)) > 0) return;
    const where = `${this.shaColumn(cell)} = ${sha}`;
    if ((await this.count(table, where)) === 0) return;
    if (what === undefined) await this.deleteWhere(table, where, cell);
    else await this.deleteAll(table, where, cell, what);
  }

  private async count(table: string, where = '1'): Promise<number> {
    return this.scalar(`SELECT count() FROM ${chQualified(this.lab, table)} WHERE ${where}`);
  }

  /**
   * The variant's per-file delete path: a lightweight DELETE (marks rows in `_row_exists`; the
   * bytes go at the next merge) or, in `mutation`, an ALTER TABLE … DELETE that rewrites the
   * parts. Both are waited for (lightweight: `lightweight_deletes_sync`; mutation: `mutations_sync`).
   */
  private async deleteWhere(table: string, where: string, cell: CellContext): Promise<void> {
    const name = chQualified(this.lab, table);
    if (this.variantOf(cell) === 'mutation') await this.command(`ALTER TABLE ${name} DELETE WHERE ${where} SETTINGS mutations_sync = 1`);
    else await this.command(`DELETE FROM ${name} WHERE ${where} SETTINGS lightweight_deletes_sync = 1`);
    // Only this delete's mutation is waited for: background merges (many small parts after
    // per-file inserts) would make every delete wait for them; settle() waits for those.
    await this.waitUntilIdle(cell.signal, { merges: false });
  }

  /** Delete matching rows and check none is left. */
  private async deleteAll(table: string, where: string, cell: CellContext, what: string): Promise<void> {
    await this.deleteWhere(table, where, cell);
    const left = await this.count(table, where);
    if (left !== 0) throw new Error(`chdb delete of ${what} left ${left} rows`);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    const id = assertFileId(file.id);
    const table = this.tableOf(cell, id);
    if (this.variantOf(cell) !== 'replacing') {
      const where = `${this.idColumn(cell)} = ${id}`;
      if ((await this.count(table, where)) === 0) throw this.notStored(file);
      return this.deleteAll(table, where, cell, `file ${id}`);
    }
    if ((await this.count(REFS_TABLE, `id = ${id}`)) === 0) throw this.notStored(file);
    await this.deleteAll(REFS_TABLE, `id = ${id}`, cell, `the reference of file ${id}`);
    // The content goes only when no other stored file of its table references it (a duplicate may still be held).
    await this.removeOrphanContent(cell, table, chString(assertSha256(file.sha256)), `the content of file ${id}`);
  }

  private notStored(file: LabFile): Error {
    return new DeleteDidNothingError(`delete did nothing: file ${file.id} (${file.name}) is not stored in chdb ${this.labDir}`);
  }

  async countStored(cell: CellContext): Promise<number> {
    if (this.variantOf(cell) === 'replacing') return this.count(REFS_TABLE);
    // A file lives in one table only, so the per-table counts add up.
    let stored = 0;
    for (const table of this.contentTables(cell)) {
      stored += cell.mode === 'blob' ? await this.count(table) : await this.scalar(`SELECT uniqExact(${FILE_ID_COLUMN}) FROM ${chQualified(this.lab, table)}`);
    }
    return stored;
  }

  /** Rows physically present in the content table(s) (what `replacing` collapsed shows here). */
  async countContentRows(cell: CellContext): Promise<number> {
    let rows = 0;
    for (const table of this.contentTables(cell)) rows += await this.count(table);
    return rows;
  }

  async compact(cell: CellContext): Promise<void | NotApplicable> {
    await this.optimizeFinal(cell);
  }

  async maintenance(cell: CellContext): Promise<void | NotApplicable> {
    await this.optimizeFinal(cell);
  }

  /** `OPTIMIZE TABLE … FINAL` on every lab table with parts (it also drops rows a lightweight delete marked). */
  private async optimizeFinal(cell: CellContext): Promise<void> {
    await this.waitUntilIdle(cell.signal);
    const tables = this.variantOf(cell) === 'replacing' ? [...this.contentTables(cell), REFS_TABLE] : this.contentTables(cell);
    for (const table of tables) {
      const parts = await this.scalar(`SELECT count() FROM system.parts WHERE active AND database = ${chString(this.lab)} AND table = ${chString(table)}`);
      if (parts === 0) continue; // nothing to merge; OPTIMIZE would be a no-op
      // optimize_throw_if_noop: an OPTIMIZE that merges nothing is an error, not a silent success.
      await this.command(`OPTIMIZE TABLE ${chQualified(this.lab, table)} FINAL SETTINGS optimize_throw_if_noop = 1`);
    }
    await this.waitUntilIdle(cell.signal);
  }

  /** Poll until the lab has no unfinished mutation and (unless told not to) no running merge, or time out with an error. */
  private async waitUntilIdle(signal: AbortSignal, { merges = true } = {}): Promise<void> {
    const lab = chString(this.lab);
    const deadline = Date.now() + this.options.mutationTimeoutMs;
    const mergesSql = merges ? `(SELECT count() FROM system.merges WHERE database = ${lab})` : '0';
    for (;;) {
      throwIfAborted(signal);
      const busy = await this.scalar(`SELECT ${mergesSql} + (SELECT count() FROM system.mutations WHERE database = ${lab} AND NOT is_done)`);
      if (busy === 0) return;
      if (Date.now() > deadline) throw new Error(`chdb: merges/mutations in ${this.lab} still running after ${this.options.mutationTimeoutMs} ms`);
      await sleep(this.options.pollIntervalMs);
    }
  }

  async settle(cell: CellContext): Promise<void> {
    // Inserts write their parts synchronously; background merges and mutations may still run.
    await this.waitUntilIdle(cell.signal);
  }

  /**
   * Native read-back, as `clickhouse` (clickhouseRecordsSql): by file_id, or in `replacing` the
   * distinct rows of the file's content while its reference is held. Rows a lightweight DELETE
   * marked are not returned by the engine.
   */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    const { table } = requireNative(cell);
    const byContent = this.variantOf(cell) === 'replacing';
    if (byContent && (await this.count(REFS_TABLE, `id = ${assertFileId(file.id)}`)) === 0) return [];
    const query = clickhouseRecordsSql(table, chQualified(this.lab, this.tableOf(cell, file.id)), file, byContent);
    const text = await this.db.query(query, 'JSONCompactEachRow');
    const rows = text.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as unknown[]);
    return clickhouseRecordsOf(table, rows, byContent);
  }

  /**
   * Blob read-back, as `clickhouse`: the content as one RowBinary String (length prefix, bytes)
   * that crosses from the host as bytes (no hex, no text) and is copied once into a buffer of its
   * own; `replacing` reads the file's content while its reference is held.
   */
  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const id = assertFileId(file.id);
    const byContent = this.variantOf(cell) === 'replacing';
    const missing = () => new Error(`read: file ${id} (${file.name}) is not stored in chdb ${this.labDir}`);
    if (byContent && (await this.count(REFS_TABLE, `id = ${id}`)) === 0) throw missing();
    const where = byContent ? `sha256 = ${chString(assertSha256(file.sha256))}` : `id = ${id}`;
    const answer = await this.db.queryBytes(`SELECT content FROM ${chQualified(this.lab, this.tableOf(cell, id))} WHERE ${where} LIMIT 1`, 'RowBinary');
    const reader = new RowBinaryStringReader();
    reader.push(answer);
    const content = reader.finish();
    if (!content) throw missing();
    return content;
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    // The engine's caches live in its host process: releasing the last reference ends that process.
    await this.close();
    await this.connect();
    return 'chdb engine caches: host released and reconnected (a fresh host process unless another user of the data path held it)';
  }

  /** Bytes of the lab's active parts, as the engine accounts them. */
  async activePartBytes(): Promise<number> {
    return this.scalar(`SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = ${chString(this.lab)}`);
  }

  /** Bytes of parts the engine no longer uses but still keeps on disk (chdb does not remove them). */
  async outdatedPartBytes(): Promise<number> {
    return this.scalar(`SELECT sum(bytes_on_disk) FROM system.parts WHERE NOT active AND database = ${chString(this.lab)}`);
  }

  probes(_cell: CellContext): Probe[] {
    // Background merges can move the number between reads: poll until two reads agree. The
    // internal probe sums the whole lab database, so it covers every table under `across:K`.
    return [
      sizeProbe('internal', SYSTEM_LAYER, () => this.activePartBytes(), { settleTimeoutMs: 30_000, pollIntervalMs: this.options.pollIntervalMs }),
      labFilesProbe(() => [this.labDir]),
    ];
  }

  localDataPaths(): string[] {
    return [this.labDir];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // No query: it would queue behind the measured work on the same engine. The host's memory (a
    // separate process: the engine, not the tool) is read from /proc, so it never waits for the work.
    const memory = this.handle?.db.memory();
    return memory ? { chdbHostRssBytes: memory.rssBytes, chdbHostPeakRssBytes: memory.peakRssBytes } : {};
  }
}

export const definition: SystemDefinition<ChdbOptions> = {
  id: 'chdb',
  kind: 'embedded',
  variants: CHDB_VARIANTS,
  modes: MODES,
  placementAcross: true,
  parseOptions: parseChdbOptions,
  create(instance, options, labName) {
    assertLabName(labName);
    return new ChdbAdapter(instance, options, labName);
  },
};

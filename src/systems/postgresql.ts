/**
 * `postgresql` adapter (SPEC §5.1–§5.3): a real PostgreSQL server reached with `pg`, bulk data
 * streamed with `COPY … FROM STDIN (FORMAT binary)` through `pg-copy-streams`.
 *
 * Lab namespace: the schema `<lab>` in the configured database. Blob table
 * `<lab>.files (id, name, sha256, size, content bytea)`; native tables `<lab>.native_<type>`.
 * Every identifier goes through `escapeIdentifier`, every value through `$n` parameters or the
 * COPY stream; the lab name is validated by `assertLabName` in `create()` before any I/O.
 *
 * The PostgreSQL-dialect pieces that CockroachDB shares (table DDL, native column types, COPY text
 * encoding) are exported from here and reused by `cockroachdb.ts`.
 */
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type pg from 'pg';
import { UsageError } from '../core/errors.js';
import { SYSTEM_LAYER, sizeProbe, timingsOf } from './shared/probes.js';
import { labFilesProbe, logFilesProbe, pgLabRelationFiles } from './shared/lab-files.js';
import { qualifiedName as qualified } from './shared/identifiers.js';
import { labTableName } from './shared/layout.js';
import { checkRowWidth } from './shared/native.js';
import { parseSystemOptions } from './shared/options.js';
import {
  pgBlobParams,
  pgCopyBinaryBlobRow,
  pgCopyBlobSql,
  pgCountStored,
  pgDeleteOne,
  pgDropLab,
  pgInsertBlobSql,
  pgLabSize,
  PG_MAX_BATCH_BYTES,
  pgResetLab,
  pgVacuumFullSql,
  PG_COPY_BINARY_HEADER,
  PG_COPY_BINARY_TRAILER,
  PG_VARIANTS,
  type PgExecute,
} from './shared/pgCommon.js';
import { batchFiles, releaseContent, requireNative, throwIfAborted } from './shared/stages.js';
import { groupByObject, labTableOf } from './shared/placement.js';
import { placementObjects } from '../experiment/dimensions.js';
import { pgDeleteMany, pgDropAndRecreate, pgReadBlob, pgTruncate, pgVacuumSql } from './shared/pgDimensions.js';
import {
  assertLabName,
  type CellContext,
  type LabFile,
  type LabFileRef,
  type NotApplicable,
  type Probe,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';
import { pgReadRecords } from './shared/native-read-sql.js';

export const POSTGRESQL_VARIANTS = PG_VARIANTS;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** Connection options shared by the PostgreSQL-wire adapters (postgresql, cockroachdb). */
export const pgConnectionOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535).default(5432),
    user: z.string().min(1).default('postgres'),
    password: z.string().optional(),
    database: z.string().min(1).default('postgres'),
    /** Seconds before a connection attempt gives up. */
    connectTimeoutSeconds: z.coerce.number().positive().default(10),
    /** Per-probe settle timeout for the runner's settle-by-polling. */
    settleTimeoutMs: z.coerce.number().int().positive().default(30_000),
    pollIntervalMs: z.coerce.number().int().positive().default(200),
  })
  .strict();

const postgresqlOptionsSchema = pgConnectionOptionsSchema
  .extend({
    /**
     * The server's data directory when it is on this machine (for the `fs` probe). It measures the
     * whole cluster (every database, WAL, catalogs), not only the lab schema.
     */
    dataDir: z.string().min(1).optional(),
  })
  .strict();

export type PostgresqlOptions = z.infer<typeof postgresqlOptionsSchema>;
export type PgConnectionOptions = z.infer<typeof pgConnectionOptionsSchema>;

/** The `pg` client config: the password only ever travels inside this object, never in a URL. */
export function pgClientConfig(options: PgConnectionOptions, applicationName: string): pg.ClientConfig {
  return {
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    connectionTimeoutMillis: Math.round(options.connectTimeoutSeconds * 1000),
    application_name: applicationName,
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL dialect: types, DDL, COPY encodings (pure, unit-tested)
// ---------------------------------------------------------------------------------------------

/** Escape one value for COPY's text format (`\N` for null, backslash escapes, bytea as `\\x…`). */
export function pgCopyTextValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[\\\n\r\t]/g, (char) => (char === '\\' ? '\\\\' : char === '\n' ? '\\n' : char === '\r' ? '\\r' : '\\t'));
}

/** One COPY text line: `file_id` then the row's values, tab separated, newline terminated. */
export function pgCopyTextLine(fileId: number, row: readonly unknown[]): string {
  let line = String(fileId);
  for (const value of row) line += `\t${pgCopyTextValue(value)}`;
  return `${line}\n`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the pg-based adapters
// ---------------------------------------------------------------------------------------------

/** Load `pg` lazily (the core never imports a driver). */
export async function loadPg(): Promise<typeof pg> {
  const module = (await import('pg')) as unknown as { default: typeof pg };
  return module.default;
}

/** Adapt a `pg` client to the driver-free PostgreSQL dialect helpers of shared/pgCommon.ts. */
export function pgExecutor(client: () => pg.Client): PgExecute {
  return async (sql, params) => {
    const result = await client().query(sql, params as unknown[] | undefined);
    return { rows: result.rows as Record<string, unknown>[], affectedRows: result.rowCount ?? 0 };
  };
}

/** Open a client and keep a late connection error from crashing the process. */
export async function openPgClient(options: PgConnectionOptions, applicationName: string): Promise<pg.Client> {
  const driver = await loadPg();
  const client = new driver.Client(pgClientConfig(options, applicationName));
  // A dropped connection surfaces on the next query; without a listener node would throw here.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export function numberOf(value: unknown): number {
  const result = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(result)) throw new Error(`expected a number, got ${JSON.stringify(value)}`);
  return result;
}

export function checkVariant<V extends string>(variants: readonly V[], variant: string, system: string): V {
  if (!(variants as readonly string[]).includes(variant)) {
    throw new UsageError(`unknown ${system} variant ${JSON.stringify(variant)}; valid: ${variants.join(', ')}`);
  }
  return variant as V;
}

// ---------------------------------------------------------------------------------------------
// Adapter
// ---------------------------------------------------------------------------------------------

class PostgresqlAdapter implements SystemAdapter {
  readonly id = 'postgresql';
  private client: pg.Client | null = null;
  private metricsClient: pg.Client | null = null;
  private readonly execute: PgExecute = pgExecutor(() => this.db);

  constructor(
    readonly instance: string,
    private readonly options: PostgresqlOptions,
    private readonly lab: string,
  ) {}

  private get db(): pg.Client {
    if (!this.client) throw new Error('postgresql: not connected');
    return this.client;
  }

  async connect(): Promise<void> {
    if (this.client) return;
    this.client = await openPgClient(this.options, 'dedup-lab');
  }

  async close(): Promise<void> {
    const clients = [this.client, this.metricsClient];
    this.client = null;
    this.metricsClient = null;
    await Promise.all(clients.map((client) => client?.end().catch(() => undefined)));
  }

  async version(): Promise<string> {
    const result = await this.db.query<{ v: string }>('SELECT version() AS v');
    return result.rows[0]?.v ?? 'unknown';
  }

  async resetLab(cell: CellContext): Promise<void> {
    checkVariant(POSTGRESQL_VARIANTS, cell.variant, 'postgresql');
    await pgResetLab(this.execute, this.lab, cell);
  }

  async dropLab(): Promise<void> {
    await pgDropLab(this.execute, this.lab);
  }

  /**
   * COPY is one statement: the server acknowledges every row or none. Blob mode streams the binary
   * format (no escaping, content buffers passed through uncopied); native mode streams the text
   * format (typed values are converted by the server's input functions).
   */
  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const seen: number[] = [];
    try {
      if (placementObjects(cell.placement) === 1) await this.copyInto(labTableName(cell), files, cell, seen);
      else await this.copyAcross(files, cell, seen);
      return { acknowledged: seen, failed: [] };
    } catch (error) {
      if (cell.signal.aborted) throw error;
      const message = error instanceof Error ? error.message : String(error);
      return { acknowledged: [], failed: seen.map((id) => ({ id, error: message })) };
    }
  }

  /** One COPY of `files` into `table` (binary for blobs, text for native rows). */
  private async copyInto(table: string, files: AsyncIterable<LabFile>, cell: CellContext, seen: number[]): Promise<void> {
    if (cell.mode === 'native') await this.copy(this.nativeCopySql(table), () => nativeCopyText(files, cell, seen));
    else await this.copy(pgCopyBlobSql(this.lab, 'STDIN', table), (sentOut) => binaryCopy(files, cell, seen, sentOut));
  }

  /**
   * `--placement across:K`: one COPY per table per batch of ≤ PG_MAX_BATCH_BYTES, all in one
   * transaction, so the bulk load is still acknowledged as a whole or not at all.
   */
  private async copyAcross(files: AsyncIterable<LabFile>, cell: CellContext, seen: number[]): Promise<void> {
    await this.db.query('BEGIN');
    try {
      for await (const batch of batchFiles(files, Number.MAX_SAFE_INTEGER, PG_MAX_BATCH_BYTES)) {
        for (const [table, group] of groupByObject(batch, labTableName(cell), cell.placement)) {
          await this.copyInto(table, (async function* () { yield* group; })(), cell, seen);
        }
      }
      await this.db.query('COMMIT');
      seen.sort((a, b) => a - b);
    } catch (error) {
      await this.db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private nativeCopySql(table: string): string {
    return `COPY ${qualified(this.lab, table)} FROM STDIN WITH (FORMAT text)`;
  }

  /**
   * One COPY fed from `source`. The source is handed `sentOut()`: true when nothing it produced so
   * far is still queued in the stream, in the COPY writer or on the socket (libuv included), i.e.
   * every earlier chunk has gone to the kernel and its buffer is no longer read.
   */
  private async copy(sql: string, source: (sentOut: () => boolean) => Iterable<Buffer | string> | AsyncIterable<Buffer | string>): Promise<void> {
    const { from } = await import('pg-copy-streams');
    const socket = this.db.connection.stream as Duplex;
    const query = this.db.query(from(sql));
    const readable: Readable = Readable.from(
      source(() => readable.readableLength === 0 && query.writableLength === 0 && socket.writableLength === 0),
      { objectMode: false },
    );
    await pipeline(readable, query);
  }

  async compact(cell: CellContext): Promise<void | NotApplicable> {
    await this.vacuumFull(cell);
  }

  async maintenance(cell: CellContext): Promise<void | NotApplicable> {
    // With maintenance_full in the cell this is the light level (plain VACUUM), SPEC §4.1.
    if (cell.twoMaintenanceLevels) await this.vacuumPlain(cell);
    else await this.vacuumFull(cell);
  }

  /** `VACUUM FULL` rewrites the table (and its TOAST + indexes) compactly; it returns when done. */
  private async vacuumFull(cell: CellContext): Promise<void> {
    await this.db.query(pgVacuumFullSql(this.lab, cell));
    await this.db.query('CHECKPOINT');
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    if (cell.mode === 'native') {
      // One COPY per file: the rows of a file land together or not at all.
      await this.copy(this.nativeCopySql(labTableOf(cell, file.id)), () => nativeCopyText([file], cell, []));
      return;
    }
    const result = await this.db.query(pgInsertBlobSql(this.lab, labTableOf(cell, file.id)), pgBlobParams(file));
    if (result.rowCount !== 1) throw new Error(`insert of file ${file.id} reported ${result.rowCount} rows`);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    await pgDeleteOne(this.execute, this.lab, cell, file);
  }

  async countStored(cell: CellContext): Promise<number> {
    return pgCountStored(this.execute, this.lab, cell);
  }

  async settle(_cell: CellContext): Promise<void> {
    // Relation sizes are file sizes and already true; CHECKPOINT writes dirty buffers so the `fs`
    // probe of the data directory sees them too.
    await this.db.query('CHECKPOINT');
  }

  probes(_cell: CellContext): Probe[] {
    const internal = sizeProbe('internal', SYSTEM_LAYER, () => pgLabSize(this.execute, this.lab), timingsOf(this.options));
    const dataDir = this.options.dataDir;
    if (!dataDir) return [internal];
    // The lab's relation files (tables, TOAST, indexes, every fork) and the WAL beside them.
    return [internal, labFilesProbe(() => pgLabRelationFiles(this.execute, this.lab, dataDir)), logFilesProbe(() => [join(dataDir, 'pg_wal')])];
  }

  localDataPaths(): string[] {
    return this.options.dataDir ? [this.options.dataDir] : [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // A second connection, so a sample never waits behind (or slows) the measured statement.
    const client = (this.metricsClient ??= await openPgClient(this.options, 'dedup-lab-metrics'));
    const stats = await client.query<{ commits: string; inserted: string; deleted: string }>(
      `SELECT xact_commit AS commits, tup_inserted AS inserted, tup_deleted AS deleted
         FROM pg_stat_database WHERE datname = current_database()`,
    );
    const row = stats.rows[0];
    return {
      lab_bytes: await pgLabSize(pgExecutor(() => client), this.lab),
      ...(row ? { xact_commit: numberOf(row.commits), tup_inserted: numberOf(row.inserted), tup_deleted: numberOf(row.deleted) } : {}),
    };
  }

  // SPEC §4.1 capabilities (shared/pgDimensions.ts).
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    await pgDeleteMany(this.execute, this.lab, cell, files);
  }

  async truncate(cell: CellContext): Promise<void> {
    await pgTruncate(this.execute, this.lab, cell);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    await pgDropAndRecreate(this.execute, this.lab, cell);
  }

  async maintenanceFull(cell: CellContext): Promise<void> {
    await this.vacuumFull(cell);
  }

  private async vacuumPlain(cell: CellContext): Promise<void> {
    await this.db.query(pgVacuumSql(this.lab, cell));
    await this.db.query('CHECKPOINT');
  }

  /** pg-types decodes each bytea value (hex text) into a new Buffer of its own. */
  readonly readOneOwned = true;

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    return pgReadBlob(this.execute, this.lab, file, cell);
  }

  /** Native read-back: pg hands timestamptz as Date, jsonb parsed, numeric/int8 as text. */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    return pgReadRecords(this.execute, this.lab, cell, file);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    // The tool does not restart a server it does not own: shared_buffers stay; a new session drops the session's own state.
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
    await this.connect();
    return 'PostgreSQL shared_buffers: kept (only a server restart empties them, which the tool does not do); session: reconnected';
  }
}

/**
 * Binary COPY stream of blob rows; records each file id as it is sent. Files whose bytes have all
 * gone out (`sentOut`) are released at once rather than at V8's next collection: at 1 GiB that is
 * the difference between one file and up to ≈ 70 MiB of dead file buffers in the tool's memory.
 */
async function* binaryCopy(files: AsyncIterable<LabFile>, cell: CellContext, seen: number[], sentOut: () => boolean): AsyncIterable<Buffer> {
  yield PG_COPY_BINARY_HEADER;
  const sent: LabFile[] = [];
  for await (const file of files) {
    throwIfAborted(cell.signal);
    if (sent.length > 0 && sentOut()) sent.splice(0).forEach(releaseContent);
    seen.push(file.id);
    yield* pgCopyBinaryBlobRow(file);
    sent.push(file);
  }
  yield PG_COPY_BINARY_TRAILER;
}

/** COPY text stream of native rows (file_id first), in chunks of about 64 KiB. */
export async function* nativeCopyText(
  files: AsyncIterable<LabFile> | Iterable<LabFile>,
  cell: CellContext,
  seen: number[],
): AsyncIterable<string> {
  const { table, parse } = requireNative(cell);
  let chunk = '';
  for await (const file of files) {
    throwIfAborted(cell.signal);
    seen.push(file.id);
    for await (const row of parse(file)) {
      checkRowWidth(table, row, file.name);
      chunk += pgCopyTextLine(file.id, row);
      if (chunk.length >= 1 << 16) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk) yield chunk;
}

export const definition: SystemDefinition<PostgresqlOptions> = {
  id: 'postgresql',
  kind: 'server',
  variants: POSTGRESQL_VARIANTS,
  modes: ['blob', 'native'],
  placementAcross: true,
  parseOptions: (raw) => parseSystemOptions('postgresql', postgresqlOptionsSchema, raw),
  create: (instance, options, labName) => new PostgresqlAdapter(instance, options, assertLabName(labName)),
};

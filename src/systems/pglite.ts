/**
 * `pglite` — PostgreSQL compiled to WASM (@electric-sql/pglite), data dir on local disk.
 *
 * Lab namespace: schema `<lab>` in the data dir (default `.dedup-lab/pglite`). Layout, variants,
 * size probe and deletes come from the PostgreSQL dialect in shared/pgCommon.ts (the `postgresql`
 * adapter uses the same). Bulk (blob): binary COPY from PGlite's `/dev/blob` device in batches of
 * at most 2 MiB (PGLITE_MAX_BATCH_BYTES), all inside one transaction. Bulk (native): batched multi-row INSERT.
 * Compaction and maintenance: `VACUUM FULL` + `CHECKPOINT`. Settle: `CHECKPOINT`.
 * Variants: default (pglz), uncompressed (STORAGE EXTERNAL), hash-index — no lz4: PGlite is
 * built without it ("compression method lz4 not supported").
 *
 * PGlite runs in a child process (`pglite-host.ts`), not in the dedup-lab process: its WASM
 * PostgreSQL alone took 400–950 MiB RSS (180–193 MiB now, in its own process), and SPEC §10
 * allows the tool 256 MiB. The host is the
 * database engine beside the tool, like a server; a crashed host is a lost connection (every
 * pending and later call rejects; `connect()` after `close()` starts a fresh host).
 *
 * One host per data dir per process, shared by reference count: opening the same data dir twice
 * would corrupt it, and WASM start-up costs seconds.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CellContext, LabFile, LabFileRef, Probe, SystemAdapter, SystemDefinition, WriteOutcome } from './types.js';
import { pgDeleteMany, pgDropAndRecreate, pgReadBlob, pgTruncate, pgVacuumSql } from './shared/pgDimensions.js';
import { assertLabName, MODES } from './types.js';
import { HOST_FLAG, type HostError, type HostQueryResult, type HostRequest } from './pglite-host.js';
import { HostClient, hostEntry, HostPool, HostProcess, processMemory, type WithoutId } from './shared/host-process.js';
import { parseEmbeddedOptions, type EmbeddedOptions } from './shared/options.js';
import {
  PG_COPY_BINARY_HEADER,
  PG_COPY_BINARY_TRAILER,
  PG_MAX_PARAMETERS,
  assertLabSchema,
  pgBlobParams,
  pgCopyBinaryBlobRow,
  pgCopyBlobSql,
  pgCountStored,
  pgDeleteOne,
  pgDropLab,
  pgInsertBlobSql,
  pgLabExists,
  pgLabSize,
  pgNativeInsertSql,
  pgNativeRowParams,
  pgResetLab,
  pgVacuumFullSql,
  type PgExecute,
} from './shared/pgCommon.js';
import { labTableName } from './shared/layout.js';
import { labTableOf } from './shared/placement.js';
import { EMBEDDED_POLL_INTERVAL_MS, SYSTEM_LAYER, sizeProbe } from './shared/probes.js';
import { checkRowWidth } from './shared/native.js';
import { requireNative, throwIfAborted, transactionalBulk, type RunInTransaction } from './shared/stages.js';
import { pgReadRecords } from './shared/native-read-sql.js';

export const PGLITE_VARIANTS = ['default', 'uncompressed', 'hash-index'] as const;

/** `<dataDir>/base/<oid of the current database>`: where PostgreSQL keeps that database's relation files. */
async function pgliteDatabaseDir(db: PgliteQueryable, dataDir: string): Promise<string> {
  const result = await db.query<{ oid: number | string }>('SELECT oid FROM pg_database WHERE datname = current_database()');
  const oid = Number(result.rows[0]?.oid);
  if (!Number.isInteger(oid) || oid <= 0) throw new Error(`PGlite returned no oid for the current database (${JSON.stringify(result.rows)})`);
  return join(dataDir, 'base', String(oid));
}

// ---- the host process and its client ------------------------------------------------------------

/** An error PostgreSQL (or the host) raised, with its SQLSTATE when there is one. */
export class PgliteError extends Error {
  readonly code: string | undefined;
  readonly detail: string | undefined;
  constructor(error: HostError) {
    super(error.message);
    this.name = error.name === 'Error' ? 'PgliteError' : error.name;
    this.code = error.code;
    this.detail = error.detail;
  }
}

/** The host is gone (crashed, killed or closed): a lost connection, retried by the runner. */
export class PgliteHostLostError extends Error {}

/** Anything that can run a statement: the client or an open transaction. */
export interface PgliteQueryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: { blobParts?: Uint8Array[] }): Promise<{ rows: Row[]; affectedRows: number }>;
  /** Several statements without parameters (simple query protocol). */
  exec(sql: string): Promise<HostQueryResult[]>;
}

export interface PgliteClient extends PgliteQueryable {
  /** BEGIN; body; COMMIT — or ROLLBACK and rethrow when the body throws. */
  transaction<T>(body: (tx: PgliteQueryable) => Promise<T>): Promise<T>;
  /** Process id of the host (the process that holds PGlite's memory). */
  readonly pid: number;
  /** Resident and peak resident bytes of the host, from /proc/<pid>/status (null once it exited). */
  memory(): { rssBytes: number; peakRssBytes: number } | null;
}

/**
 * V8 flags of the host. `--liftoff-only`: V8 tiers hot WASM functions up with TurboFan, and
 * compiling PostgreSQL's big functions took 300–550 MiB of compiler memory in the first busy
 * statements (host peak, 256 MiB binary COPY: 786 → 253 MiB; 200 INSERTs of 512 KiB: 910 → 628
 * MiB; not slower on 2 cores). `--expose-gc`: the host runs a young-generation GC after each
 * request (pglite-host.ts, freeRequestBuffers). docs/systems-embedded.md, "PGlite host process".
 */
export const PGLITE_HOST_V8_FLAGS = ['--liftoff-only', '--expose-gc'];

/**
 * Environment additions of the host. glibc's malloc raises its mmap threshold each time a large
 * block is freed (up to 32 MiB), so the host's many short-lived 64 KiB–8 MiB buffers (IPC reads,
 * Bind messages, COPY batches) ended up in the brk heap, which glibc rarely gives back: `[heap]`
 * grew to 89–116 MiB in a `--total-size 256MiB` run. A fixed threshold of 64 KiB keeps such
 * blocks in their own mappings, returned to the system when freed. Other C libraries ignore the
 * variable. A value the user set is kept.
 */
export const PGLITE_HOST_ENV = { MALLOC_MMAP_THRESHOLD_: '65536' };

/**
 * Bytes per binary COPY batch in the pglite bulk path (and per native multi-row INSERT). Each batch
 * crosses to the host and lives there several times at once (IPC buffer, Blob, ArrayBuffer for
 * `/dev/blob`), so PostgreSQL's 8 MiB (PG_MAX_BATCH_BYTES) cost the host ≈ 30 MiB per batch;
 * 2 MiB batches cost a quarter. All batches run in the one transaction of the stage, as before.
 */
export const PGLITE_MAX_BATCH_BYTES = 2 * 1024 * 1024;

export { processMemory };

class PgliteHostClient extends HostClient<HostRequest, HostQueryResult | HostQueryResult[]> implements PgliteClient {
  private nextTxId = 1;

  /** Fork a host for `dataDir` and wait until PGlite inside it is ready. */
  static async start(dataDir: string): Promise<PgliteHostClient> {
    const host = await HostProcess.start<HostRequest, HostQueryResult | HostQueryResult[]>({
      engine: 'PGlite',
      target: dataDir,
      entry: hostEntry(import.meta.url, 'pglite-host', PGLITE_HOST_V8_FLAGS),
      args: [HOST_FLAG, dataDir],
      env: PGLITE_HOST_ENV,
      lost: (message) => new PgliteHostLostError(message),
      failed: (error) => new PgliteError(error),
    });
    return new PgliteHostClient(host);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: { blobParts?: Uint8Array[] }): Promise<{ rows: Row[]; affectedRows: number }> {
    return this.queryIn(undefined, sql, params, options) as Promise<{ rows: Row[]; affectedRows: number }>;
  }

  exec(sql: string): Promise<HostQueryResult[]> {
    return this.execIn(undefined, sql);
  }

  async transaction<T>(body: (tx: PgliteQueryable) => Promise<T>): Promise<T> {
    const txId = this.nextTxId++;
    await this.request({ op: 'begin', txId });
    const tx: PgliteQueryable = {
      query: (sql, params, options) => this.queryIn(txId, sql, params, options) as never,
      exec: (sql) => this.execIn(txId, sql),
    };
    let result: T;
    try {
      result = await body(tx);
    } catch (error) {
      // A lost host has no transaction left to roll back; the original error is what counts.
      await this.request({ op: 'rollback', txId }).catch(() => {});
      throw error;
    }
    await this.request({ op: 'commit', txId });
    return result;
  }

  private async queryIn(txId: number | undefined, sql: string, params?: readonly unknown[], options?: { blobParts?: Uint8Array[] }): Promise<HostQueryResult> {
    const result = await this.request({
      op: 'query',
      sql,
      ...(params ? { params: [...params] } : {}),
      ...(txId !== undefined ? { txId } : {}),
      ...(options?.blobParts ? { blobParts: options.blobParts } : {}),
    });
    return result as HostQueryResult;
  }

  private async execIn(txId: number | undefined, sql: string): Promise<HostQueryResult[]> {
    return (await this.request({ op: 'exec', sql, ...(txId !== undefined ? { txId } : {}) })) as HostQueryResult[];
  }

  private request(request: WithoutId<HostRequest>): Promise<HostQueryResult | HostQueryResult[] | undefined> {
    return this.host.request(request);
  }
}

// ---- one shared host per data dir ---------------------------------------------------------------

const hosts = new HostPool((dataDir) => {
  mkdirSync(dataDir, { recursive: true });
  return PgliteHostClient.start(dataDir);
});

export interface PgliteHandle {
  db: PgliteClient;
  /** Drop this reference; the host closes when the last one is released. */
  release(): Promise<void>;
}

/** Open (or join) this process's PGlite host of a data dir. Tests use it for canaries. */
export async function acquirePglite(dataDir: string): Promise<PgliteHandle> {
  const handle = await hosts.acquire(dataDir);
  return { db: handle.client, release: handle.release };
}

function executor(target: PgliteQueryable): PgExecute {
  return (sql, params) => target.query(sql, params);
}

/** Buffers rows and writes them in bounded batches (COPY for blobs, multi-row INSERT for native). */
class BatchWriter {
  private parts: Buffer[] = [];
  private params: unknown[] = [];
  private rows = 0;
  private bytes = 0;

  constructor(
    private readonly schema: string,
    private readonly cell: CellContext,
    private readonly target: () => PgliteQueryable,
    /** The table this writer fills (one per table under `--placement across:K`). */
    private readonly tableName = labTableName(cell),
  ) {}

  async add(file: LabFile): Promise<void> {
    if (this.cell.mode === 'blob') {
      for (const part of pgCopyBinaryBlobRow(file)) this.push(part.length, part);
      this.rows++;
      if (this.bytes >= PGLITE_MAX_BATCH_BYTES) await this.flush();
      return;
    }
    const { table, parse } = requireNative(this.cell);
    const perRow = table.columns.length + 1;
    for await (const row of parse(file)) {
      checkRowWidth(table, row, file.name);
      const values = pgNativeRowParams(table, file.id, row);
      this.params.push(...values);
      this.bytes += values.reduce<number>((sum, value) => sum + (value === null ? 0 : Buffer.isBuffer(value) ? value.length : String(value).length), 0);
      this.rows++;
      if (this.bytes >= PGLITE_MAX_BATCH_BYTES || (this.rows + 1) * perRow > PG_MAX_PARAMETERS) await this.flush();
    }
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  async flush(): Promise<void> {
    if (this.rows === 0) return;
    const target = this.target();
    if (this.cell.mode === 'blob') {
      // The parts cross to the host as they are; it joins them into the Blob `/dev/blob` reads.
      const blobParts = [PG_COPY_BINARY_HEADER, ...this.parts, PG_COPY_BINARY_TRAILER];
      const result = await target.query(pgCopyBlobSql(this.schema, "'/dev/blob'", this.tableName), [], { blobParts });
      if (result.affectedRows !== this.rows) throw new Error(`COPY stored ${result.affectedRows} rows, expected ${this.rows}`);
    } else {
      const { table } = requireNative(this.cell);
      const sql = pgNativeInsertSql(this.schema, table, this.tableName, this.rows);
      const result = await target.query(sql, this.params);
      if (result.affectedRows !== this.rows) throw new Error(`INSERT stored ${result.affectedRows} rows, expected ${this.rows}`);
    }
    this.parts = [];
    this.params = [];
    this.rows = 0;
    this.bytes = 0;
  }

  private push(length: number, part: Buffer): void {
    this.parts.push(part);
    this.bytes += length;
  }
}

class PgliteAdapter implements SystemAdapter {
  readonly id = 'pglite';
  private handle: PgliteHandle | null = null;
  /** `<dataDir>/base/<database oid>`: the relation files of the database the lab lives in. */
  private databaseDir: string | null = null;

  constructor(
    readonly instance: string,
    private readonly options: EmbeddedOptions,
    private readonly schema: string,
  ) {}

  async connect(): Promise<void> {
    // A handle whose host died is a lost connection: drop it and start (or join) a fresh host.
    if (this.handle && !(this.handle.db as PgliteHostClient).alive) await this.close();
    if (!this.handle) {
      this.handle = await acquirePglite(this.options.dataDir);
      this.databaseDir = await pgliteDatabaseDir(this.handle.db, this.options.dataDir);
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.release();
  }

  async version(): Promise<string> {
    const result = await this.db().query<{ version: string }>('SELECT version() AS version');
    return result.rows[0]?.version ?? '';
  }

  async resetLab(cell: CellContext): Promise<void> {
    await this.db().transaction(async (tx) => pgResetLab(executor(tx), this.schema, cell));
    await this.db().query('CHECKPOINT');
  }

  async dropLab(): Promise<void> {
    await pgDropLab(this.execute(), this.schema);
    await this.db().query('CHECKPOINT');
  }

  /** Whether the lab schema exists (used by tests and `check`). */
  async labExists(): Promise<boolean> {
    return pgLabExists(this.execute(), this.schema);
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    let tx: PgliteQueryable | null = null;
    // One batch writer per table: one, or K under `--placement across:K`.
    const writers = new Map<string, BatchWriter>();
    const writerOf = (file: LabFile): BatchWriter => {
      const table = labTableOf(cell, file.id);
      let writer = writers.get(table);
      if (!writer) writers.set(table, (writer = new BatchWriter(this.schema, cell, () => tx ?? this.db(), table)));
      return writer;
    };
    const inTransaction: RunInTransaction = (body) =>
      this.db().transaction(async (open) => {
        tx = open;
        await body();
      });
    const flushAll = async () => {
      for (const writer of writers.values()) await writer.flush();
    };
    // Bounded memory over K writers too: all flush once their pending bytes reach one batch.
    const add = async (file: LabFile) => {
      await writerOf(file).add(file);
      if ([...writers.values()].reduce((sum, writer) => sum + writer.pendingBytes, 0) >= PGLITE_MAX_BATCH_BYTES) await flushAll();
    };
    return transactionalBulk(files, cell, inTransaction, add, flushAll);
  }

  async compact(cell: CellContext): Promise<void> {
    await this.vacuumFull(cell);
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    if (cell.mode === 'blob') {
      await this.db().query(pgInsertBlobSql(this.schema, labTableOf(cell, file.id)), pgBlobParams(file));
      return;
    }
    // All rows of the file or none.
    await this.db().transaction(async (tx) => {
      const writer = new BatchWriter(this.schema, cell, () => tx, labTableOf(cell, file.id));
      await writer.add(file);
      await writer.flush();
    });
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    await pgDeleteOne(this.execute(), this.schema, cell, file);
  }

  async maintenance(cell: CellContext): Promise<void> {
    // With maintenance_full in the cell this is the light level (plain VACUUM), SPEC §4.1.
    if (cell.twoMaintenanceLevels) {
      await this.db().query(pgVacuumSql(this.schema, cell));
      await this.db().query('CHECKPOINT');
    } else await this.vacuumFull(cell);
  }

  async countStored(cell: CellContext): Promise<number> {
    return pgCountStored(this.execute(), this.schema, cell);
  }

  async settle(_cell: CellContext): Promise<void> {
    await this.db().query('CHECKPOINT');
  }

  probes(_cell: CellContext): Probe[] {
    // settle() ran CHECKPOINT, so the catalog numbers are final; a short poll just confirms it.
    return [sizeProbe('internal', SYSTEM_LAYER, () => pgLabSize(this.execute(), this.schema), { settleTimeoutMs: 10_000, pollIntervalMs: EMBEDDED_POLL_INTERVAL_MS })];
  }

  localDataPaths(): string[] {
    // The database's own directory `base/<oid>` (every relation file of the lab schema lives
    // there), not the whole cluster: pg_wal would add a whole new 16 MiB WAL segment whenever
    // PostgreSQL starts one, which has nothing to do with the stage and can trip the runner's
    // "probe did not shrink after reset" check. Before connect the oid is unknown: whole cluster.
    return [this.databaseDir ?? this.options.dataDir];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    if (!this.handle) return {};
    const metrics: Record<string, number> = {};
    // The PGlite host's memory (a separate process: the engine, not the tool) — read from /proc,
    // so it never waits for the work.
    const memory = this.handle.db.memory();
    if (memory) {
      metrics.pgliteHostRssBytes = memory.rssBytes;
      metrics.pgliteHostPeakRssBytes = memory.peakRssBytes;
    }
    try {
      // One catalog query; the host runs it between the work's statements, never inside its transaction.
      metrics.internalBytes = await pgLabSize(this.execute(), this.schema);
    } catch {
      // A failed sample is simply absent from the trace.
    }
    return metrics;
  }

  private async vacuumFull(cell: CellContext): Promise<void> {
    await this.db().query(pgVacuumFullSql(this.schema, cell));
    await this.db().query('CHECKPOINT');
  }

  // SPEC §4.1 capabilities (shared/pgDimensions.ts).
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    await pgDeleteMany(this.execute(), this.schema, cell, files);
  }

  async truncate(cell: CellContext): Promise<void> {
    await pgTruncate(this.execute(), this.schema, cell);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    await pgDropAndRecreate(this.execute(), this.schema, cell);
  }

  async maintenanceFull(cell: CellContext): Promise<void> {
    await this.vacuumFull(cell);
  }

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    return pgReadBlob(this.execute(), this.schema, file, cell);
  }

  /** Native read-back (values cross from the host by structured clone: Date, Uint8Array, bigint kept). */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    return pgReadRecords(this.execute(), this.schema, cell, file);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    // PGlite's buffers live in its host process: releasing the last reference ends that process.
    await this.close();
    await this.connect();
    return 'PGlite buffers: host released and reconnected (a fresh host process unless another user of the data dir held it)';
  }

  private db(): PgliteClient {
    if (!this.handle) throw new Error('pglite adapter is not connected (call connect first)');
    return this.handle.db;
  }

  private execute(): PgExecute {
    return executor(this.db());
  }
}

export const definition: SystemDefinition<EmbeddedOptions> = {
  id: 'pglite',
  kind: 'embedded',
  variants: PGLITE_VARIANTS,
  modes: MODES,
  placementAcross: true,
  parseOptions: (raw) => parseEmbeddedOptions('pglite', raw),
  create(instance, options, labName) {
    assertLabSchema(assertLabName(labName));
    return new PgliteAdapter(instance, options, labName);
  },
};

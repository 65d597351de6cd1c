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
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellContext, LabFile, LabFileRef, Probe, SystemAdapter, SystemDefinition, WriteOutcome } from './types.js';
import { pgDeleteMany, pgDropAndRecreate, pgReadBlob, pgTruncate, pgVacuumSql } from './shared/pgDimensions.js';
import { assertLabName, MODES } from './types.js';
import { HOST_FLAG, type HostError, type HostHello, type HostQueryResult, type HostRequest, type HostResponse } from './pglite-host.js';
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

/** The host module beside this file: `.ts` run through tsx from source, `.js` once built. */
function hostEntry(): { file: string; execArgv: string[] } {
  const typescript = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(typescript ? './pglite-host.ts' : './pglite-host.js', import.meta.url));
  // Resolved here, not by the child: the child's cwd (the user's) need not see our node_modules.
  return { file, execArgv: [...PGLITE_HOST_V8_FLAGS, ...(typescript ? ['--import', import.meta.resolve('tsx')] : [])] };
}

/** VmRSS / VmHWM of a process in bytes, or null when it is gone (Linux /proc). */
export function processMemory(pid: number): { rssBytes: number; peakRssBytes: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const rssBytes = kib('VmRSS');
  const peakRssBytes = kib('VmHWM');
  return Number.isFinite(rssBytes) && Number.isFinite(peakRssBytes) ? { rssBytes, peakRssBytes } : null;
}

/** How much of the host's stdout/stderr to keep for the error message when it dies. */
const HOST_OUTPUT_TAIL = 4096;

class HostClient implements PgliteClient {
  private nextId = 1;
  private nextTxId = 1;
  private readonly pending = new Map<number, { resolve: (response: HostResponse) => void; reject: (error: Error) => void }>();
  private lost: PgliteHostLostError | null = null;
  private output = '';
  private closing = false;
  /** Resolves when the host process has ended (a new host may open the data dir only then). */
  readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dataDir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-HOST_OUTPUT_TAIL));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('message', (message: HostResponse) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      this.updateRef();
      waiting.resolve(message);
    });
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.output.trim() ? `; its last output: ${this.output.trim().slice(-500)}` : '';
      this.markLost(new PgliteHostLostError(`PGlite host process ${child.pid} for ${this.dataDir} ${how} — connection lost${tail}`));
    });
    child.on('error', (error) => this.markLost(new PgliteHostLostError(`PGlite host process for ${this.dataDir} failed: ${error.message}`)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Fork a host for `dataDir` and wait until PGlite inside it is ready. */
  static start(dataDir: string): Promise<HostClient> {
    const entry = hostEntry();
    const child = fork(entry.file, [HOST_FLAG, dataDir], {
      execArgv: entry.execArgv,
      env: { ...PGLITE_HOST_ENV, ...process.env },
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const client = new HostClient(child, dataDir);
    return new Promise<HostClient>((resolve, reject) => {
      const onHello = (message: HostHello | HostResponse) => {
        if (!('hello' in message)) return;
        child.off('message', onHello);
        child.off('exit', onExit);
        if (message.hello === 'ready') {
          client.updateRef();
          resolve(client);
        } else {
          reject(new PgliteError({ ...message.error, message: `PGlite could not open ${dataDir}: ${message.error.message}` }));
        }
      };
      const onExit = () => {
        child.off('message', onHello);
        reject(client.lost ?? new PgliteHostLostError(`PGlite host for ${dataDir} exited during start-up`));
      };
      child.on('message', onHello);
      child.once('exit', onExit);
    });
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

  memory(): { rssBytes: number; peakRssBytes: number } | null {
    return this.lost || this.child.pid === undefined ? null : processMemory(this.child.pid);
  }

  get alive(): boolean {
    return this.lost === null;
  }

  /** Close PGlite cleanly and wait for the host to exit (a lost host is already gone). */
  async close(): Promise<void> {
    if (this.lost) return;
    // Waiting for the exit must keep the event loop alive (see updateRef).
    this.closing = true;
    this.updateRef();
    try {
      await this.request({ op: 'close' });
    } catch (error) {
      if (!(error instanceof PgliteHostLostError)) throw error;
    }
    await this.exited;
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

  // Omit<> over a union must distribute, or the op-specific fields are lost.
  private request(request: HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never): Promise<HostQueryResult | HostQueryResult[] | undefined> {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (response) => (response.ok ? resolve(response.result) : reject(new PgliteError(response.error))),
        reject,
      });
      this.updateRef();
      this.child.send({ ...request, id } as HostRequest, (error) => {
        if (error) this.markLost(new PgliteHostLostError(`PGlite host process ${this.child.pid} for ${this.dataDir} cannot be reached: ${error.message}`));
      });
    });
  }

  /**
   * The IPC channel keeps the event loop alive only while a request is waiting: an idle host must
   * not keep a finished dedup-lab (or a test) from exiting — it follows on `disconnect`.
   */
  private updateRef(): void {
    const channel = this.child.channel as { ref(): void; unref(): void } | null | undefined;
    if (this.pending.size > 0 || (this.closing && this.child.exitCode === null && this.child.signalCode === null)) {
      this.child.ref();
      channel?.ref();
    } else {
      this.child.unref();
      channel?.unref();
    }
  }

  private markLost(error: PgliteHostLostError): void {
    this.lost ??= error;
    // Unreachable but maybe still running: end it, so a fresh host never shares the data dir with it.
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    for (const waiting of this.pending.values()) waiting.reject(this.lost);
    this.pending.clear();
    this.updateRef();
  }
}

// ---- one shared host per data dir ---------------------------------------------------------------

interface SharedHost {
  client: HostClient;
  refs: number;
  /** The map entry this host was registered under (to remove exactly it). */
  entry: Promise<SharedHost>;
}
const hosts = new Map<string, Promise<SharedHost>>();

export interface PgliteHandle {
  db: PgliteClient;
  /** Drop this reference; the host closes when the last one is released. */
  release(): Promise<void>;
}

/** Open (or join) this process's PGlite host of a data dir. Tests use it for canaries. */
export async function acquirePglite(dataDir: string): Promise<PgliteHandle> {
  const shared = await sharedHost(dataDir);
  shared.refs++;
  let released = false;
  return {
    db: shared.client,
    async release() {
      if (released) return;
      released = true;
      shared.refs--;
      if (shared.refs === 0) {
        if (hosts.get(dataDir) === shared.entry) hosts.delete(dataDir);
        await shared.client.close();
      }
    },
  };
}

async function sharedHost(dataDir: string): Promise<SharedHost> {
  for (;;) {
    const entry = hosts.get(dataDir);
    if (!entry) break;
    const shared = await entry.catch(() => null);
    if (shared?.client.alive) return shared;
    // A host that died is a lost connection: forget it, wait until it is really gone, start afresh.
    if (hosts.get(dataDir) === entry) hosts.delete(dataDir);
    await shared?.client.exited;
  }
  mkdirSync(dataDir, { recursive: true });
  const entry: Promise<SharedHost> = HostClient.start(dataDir).then((client) => ({ client, refs: 0, entry }));
  hosts.set(dataDir, entry);
  entry.catch(() => {
    if (hosts.get(dataDir) === entry) hosts.delete(dataDir);
  });
  return entry;
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
    if (this.handle && !(this.handle.db as HostClient).alive) await this.close();
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

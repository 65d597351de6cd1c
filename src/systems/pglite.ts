/**
 * `pglite` — PostgreSQL compiled to WASM (@electric-sql/pglite), data dir on local disk.
 *
 * Lab namespace: schema `<lab>` in the data dir (default `.dedup-lab/pglite`). Layout, variants,
 * size probe and deletes come from the PostgreSQL dialect in shared/pgCommon.ts (the `postgresql`
 * adapter uses the same). Bulk (blob): binary COPY from PGlite's `/dev/blob` device in batches of
 * at most 8 MiB, all inside one transaction. Bulk (native): batched multi-row INSERT.
 * Compaction and maintenance: `VACUUM FULL` + `CHECKPOINT`. Settle: `CHECKPOINT`.
 * Variants: default (pglz), uncompressed (STORAGE EXTERNAL), hash-index — no lz4: PGlite is
 * built without it ("compression method lz4 not supported").
 *
 * One PGlite instance per data dir per process, shared by reference count: opening the same
 * data dir twice in one process would corrupt it, and WASM start-up costs seconds.
 */
import { mkdirSync } from 'node:fs';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { CellContext, LabFile, Probe, SystemAdapter, SystemDefinition, WriteOutcome } from './types.js';
import { assertLabName, MODES } from './types.js';
import { parseEmbeddedOptions, type EmbeddedOptions } from './shared/options.js';
import {
  PG_COPY_BINARY_HEADER,
  PG_COPY_BINARY_TRAILER,
  PG_MAX_BATCH_BYTES,
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
import { sizeProbe } from './shared/probes.js';
import { checkRowWidth } from './shared/native.js';
import { requireNative, throwIfAborted, transactionalBulk, type RunInTransaction } from './shared/stages.js';

export const PGLITE_VARIANTS = ['default', 'uncompressed', 'hash-index'] as const;

/** Anything that can run a query: the instance or an open transaction. */
type Queryable = Pick<PGlite | Transaction, 'query'>;

// ---- one shared instance per data dir ---------------------------------------------------------

interface SharedInstance {
  db: PGlite;
  refs: number;
}
const instances = new Map<string, Promise<SharedInstance>>();

export interface PgliteHandle {
  db: PGlite;
  /** Drop this reference; the instance closes when the last one is released. */
  release(): Promise<void>;
}

/** Open (or join) the process-wide PGlite instance of a data dir. Tests use it for canaries. */
export async function acquirePglite(dataDir: string): Promise<PgliteHandle> {
  let pending = instances.get(dataDir);
  if (!pending) {
    pending = (async () => {
      mkdirSync(dataDir, { recursive: true });
      const { PGlite } = await import('@electric-sql/pglite');
      const db = new PGlite(dataDir);
      await db.waitReady;
      return { db, refs: 0 };
    })();
    instances.set(dataDir, pending);
    pending.catch(() => instances.delete(dataDir));
  }
  const shared = await pending;
  shared.refs++;
  let released = false;
  return {
    db: shared.db,
    async release() {
      if (released) return;
      released = true;
      shared.refs--;
      if (shared.refs === 0) {
        instances.delete(dataDir);
        await shared.db.close();
      }
    },
  };
}

function executor(target: Queryable): PgExecute {
  return async (sql, params) => {
    const result = await target.query<Record<string, unknown>>(sql, params ? [...params] : undefined);
    return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
  };
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
    private readonly target: () => Queryable,
  ) {}

  async add(file: LabFile): Promise<void> {
    if (this.cell.mode === 'blob') {
      for (const part of pgCopyBinaryBlobRow(file)) this.push(part.length, part);
      this.rows++;
      if (this.bytes >= PG_MAX_BATCH_BYTES) await this.flush();
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
      if (this.bytes >= PG_MAX_BATCH_BYTES || (this.rows + 1) * perRow > PG_MAX_PARAMETERS) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.rows === 0) return;
    const target = this.target();
    if (this.cell.mode === 'blob') {
      // Node Buffers are typed as possibly SharedArrayBuffer-backed; ours never are.
      const blob = new Blob([PG_COPY_BINARY_HEADER, ...this.parts, PG_COPY_BINARY_TRAILER] as BlobPart[]);
      const result = await target.query(pgCopyBlobSql(this.schema, "'/dev/blob'"), [], { blob });
      if (result.affectedRows !== this.rows) throw new Error(`COPY stored ${result.affectedRows} rows, expected ${this.rows}`);
    } else {
      const { table } = requireNative(this.cell);
      const sql = pgNativeInsertSql(this.schema, table, labTableName(this.cell), this.rows);
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

  constructor(
    readonly instance: string,
    private readonly options: EmbeddedOptions,
    private readonly schema: string,
  ) {}

  async connect(): Promise<void> {
    if (!this.handle) this.handle = await acquirePglite(this.options.dataDir);
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
    let tx: Transaction | null = null;
    const writer = new BatchWriter(this.schema, cell, () => tx ?? this.db());
    const inTransaction: RunInTransaction = (body) =>
      this.db().transaction(async (open) => {
        tx = open;
        await body();
      });
    return transactionalBulk(files, cell, inTransaction, (file) => writer.add(file), () => writer.flush());
  }

  async compact(cell: CellContext): Promise<void> {
    await this.vacuumFull(cell);
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    if (cell.mode === 'blob') {
      await this.db().query(pgInsertBlobSql(this.schema), pgBlobParams(file));
      return;
    }
    // All rows of the file or none.
    await this.db().transaction(async (tx) => {
      const writer = new BatchWriter(this.schema, cell, () => tx);
      await writer.add(file);
      await writer.flush();
    });
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    throwIfAborted(cell.signal);
    await pgDeleteOne(this.execute(), this.schema, cell, file);
  }

  async maintenance(cell: CellContext): Promise<void> {
    await this.vacuumFull(cell);
  }

  async countStored(cell: CellContext): Promise<number> {
    return pgCountStored(this.execute(), this.schema, cell);
  }

  async settle(_cell: CellContext): Promise<void> {
    await this.db().query('CHECKPOINT');
  }

  probes(_cell: CellContext): Probe[] {
    return [sizeProbe('internal', () => pgLabSize(this.execute(), this.schema), { settleTimeoutMs: 10_000, pollIntervalMs: 100 })];
  }

  localDataPaths(): string[] {
    // The whole PGlite cluster directory (catalog and WAL included); the runner subtracts the
    // empty baseline, so only what a stage adds or frees shows in the delta.
    return [this.options.dataDir];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    // One catalog query on the shared in-process instance; PGlite serialises it between the
    // work's statements (it never runs inside the work's transaction).
    if (!this.handle) return {};
    try {
      return { internalBytes: await pgLabSize(this.execute(), this.schema) };
    } catch {
      return {};
    }
  }

  private async vacuumFull(cell: CellContext): Promise<void> {
    await this.db().query(pgVacuumFullSql(this.schema, cell));
    await this.db().query('CHECKPOINT');
  }

  private db(): PGlite {
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
  parseOptions: (raw) => parseEmbeddedOptions('pglite', raw),
  create(instance, options, labName) {
    assertLabSchema(assertLabName(labName));
    return new PgliteAdapter(instance, options, labName);
  },
};

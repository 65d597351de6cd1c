/**
 * `cockroachdb` adapter (SPEC §5.1–§5.3) over the PostgreSQL wire protocol (`pg`).
 *
 * Lab namespace: the database `<lab>`, its zone configured with `gc.ttlseconds` (option, default
 * 600) so MVCC garbage of deleted rows becomes collectable. Blob table `<lab>.blobs (id, name,
 * sha256, size, content BYTES)`; native tables `<lab>.n_<type>`. Bulk = batched multi-row INSERT
 * (each batch its own implicit transaction; a file is acknowledged when its batch committed).
 * Compaction = `crdb_internal.compact_engine_span` over the lab tables' spans on every store;
 * maintenance = enqueue the lab's ranges into the MVCC GC queue, then compact. Size probe =
 * `range_size` of `SHOW RANGES FROM DATABASE <lab> WITH DETAILS`. No PostgreSQL-only command
 * (VACUUM, CHECKPOINT, SET STORAGE …) is ever sent.
 *
 * NOT VERIFIED against a CockroachDB server (none can be installed on the test machine): the
 * zone config, the compaction / GC calls and the ranges query are written from CockroachDB's
 * documentation. `postgresCompatTestMode: true` lets the tests run the shared path (connection,
 * DDL, batched inserts, deletes, counts, lab safety) against PostgreSQL: the adapter then detects
 * the server, uses a schema instead of a database, refuses every CockroachDB-only statement
 * (compaction/maintenance are "not applicable", never a fake success), and reads sizes with
 * PostgreSQL's `pg_total_relation_size` — clearly not CockroachDB's own number. See
 * docs/systems-sql.md for the exact list of what is unverified.
 */
import { z } from 'zod';
import type pg from 'pg';
import { qualifiedName as qualified, quoteIdent } from './shared/identifiers.js';
import { BLOB_TABLE, labTableName } from './shared/layout.js';
import { checkRowWidth, nativeColumnsDdl, PG_NATIVE_TYPES } from './shared/native.js';
import { parseSystemOptions } from './shared/options.js';
import {
  pgBlobParams,
  pgCountStored,
  pgDeleteOne,
  pgLabSize,
  pgNativeInsertSql,
  pgNativeRowParams,
  PG_MAX_PARAMETERS,
  type PgExecute,
} from './shared/pgCommon.js';
import { batchFiles, notApplicable, requireNative, throwIfAborted } from './shared/stages.js';
import { pgDeleteMany, pgReadBlob, pgTruncate } from './shared/pgDimensions.js';
import { groupByObject, labTableOf, labTablesOf } from './shared/placement.js';
import { checkVariant, numberOf, openPgClient, pgConnectionOptionsSchema, pgExecutor } from './postgresql.js';
import { SYSTEM_LAYER, sizeProbe, timingsOf } from './shared/probes.js';
import { gcTtlDeferral, gcTtlFromZoneSql } from './shared/deferrals.js';
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
import { pgReadRecords } from './shared/native-read-sql.js';

export const COCKROACHDB_VARIANTS = ['default'] as const;

const cockroachOptionsSchema = pgConnectionOptionsSchema
  .extend({
    port: z.coerce.number().int().min(1).max(65535).default(26257),
    user: z.string().min(1).default('root'),
    database: z.string().min(1).default('defaultdb'),
    /** MVCC garbage TTL of the lab database's zone (seconds). */
    gcTtlSeconds: z.coerce.number().int().min(1).default(600),
    /** A multi-row INSERT carries files up to this many bytes. */
    batchBytes: z.coerce.number().int().positive().default(4 * 1024 * 1024),
    /** Test-only: run the PostgreSQL-compatible path against a PostgreSQL server (see file comment). */
    postgresCompatTestMode: z.boolean().default(false),
  })
  .strict();
export type CockroachOptions = z.infer<typeof cockroachOptionsSchema>;

type Dialect = 'cockroachdb' | 'postgresql-compat';

/** Which server answered: CockroachDB, or PostgreSQL when the compat test mode allows it. */
export function detectDialect(version: string, compatAllowed: boolean): Dialect {
  if (/CockroachDB/i.test(version)) return 'cockroachdb';
  if (compatAllowed && /^PostgreSQL /.test(version)) return 'postgresql-compat';
  throw new Error(`cockroachdb: the server is not CockroachDB (${version.split(' ').slice(0, 2).join(' ')})`);
}

export function multiRowBlobInsertSql(lab: string, rows: number, table = BLOB_TABLE): string {
  const values: string[] = [];
  for (let row = 0; row < rows; row += 1) {
    const base = row * 5;
    values.push(`($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5})`);
  }
  return `INSERT INTO ${qualified(lab, table)} (id, name, sha256, size, content) VALUES ${values.join(', ')}`;
}

class CockroachAdapter implements SystemAdapter {
  readonly id = 'cockroachdb';
  private client: pg.Client | null = null;
  private metricsClient: pg.Client | null = null;
  private dialect: Dialect | null = null;
  private readonly execute: PgExecute = pgExecutor(() => this.db);

  constructor(
    readonly instance: string,
    private readonly options: CockroachOptions,
    private readonly lab: string,
  ) {}

  private get db(): pg.Client {
    if (!this.client) throw new Error('cockroachdb: not connected');
    return this.client;
  }

  private get isCockroach(): boolean {
    if (!this.dialect) throw new Error('cockroachdb: not connected');
    return this.dialect === 'cockroachdb';
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const client = await openPgClient(this.options, 'dedup-lab');
    try {
      this.dialect = detectDialect(await this.serverVersion(client), this.options.postgresCompatTestMode);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
  }

  private async serverVersion(client: pg.Client): Promise<string> {
    const result = await client.query<{ v: string }>('SELECT version() AS v');
    return result.rows[0]?.v ?? 'unknown';
  }

  async close(): Promise<void> {
    const clients = [this.client, this.metricsClient];
    this.client = null;
    this.metricsClient = null;
    await Promise.all(clients.map((client) => client?.end().catch(() => undefined)));
  }

  async version(): Promise<string> {
    const version = await this.serverVersion(this.db);
    return this.isCockroach ? version : `${version} [postgres-compat test mode, not CockroachDB]`;
  }

  /** `CREATE DATABASE` on CockroachDB; a schema in compat mode (PostgreSQL cannot name across databases). */
  private get namespaceKind(): 'DATABASE' | 'SCHEMA' {
    return this.isCockroach ? 'DATABASE' : 'SCHEMA';
  }

  async resetLab(cell: CellContext): Promise<void> {
    checkVariant(COCKROACHDB_VARIANTS, cell.variant, 'cockroachdb');
    await this.dropLab();
    await this.db.query(`CREATE ${this.namespaceKind} ${quoteIdent(this.lab)}`);
    if (this.isCockroach) {
      // Zone settings are DDL (no parameters); the TTL is a validated integer.
      await this.db.query(`ALTER DATABASE ${quoteIdent(this.lab)} CONFIGURE ZONE USING gc.ttlseconds = ${Math.trunc(this.options.gcTtlSeconds)}`);
    }
    await this.createTable(cell);
  }

  private async createTable(cell: CellContext): Promise<void> {
    // One table, or the K tables of `--placement across:K`.
    for (const name of labTablesOf(cell)) await this.createOneTable(cell, qualified(this.lab, name));
  }

  private async createOneTable(cell: CellContext, table: string): Promise<void> {
    if (cell.mode === 'native') {
      await this.db.query(`CREATE TABLE ${table} (${nativeColumnsDdl(requireNative(cell).table, PG_NATIVE_TYPES, 'INT8')})`);
    } else {
      await this.db.query(`CREATE TABLE ${table} (id INT8 NOT NULL, name text NOT NULL, sha256 text NOT NULL, size INT8 NOT NULL, content bytea NOT NULL)`);
    }
  }

  async dropLab(): Promise<void> {
    await this.db.query(`DROP ${this.namespaceKind} IF EXISTS ${quoteIdent(this.lab)} CASCADE`);
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const outcome: WriteOutcome = { acknowledged: [], failed: [] };
    const maxRows = cell.mode === 'native' ? 1 : Math.floor(PG_MAX_PARAMETERS / 5);
    for await (const batch of batchFiles(files, maxRows, this.options.batchBytes)) {
      throwIfAborted(cell.signal);
      try {
        await this.insertBatch(batch, cell);
        outcome.acknowledged.push(...batch.map((file) => file.id));
      } catch (error) {
        if (cell.signal.aborted) throw error;
        // Stop at the first refused batch: its files failed, later files were never sent.
        const message = error instanceof Error ? error.message : String(error);
        outcome.failed.push(...batch.map((file) => ({ id: file.id, error: message })));
        break;
      }
    }
    return outcome;
  }

  /** One implicit transaction: a multi-row INSERT of blob rows, or all native rows of one file. */
  private async insertBatch(batch: LabFile[], cell: CellContext): Promise<void> {
    if (cell.mode === 'blob') {
      const groups = groupByObject(batch, labTableName(cell), cell.placement);
      // `across:K`: one INSERT per table, in one explicit transaction so the batch still commits as a whole.
      if (groups.size > 1) await this.db.query('BEGIN');
      try {
        for (const [name, group] of groups) {
          const result = await this.db.query(multiRowBlobInsertSql(this.lab, group.length, name), group.flatMap(pgBlobParams));
          if (result.rowCount !== group.length) throw new Error(`insert stored ${result.rowCount} of ${group.length} rows`);
        }
        if (groups.size > 1) await this.db.query('COMMIT');
      } catch (error) {
        if (groups.size > 1) await this.db.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      return;
    }
    const { table, parse } = requireNative(cell);
    const perRow = table.columns.length + 1;
    const maxRows = Math.max(1, Math.floor(PG_MAX_PARAMETERS / perRow));
    await this.db.query('BEGIN');
    try {
      for (const file of batch) {
        let rows: unknown[][] = [];
        const flush = async () => {
          if (rows.length === 0) return;
          await this.db.query(pgNativeInsertSql(this.lab, table, labTableOf(cell, file.id), rows.length), rows.flat());
          rows = [];
        };
        for await (const row of parse(file)) {
          checkRowWidth(table, row, file.name);
          rows.push(pgNativeRowParams(table, file.id, row));
          if (rows.length >= maxRows) await flush();
        }
        await flush();
      }
      await this.db.query('COMMIT');
    } catch (error) {
      await this.db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    await this.insertBatch([file], cell);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    await pgDeleteOne(this.execute, this.lab, cell, file);
  }

  async countStored(cell: CellContext): Promise<number> {
    return pgCountStored(this.execute, this.lab, cell);
  }

  private compatNotApplicable(what: string): NotApplicable {
    return notApplicable(`${what} is CockroachDB-only; not run against PostgreSQL (postgres-compat test mode)`);
  }

  async compact(_cell: CellContext): Promise<void | NotApplicable> {
    if (!this.isCockroach) return this.compatNotApplicable('storage-engine compaction');
    await this.compactLabSpans();
  }

  async maintenance(_cell: CellContext): Promise<void | NotApplicable> {
    if (!this.isCockroach) return this.compatNotApplicable('MVCC garbage collection');
    // Garbage older than gc.ttlseconds is collected by the MVCC GC queue; enqueue the lab's ranges
    // now instead of waiting for the queue's own scan, then compact so the engine frees the space.
    const ranges = await this.db.query<{ range_id: string }>(`SELECT range_id FROM [SHOW RANGES FROM DATABASE ${quoteIdent(this.lab)}]`);
    for (const range of ranges.rows) {
      await this.db.query(`SELECT crdb_internal.kv_enqueue_replica($1, 'mvccGC', true)`, [numberOf(range.range_id)]);
    }
    await this.compactLabSpans();
  }

  // SPEC §4.1 capabilities (PostgreSQL dialect where CockroachDB speaks it).
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    await pgDeleteMany(this.execute, this.lab, cell, files);
  }

  async truncate(cell: CellContext): Promise<void> {
    await pgTruncate(this.execute, this.lab, cell);
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    for (const name of labTablesOf(cell)) await this.db.query(`DROP TABLE ${qualified(this.lab, name)}`);
    await this.createTable(cell);
  }

  async maintenanceFull(_cell: CellContext): Promise<NotApplicable> {
    return notApplicable('cockroachdb has one maintenance level: MVCC GC of the lab ranges, then engine compaction (there is no rewriting VACUUM FULL)');
  }

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    return pgReadBlob(this.execute, this.lab, file, cell);
  }

  /** Native read-back through the PostgreSQL wire protocol (DECIMAL/INT8 as text, TIMESTAMPTZ as Date). */
  async readRecords(file: LabFileRef, cell: CellContext): Promise<unknown[][]> {
    return pgReadRecords(this.execute, this.lab, cell, file);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    return `${this.isCockroach ? 'CockroachDB block cache' : 'PostgreSQL shared_buffers (compat mode)'}: kept (only a server restart empties it, which the tool does not do)`;
  }

  /** `crdb_internal.compact_engine_span` for each lab table's span on every store; returns when done. */
  private async compactLabSpans(): Promise<void> {
    const stores = await this.db.query<{ node_id: string; store_id: string }>('SELECT node_id, store_id FROM crdb_internal.kv_store_status');
    const spans = await this.db.query<{ start_key: Buffer; end_key: Buffer }>(
      `SELECT (crdb_internal.table_span(t.table_id))[1] AS start_key, (crdb_internal.table_span(t.table_id))[2] AS end_key
         FROM crdb_internal.tables t WHERE t.database_name = $1 AND t.drop_time IS NULL`,
      [this.lab],
    );
    for (const store of stores.rows) {
      for (const span of spans.rows) {
        await this.db.query('SELECT crdb_internal.compact_engine_span($1, $2, $3, $4)', [
          numberOf(store.node_id),
          numberOf(store.store_id),
          span.start_key,
          span.end_key,
        ]);
      }
    }
  }

  /**
   * Deleted rows stay as MVCC garbage until gc.ttlseconds have passed, read from the table's zone
   * (`SHOW ZONE CONFIGURATION`, which resolves the inherited value). Not run in compat mode:
   * PostgreSQL has no GC TTL. NOT VERIFIED against a CockroachDB server (file comment).
   */
  async deferrals(cell: CellContext, _stage: StageName): Promise<Deferral[]> {
    if (!this.isCockroach) return [];
    const table = qualified(this.lab, labTableName(cell));
    const result = await this.db.query<{ raw_config_sql: string | null }>(`SHOW ZONE CONFIGURATION FROM TABLE ${table}`);
    const ttl = gcTtlFromZoneSql(result.rows[0]?.raw_config_sql ?? '');
    return [gcTtlDeferral(ttl, `SHOW ZONE CONFIGURATION FROM TABLE ${table}`)];
  }

  async settle(_cell: CellContext): Promise<void> {
    // CockroachDB's MVCC stats (range_size) are maintained transactionally; nothing to flush.
    // In compat mode PostgreSQL's relation sizes are already true as well.
  }

  private async labBytes(client: pg.Client): Promise<number> {
    if (!this.isCockroach) return pgLabSize(pgExecutor(() => client), this.lab);
    const result = await client.query<{ bytes: string | null }>(
      `SELECT coalesce(sum(range_size), 0)::INT8 AS bytes FROM [SHOW RANGES FROM DATABASE ${quoteIdent(this.lab)} WITH DETAILS]`,
    );
    return numberOf(result.rows[0]?.bytes ?? 0);
  }

  probes(_cell: CellContext): Probe[] {
    // CockroachDB: MVCC range size (live + not yet collected versions) of one replica.
    return [sizeProbe('internal', SYSTEM_LAYER, () => this.labBytes(this.db), timingsOf(this.options))];
  }

  localDataPaths(): string[] {
    return [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    const client = (this.metricsClient ??= await openPgClient(this.options, 'dedup-lab-metrics'));
    return { lab_bytes: await this.labBytes(client) };
  }
}

export const definition: SystemDefinition<CockroachOptions> = {
  id: 'cockroachdb',
  kind: 'server',
  variants: COCKROACHDB_VARIANTS,
  modes: ['blob', 'native'],
  placementAcross: true,
  parseOptions: (raw) => parseSystemOptions('cockroachdb', cockroachOptionsSchema, raw),
  create: (instance, options, labName) => new CockroachAdapter(instance, options, assertLabName(labName)),
};

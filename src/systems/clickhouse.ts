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
 * Every statement's HTTP or server error is an error (the client throws on any non-200 answer);
 * mutations (`ALTER TABLE … DELETE`) and merges are waited for in `system.mutations` /
 * `system.merges`. 18.16 has no query parameters, so values are either validated numbers / hex
 * hashes or string literals escaped by `chString`; identifiers are validated and back-quoted.
 * Blob mode only (see docs/systems-sql.md).
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { ClickHouseClient } from '@clickhouse/client';
import { assertIdentifier } from './shared/identifiers.js';
import { BLOB_TABLE } from './shared/layout.js';
import { parseSystemOptions } from './shared/options.js';
import { DeleteDidNothingError, throwIfAborted } from './shared/stages.js';
import { checkVariant, numberOf, safeRead } from './postgresql.js';
import {
  assertLabName,
  type CellContext,
  type LabFile,
  type NotApplicable,
  type Probe,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';

export const CLICKHOUSE_VARIANTS = ['mergetree', 'replacing'] as const;
export type ClickhouseVariant = (typeof CLICKHOUSE_VARIANTS)[number];

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

export function clickhouseBlobTableDdl(lab: string, variant: ClickhouseVariant): string[] {
  const columns = '(id UInt32, name String, sha256 String, size UInt64, content String)';
  if (variant === 'mergetree') {
    return [`CREATE TABLE ${chQualified(lab, BLOB_TABLE)} ${columns} ENGINE = MergeTree() ORDER BY id`];
  }
  return [
    `CREATE TABLE ${chQualified(lab, BLOB_TABLE)} ${columns} ENGINE = ReplacingMergeTree() ORDER BY sha256`,
    `CREATE TABLE ${chQualified(lab, REFS_TABLE)} (id UInt32, sha256 String) ENGINE = MergeTree() ORDER BY id`,
  ];
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

export function rowBinaryRefRow(file: Pick<LabFile, 'id' | 'sha256'>): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32LE(assertFileId(file.id));
  const sha = Buffer.from(file.sha256, 'utf8');
  return Buffer.concat([id, varUInt(sha.length), sha]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class ClickhouseAdapter implements SystemAdapter {
  readonly id = 'clickhouse';
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
    if (cell.mode !== 'blob') throw new Error('clickhouse supports blob mode only');
    return checkVariant(CLICKHOUSE_VARIANTS, cell.variant, 'clickhouse');
  }

  async resetLab(cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    await this.command(`DROP DATABASE IF EXISTS ${chIdent(this.lab, 'database name')}`);
    await this.command(`CREATE DATABASE ${chIdent(this.lab, 'database name')}`);
    for (const statement of clickhouseBlobTableDdl(this.lab, variant)) await this.command(statement);
  }

  async dropLab(): Promise<void> {
    await this.command(`DROP DATABASE IF EXISTS ${chIdent(this.lab, 'database name')}`);
  }

  /** One streamed `INSERT … FORMAT RowBinary`; the server answers 200 only when every row is written. */
  private async insertStream(table: string, rows: AsyncIterable<Buffer>): Promise<void> {
    const result = await this.ch.exec({
      query: `INSERT INTO ${chQualified(this.lab, table)} FORMAT RowBinary`,
      values: Readable.from(rows, { objectMode: false }),
    });
    // Drain the (empty) answer so the connection returns to the pool.
    for await (const _chunk of result.stream) void _chunk;
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const variant = this.variantOf(cell);
    const seen: { id: number; sha256: string }[] = [];
    try {
      await this.insertStream(
        BLOB_TABLE,
        (async function* () {
          for await (const file of files) {
            throwIfAborted(cell.signal);
            seen.push({ id: file.id, sha256: assertSha256(file.sha256) });
            yield* rowBinaryBlobRow(file);
          }
        })(),
      );
      if (variant === 'replacing') {
        await this.insertStream(
          REFS_TABLE,
          (async function* () {
            for (const ref of seen) yield rowBinaryRefRow(ref);
          })(),
        );
      }
      return { acknowledged: seen.map((file) => file.id), failed: [] };
    } catch (error) {
      if (cell.signal.aborted) throw error;
      const message = error instanceof Error ? error.message : String(error);
      return { acknowledged: [], failed: seen.map((file) => ({ id: file.id, error: message })) };
    }
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    assertSha256(file.sha256);
    await this.insertStream(
      BLOB_TABLE,
      (async function* () {
        yield* rowBinaryBlobRow(file);
      })(),
    );
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
    if (variant === 'mergetree') {
      if ((await this.count(BLOB_TABLE, `id = ${id}`)) === 0) throw this.notStored(file);
      await this.mutateDelete(BLOB_TABLE, `id = ${id}`, cell.signal);
      const left = await this.count(BLOB_TABLE, `id = ${id}`);
      if (left !== 0) throw new Error(`delete of file ${id} left ${left} rows after its mutation finished`);
      return;
    }
    const refs = await this.count(REFS_TABLE, `id = ${id}`);
    if (refs === 0) throw this.notStored(file);
    const sha = chString(assertSha256(file.sha256));
    await this.mutateDelete(REFS_TABLE, `id = ${id}`, cell.signal);
    if ((await this.count(REFS_TABLE, `id = ${id}`)) !== 0) throw new Error(`delete of file ${id}: its reference survived the mutation`);
    // The content goes only when no other stored file references it (a duplicate may still be held).
    if ((await this.count(REFS_TABLE, `sha256 = ${sha}`)) === 0) {
      await this.mutateDelete(BLOB_TABLE, `sha256 = ${sha}`, cell.signal);
      if ((await this.count(BLOB_TABLE, `sha256 = ${sha}`)) !== 0) throw new Error(`delete of file ${id}: its content survived the mutation`);
    }
  }

  private notStored(file: LabFile): Error {
    return new DeleteDidNothingError(`delete did nothing: file ${file.id} (${file.name}) is not stored in ${this.lab}`);
  }

  async countStored(cell: CellContext): Promise<number> {
    return this.variantOf(cell) === 'replacing' ? this.count(REFS_TABLE) : this.count(BLOB_TABLE);
  }

  /** Rows physically present in the content table (the replacing variant's dedup shows here). */
  async countContentRows(): Promise<number> {
    return this.count(BLOB_TABLE);
  }

  async compact(cell: CellContext): Promise<void | NotApplicable> {
    await this.optimizeFinal(cell);
  }

  async maintenance(cell: CellContext): Promise<void | NotApplicable> {
    await this.optimizeFinal(cell);
  }

  /** `OPTIMIZE TABLE … FINAL` on every lab table with data, then wait for merges and mutations. */
  private async optimizeFinal(cell: CellContext): Promise<void> {
    const variant = this.variantOf(cell);
    await this.waitUntilIdle(cell.signal);
    for (const table of variant === 'replacing' ? [BLOB_TABLE, REFS_TABLE] : [BLOB_TABLE]) {
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

  async settle(cell: CellContext): Promise<void> {
    // Inserts write their parts synchronously; only wait for mutations a delete may have left.
    await this.waitUntilIdle(cell.signal);
  }

  private async activeBytes(client: ClickHouseClient): Promise<number> {
    return numberOf(await this.scalar(`SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = ${chString(this.lab)}`, client));
  }

  probes(_cell: CellContext): Probe[] {
    return [
      {
        name: 'internal',
        replicas: 1,
        settleTimeoutMs: this.options.settleTimeoutMs,
        pollIntervalMs: this.options.pollIntervalMs,
        read: () => safeRead(() => this.activeBytes(this.ch)),
      },
    ];
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
  modes: ['blob'],
  parseOptions: (raw) => parseSystemOptions('clickhouse', clickhouseOptionsSchema, raw),
  create: (instance, options, labName) => new ClickhouseAdapter(instance, options, assertLabName(labName)),
};

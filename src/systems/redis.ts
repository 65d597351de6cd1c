/**
 * Redis adapter (SPEC §5.2, §5.3): one key per file under the key prefix `<lab>:`.
 *
 * Variants:
 * - `by-id`: key `<lab>:f:<fileId>` = content.
 * - `by-content`: key `<lab>:c:<sha256>` = content (a duplicate file overwrites the same key, so
 *   the value is stored once), plus a reference index so that per-file deletes are exact: hash
 *   `<lab>:files` (fileId → sha256) and hash `<lab>:refs` (sha256 → number of files referencing
 *   it). A delete drops the file's reference and removes the content only when no other stored file
 *   references it. The index keys live in the lab namespace and are counted by the probe.
 *
 * Placement (SPEC §4.1) `across:K`: Redis has no tables, and other DB numbers are outside the lab
 * (and may be another user's), so "K objects" are K key sub-namespaces inside the lab prefix:
 * `<lab>:p<k>:` with their own `f:`, `c:`, `files` and `refs` keys; file i lives in namespace i mod
 * K. `by-content` therefore stores a content once per namespace that holds one of its files.
 * SCAN `<lab>:*` (probe, reset, dropLab) covers every namespace.
 *
 * Probes: `internal` = Σ `MEMORY USAGE key SAMPLES 0` over every lab key (SCAN MATCH `<lab>:*`,
 * pipelined); `memory` = `INFO memory` used_memory of the whole server (not only the lab).
 * Deletes use exact key lists (DEL), never FLUSHALL/FLUSHDB.
 */
import { z } from 'zod';
import type { Redis as RedisClient } from 'ioredis';
import { registerSecret } from '../config/secrets.js';
import { forEachFileLimited} from './kv-common.js';
import { SYSTEM_LAYER, sizeProbe } from './shared/probes.js';
import { errorMessage } from '../core/errors.js';
import { pipeSet, type PipeConnection } from './redis-pipe.js';
import { parseSystemOptions } from './shared/options.js';
import { notApplicable, throwIfAborted } from './shared/stages.js';
import { objectFor, objectNames } from './shared/placement.js';
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

const VARIANTS = ['by-id', 'by-content'] as const;
type RedisVariant = (typeof VARIANTS)[number];

const optionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535).default(6379),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    db: z.number().int().min(0).default(0),
    /**
     * Bulk load: commands go straight to the socket (ioredis writes each as soon as it is issued,
     * so they are pipelined on the wire) with at most this many bytes / files unanswered. Not an
     * ioredis `pipeline()`: that copies every value twice (per command, then the whole flush);
     * a direct command is copied once (bench/loading-kv.ts, docs/systems-kv.md).
     */
    inFlightBytes: z.number().int().min(1).default(16 * 1024 * 1024),
    inFlightFiles: z.number().int().min(1).default(256),
    connectTimeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();

export type RedisOptions = z.infer<typeof optionsSchema>;

/** Adds a file's reference: only a new fileId increments the content's reference count. */
const ADD_REF_SCRIPT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0`;

/**
 * Drops a file's reference; deletes the content key when nothing references it any more.
 * Returns -1 when the file is not stored, 0 when other files still reference the content, 1 when
 * the content was deleted.
 */
const DROP_REF_SCRIPT = `
local sha = redis.call('HGET', KEYS[1], ARGV[1])
if not sha then return -1 end
if sha ~= ARGV[2] then return redis.error_reply('file ' .. ARGV[1] .. ' is stored with another hash') end
redis.call('HDEL', KEYS[1], ARGV[1])
local left = redis.call('HINCRBY', KEYS[2], sha, -1)
if left <= 0 then
  redis.call('HDEL', KEYS[2], sha)
  redis.call('DEL', KEYS[3])
  return 1
end
return 0`;

function asVariant(variant: string): RedisVariant {
  if (!(VARIANTS as readonly string[]).includes(variant)) {
    throw new Error(`redis has no variant ${JSON.stringify(variant)}; valid: ${VARIANTS.join(', ')}`);
  }
  return variant as RedisVariant;
}

/** Parse `INFO` text into its `field:value` pairs. */
export function parseRedisInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

class RedisAdapter implements SystemAdapter {
  readonly id = 'redis';
  private client: RedisClient | null = null;
  private readonly prefix: string;

  constructor(
    readonly instance: string,
    private readonly options: RedisOptions,
    labName: string,
  ) {
    this.prefix = `${assertLabName(labName)}:`;
  }

  private get redis(): RedisClient {
    if (!this.client) throw new Error('redis adapter is not connected');
    return this.client;
  }

  /** The key namespace of file `fileId`: `<lab>:`, or `<lab>:p<k>:` under `across:K`. */
  private namespaceOf(cell: CellContext, fileId = 0): string {
    return `${objectFor(fileId, this.prefix.slice(0, -1), cell.placement, ':')}:`;
  }

  private namespacesOf(cell: CellContext): string[] {
    return objectNames(this.prefix.slice(0, -1), cell.placement, ':').map((name) => `${name}:`);
  }

  dataKey(file: Pick<LabFile, 'id' | 'sha256'>, variant: RedisVariant, namespace = this.prefix): string {
    return variant === 'by-id' ? `${namespace}f:${file.id}` : `${namespace}c:${file.sha256}`;
  }

  private filesKey(namespace: string): string {
    return `${namespace}files`;
  }

  private refsKey(namespace: string): string {
    return `${namespace}refs`;
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const { Redis } = await import('ioredis');
    const client = new Redis({
      host: this.options.host,
      port: this.options.port,
      username: this.options.username,
      password: this.options.password,
      db: this.options.db,
      lazyConnect: true,
      connectTimeout: this.options.connectTimeoutMs,
      maxRetriesPerRequest: 2,
      // Never reconnect forever behind the runner's back: the runner retries the cell instead.
      retryStrategy: (times: number) => (times > 3 ? null : 200 * times),
    });
    // ioredis emits 'error' events on connection problems; commands reject with them too.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      throw new Error(`redis: cannot connect to ${this.options.host}:${this.options.port}: ${errorMessage(error)}`, { cause: error });
    }
    this.client = client;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.quit().catch(() => client.disconnect());
  }

  async version(): Promise<string> {
    const info = parseRedisInfo(await this.redis.info('server'));
    return info.redis_version ?? 'unknown';
  }

  /** Every key under the lab prefix (SCAN MATCH; the lab name has no glob characters). */
  async labKeys(pattern = '*', namespace = this.prefix): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${namespace}${pattern}`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return [...new Set(keys)];
  }

  private async deleteLabKeys(): Promise<void> {
    const keys = await this.labKeys();
    for (let start = 0; start < keys.length; start += 500) {
      const chunk = keys.slice(start, start + 500);
      // Exact key lists only, and a last guard that every key is ours.
      if (chunk.some((key) => !key.startsWith(this.prefix))) throw new Error('refusing to delete a key outside the lab prefix');
      await this.redis.del(...chunk);
    }
  }

  async resetLab(cell: CellContext): Promise<void> {
    asVariant(cell.variant);
    await this.deleteLabKeys();
    const left = await this.labKeys();
    if (left.length > 0) throw new Error(`redis: ${left.length} lab keys survived the reset`);
  }

  async dropLab(): Promise<void> {
    await this.deleteLabKeys();
  }

  /** Write one file; resolves when Redis acknowledged every command of it. */
  private async writeFile(file: LabFile, variant: RedisVariant, namespace: string): Promise<void> {
    // Both commands are issued before either is awaited: they leave in order on one connection.
    const set = this.redis.set(this.dataKey(file, variant, namespace), file.content);
    const ref = variant === 'by-content' ? this.redis.eval(ADD_REF_SCRIPT, 2, this.filesKey(namespace), this.refsKey(namespace), String(file.id), file.sha256) : null;
    const [setReply] = await Promise.all([set, ref]);
    if (setReply !== 'OK') throw new Error(`redis: SET answered ${String(setReply)}`);
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    const variant = asVariant(cell.variant);
    throwIfAborted(cell.signal);
    // by-id is plain SETs: a raw RESP pipeline like redis-cli --pipe (see redis-pipe.ts). by-content
    // also runs a reference-counting script per file, so it keeps the client's pipelining.
    const outcome =
      variant === 'by-id'
        ? await pipeSet(this.pipeConnection(), this.keyed(files, variant, cell), this.options.inFlightBytes, cell.signal)
        : await forEachFileLimited(
            files,
            { files: this.options.inFlightFiles, bytes: this.options.inFlightBytes },
            cell.signal,
            (file) => this.writeFile(file, variant, this.namespaceOf(cell, file.id)),
          );
    throwIfAborted(cell.signal);
    return outcome;
  }

  private pipeConnection(): PipeConnection {
    const { host, port, username, password, db, connectTimeoutMs } = this.options;
    return { host, port, username, password, db, connectTimeoutMs };
  }

  private async *keyed(files: AsyncIterable<LabFile>, variant: RedisVariant, cell: CellContext): AsyncIterable<{ key: string; file: LabFile }> {
    for await (const file of files) yield { key: this.dataKey(file, variant, this.namespaceOf(cell, file.id)), file };
  }

  compact(): Promise<NotApplicable> {
    return Promise.resolve(
      notApplicable('Redis has no compaction: values are stored as written and a key overwrite replaces the value at once'),
    );
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    await this.writeFile(file, asVariant(cell.variant), this.namespaceOf(cell, file.id));
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    const namespace = this.namespaceOf(cell, file.id);
    if (variant === 'by-id') {
      const removed = await this.redis.del(this.dataKey(file, variant, namespace));
      if (removed !== 1) throw new Error(`redis: delete of file ${file.id} did nothing (key not stored)`);
      return;
    }
    const result = await this.redis.eval(
      DROP_REF_SCRIPT,
      3,
      this.filesKey(namespace),
      this.refsKey(namespace),
      this.dataKey(file, variant, namespace),
      String(file.id),
      file.sha256,
    );
    if (result === -1) throw new Error(`redis: delete of file ${file.id} did nothing (file not stored)`);
  }

  maintenance(): Promise<NotApplicable> {
    return Promise.resolve(
      notApplicable('Redis has no space-reclaiming command for deleted keys; memory is freed on DEL'),
    );
  }

  // SPEC §4.1 capabilities.
  /** by-id: DELs of the exact keys; by-content: the reference-dropping script per file, all pipelined in one round trip. */
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    const pipeline = this.redis.pipeline();
    for (const file of files) {
      const namespace = this.namespaceOf(cell, file.id);
      if (variant === 'by-id') pipeline.del(this.dataKey(file, variant, namespace));
      else pipeline.eval(DROP_REF_SCRIPT, 3, this.filesKey(namespace), this.refsKey(namespace), this.dataKey(file, variant, namespace), String(file.id), file.sha256);
    }
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  truncate(): Promise<NotApplicable> {
    return Promise.resolve(notApplicable('Redis has no truncate for part of a database: FLUSHDB would empty the whole database, keys outside the lab included'));
  }

  dropAndRecreate(): Promise<NotApplicable> {
    return Promise.resolve(notApplicable('Redis has no table or bucket to drop: the lab is a key prefix'));
  }

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const variant = asVariant(cell.variant);
    const namespace = this.namespaceOf(cell, file.id);
    if (variant === 'by-content' && (await this.redis.hexists(this.filesKey(namespace), String(file.id))) !== 1) throw new Error(`redis: file ${file.id} is not stored`);
    const value = await this.redis.getBuffer(this.dataKey(file, variant, namespace));
    if (value === null) throw new Error(`redis: file ${file.id} is not stored`);
    return value;
  }

  dropCaches(): Promise<NotApplicable> {
    return Promise.resolve(notApplicable('Redis keeps every value in memory: there is no cache to drop, so a cold read is the warm read'));
  }

  async countStored(cell: CellContext): Promise<number> {
    const variant = asVariant(cell.variant);
    let stored = 0;
    for (const namespace of this.namespacesOf(cell)) stored += variant === 'by-id' ? (await this.labKeys('f:*', namespace)).length : await this.redis.hlen(this.filesKey(namespace));
    return stored;
  }

  settle(): Promise<void> {
    // Redis applies every write and delete before it answers: nothing to flush.
    return Promise.resolve();
  }

  /** Σ MEMORY USAGE over the lab keys (pipelined in chunks). */
  async labMemoryUsage(): Promise<number> {
    const keys = await this.labKeys();
    let total = 0;
    for (let start = 0; start < keys.length; start += 1000) {
      const pipeline = this.redis.pipeline();
      for (const key of keys.slice(start, start + 1000)) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      const replies = (await pipeline.exec()) ?? [];
      for (const [error, value] of replies) {
        if (error) throw error;
        // A key deleted between SCAN and MEMORY USAGE answers nil: it holds nothing.
        if (value !== null) total += Number(value);
      }
    }
    return total;
  }

  async usedMemory(): Promise<number> {
    const info = parseRedisInfo(await this.redis.info('memory'));
    const used = Number(info.used_memory);
    if (!Number.isFinite(used)) throw new Error('redis: INFO memory has no used_memory');
    return used;
  }

  probes(): Probe[] {
    return [
      sizeProbe('internal', SYSTEM_LAYER, () => this.labMemoryUsage(), { settleTimeoutMs: 10_000, pollIntervalMs: 100 }),
      // Whole-server memory (allocator included): other clients' keys move it too.
      sizeProbe('memory', { layer: 'memory' }, () => this.usedMemory(), { settleTimeoutMs: 10_000, pollIntervalMs: 100 }),
    ];
  }

  localDataPaths(): string[] {
    // The test server runs without persistence (no RDB/AOF); a persistent server's files would be
    // written asynchronously and are not the lab's alone.
    return [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    const info = parseRedisInfo(await this.redis.info('memory'));
    const out: Record<string, number> = {};
    for (const field of ['used_memory', 'used_memory_rss']) {
      const value = Number(info[field]);
      if (Number.isFinite(value)) out[field] = value;
    }
    return out;
  }
}

export const definition: SystemDefinition<RedisOptions> = {
  id: 'redis',
  kind: 'server',
  variants: VARIANTS,
  modes: ['blob'],
  placementAcross: true,
  parseOptions(raw: unknown): RedisOptions {
    const options = parseSystemOptions('redis', optionsSchema, raw);
    registerSecret(options.password);
    return options;
  },
  create(instance: string, options: RedisOptions, labName: string): SystemAdapter {
    return new RedisAdapter(instance, options, labName);
  },
};

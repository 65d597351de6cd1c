/**
 * The PGlite host: a child process that owns one PGlite (WASM PostgreSQL) instance for one data
 * dir and answers the `pglite` adapter's requests over Node's IPC channel.
 *
 * Why a separate process: PGlite's WASM heap and compiled module took 400–950 MiB RSS (now
 * 180–193 MiB with the settings below), which the dedup-lab process cannot add to its own within
 * SPEC §10's 256 MiB. Here it is the "database engine" beside the tool,
 * like a server, and the tool's own RSS stays small. Started by `src/systems/pglite.ts` with
 * `child_process.fork(…, { serialization: 'advanced' })`, so Uint8Array values (bytea, COPY
 * payloads) cross without base64.
 *
 * Lifetime (shared/host-process.ts, serveHost): exits after `close`, and when the parent goes away
 * (IPC `disconnect`), so a killed dedup-lab never leaves an orphan holding the data dir.
 * SIGINT/SIGTERM are ignored: a Ctrl-C in the terminal reaches the whole process group, and the
 * tool's rule is "finish the current operation, then close" — the parent closes this host (or
 * disconnects) when it is done.
 *
 * Protocol: one request → one response, matched by `id`. Transactions are held open here through
 * PGlite's own `transaction()` (so queries outside the transaction — e.g. the trace sampler's —
 * wait for it instead of running inside it).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite, QueryOptions, Transaction } from '@electric-sql/pglite';
import { dedupLabCacheRoot } from '../config/cache.js';
import { bufferCollector } from '../core/gc.js';
import { log } from '../core/log.js';
import { serveHost, type CloseRequest, type HostedEngine, type RemoteError, type HostResponse as GenericHostResponse } from './shared/host-process.js';

export type HostRequest =
  | { id: number; op: 'query'; sql: string; params?: unknown[]; txId?: number; blobParts?: Uint8Array[] }
  | { id: number; op: 'exec'; sql: string; txId?: number }
  | { id: number; op: 'begin'; txId: number }
  | { id: number; op: 'commit'; txId: number }
  | { id: number; op: 'rollback'; txId: number }
  | CloseRequest;

export interface HostQueryResult {
  rows: Record<string, unknown>[];
  affectedRows: number;
}

/** A PostgreSQL error as it crossed the process boundary: message and SQLSTATE preserved. */
export type HostError = RemoteError;

export type HostResponse = GenericHostResponse<HostQueryResult | HostQueryResult[]>;

interface OpenTransaction {
  tx: Transaction;
  /** Set when a statement inside failed: PostgreSQL would turn a later COMMIT into a silent ROLLBACK. */
  failed: string | null;
  decide(action: 'commit' | 'rollback'): void;
  finished: Promise<void>;
}

/** PostgreSQL's type oid of `bytea` (pg_type.oid, fixed since PostgreSQL 7). */
const BYTEA_OID = 17;

/**
 * `bytea` parameters go to PostgreSQL in the wire protocol's **binary** format, the bytes as they
 * are. PGlite 0.5.17's own bytea serializer builds the text (hex) form in JavaScript —
 * `'\\x' + Array.from(bytes).map((b) => b.toString(16).padStart(2, '0')).join('')` — which for
 * one 512 KiB file is an array of 524 288 numbers, another of as many two-character strings and a
 * 1 MiB string: ≈ 20–30 MiB of V8 heap garbage per INSERT, and twice the bytes for PostgreSQL to
 * parse. pg-protocol's Bind writer sends any ArrayBuffer view as a binary parameter (format 1), and
 * PostgreSQL's `bytearecv` takes the bytes unchanged, so the stored value is the same.
 * Measured (standalone PGlite, 100 INSERTs of 512 KiB random bytea, --liftoff-only, load ≈ 14):
 * peak RSS 615 → 293 MiB, V8 heap total 240 → 22 MiB, 24.8 s → 2.6 s. Anything that is not a
 * Uint8Array goes to PGlite's own serializer (which refuses it, as before).
 */
function byteaParameter(value: unknown): string {
  // The Serializer type says string; pg-protocol's Bind writes an ArrayBuffer view as binary.
  if (value instanceof Uint8Array) return value as unknown as string;
  return defaultByteaSerializer(value);
}

/**
 * `bytea` results arrive as PostgreSQL's hex text (`\x…`; PGlite's Bind asks for text results).
 * PGlite's parser decodes it with one `parseInt(substring)` per byte; Buffer's native hex decoder
 * gives the same bytes (a plain Uint8Array, like PGlite's) without a string per byte: the read of
 * 100 files of 512 KiB took 17.1 s → 2.7 s in the same measurement.
 */
function byteaResult(text: string): Uint8Array {
  if (!text.startsWith('\\x')) throw new Error(`bytea result is not in hex format (bytea_output): ${text.slice(0, 20)}`);
  const bytes = Buffer.from(text.slice(2), 'hex');
  if (bytes.length * 2 !== text.length - 2) throw new Error('bytea result is not valid hex');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

let defaultByteaSerializer: (value: unknown) => string = () => {
  throw new Error('PGlite host: bytea serializer used before PGlite was loaded');
};

/** Per-query options of every statement the host runs: the two bytea paths above (top-level values only; arrays keep PGlite's own). */
const QUERY_OPTIONS: QueryOptions = { serializers: { [BYTEA_OID]: byteaParameter }, parsers: { [BYTEA_OID]: byteaResult } };

function plain(result: { rows: unknown[]; affectedRows?: number }): HostQueryResult {
  return { rows: result.rows as Record<string, unknown>[], affectedRows: result.affectedRows ?? 0 };
}

class Host implements HostedEngine<HostRequest, HostQueryResult | HostQueryResult[]> {
  private readonly transactions = new Map<number, OpenTransaction>();
  private closing = false;

  constructor(private readonly db: PGlite) {}

  async handle(request: Exclude<HostRequest, CloseRequest>): Promise<HostQueryResult | HostQueryResult[] | undefined> {
    switch (request.op) {
      case 'query': {
        // A Blob cannot cross the IPC channel; the COPY payload arrives as parts and becomes one here.
        const options = request.blobParts ? { ...QUERY_OPTIONS, blob: new Blob(request.blobParts as BlobPart[]) } : QUERY_OPTIONS;
        return this.inTransactionOrNot(request.txId, async (target) => plain(await target.query(request.sql, request.params, options)));
      }
      case 'exec':
        return this.inTransactionOrNot(request.txId, async (target) => (await target.exec(request.sql, QUERY_OPTIONS)).map(plain));
      case 'begin':
        await this.begin(request.txId);
        return undefined;
      case 'commit':
        await this.finish(request.txId, 'commit');
        return undefined;
      case 'rollback':
        await this.finish(request.txId, 'rollback');
        return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const open of this.transactions.values()) open.decide('rollback');
    await Promise.allSettled([...this.transactions.values()].map((open) => open.finished));
    await this.db.close();
  }

  private async inTransactionOrNot<T>(txId: number | undefined, run: (target: PGlite | Transaction) => Promise<T>): Promise<T> {
    if (txId === undefined) return run(this.db);
    const open = this.transactions.get(txId);
    if (!open) throw new Error(`PGlite host: transaction ${txId} is not open`);
    try {
      return await run(open.tx);
    } catch (error) {
      open.failed ??= error instanceof Error ? error.message : String(error);
      throw error;
    }
  }

  /** Resolves once BEGIN ran and the transaction accepts statements; it stays open until finish(). */
  private begin(txId: number): Promise<void> {
    if (this.transactions.has(txId)) return Promise.reject(new Error(`PGlite host: transaction ${txId} is already open`));
    return new Promise<void>((started, failedToStart) => {
      let decide!: (action: 'commit' | 'rollback') => void;
      const decision = new Promise<'commit' | 'rollback'>((resolve) => (decide = resolve));
      let opened = false;
      const finished = this.db.transaction(async (tx) => {
        this.transactions.set(txId, { tx, failed: null, decide, finished });
        opened = true;
        started();
        if ((await decision) === 'rollback') await tx.rollback();
      });
      finished.catch((error: unknown) => {
        if (!opened) failedToStart(error);
      });
    });
  }

  private async finish(txId: number, action: 'commit' | 'rollback'): Promise<void> {
    const open = this.transactions.get(txId);
    if (!open) throw new Error(`PGlite host: transaction ${txId} is not open`);
    const failed = open.failed;
    // A COMMIT after a failed statement would be a silent ROLLBACK in PostgreSQL: refuse it loudly.
    open.decide(failed !== null ? 'rollback' : action);
    try {
      await open.finished;
    } finally {
      this.transactions.delete(txId);
    }
    if (action === 'commit' && failed !== null) throw new Error(`transaction rolled back: a statement in it failed (${failed})`);
  }
}

/**
 * Where the template cluster of this PGlite version lives: `$XDG_CACHE_HOME/dedup-lab/` (default
 * `~/.cache/dedup-lab/`), keyed by the package version so an upgrade never reuses an old cluster.
 */
export function pgliteTemplateDir(env: NodeJS.ProcessEnv = process.env): string {
  const packageJson = join(dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))), '..', 'package.json');
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  return join(dedupLabCacheRoot(env), `pglite-${version}-template`);
}

/**
 * A new data dir starts as a copy of a cleanly closed, freshly initialised cluster instead of
 * running PGlite's initdb (6–20 s and ~500 MiB more peak memory on every new data dir; a copy
 * takes milliseconds). The copy is byte-for-byte what initdb would write, so results do not
 * change. The template is built once per PGlite version, in a private folder renamed into
 * place, so concurrent processes never see half of one. When there is no template (the cache
 * folder cannot be written, say), initdb still runs outside the host, in the data dir itself;
 * only if that fails too does PGlite run it in the host, as it would on its own.
 */
async function seedFromTemplate(dataDir: string): Promise<void> {
  // Only an empty folder is seeded: an existing cluster (or anything else) is left as it is.
  if (readdirSync(dataDir).length > 0) return;
  try {
    const template = pgliteTemplateDir();
    if (!existsSync(join(template, 'PG_VERSION'))) await buildTemplate(template);
    cpSync(template, dataDir, { recursive: true });
    return;
  } catch (error) {
    emptyFolder(dataDir); // a partial copy must not be opened
    log.warn(`pglite template not used (${messageOf(error)}); running initdb in a process of its own`);
  }
  try {
    await initdbApart(dataDir);
  } catch (error) {
    emptyFolder(dataDir);
    log.warn(`${messageOf(error)}; PGlite runs initdb in its host`);
  }
}

/**
 * PGlite's initdb in a short-lived process of its own: it peaks at ≈ 440 MiB (measured on a fresh
 * machine, 2026-12-04), and run in the host it made the host's peak that for the whole run, the
 * first one on a machine; this way the host stays within its bound and the cost is paid once per
 * machine and PGlite version, outside it.
 */
function initdbApart(folder: string): Promise<void> {
  const pglite = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)}); const db = new PGlite(${JSON.stringify(folder)}); await db.waitReady; await db.close();`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 300_000 }, (error, _stdout, stderr) => {
      const lastLine = stderr.trim().split('\n').at(-1);
      if (error) reject(new Error(`initdb in a process of its own failed: ${lastLine || error.message}`));
      else resolve();
    });
  });
}

async function buildTemplate(template: string): Promise<void> {
  const building = `${template}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    await initdbApart(building);
    renameSync(building, template);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    // Another process was faster: its template is as good as ours.
    if (!existsSync(join(template, 'PG_VERSION'))) throw error;
  }
}

function emptyFolder(folder: string): void {
  for (const entry of readdirSync(folder)) rmSync(join(folder, entry), { recursive: true, force: true });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `shared_buffers` of the host's PostgreSQL (PGlite's default is PostgreSQL's 128MB). The buffer
 * pool lives in the WASM linear memory, and 128MB made it grow from 128 to 189 MiB; 16MB keeps it
 * at its initial 128 MiB and took 115–140 MiB off the host's RSS. Every write still reaches the
 * data files at CHECKPOINT (settle() runs one before each probe), so what the probes see is the
 * same; only how much PostgreSQL caches between checkpoints changes. docs/systems-embedded.md,
 * "PGlite host process".
 */
export const PGLITE_SHARED_BUFFERS = '16MB';

/** PGlite's own start parameters, then the settings above (a later `-c` wins). */
export function pgliteStartParams(defaults: readonly string[]): string[] {
  return [...defaults, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
}

/**
 * A young-generation GC (src/core/gc.ts) after every answered request, and a full one when the
 * ArrayBuffers still alive pass PGLITE_HOST_BUFFER_LIMIT_BYTES.
 * Each request leaves its bytes behind in ArrayBuffers that only a GC frees: the IPC message
 * buffer, the Bind message PGlite builds (pg-protocol copies a binary parameter three times), the
 * COPY batch (Blob and its ArrayBuffer), the decoded bytea results and the serialized answer.
 * The host's JavaScript heap is small, so V8 collected them late — 50–130 MiB of dead
 * ArrayBuffers were seen between two GCs. A scavenge of a 1–2 MiB young generation takes well
 * under a millisecond. It does not free a buffer whose wrapper was still in use at two scavenges
 * (moved to the old generation): in about one `--total-size 256MiB` run in three those piled up
 * through the bulk load, to a host peak of 428–439 MiB instead of 170–196 MiB (2026-12-04).
 */
let collectRequestGarbage: (() => void) | null | undefined;
function freeRequestBuffers(): void {
  // Made on first use: importing this module (the tool does, for types) must not expose V8's gc.
  collectRequestGarbage ??= bufferCollector(PGLITE_HOST_BUFFER_LIMIT_BYTES);
  collectRequestGarbage?.();
}

/**
 * Live ArrayBuffer bytes in the host above which a request's end runs a full GC. A COPY batch lives
 * in the host about four times (PGLITE_MAX_BATCH_BYTES, 2 MiB), a read answer as often; 32 MiB is
 * well above that, so a full GC (a few ms) runs only when old buffers have piled up.
 */
export const PGLITE_HOST_BUFFER_LIMIT_BYTES = 32 * 1024 * 1024;

async function open(dataDir: string): Promise<Host> {
  const { PGlite, types } = await import('@electric-sql/pglite');
  defaultByteaSerializer = types.serializers[BYTEA_OID]!;
  await seedFromTemplate(dataDir);
  const db = new PGlite(dataDir, { startParams: pgliteStartParams(PGlite.defaultStartParams) });
  await db.waitReady;
  return new Host(db);
}

/** First argument of a forked host; nothing else starts the host's main loop. */
export const HOST_FLAG = '--dedup-lab-pglite-host';

// Runs only as the forked host: importing this module (types, the template path) starts nothing.
if (process.send && process.argv[2] === HOST_FLAG && process.argv[3]) {
  const dataDir = process.argv[3];
  serveHost(() => open(dataDir), freeRequestBuffers);
}

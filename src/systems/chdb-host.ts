/**
 * The chdb host: a child process that loads the `chdb` native library (ClickHouse 26.x) and owns
 * one chdb `Session` on one data path, answering the `chdb` adapter's requests over Node's IPC
 * channel (shared/host-process.ts: fork with `serialization: 'advanced'`, so Buffers and
 * Uint8Arrays cross without base64).
 *
 * Why a separate process: the engine takes ≈ 290 MiB of resident memory open on an empty lab and
 * 614 MiB at `--total-size 256MiB` when it ran inside the dedup-lab process, which SPEC §10 allows
 * 256 MiB. Here it is the database engine beside the tool, like a server.
 *
 * Protocol (one request → one response, by `id`): `query` (SQL and output format; the result as
 * text, or as bytes when asked), `insert` (chdb's raw insert of a TabSeparated payload), `reset`
 * (close the session, delete the data path, open a fresh session on it: a truly empty lab without
 * a new process), `version`, `close`. Lifetime and signals: serveHost.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { serveHost, type CloseRequest, type HostedEngine } from './shared/host-process.js';

export type ChdbHostRequest =
  | { id: number; op: 'query'; sql: string; format?: string; bytes?: boolean }
  | { id: number; op: 'insert'; table: string; values: Uint8Array; format: 'TabSeparated' }
  | { id: number; op: 'reset' }
  | { id: number; op: 'version' }
  | CloseRequest;

/** `query`: the text (or the bytes, with `bytes: true`); `insert`: rows written; `version`: chdb's package version. */
export type ChdbHostResult = string | Uint8Array | number;

/** The slice of chdb's API the host uses (typed here: the package is optional, so tsc may not see it). */
interface ChdbResult {
  text(): string;
  bytes(): Uint8Array;
}
interface ChdbSession {
  queryAsync(query: string, options?: { format?: string }): Promise<ChdbResult>;
  insert(params: { table: string; values: Buffer; format: 'TabSeparated' }): Promise<{ rowsWritten: number }>;
  close(): void;
}
export interface ChdbSessionOptions {
  connectionArgs?: string[];
}
interface ChdbApi {
  Session: new (path: string, options?: ChdbSessionOptions) => ChdbSession;
  version(): { chdb: string; libchdb: string };
  drainPending?: () => Promise<void>;
}

/**
 * Engine arguments of the host's session (`clickhouse local` command-line form). Empty: neither
 * `max_threads=1` nor `input_format_parallel_parsing=0` lowered the host's peak (435–438 MiB with
 * or without them, 256 MiB bulk + read; docs/systems-embedded.md, "chdb host process").
 */
export const CHDB_CONNECTION_ARGS: readonly string[] = [];

class Host implements HostedEngine<ChdbHostRequest, ChdbHostResult> {
  private session: ChdbSession | null;

  constructor(
    private readonly api: ChdbApi,
    private readonly path: string,
  ) {
    this.session = this.open();
  }

  private open(): ChdbSession {
    mkdirSync(this.path, { recursive: true });
    return new this.api.Session(this.path, { connectionArgs: [...CHDB_CONNECTION_ARGS] });
  }

  private get db(): ChdbSession {
    if (!this.session) throw new Error(`chdb host: the session on ${this.path} is closed`);
    return this.session;
  }

  async handle(request: Exclude<ChdbHostRequest, CloseRequest>): Promise<ChdbHostResult | undefined> {
    switch (request.op) {
      case 'query': {
        const result = await this.db.queryAsync(request.sql, request.format ? { format: request.format } : {});
        return request.bytes ? result.bytes() : result.text();
      }
      case 'insert': {
        const values = Buffer.from(request.values.buffer, request.values.byteOffset, request.values.byteLength);
        return (await this.db.insert({ table: request.table, values, format: request.format })).rowsWritten;
      }
      case 'reset':
        await this.closeSession();
        rmSync(this.path, { recursive: true, force: true });
        this.session = this.open();
        return undefined;
      case 'version':
        return this.api.version().chdb;
    }
  }

  async close(): Promise<void> {
    await this.closeSession();
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    this.session = null;
    session?.close();
    // close() returns before the engine has let go when work is still in flight.
    await this.api.drainPending?.();
  }
}

/** First argument of a forked host; nothing else starts the host's main loop. */
export const CHDB_HOST_FLAG = '--dedup-lab-chdb-host';

async function open(path: string): Promise<Host> {
  const specifier = 'chdb'; // a variable: tsc must not require the optional package's types
  const api = (await import(specifier)) as ChdbApi;
  return new Host(api, path);
}

// Runs only as the forked host: importing this module (its types) starts nothing.
if (process.send && process.argv[2] === CHDB_HOST_FLAG && process.argv[3]) {
  const path = process.argv[3];
  serveHost<ChdbHostRequest, ChdbHostResult>(() => open(path));
}

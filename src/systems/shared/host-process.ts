/**
 * An embedded engine in a child process of its own (a "host"), for engines whose memory the
 * dedup-lab process cannot hold within SPEC §10's 256 MiB: PGlite (`pglite-host.ts`) and chdb
 * (`chdb-host.ts`). The host is the database engine beside the tool, like a server.
 *
 * Client side (`HostProcess`, `HostPool`): `child_process.fork(…, { serialization: 'advanced' })`
 * so Buffers and Uint8Arrays cross without base64; one request → one response matched by `id`; a
 * host that dies is a lost connection (every pending and later call rejects with the engine's
 * lost-connection error, naming the pid, how it ended and the tail of its output); an idle host
 * does not keep the event loop alive; `close()` waits until the process is gone. `HostPool`
 * shares one host per key (a data path) by reference count and never lets a new host start on a
 * key while the previous one is still exiting.
 *
 * Host side (`serveHost`): answers requests, exits after `close` and when the parent goes away
 * (IPC `disconnect`), ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole process group; the
 * tool's rule is "finish the current operation, then close").
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { log } from '../../core/log.js';

/** An error the engine (or the host) raised, as it crossed the process boundary. */
export interface RemoteError {
  message: string;
  name: string;
  code?: string;
  detail?: string;
  hint?: string;
}

export type HostResponse<Result> = { id: number; ok: true; result?: Result } | { id: number; ok: false; error: RemoteError };

/** First message after start-up: ready, or failed with why. */
export type HostHello = { hello: 'ready' } | { hello: 'failed'; error: RemoteError };

/** Every host understands `close`: shut the engine down cleanly, answer, exit. */
export interface CloseRequest {
  id: number;
  op: 'close';
}

/** `Omit<Request, 'id'>` distributed over a union (a plain Omit would lose the op-specific fields). */
export type WithoutId<Request> = Request extends unknown ? Omit<Request, 'id'> : never;

export function toRemoteError(error: unknown): RemoteError {
  if (!(error instanceof Error)) return { message: String(error), name: 'Error' };
  const fields = error as Error & { code?: unknown; detail?: unknown; hint?: unknown };
  return {
    message: error.message,
    name: error.name,
    ...(typeof fields.code === 'string' ? { code: fields.code } : {}),
    ...(typeof fields.detail === 'string' ? { detail: fields.detail } : {}),
    ...(typeof fields.hint === 'string' ? { hint: fields.hint } : {}),
  };
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

/**
 * The host module `name` beside the client module at `clientUrl`: `.ts` run through tsx from
 * source, `.js` once built. tsx is resolved here, not by the child: the child's cwd (the user's)
 * need not see our node_modules.
 */
export function hostEntry(clientUrl: string, name: string, v8Flags: readonly string[] = []): { file: string; execArgv: string[] } {
  const typescript = clientUrl.endsWith('.ts');
  const file = fileURLToPath(new URL(`./${name}${typescript ? '.ts' : '.js'}`, clientUrl));
  return { file, execArgv: [...v8Flags, ...(typescript ? ['--import', import.meta.resolve('tsx')] : [])] };
}

export interface HostSpec {
  /** The engine, in messages: `PGlite`, `chdb`. */
  engine: string;
  /** What the host serves, in messages (its data path). */
  target: string;
  /** From hostEntry(). */
  entry: { file: string; execArgv: string[] };
  args: readonly string[];
  /** Environment additions; a value the user set is kept. */
  env?: Record<string, string>;
  /** The engine's lost-connection error (the runner retries it). */
  lost(message: string): Error;
  /** An error the host answered a request with (or failed to start with). */
  failed(error: RemoteError): Error;
}

/** Lines of `stream` that start `warning: ` go to the tool's log as they come. */
function forwardWarnings(stream: NodeJS.ReadableStream): void {
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith(WARNING_PREFIX)) log.warn(line.slice(WARNING_PREFIX.length));
  });
}
const WARNING_PREFIX = 'warning: ';

/** How much of the host's stdout/stderr to keep for the error message when it dies. */
const HOST_OUTPUT_TAIL = 4096;

export class HostProcess<Request extends { id: number; op: string }, Result> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (response: HostResponse<Result>) => void; reject: (error: Error) => void }>();
  private lost: Error | null = null;
  private output = '';
  private closing = false;
  /** Resolves when the host process has ended (a new host may open the data path only then). */
  readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly spec: HostSpec,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-HOST_OUTPUT_TAIL));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // The host's own warnings (log.warn there) are the user's to see, not only when it dies.
    if (child.stderr) forwardWarnings(child.stderr);
    child.on('message', (message: HostResponse<Result>) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      this.updateRef();
      waiting.resolve(message);
    });
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.output.trim() ? `; its last output: ${this.output.trim().slice(-500)}` : '';
      this.markLost(spec.lost(`${spec.engine} host process ${child.pid} for ${spec.target} ${how} — connection lost${tail}`));
    });
    child.on('error', (error) => this.markLost(spec.lost(`${spec.engine} host process for ${spec.target} failed: ${error.message}`)));
  }

  /** Fork a host and wait until the engine inside it is ready. */
  static start<Request extends { id: number; op: string }, Result>(spec: HostSpec): Promise<HostProcess<Request, Result>> {
    const child = fork(spec.entry.file, [...spec.args], {
      execArgv: spec.entry.execArgv,
      env: { ...spec.env, ...process.env },
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const host = new HostProcess<Request, Result>(child, spec);
    return new Promise((resolve, reject) => {
      const onHello = (message: HostHello | HostResponse<Result>) => {
        if (!('hello' in message)) return;
        child.off('message', onHello);
        child.off('exit', onExit);
        if (message.hello === 'ready') {
          host.updateRef();
          resolve(host);
        } else {
          reject(spec.failed({ ...message.error, message: `${spec.engine} could not open ${spec.target}: ${message.error.message}` }));
        }
      };
      const onExit = () => {
        child.off('message', onHello);
        reject(host.lost ?? spec.lost(`${spec.engine} host for ${spec.target} exited during start-up`));
      };
      child.on('message', onHello);
      child.once('exit', onExit);
    });
  }

  /** Process id of the host (the process that holds the engine's memory). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.lost === null;
  }

  /** Resident and peak resident bytes of the host, from /proc/<pid>/status (null once it is gone). */
  memory(): { rssBytes: number; peakRssBytes: number } | null {
    return this.lost || this.child.pid === undefined ? null : processMemory(this.child.pid);
  }

  request(request: WithoutId<Request>): Promise<Result | undefined> {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (response) => (response.ok ? resolve(response.result) : reject(this.spec.failed(response.error))),
        reject,
      });
      this.updateRef();
      this.child.send({ ...request, id }, (error) => {
        if (error) this.markLost(this.spec.lost(`${this.spec.engine} host process ${this.child.pid} for ${this.spec.target} cannot be reached: ${error.message}`));
      });
    });
  }

  /** Close the engine cleanly and wait for the host to exit (a lost host is already gone). */
  async close(): Promise<void> {
    if (this.lost) return this.exited;
    // Waiting for the exit must keep the event loop alive (see updateRef).
    this.closing = true;
    this.updateRef();
    try {
      await this.request({ op: 'close' } as WithoutId<Request>);
    } catch (error) {
      if (error !== this.lost) throw error;
    }
    await this.exited;
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

  private markLost(error: Error): void {
    this.lost ??= error;
    // Unreachable but maybe still running: end it, so a fresh host never shares the data path with it.
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    for (const waiting of this.pending.values()) waiting.reject(this.lost);
    this.pending.clear();
    this.updateRef();
  }
}

/**
 * What an engine's client shares with every other: a host process behind it, its pid, whether it
 * is still there, its memory, and close. The engine's client adds its own requests on `host`.
 */
export abstract class HostClient<Request extends { id: number; op: string }, Result> {
  protected constructor(protected readonly host: HostProcess<Request, Result>) {}

  /** Process id of the host (the process that holds the engine's memory). */
  get pid(): number {
    return this.host.pid;
  }

  get alive(): boolean {
    return this.host.alive;
  }

  /** Resolves when the host process has ended (a new host may open the data path only then). */
  get exited(): Promise<void> {
    return this.host.exited;
  }

  /** Resident and peak resident bytes of the host, from /proc/<pid>/status (null once it is gone). */
  memory(): { rssBytes: number; peakRssBytes: number } | null {
    return this.host.memory();
  }

  /** Close the engine cleanly and wait for the host to exit (a lost host is already gone). */
  close(): Promise<void> {
    return this.host.close();
  }
}

// ---- one shared host per key ----------------------------------------------------------------------

interface Closable {
  readonly alive: boolean;
  readonly exited: Promise<void>;
  close(): Promise<void>;
}

export interface HostHandle<Client> {
  client: Client;
  /** Drop this reference; the host closes when the last one is released. */
  release(): Promise<void>;
}

interface SharedHost<Client> {
  client: Client;
  refs: number;
  /** Set when the last reference went: the host is closing, a new user must wait for a fresh one. */
  closing: boolean;
}

/**
 * One host per key (a data path) in this process, shared by reference count: opening one data
 * path from two engines at once would corrupt it (PGlite) or be refused (chdb).
 */
export class HostPool<Client extends Closable> {
  private readonly hosts = new Map<string, Promise<SharedHost<Client>>>();

  constructor(private readonly start: (key: string) => Promise<Client>) {}

  async acquire(key: string): Promise<HostHandle<Client>> {
    const { entry, shared } = await this.shared(key);
    shared.refs++;
    let released = false;
    return {
      client: shared.client,
      release: async () => {
        if (released) return;
        released = true;
        shared.refs--;
        if (shared.refs > 0) return;
        shared.closing = true;
        try {
          await shared.client.close();
        } finally {
          if (this.hosts.get(key) === entry) this.hosts.delete(key);
        }
      },
    };
  }

  private async shared(key: string): Promise<{ entry: Promise<SharedHost<Client>>; shared: SharedHost<Client> }> {
    for (;;) {
      const entry = this.hosts.get(key);
      if (!entry) break;
      const shared = await entry.catch(() => null);
      if (shared?.client.alive && !shared.closing) return { entry, shared };
      // A host that died (a lost connection) or is closing: wait until it is really gone, start afresh.
      await shared?.client.exited;
      if (this.hosts.get(key) === entry) this.hosts.delete(key);
    }
    const entry: Promise<SharedHost<Client>> = this.start(key).then((client) => ({ client, refs: 0, closing: false }));
    this.hosts.set(key, entry);
    entry.catch(() => {
      if (this.hosts.get(key) === entry) this.hosts.delete(key);
    });
    return { entry, shared: await entry };
  }
}

// ---- the host side ---------------------------------------------------------------------------------

export interface HostedEngine<Request, Result> {
  /** Any request but `close`. */
  handle(request: Exclude<Request, CloseRequest>): Promise<Result | undefined>;
  close(): Promise<void>;
}

/**
 * The main loop of a forked host: `open()` the engine, say hello, answer every request (`close`
 * closes the engine, answers, then ends the process), `afterRequest` after each answer.
 */
export function serveHost<Request extends { id: number; op: string }, Result>(open: () => Promise<HostedEngine<Request, Result>>, afterRequest: () => void = () => {}): void {
  const send = (message: HostResponse<Result> | HostHello, then?: () => void): void => {
    // The parent may be gone already; then there is nobody to answer.
    if (process.connected) process.send?.(message, undefined, undefined, () => then?.());
    else then?.();
  };
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  let engine: HostedEngine<Request, Result> | null = null;
  process.on('disconnect', () => {
    void (engine?.close() ?? Promise.resolve()).finally(() => process.exit());
  });
  void (async () => {
    try {
      engine = await open();
    } catch (error) {
      process.exitCode = 1;
      send({ hello: 'failed', error: toRemoteError(error) }, () => process.disconnect());
      return;
    }
    const ready = engine;
    process.on('message', (request: Request) => {
      const closing = request.op === 'close';
      const work = closing ? ready.close().then(() => undefined) : ready.handle(request as Exclude<Request, CloseRequest>);
      work.then(
        (result) => {
          const response: HostResponse<Result> = result === undefined ? { id: request.id, ok: true } : { id: request.id, ok: true, result };
          // After `close` the answer goes out first, then the channel closes and the process ends.
          send(response, closing ? () => process.disconnect() : undefined);
          afterRequest();
        },
        (error: unknown) => {
          send({ id: request.id, ok: false, error: toRemoteError(error) });
          afterRequest();
        },
      );
    });
    send({ hello: 'ready' });
  })();
}

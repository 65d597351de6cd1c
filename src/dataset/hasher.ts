/**
 * sha256 on a second thread. Generating, hashing (for the manifest) and writing all on the main
 * thread capped generation to disk at ~650 MB/s here, below the disk's rate: sha256 alone runs at
 * ~1.7 GB/s per core. FileSink therefore copies chunks into slots of a shared buffer, and this worker
 * hashes each slot while the main thread fills the next one and libuv writes it.
 */
import { Worker } from 'node:worker_threads';

/** The worker, as CommonJS source: no loader or build step needed (`eval: true`). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const buffers = new Map();
const streams = new Map();
parentPort.on('message', (message) => {
  try {
    if (message.op === 'buffer') buffers.set(message.buffer, new Uint8Array(message.shared));
    else if (message.op === 'update') {
      let hash = streams.get(message.stream);
      if (!hash) streams.set(message.stream, (hash = createHash('sha256')));
      hash.update(buffers.get(message.buffer).subarray(message.offset, message.offset + message.length));
      parentPort.postMessage({ request: message.request });
    } else if (message.op === 'digest') {
      const hash = streams.get(message.stream) ?? createHash('sha256');
      streams.delete(message.stream);
      parentPort.postMessage({ request: message.request, digest: hash.digest('hex') });
    } else if (message.op === 'discard') {
      streams.delete(message.stream);
      parentPort.postMessage({ request: message.request });
    }
  } catch (error) {
    parentPort.postMessage({ request: message.request, error: String(error && error.message || error) });
  }
});
`;

interface Reply {
  request: number;
  digest?: string;
  error?: string;
}

type Request = { op: 'update'; stream: number; buffer: number; offset: number; length: number } | { op: 'digest' | 'discard'; stream: number };

class HashWorker {
  // No inherited execArgv: `--input-type=module` would make the CommonJS source fail, and a loader is not needed.
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  private readonly pending = new Map<number, { resolve(reply: Reply): void; reject(error: Error): void }>();
  private nextRequest = 0;
  private failure: Error | null = null;

  constructor() {
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.request);
      this.pending.delete(reply.request);
      this.updateRef();
      if (reply.error !== undefined) waiter?.reject(new Error(`sha256 worker: ${reply.error}`));
      else waiter?.resolve(reply);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`sha256 worker exited with code ${code}`)));
  }

  /** Let the worker's buffers be read: `shared` must be a SharedArrayBuffer. */
  register(buffer: number, shared: SharedArrayBuffer): void {
    this.worker.postMessage({ op: 'buffer', buffer, shared });
  }

  request(message: Request): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const request = this.nextRequest++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(request, { resolve, reject });
      this.updateRef();
      this.worker.postMessage({ ...message, request });
    });
  }

  /** Keep the process alive only while a reply is awaited (an idle worker must not block exit). */
  private updateRef(): void {
    if (this.pending.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    if (worker === this) worker = null;
  }
}

let worker: HashWorker | null = null;
let nextBuffer = 0;
let nextStream = 0;

function hashWorker(): HashWorker {
  worker ??= new HashWorker();
  return worker;
}

/** A SharedArrayBuffer the worker can hash from. */
export class HashableBuffer {
  readonly id = nextBuffer++;
  readonly bytes: Uint8Array;
  private registeredWith: HashWorker | null = null;

  constructor(readonly shared: SharedArrayBuffer) {
    this.bytes = new Uint8Array(shared);
  }

  worker(): HashWorker {
    const current = hashWorker();
    if (this.registeredWith !== current) {
      current.register(this.id, this.shared);
      this.registeredWith = current;
    }
    return current;
  }
}

/** One sha256 computed by the worker from consecutive ranges of hashable buffers. */
export class WorkerHash {
  private readonly stream = nextStream++;
  private used: HashWorker | null = null;

  /** Resolves when the worker is done with the range (the bytes may then be overwritten). */
  async update(buffer: HashableBuffer, offset: number, length: number): Promise<void> {
    this.used = buffer.worker();
    await this.used.request({ op: 'update', stream: this.stream, buffer: buffer.id, offset, length });
  }

  async digest(): Promise<string> {
    const reply = await (this.used ?? hashWorker()).request({ op: 'digest', stream: this.stream });
    return reply.digest as string;
  }

  async discard(): Promise<void> {
    if (this.used) await this.used.request({ op: 'discard', stream: this.stream }).catch(() => undefined);
  }
}

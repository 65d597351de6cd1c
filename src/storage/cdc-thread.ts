/**
 * The simulation's CDC side on a worker thread (src/storage/cdc-worker.ts): the main thread
 * hashes the fixed blocks of a piece while the worker chunks and hashes the previous one, so the
 * two cores share the work. Each piece is copied into one of POOL buffers (a memcpy of 1 MiB
 * costs ~0.1 ms against ~3 ms of hashing) and transferred; the worker transfers it back when done.
 * At most POOL pieces are in flight: memory stays POOL MiB.
 */
import { Worker } from 'node:worker_threads';
import type { CdcParameters } from '../dataset/fastcdc.js';
import type { CdcSide, DedupTally } from './blockdedup.js';
import type { CdcMessage, CdcWorkerData } from './cdc-worker.js';

const POOL = 4;

type Reply = { op: 'free'; buffer: ArrayBuffer } | { op: 'result'; tally: DedupTally };

const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * The worker's module: `.js` from dist/; from src/ (tests, a checkout) the `.ts` file through tsx's
 * API (a devDependency), since a loader flag in a worker's execArgv is not applied on Node 20.
 */
function startWorker(workerData: CdcWorkerData): Worker {
  if (!FROM_SOURCES) return new Worker(new URL('./cdc-worker.js', import.meta.url), { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(new URL('./cdc-worker.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(source, { eval: true, workerData, execArgv: [] });
}

export class CdcThread implements CdcSide {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private waiting: (() => void) | null = null;
  private resultWaiter: { resolve(tally: DedupTally): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;

  constructor(compress: boolean, params: CdcParameters, pieceBytes: number) {
    for (let i = 0; i < POOL; i++) this.free.push(new ArrayBuffer(pieceBytes));
    this.worker = startWorker({ compress, params });
    this.worker.on('message', (reply: Reply) => {
      if (reply.op === 'free') {
        this.free.push(reply.buffer);
        this.wake();
      } else this.resultWaiter?.resolve(reply.tally);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`CDC worker exited with code ${code}`)));
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
    this.resultWaiter?.reject(this.failure);
  }

  private post(message: CdcMessage, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  async push(piece: Buffer): Promise<void> {
    while (this.free.length === 0 && !this.failure) await new Promise<void>((resolve) => (this.waiting = resolve));
    if (this.failure) throw this.failure;
    const buffer = this.free.pop() as ArrayBuffer;
    piece.copy(new Uint8Array(buffer));
    this.post({ op: 'piece', buffer, length: piece.length }, [buffer]);
  }

  endFile(): void {
    this.post({ op: 'end-file' });
  }

  /** The worker's tally once every piece sent is chunked (messages are handled in order). */
  async result(): Promise<DedupTally> {
    if (this.failure) throw this.failure;
    const tally = await new Promise<DedupTally>((resolve, reject) => {
      this.resultWaiter = { resolve, reject };
      this.post({ op: 'result' });
    });
    this.resultWaiter = null;
    return tally;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/**
 * The simulation's CDC side on a worker thread (src/storage/cdc-worker.ts), so that both cores
 * work: the main thread reads and hashes the fixed blocks of a piece while the worker cuts,
 * digests and tallies the chunks of the same piece. They share the hasher's WebAssembly memory
 * (src/storage/blockhash.ts): a piece is read once into a read buffer there and both hash it in
 * place; only its address crosses, and the worker says when it is done with the buffer.
 *
 * The worker's heap is capped (WORKER_LIMITS): its garbage (LZ4 outputs of the sampled chunks,
 * message objects) is collected while small instead of adding to the process's RSS.
 */
import { Worker } from 'node:worker_threads';
import type { CdcParameters } from '../dataset/fastcdc.js';
import type { CdcSide, DedupTally } from './blockdedup.js';
import type { BlockHasher } from './blockhash.js';
import type { CdcMessage, CdcReply, CdcWorkerData } from './cdc-worker.js';

/** Small young and old generations: measured in docs/storage.md. The fingerprint table is an ArrayBuffer, outside these limits. */
export const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 };

const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * The worker's module: `.js` from dist/; from src/ (tests, a checkout) the `.ts` file through tsx's
 * API (a devDependency), since a loader flag in a worker's execArgv is not applied on Node 20.
 */
function startWorker(workerData: CdcWorkerData): Worker {
  if (!FROM_SOURCES) return new Worker(new URL('./cdc-worker.js', import.meta.url), { workerData, resourceLimits: WORKER_LIMITS });
  const api = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(new URL('./cdc-worker.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(source, { eval: true, workerData, execArgv: [], resourceLimits: WORKER_LIMITS });
}

export class CdcThread implements CdcSide {
  private readonly worker: Worker;
  /** Addresses of the pieces the worker has not finished, each with who waits for it. */
  private readonly busy = new Map<number, { done: Promise<void>; resolve(): void }>();
  private resultWaiter: { resolve(tally: DedupTally): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;

  constructor(compress: boolean, params: CdcParameters, hasher: BlockHasher) {
    this.worker = startWorker({ compress, params, memory: hasher.sharedMemory, regions: hasher.regions });
    this.worker.on('message', (reply: CdcReply) => {
      if (reply.op === 'done') {
        const entry = this.busy.get(reply.at);
        this.busy.delete(reply.at);
        entry?.resolve();
      } else this.resultWaiter?.resolve(reply.tally);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`CDC worker exited with code ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const entry of this.busy.values()) entry.resolve();
    this.busy.clear();
    this.resultWaiter?.reject(this.failure);
  }

  push(piece: Buffer): void {
    if (this.failure) throw this.failure;
    let resolve = () => undefined as void;
    const done = new Promise<void>((settle) => (resolve = settle));
    this.busy.set(piece.byteOffset, { done, resolve });
    this.worker.postMessage({ op: 'piece', at: piece.byteOffset, length: piece.length } satisfies CdcMessage);
  }

  free(buffer: Buffer): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    const done = this.busy.get(buffer.byteOffset)?.done;
    return done?.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  endFile(): void {
    this.worker.postMessage({ op: 'end-file' } satisfies CdcMessage);
  }

  /** The worker's tally once every piece sent is chunked (messages are handled in order). */
  async result(): Promise<DedupTally> {
    if (this.failure) throw this.failure;
    const tally = await new Promise<DedupTally>((resolve, reject) => {
      this.resultWaiter = { resolve, reject };
      this.worker.postMessage({ op: 'result' } satisfies CdcMessage);
    });
    this.resultWaiter = null;
    return tally;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

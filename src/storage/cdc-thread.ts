/**
 * The simulation's CDC cut on a worker thread (src/storage/cdc-worker.ts), so that both cores
 * work: the main thread reads, hashes the fixed blocks of a read and tallies, while the worker
 * cuts and digests the chunks of the same read (the gear scan is the largest single cost). They
 * share the hasher's WebAssembly memory (src/storage/blockhash.ts): a read lands once in a read
 * buffer there; only its address crosses (a message), the worker writes the read's chunk records
 * into the buffer's chunk slot and clears the buffer's shared flag (Atomics: a reply message per
 * read cost the worker ~0.27 ms each, measured), and the main thread tallies the records in
 * stream order before it reads into that buffer again. The worker allocates almost nothing (no
 * LZ4: compression is the main thread's, on the tally side), and its heap is capped (WORKER_LIMITS).
 */
import { Worker } from 'node:worker_threads';
import type { CdcParameters } from '../dataset/fastcdc.js';
import { CdcCutter, readSlot, type CdcSide, type CdcTally, type DedupTally } from './blockdedup.js';
import type { BlockHasher } from './blockhash.js';
import type { CdcMessage, CdcWorkerData } from './cdc-worker.js';

/** flags[slot]: 1 while the worker cuts the read in that buffer; flags[COUNTS + slot]: its number of chunk records. */
export const COUNTS = 32;

/** Small young and old generations: measured in docs/storage.md. The fingerprint table is an ArrayBuffer, outside these limits. */
export const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 24 };

const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** Atomics.waitAsync (ES2024; in every supported Node.js line), typed here since the project's lib is older. */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

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

/**
 * Until the worker has started (≈ 0.15–0.2 s on an idle machine, far more under load: measured in
 * docs/storage.md) the reads are cut here, inline, rather than waiting for it with the ring full;
 * the first read sent to the worker carries the stream's uncut tail over (`resume`).
 */
export class CdcThread implements CdcSide {
  private readonly worker: Worker;
  private readonly flags: Int32Array;
  /** Slots sent to the worker and not tallied yet, oldest first. */
  private readonly queue: number[] = [];
  private failure: Error | null = null;
  /** Cuts the reads that come before the worker is ready. */
  private readonly inline: CdcCutter;
  private workerReady = false;
  private handedOver = false;
  /** Resolves when the worker has started: reads pushed from then on are cut there. */
  readonly ready: Promise<void>;

  constructor(
    private readonly tally: CdcTally,
    params: CdcParameters,
    private readonly hasher: BlockHasher,
  ) {
    this.flags = hasher.flags;
    if (hasher.chunkSlots.length > COUNTS) throw new RangeError('more read buffers than flags');
    this.inline = new CdcCutter(params, hasher);
    this.worker = startWorker({ params, memory: hasher.sharedMemory, regions: hasher.regions });
    // A message event, not a shared flag: reads pushed in one synchronous run all go the same way.
    this.ready = new Promise((resolve) =>
      this.worker.once('message', () => {
        this.workerReady = true;
        resolve();
      }),
    );
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`CDC worker exited with code ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    // Wake whoever waits for a buffer: it then sees the failure.
    for (let slot = 0; slot < COUNTS; slot++) {
      Atomics.store(this.flags, slot, 0);
      Atomics.notify(this.flags, slot);
    }
  }

  push(piece: Buffer, last: boolean): void {
    if (this.failure) throw this.failure;
    const slot = readSlot(this.hasher, piece);
    if (!this.workerReady) {
      // Nothing is queued yet, so tallying now keeps the stream order.
      this.tally.addSlot(slot, this.inline.cutRead(piece, slot, last));
      return;
    }
    if (!this.handedOver) {
      this.handedOver = true;
      this.worker.postMessage({ op: 'resume', carried: this.inline.carriedBytes } satisfies CdcMessage);
    }
    Atomics.store(this.flags, slot, 1);
    this.queue.push(slot);
    this.worker.postMessage({ op: 'piece', at: piece.byteOffset, length: piece.length, slot, last } satisfies CdcMessage);
  }

  /** Tally the oldest slot once the worker is done with it. */
  private async drainOne(): Promise<void> {
    const slot = this.queue[0] as number;
    while (Atomics.load(this.flags, slot) !== 0) {
      const wait = waitAsync(this.flags, slot, 1);
      if (wait.async) await wait.value;
    }
    if (this.failure) throw this.failure;
    this.queue.shift();
    this.tally.addSlot(slot, Atomics.load(this.flags, COUNTS + slot));
  }

  async free(buffer: Buffer): Promise<void> {
    const slot = readSlot(this.hasher, buffer);
    while (this.queue.includes(slot)) await this.drainOne();
  }

  /** The tally once every read sent is cut and tallied. */
  async result(): Promise<DedupTally> {
    while (this.queue.length > 0) await this.drainOne();
    return this.tally.tally.result();
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

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
 *
 * The cut is one core's work at about the disk's speed (≈ 0.65 CPU-s per GiB here), the main
 * thread's about half that; so whenever the main thread would wait for the worker, it cuts a read
 * the worker has not reached yet from that read's first byte instead (cutting ahead). The worker
 * cuts that read from where the stream's chunks really start until one of its chunks starts where
 * a chunk cut ahead does, and takes the rest as cut (CdcCutter.cutFrom): the same chunks, each cut
 * once, by whichever core is free.
 */
import { Worker } from 'node:worker_threads';
import type { CdcParameters } from '../dataset/fastcdc.js';
import { CdcCutter, readSlot, type CdcSide, type CdcTally, type DedupTally } from './blockdedup.js';
import type { BlockHasher, ChunkSlot } from './blockhash.js';
import type { CdcMessage, CdcWorkerData } from './cdc-worker.js';

/** flags[slot]: 1 while the worker cuts the read in that buffer; flags[COUNTS + slot]: its number of chunk records. */
export const COUNTS = 32;

/**
 * Cutting ahead: flags[AHEAD_STATE + slot] says whether the main thread cut that read's chunks
 * ahead of the worker (AHEAD_READY, flags[AHEAD_COUNT + slot] records in the buffer's speculative
 * slot); the worker swaps in AHEAD_TAKEN when it starts the read, so a cut finished later is not
 * used. flags[AHEAD_TAKEN_READS]: reads the worker took chunks from a cut ahead for.
 */
export const AHEAD_STATE = 64;
export const AHEAD_COUNT = 96;
export const AHEAD_TAKEN_READS = 128;
export const AHEAD_IDLE = 0;
const AHEAD_CUTTING = 1;
export const AHEAD_READY = 2;
export const AHEAD_TAKEN = 3;

interface QueuedRead {
  slot: number;
  piece: Buffer;
  last: boolean;
  /** The main thread tried to cut it ahead already. */
  tried: boolean;
}

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
  /** Reads sent to the worker and not tallied yet, oldest first. */
  private readonly queue: QueuedRead[] = [];
  /** Reads this thread cut ahead of the worker. */
  readsCutAhead = 0;
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
    this.queue.push({ slot, piece, last, tried: false });
    this.worker.postMessage({ op: 'piece', at: piece.byteOffset, length: piece.length, slot, last } satisfies CdcMessage);
  }

  /** Tally the oldest slot once the worker is done with it, cutting reads ahead meanwhile. */
  private async drainOne(): Promise<void> {
    const slot = (this.queue[0] as QueuedRead).slot;
    while (Atomics.load(this.flags, slot) !== 0) {
      if (this.failure === null && this.cutAhead()) continue;
      const wait = waitAsync(this.flags, slot, 1);
      if (wait.async) await wait.value;
    }
    if (this.failure) throw this.failure;
    this.queue.shift();
    this.tally.addSlot(slot, Atomics.load(this.flags, COUNTS + slot));
    Atomics.store(this.flags, AHEAD_STATE + slot, AHEAD_IDLE);
  }

  /**
   * Cut the newest queued read the worker has not reached (not a file's last, not tried before)
   * ahead of it; false when there is none. The oldest is never taken: the worker is on it.
   */
  private cutAhead(): boolean {
    for (let index = this.queue.length - 1; index > 0; index--) {
      const read = this.queue[index] as QueuedRead;
      if (read.last || read.tried) continue;
      read.tried = true;
      // The worker reaches reads in order: once it has started this one, it has the older ones too.
      if (Atomics.compareExchange(this.flags, AHEAD_STATE + read.slot, AHEAD_IDLE, AHEAD_CUTTING) !== AHEAD_IDLE) return false;
      Atomics.store(this.flags, AHEAD_COUNT + read.slot, this.inline.cutAhead(read.piece, this.hasher.speculativeSlots[read.slot] as ChunkSlot));
      Atomics.compareExchange(this.flags, AHEAD_STATE + read.slot, AHEAD_CUTTING, AHEAD_READY);
      this.readsCutAhead++;
      return true;
    }
    return false;
  }

  /** Reads the worker took chunks from a cut ahead for (≤ readsCutAhead: it may have started a read first). */
  get readsTakenAhead(): number {
    return Atomics.load(this.flags, AHEAD_TAKEN_READS);
  }

  async free(buffer: Buffer): Promise<void> {
    const slot = readSlot(this.hasher, buffer);
    while (this.queue.some((read) => read.slot === slot)) await this.drainOne();
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

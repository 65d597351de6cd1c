/**
 * The worker side of src/storage/cdc-thread.ts: the content-defined cut and the chunk digests of
 * the simulation on the second core, over the main thread's shared WebAssembly memory. A read
 * arrives as its address in a read buffer there; the worker cuts it in place (copying only the
 * chunks that span two reads, to the slot's join region), writes the chunk records to the
 * buffer's chunk slot, then stores their count and clears the buffer's flag. Where the main
 * thread has cut the read ahead (src/storage/cdc-thread.ts), it cuts only until its chunks meet those.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CdcCutter } from './blockdedup.js';
import { BlockHasher, type ChunkSlot, type HasherRegions } from './blockhash.js';
import { AHEAD_COUNT, AHEAD_READY, AHEAD_STATE, AHEAD_TAKEN, AHEAD_TAKEN_READS, COUNTS } from './cdc-thread.js';
import type { CdcParameters } from '../dataset/fastcdc.js';

/** A read to cut, or (once, before the first read) the uncut tail the main thread's inline cutter left in the carry region. */
export type CdcMessage = { op: 'piece'; at: number; length: number; slot: number; last: boolean } | { op: 'resume'; carried: number };
export interface CdcWorkerData {
  params: CdcParameters;
  memory: WebAssembly.Memory;
  regions: HasherRegions;
}

const port = parentPort;
if (!port) throw new Error('cdc-worker runs as a worker thread');
const data = workerData as CdcWorkerData;
const hasher = new BlockHasher(data.regions.dataBytes, data.regions.scratchBytes, data.regions.cdc, data.memory);
const cutter = new CdcCutter(data.params, hasher);
port.on('message', (message: CdcMessage) => {
  if (message.op === 'resume') {
    cutter.resume(message.carried);
    return;
  }
  // Chunks the main thread cut ahead are used only if they were done before this read started.
  const cutAhead = Atomics.exchange(hasher.flags, AHEAD_STATE + message.slot, AHEAD_TAKEN) === AHEAD_READY;
  const ahead = cutAhead ? { slot: hasher.speculativeSlots[message.slot] as ChunkSlot, count: Atomics.load(hasher.flags, AHEAD_COUNT + message.slot) } : null;
  const count = cutter.cutRead(hasher.memory.subarray(message.at, message.at + message.length), message.slot, message.last, ahead);
  Atomics.store(hasher.flags, AHEAD_TAKEN_READS, cutter.readsTakenAhead);
  Atomics.store(hasher.flags, COUNTS + message.slot, count);
  // Done with the read buffer: the main thread tallies the records, then may read into it again.
  Atomics.store(hasher.flags, message.slot, 0);
  Atomics.notify(hasher.flags, message.slot);
});
// Started: the main thread sends the reads from now on (src/storage/cdc-thread.ts).
port.postMessage('ready');

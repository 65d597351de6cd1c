/**
 * The worker side of src/storage/cdc-thread.ts: content-defined chunking, chunk hashing and the
 * chunk tally of the simulation on the second core, over the main thread's shared WebAssembly
 * memory. A piece arrives as its address in a read buffer there; the worker chunks it in place
 * (copying only the tail it carries on, < max bytes) and says when it is done with the buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CdcTally, loadCompressor, type DedupTally } from './blockdedup.js';
import { BlockHasher, type HasherRegions } from './blockhash.js';
import type { CdcParameters } from '../dataset/fastcdc.js';

export type CdcMessage = { op: 'piece'; at: number; length: number } | { op: 'end-file' } | { op: 'result' };
export type CdcReply = { op: 'done'; at: number } | { op: 'result'; tally: DedupTally };
export interface CdcWorkerData {
  compress: boolean;
  params: CdcParameters;
  memory: WebAssembly.Memory;
  regions: HasherRegions;
}

const port = parentPort;
if (!port) throw new Error('cdc-worker runs as a worker thread');
const data = workerData as CdcWorkerData;
const hasher = new BlockHasher(data.regions.dataBytes, data.regions.scratchBytes, data.regions.joinBytes, data.memory);
const side = new CdcTally(data.compress ? await loadCompressor() : null, data.params, hasher);
port.on('message', (message: CdcMessage) => {
  if (message.op === 'piece') {
    side.push(hasher.memory.subarray(message.at, message.at + message.length));
    port.postMessage({ op: 'done', at: message.at } satisfies CdcReply);
  } else if (message.op === 'end-file') side.endFile();
  else port.postMessage({ op: 'result', tally: side.tally.result() } satisfies CdcReply);
});

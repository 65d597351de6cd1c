/**
 * The worker side of src/storage/cdc-thread.ts: content-defined chunking, chunk hashing and the
 * chunk tally of the simulation on the second core. Pieces arrive as transferred ArrayBuffers and
 * go back the same way once chunked (FastCdc copies the tail it holds back).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CdcTally, loadCompressor } from './blockdedup.js';
import type { CdcParameters } from '../dataset/fastcdc.js';

export type CdcMessage = { op: 'piece'; buffer: ArrayBuffer; length: number } | { op: 'end-file' } | { op: 'result' };
export interface CdcWorkerData {
  compress: boolean;
  params: CdcParameters;
}

const port = parentPort;
if (!port) throw new Error('cdc-worker runs as a worker thread');
const data = workerData as CdcWorkerData;
const side = new CdcTally(data.compress ? await loadCompressor() : null, data.params);
port.on('message', (message: CdcMessage) => {
  if (message.op === 'piece') {
    side.push(Buffer.from(message.buffer, 0, message.length));
    port.postMessage({ op: 'free', buffer: message.buffer }, [message.buffer]);
  } else if (message.op === 'end-file') side.endFile();
  else port.postMessage({ op: 'result', tally: side.tally.result() });
});

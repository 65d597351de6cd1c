/**
 * Stage helpers every adapter uses so that the rules of SPEC §5.2 hold the same way everywhere:
 * a failed write is never acknowledged, a delete that removed nothing is an error, a stage the
 * system cannot do is "not applicable" (never a silent success).
 */
import type { CellContext, LabFile, NotApplicable, WriteOutcome } from '../types.js';
import type { NativeTable } from '../../dataset/records.js';
import { errorMessage } from '../../core/errors.js';

export function notApplicable(reason: string): NotApplicable {
  return { notApplicable: reason };
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('operation aborted');
}

/** Thrown when a delete removed nothing: the predecessor counted such deletes as success. */
export class DeleteDidNothingError extends Error {}

/** Check the row/key count a delete reports; 0 means the file was not there → error. */
export function assertDeleted(removed: number, file: LabFile, where: string): void {
  if (removed <= 0) {
    throw new DeleteDidNothingError(`delete did nothing: file ${file.id} (${file.name}) is not stored in ${where}`);
  }
}

/** Runs `body` inside one transaction: commits when it resolves, rolls back and rethrows when it throws. */
export type RunInTransaction = (body: () => Promise<void>) => Promise<void>;

/** Statement hooks of a BEGIN/COMMIT-style driver (SQLite, DuckDB, pg …). */
export interface TransactionStatements {
  begin(): Promise<unknown> | unknown;
  commit(): Promise<unknown> | unknown;
  rollback(): Promise<unknown> | unknown;
}

/** Build a `RunInTransaction` from BEGIN / COMMIT / ROLLBACK hooks. */
export function sqlTransaction(statements: TransactionStatements): RunInTransaction {
  return async (body) => {
    await statements.begin();
    try {
      await body();
    } catch (error) {
      try {
        await statements.rollback();
      } catch {
        // The engine may already have aborted the transaction; the original error is what counts.
      }
      throw error;
    }
    await statements.commit();
  };
}

/**
 * Bulk load in ONE transaction: every file is acknowledged only when the commit succeeded; if
 * anything fails (a write, the commit, the parser, the source), the transaction is rolled back
 * and every file seen so far is reported failed with the error (files not yet read from the
 * source are neither acknowledged nor failed — the runner counts only acknowledged bytes).
 * `flush` runs inside the transaction after the last file (for adapters that buffer writes).
 * An abort (SIGINT) rolls back and throws, so the cell is never recorded as complete.
 */
export async function transactionalBulk(
  files: AsyncIterable<LabFile>,
  cell: CellContext,
  inTransaction: RunInTransaction,
  write: (file: LabFile) => Promise<void> | void,
  flush?: () => Promise<void> | void,
): Promise<WriteOutcome> {
  const seen: number[] = [];
  try {
    await inTransaction(async () => {
      for await (const file of files) {
        throwIfAborted(cell.signal);
        seen.push(file.id);
        await write(file);
      }
      await flush?.();
      throwIfAborted(cell.signal);
    });
  } catch (error) {
    if (cell.signal.aborted) throw error;
    const message = errorMessage(error);
    return { acknowledged: [], failed: seen.map((id) => ({ id, error: message })) };
  }
  return { acknowledged: seen, failed: [] };
}

/** Native mode needs the table shape and the parser from the cell (SPEC §5.4). */
export function requireNative(cell: CellContext): {
  table: NativeTable;
  parse: (file: LabFile) => AsyncIterable<unknown[]>;
} {
  if (!cell.nativeTable || !cell.parseRecords) {
    throw new Error(`cell ${cell.cellId} is in native mode but carries no nativeTable/parseRecords`);
  }
  return { table: cell.nativeTable, parse: cell.parseRecords };
}

/**
 * Group a file stream into batches bounded by count and bytes (a file larger than the byte bound
 * forms a batch of its own), so batched producers never hold more than one batch in memory.
 */
export async function* batchFiles(
  files: AsyncIterable<LabFile>,
  maxFiles: number,
  maxBytes: number,
): AsyncGenerator<LabFile[]> {
  let batch: LabFile[] = [];
  let bytes = 0;
  for await (const file of files) {
    if (batch.length > 0 && (batch.length >= maxFiles || bytes + file.size > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(file);
    bytes += file.size;
  }
  if (batch.length > 0) yield batch;
}

/**
 * `files` as consecutive streams of about `budget` bytes each (a stream ends after the file that
 * reaches it): the streaming counterpart of batchFiles, for producers that send one request per
 * stream. Nothing is buffered: each stream pulls from the same iterator and must be drained before
 * the next is taken.
 */
export async function* consecutiveStreams<T extends { size: number }>(files: AsyncIterable<T>, budget: number): AsyncGenerator<AsyncIterable<T>> {
  const iterator = files[Symbol.asyncIterator]();
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const first = next.value;
    yield (async function* () {
      let bytes = first.size;
      yield first;
      while (bytes < budget) {
        const more = await iterator.next();
        if (more.done) return;
        bytes += more.value.size;
        yield more.value;
      }
    })();
  }
}

/** ArrayBuffers whose owner lets `releaseContent` free them early (weak: a collected one just leaves). */
const disposableBuffers = new WeakSet<ArrayBufferLike>();

/** Mark `content` as freeable by `releaseContent` once its consumer is done: only its owner may. */
export function disposable(content: Buffer): Buffer {
  disposableBuffers.add(content.buffer);
  return content;
}

/** ES2024 members of ArrayBuffer (every supported Node line has them; the project's lib is ES2022). */
type DetachableArrayBuffer = ArrayBuffer & { readonly detached: boolean; transfer(newLength?: number): ArrayBuffer };

/**
 * Give a file's bytes back to the allocator now instead of at V8's next collection. A read file is
 * external memory that V8 collects only after ≈ 64 MiB more of it has been allocated: reading
 * 2039 files of ≈ 0.5 MiB one at a time held up to 74 MiB of dead file buffers (≈ 85 MiB of RSS,
 * measured), a third of the 256 MiB limit. Detaching the buffer's ArrayBuffer frees it at once.
 *
 * Only buffers marked `disposable` by their owner are released (the runner's iterateLabFiles marks
 * each file it reads, which nothing reuses; a caller handing the same LabFile to several calls,
 * like the adapter contract tests, marks nothing), only a buffer spanning its whole ArrayBuffer
 * (files < 4 KiB share Node's pool and are left alone), and only once every reader is done with
 * it: the system acknowledged the write (a failed or timed-out write may still be sending). A
 * released `content` reads as empty.
 */
export function releaseContent(file: { content: Buffer }): void {
  if (disposableBuffers.has(file.content.buffer)) detachWhole(file.content);
}

/**
 * Free `bytes` now, for a caller that owns them and knows nothing else references them: a socket
 * chunk already copied out, a read file whose sha256 was checked. Same rules as releaseContent
 * otherwise (only a view of its whole ArrayBuffer; a non-detachable one is left to the GC).
 */
export function releaseOwned(bytes: Uint8Array): void {
  detachWhole(bytes);
}

function detachWhole(bytes: Uint8Array): void {
  if (!(bytes.buffer instanceof ArrayBuffer)) return;
  const arrayBuffer = bytes.buffer as DetachableArrayBuffer;
  if (arrayBuffer.detached) return;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== arrayBuffer.byteLength) return;
  try {
    arrayBuffer.transfer(0);
  } catch {
    // A buffer its engine made non-detachable (WASM memory, some native ones) is left to the GC.
  }
}

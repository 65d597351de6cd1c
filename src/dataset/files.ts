/** Writing and hashing data-set files with bounded memory. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Batches of small chunks are handed to one writev: fewer syscalls for 64 KiB keystream chunks. */
const WRITE_BATCH = 1 << 20;

export interface WrittenFile {
  size: number;
  sha256: string;
}

/** A new file written in order, hashed on the way; small chunks are batched into one writev. */
export class FileSink {
  private readonly hash = createHash('sha256');
  private size = 0;
  private batch: Buffer[] = [];
  private batchBytes = 0;

  private constructor(private readonly handle: FileHandle) {}

  static async create(path: string): Promise<FileSink> {
    return new FileSink(await open(path, 'w'));
  }

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= WRITE_BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length > 0) await writeAll(this.handle, batch);
  }

  async close(): Promise<WrittenFile> {
    try {
      await this.flush();
    } finally {
      await this.handle.close();
    }
    return { size: this.size, sha256: this.hash.digest('hex') };
  }

  /** Close without caring about the content (error paths). */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Stream chunks into a new file, hashing on the way. */
export async function writeChunks(path: string, chunks: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<WrittenFile> {
  const sink = await FileSink.create(path);
  try {
    for await (const chunk of chunks) await sink.write(chunk);
  } catch (error) {
    await sink.abandon();
    throw error;
  }
  return sink.close();
}

async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending);
    // Partial writes are rare but legal: continue with what is left.
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (bytesWritten >= buffer.length) bytesWritten -= buffer.length;
      else {
        rest.push(buffer.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    pending = rest;
  }
}

export async function* readChunks(path: string): AsyncIterable<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: WRITE_BATCH })) yield chunk as Buffer;
}

/** Size and sha256 of a file, streaming. */
export async function hashFile(path: string): Promise<WrittenFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of readChunks(path)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

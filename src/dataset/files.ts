/** Writing and hashing data-set files with bounded memory. */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HashableBuffer, WorkerHash } from './hasher.js';

/** Chunks are gathered into buffers of this size, one write each. */
const WRITE_BATCH = 1 << 20;
/** Finished files waiting for their datasync before generation waits for the disk (backpressure). */
const MAX_UNSYNCED_FILES = 8;

export interface WrittenFile {
  size: number;
  sha256: string;
}

/**
 * Flushes finished files to the disk one after the other, in the background, so the disk writes
 * while the next files are generated (instead of after the last one), and the set is on the disk
 * before any measurement starts: writeback of a fresh data set must not compete with the system
 * under test. One datasync at a time keeps the other libuv threads free for the writes.
 */
export class SyncQueue {
  private tail: Promise<void> = Promise.resolve();
  /** One promise per queued file, oldest first. */
  private readonly queued: Promise<void>[] = [];
  private failure: unknown = null;

  /** Queue a finished file (the queue closes it); waits while too many files are unsynced. */
  async add(handle: FileHandle): Promise<void> {
    this.tail = this.tail.then(async () => {
      try {
        if (this.failure === null) await handle.datasync();
      } catch (error) {
        this.failure ??= error;
      } finally {
        await handle.close().catch(() => undefined);
      }
    });
    this.queued.push(this.tail);
    while (this.queued.length > MAX_UNSYNCED_FILES) await this.queued.shift();
    this.throwIfFailed();
  }

  /** Wait until every queued file is on the disk. */
  async drain(): Promise<void> {
    await this.tail;
    this.queued.length = 0;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}

export interface FileSinkOptions {
  /** Hand the finished file to this queue for datasync instead of just closing it. */
  syncQueue?: SyncQueue;
  /**
   * Write with O_DIRECT where the file system supports it (checked once per folder): straight from
   * the ring to the disk, no page-cache copy, and no gigabytes of dirty pages left to compete with
   * the system under test. For large files only: small direct writes each wait for the device.
   */
  direct?: boolean;
}

/** O_DIRECT needs buffers, offsets and lengths aligned to the logical block size (512 or 4096). */
const DIRECT_ALIGNMENT = 4096;
const directSupport = new Map<string, Promise<boolean>>();

/** Whether O_DIRECT writes work in `dir` (not on ramfs or some FUSE file systems): one probe file, once. */
function supportsDirect(dir: string): Promise<boolean> {
  let known = directSupport.get(dir);
  if (!known) {
    known = (async () => {
      const probe = join(dir, `.direct-probe-${process.pid}`);
      try {
        const handle = await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT);
        try {
          const ring = new SlotRing();
          await handle.write(ring.slot(0, DIRECT_ALIGNMENT), 0, DIRECT_ALIGNMENT, 0);
          idleRings.push(ring);
        } finally {
          await handle.close();
        }
        return true;
      } catch {
        return false;
      } finally {
        await rm(probe, { force: true });
      }
    })();
    directSupport.set(dir, known);
  }
  return known;
}

const SLOT_BYTES = WRITE_BATCH;
/** Slots per ring: one filling, the others being hashed and written. */
const SLOTS = 8;

/**
 * Shared memory in SLOTS slots, each busy until both its write and its hashing are done. Shared
 * WebAssembly memory rather than a plain SharedArrayBuffer because its base is page-aligned, as
 * O_DIRECT requires (a SharedArrayBuffer's is not, measured: EINVAL).
 */
class SlotRing {
  readonly memory = new HashableBuffer(
    // Shared memory's buffer is a SharedArrayBuffer; the DOM-less lib types only say ArrayBuffer.
    new WebAssembly.Memory({ initial: (SLOTS * SLOT_BYTES) / 65536, maximum: (SLOTS * SLOT_BYTES) / 65536, shared: true }).buffer as unknown as SharedArrayBuffer,
  );
  readonly busy: (Promise<void> | null)[] = new Array<Promise<void> | null>(SLOTS).fill(null);

  slot(index: number, length: number): Buffer {
    return Buffer.from(this.memory.shared, index * SLOT_BYTES, length);
  }

  /** Wait until every slot is free; the first failure is thrown (after all have settled). */
  async settle(): Promise<void> {
    const results = await Promise.allSettled(this.busy.map((busy) => busy ?? Promise.resolve()));
    this.busy.fill(null);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Rings of finished sinks, reused: a data set of many small files allocates one ring, not one per file. */
const idleRings: SlotRing[] = [];

/**
 * A new file written in order and hashed on the way. Chunks are copied into the slots of a shared
 * ring, so a caller may reuse a chunk's memory as soon as `write` returns (the payload generators
 * do); a full slot is written by libuv and hashed by the sha256 worker (hasher.ts) while the next
 * one fills. A file that fits in one slot is hashed here: a round trip to the worker costs more.
 */
export class FileSink {
  private readonly ring = idleRings.pop() ?? new SlotRing();
  private readonly workerHash = new WorkerHash();
  private current = 0;
  private filled = 0;
  /** File offset of the current slot's first byte. */
  private position = 0;
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    private readonly options: FileSinkOptions,
    /** Whether this file is written with O_DIRECT (requested and supported by its file system). */
    readonly direct: boolean,
  ) {}

  static async create(path: string, options: FileSinkOptions = {}): Promise<FileSink> {
    const direct = options.direct === true && (await supportsDirect(dirname(path)));
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (direct ? constants.O_DIRECT : 0);
    return new FileSink(await open(path, flags, 0o666), options, direct);
  }

  /** Bytes to write for `length` bytes of data: direct writes are padded to whole blocks (and truncated at close). */
  private writeLength(length: number): number {
    return this.direct ? Math.ceil(length / DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT : length;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const memory = this.ring.memory.bytes;
    for (let offset = 0; offset < chunk.length; ) {
      const take = Math.min(SLOT_BYTES - this.filled, chunk.length - offset);
      memory.set(chunk.subarray(offset, offset + take), this.current * SLOT_BYTES + this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === SLOT_BYTES) await this.submit();
    }
  }

  /** Hand the current slot to the writer and the hasher, then move on to the next free slot. */
  private async submit(): Promise<void> {
    const slot = this.current;
    const length = this.filled;
    const work = Promise.all([
      this.workerHash.update(this.ring.memory, slot * SLOT_BYTES, length),
      writeAll(this.handle, this.ring.slot(slot, this.writeLength(length)), this.position),
    ]).then(() => undefined);
    // Observed when the slot is needed again or at close; this only keeps it from counting as unhandled.
    work.catch(() => undefined);
    this.ring.busy[slot] = work;
    this.position += length;
    this.current = (slot + 1) % SLOTS;
    this.filled = 0;
    const next = this.ring.busy[this.current];
    this.ring.busy[this.current] = null;
    await next;
  }

  async close(): Promise<WrittenFile> {
    let sha256: string;
    try {
      if (this.position === 0) {
        sha256 = createHash('sha256').update(this.ring.slot(this.current, this.filled)).digest('hex');
        await writeAll(this.handle, this.ring.slot(this.current, this.writeLength(this.filled)), 0);
        this.position = this.filled;
      } else {
        if (this.filled > 0) await this.submit();
        await this.ring.settle();
        sha256 = await this.workerHash.digest();
      }
      // The padding of the last direct write is not part of the file.
      if (this.direct && this.position % DIRECT_ALIGNMENT !== 0) await this.handle.truncate(this.position);
    } catch (error) {
      await this.abandon();
      throw error;
    }
    this.release();
    if (this.options.syncQueue) await this.options.syncQueue.add(this.handle);
    else await this.handle.close();
    return { size: this.position, sha256 };
  }

  /** Close without caring about the content (error paths). */
  async abandon(): Promise<void> {
    if (this.closed) return;
    await this.ring.settle().catch(() => undefined);
    await this.workerHash.discard();
    this.release();
    await this.handle.close().catch(() => undefined);
  }

  private release(): void {
    this.closed = true;
    idleRings.push(this.ring);
  }
}

/** Stream chunks into a new file, hashing on the way. */
export async function writeChunks(path: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: FileSinkOptions = {}): Promise<WrittenFile> {
  const sink = await FileSink.create(path, options);
  try {
    for await (const chunk of chunks) await sink.write(chunk);
  } catch (error) {
    await sink.abandon();
    throw error;
  }
  return sink.close();
}

/** Write all of `buffer` at `position` (explicit positions: several slots may be in flight). */
async function writeAll(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  // Partial writes are rare but legal: continue with what is left.
  for (let offset = 0; offset < buffer.length; ) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, position + offset);
    offset += bytesWritten;
  }
}

export async function* readChunks(path: string): AsyncIterable<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: WRITE_BATCH })) yield chunk as Buffer;
}

/** hashFile's read buffer, kept between calls (null while a call holds it). */
let spareHashBuffer: Buffer | null = null;

/**
 * Size and sha256 of a file, read through one reused buffer. A read stream allocates a new 1 MiB
 * buffer per chunk, freed only when V8 next collects: verifying a 1 GiB set that way held ≈ 100 MiB
 * of dead buffers at a time (measured), raising the tool's RSS before any stage began.
 */
export async function hashFile(path: string): Promise<WrittenFile> {
  const buffer = spareHashBuffer ?? Buffer.allocUnsafeSlow(WRITE_BATCH);
  spareHashBuffer = null;
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
    spareHashBuffer = buffer;
  }
}

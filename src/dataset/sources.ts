/**
 * Real-world sources (SPEC §3): a file, a folder (its files concatenated in sorted path order) or
 * `.gz` files (decompressed on the fly), read strictly sequentially in bounded chunks so memory
 * never depends on the source size. Each unique file takes the next distinct slice. A URL source
 * is downloaded into a cache first (./download.ts) and then read like a local file.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { UsageError } from '../core/errors.js';
import { fetchSourceOnce, looksLikeUrl, sourceUrlFor } from './download.js';
import type { DatasetParameters } from './manifest.js';

const READ_CHUNK = 1 << 20;
/** A "line" longer than this is not held back for alignment: the source is not line based there. */
const MAX_CARRY = 8 << 20;

export interface PreparedSource {
  /** The parameters to generate and compare with: for a URL, its display form and `sourceSha256`. */
  params: DatasetParameters;
  /** The local file or folder to read (a URL's cache entry), or null without a source. */
  localSource: string | null;
}

/**
 * Make a set's source readable: local sources as they are; a URL downloaded into the cache (or
 * revalidated), its digest recorded in the parameters. Nothing is written to the data dir here.
 */
export async function prepareSource(params: DatasetParameters, signal?: AbortSignal): Promise<PreparedSource> {
  if (!params.source || !looksLikeUrl(params.source)) return { params, localSource: params.source };
  const url = sourceUrlFor(params.source);
  const fetched = await fetchSourceOnce(url, { label: `source for ${params.payloadType}`, signal });
  return { params: { ...params, source: url.display, sourceSha256: fetched.sha256 }, localSource: fetched.path };
}

/** Every regular file of a source, in sorted order (folders recursively). */
export async function sourceFiles(source: string): Promise<string[]> {
  let info;
  try {
    info = await stat(source);
  } catch {
    throw new UsageError(`source ${JSON.stringify(source)} does not exist or cannot be read`);
  }
  if (info.isFile()) return [source];
  if (!info.isDirectory()) throw new UsageError(`source ${JSON.stringify(source)} is neither a file nor a folder`);
  const out: string[] = [];
  const entries = (await readdir(source, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(source, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Size of the source when it is known without decompressing (no `.gz` inside), else null. */
export async function plainSourceSize(files: string[]): Promise<number | null> {
  let total = 0;
  for (const file of files) {
    if (/\.gz$/i.test(file)) return null;
    total += (await stat(file)).size;
  }
  return total;
}

async function* sourceChunks(files: string[]): AsyncGenerator<Buffer> {
  for (const file of files) {
    const raw = createReadStream(file, { highWaterMark: READ_CHUNK });
    const stream = /\.gz$/i.test(file) ? raw.pipe(createGunzip({ chunkSize: 256 * 1024 })) : raw;
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      raw.destroy();
      stream.destroy();
    }
  }
}

export function sourceTooSmall(type: string, source: string, needed: number, available: number): UsageError {
  return new UsageError(
    `source for ${type} (${source}) is too small: the unique files need ${needed} bytes, the source has ${available} bytes; give a larger source or fewer/smaller files`,
  );
}

/** Sequential reader handing out consecutive, non-overlapping slices. */
export class SourceSlicer {
  private readonly chunks: AsyncGenerator<Buffer>;
  private readonly front: Buffer[] = [];
  /** Bytes consumed from the source so far (including bytes pushed back and not re-read yet: no). */
  consumed = 0;
  exhausted = false;

  /** `path`: the local source (file or folder) the files came from; its extension decides line alignment. */
  constructor(
    files: string[],
    readonly path: string | null = null,
  ) {
    this.chunks = sourceChunks(files);
  }

  private async next(): Promise<Buffer | null> {
    const queued = this.front.shift();
    if (queued) return queued;
    if (this.exhausted) return null;
    const result = await this.chunks.next();
    if (result.done) {
      this.exhausted = true;
      return null;
    }
    this.consumed += result.value.length;
    return result.value;
  }

  /** Bytes read from the source that no slice has taken yet. */
  private unread(parts: Buffer[]): void {
    this.front.unshift(...parts.filter((part) => part.length > 0));
  }

  /**
   * The next slice of at most `size` bytes, handed to `sink` in order. Line-aligned slices end
   * after the last newline within `size` (a single line longer than `size` is cut). Returns the
   * slice length and whether the source ran out before the slice was complete.
   */
  async take(size: number, lineAligned: boolean, sink: (part: Buffer) => Promise<void>): Promise<{ length: number; ranOut: boolean }> {
    let taken = 0;
    let carry: Buffer[] = [];
    let carryLength = 0;
    let ranOut = false;
    while (taken + carryLength < size) {
      let chunk = await this.next();
      if (!chunk) {
        ranOut = true;
        break;
      }
      const room = size - taken - carryLength;
      if (chunk.length > room) {
        this.unread([chunk.subarray(room)]);
        chunk = chunk.subarray(0, room);
      }
      if (!lineAligned) {
        await sink(chunk);
        taken += chunk.length;
        continue;
      }
      const newline = chunk.lastIndexOf(10);
      if (newline < 0) {
        carry.push(chunk);
        carryLength += chunk.length;
        if (carryLength > MAX_CARRY) {
          for (const part of carry) await sink(part);
          taken += carryLength;
          carry = [];
          carryLength = 0;
        }
        continue;
      }
      for (const part of carry) await sink(part);
      await sink(chunk.subarray(0, newline + 1));
      taken += carryLength + newline + 1;
      carry = [chunk.subarray(newline + 1)];
      carryLength = chunk.length - newline - 1;
    }
    if (carryLength > 0) {
      // At the end of the source the last record has no newline: it belongs to this slice. A
      // first line longer than the whole slice is cut rather than making the slice empty.
      if (ranOut || taken === 0) {
        for (const part of carry) await sink(part);
        taken += carryLength;
      } else {
        this.unread(carry);
      }
    }
    return { length: taken, ranOut };
  }

  /** Read to the end (after running out mid-slice) so the error can say how big the source is. */
  async drainCount(): Promise<number> {
    while (await this.next()) {
      // counting happens in next()
    }
    return this.consumed;
  }

  async close(): Promise<void> {
    await this.chunks.return(undefined);
  }
}

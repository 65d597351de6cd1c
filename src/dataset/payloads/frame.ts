/**
 * Framing of the text payloads: `opening`, whole records (joined by `separator`) while they fit in
 * front of `closing`, then padding, then `closing`, so a file is exactly its planned size and stays
 * valid (JSON arrays padded with spaces, CSV and line files padded with empty lines). Prose instead
 * keeps the cut-off start of the last record (`truncateLast`).
 *
 * Records are written straight into the output chunk by a `RecordWriter`; a chunk is handed out
 * (without a copy) once it holds CHUNK_SIZE bytes, and the same buffer is then reused for the next
 * chunk: consumers copy a chunk before resuming the generator (see PayloadGenerator).
 */
import { MAX_OVERRUN, putBytes } from './bytes.js';

/** Text chunks are handed out once they hold this many bytes (plus at most one record). */
export const CHUNK_SIZE = 256 * 1024;
/** Upper bound of one record plus its separator: every chunk has this much room beyond CHUNK_SIZE. */
export const MAX_RECORD = 8 * 1024;

/**
 * Writes one record at `pos` of the chunk behind `view` and returns the position after it (at most
 * MAX_RECORD bytes further; it may scribble up to MAX_OVERRUN bytes beyond its end).
 */
export type RecordWriter = (view: DataView, pos: number) => number;

export interface ByteFrame {
  opening: Uint8Array;
  closing: Uint8Array;
  separator: Uint8Array;
  /** Byte that fills the gap between the last whole record and `closing`. */
  pad: number;
  /** The whole file when it is smaller than opening + closing (still valid where possible). */
  tiny(size: number): Buffer;
  /** Text may be cut anywhere: the tail is a truncated record instead of padding. */
  truncateLast: boolean;
}

function newChunk(remaining: number): Buffer {
  // + closing (≤ 16 bytes) and what a table copy may write past the record.
  return Buffer.allocUnsafe(Math.min(CHUNK_SIZE, remaining) + MAX_RECORD + 16 + MAX_OVERRUN);
}

const viewOf = (buf: Buffer): DataView => new DataView(buf.buffer, buf.byteOffset, buf.length);

export function* framedRecords(size: number, frame: ByteFrame, writeRecord: RecordWriter): Iterable<Buffer> {
  const { opening, closing, separator } = frame;
  if (size < 1 || size < opening.length + closing.length) {
    yield frame.tiny(size);
    return;
  }
  const limit = size - closing.length; // file offset where `closing` starts at the latest
  if (closing.length > 16) throw new Error('internal: closing longer than 16 bytes');
  const buf = newChunk(size);
  const view = viewOf(buf);
  let base = 0; // file offset of buf[0]
  let pos = putBytes(buf, 0, opening);
  let first = true;
  for (;;) {
    const start = pos;
    if (!first) pos = putBytes(buf, pos, separator);
    first = false;
    pos = writeRecord(view, pos);
    if (pos - start > MAX_RECORD) throw new Error(`internal: a record of ${pos - start} bytes exceeds MAX_RECORD`);
    if (base + pos > limit) {
      const end = limit - base;
      if (!frame.truncateLast) buf.fill(frame.pad, start, end);
      pos = putBytes(buf, end, closing);
      if (base + pos !== size) throw new Error(`internal: text payload is ${base + pos} bytes, planned ${size}`);
      if (pos > 0) yield buf.subarray(0, pos);
      return;
    }
    if (pos >= CHUNK_SIZE) {
      yield buf.subarray(0, pos);
      base += pos;
      pos = 0;
    }
  }
}

/**
 * FastCDC content-defined chunking (Xia et al., USENIX ATC 2016) with normalized chunking
 * (level 2), on a 32-bit gear hash. Streaming: bytes are pushed in any pieces; at most `max`
 * bytes are held back between pushes.
 */
import { Xoshiro128 } from './prng.js';
import { GEARCUT_WASM_BASE64 } from './gearcut-wasm.js';

export interface CdcParameters {
  min: number;
  avg: number;
  max: number;
}

/** The parameters `estimate` states: 2 KiB / 8 KiB / 64 KiB. */
export const DEFAULT_CDC: CdcParameters = { min: 2 * 1024, avg: 8 * 1024, max: 64 * 1024 };

/**
 * A fixed, seeded gear table: chunk boundaries are reproducible across runs and machines. Held as
 * int32 (same bits): the hash then stays in int32 registers; uint32 values above 2^31 would make
 * V8 compute the hot loop in doubles (measured ~2x slower).
 */
const GEAR = (() => {
  const rng = Xoshiro128.from('fastcdc-gear-table');
  return Int32Array.from({ length: 256 }, () => rng.nextUint32() | 0);
})();

/**
 * Masks use the high bits: with `fp = (fp << 1) + gear[b]`, bit k depends on the last k+1 bytes,
 * so the top bits see a 32-byte window. Normalization level 2: 2 bits more before avg, 2 fewer after.
 */
function topBits(count: number): number {
  return count <= 0 ? 0 : (0xffffffff << (32 - count)) >>> 0;
}

/** Length of the first chunk of `data[start, end)`; `end - start` when no cut point is found. */
export function cutPoint(data: Uint8Array, start: number, end: number, params: CdcParameters, maskS: number, maskL: number): number {
  let n = end - start;
  if (n <= params.min) return n;
  if (n > params.max) n = params.max;
  const normal = Math.min(params.avg, n);
  // Masks as int32 too: `fp & mask` only compares bits, so int32 and uint32 give the same cuts.
  const small = maskS | 0;
  const large = maskL | 0;
  let fp = 0;
  let i = params.min;
  for (; i < normal; i++) {
    fp = ((fp << 1) + (GEAR[data[start + i] as number] as number)) | 0;
    if ((fp & small) === 0) return i + 1;
  }
  for (; i < n; i++) {
    fp = ((fp << 1) + (GEAR[data[start + i] as number] as number)) | 0;
    if ((fp & large) === 0) return i + 1;
  }
  return n;
}

/** Where data sits in the scanner's memory: after the gear table (256 × 4 bytes). */
const DATA_OFFSET = 1024;
const PAGE_BYTES = 65536;

/**
 * cutPoint in WebAssembly (gearcut.wat): the same hash and masks over a copy of the data in the
 * module's memory. `load` copies a buffer once (a memcpy, ~0.1 ms per MiB); `cut` then scans it.
 * Measured ~2x the JS loop: WebAssembly needs no bounds checks on the gear table or the data.
 */
export class GearScanner {
  private readonly memory: WebAssembly.Memory;
  private readonly scan: (start: number, n: number, min: number, normal: number, small: number, large: number) => number;
  private length = 0;

  constructor() {
    const module = new WebAssembly.Module(Buffer.from(GEARCUT_WASM_BASE64, 'base64'));
    const instance = new WebAssembly.Instance(module, {});
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.scan = instance.exports.cut as GearScanner['scan'];
    new Int32Array(this.memory.buffer, 0, 256).set(GEAR);
  }

  load(data: Uint8Array): void {
    const needed = DATA_OFFSET + data.length;
    if (needed > this.memory.buffer.byteLength) this.memory.grow(Math.ceil((needed - this.memory.buffer.byteLength) / PAGE_BYTES));
    new Uint8Array(this.memory.buffer, DATA_OFFSET, data.length).set(data);
    this.length = data.length;
  }

  /** cutPoint over the loaded data: the same clamping, then the scan. */
  cut(start: number, end: number, params: CdcParameters, maskS: number, maskL: number): number {
    if (end > this.length) throw new RangeError(`scan to ${end} beyond the ${this.length} bytes loaded`);
    let n = end - start;
    if (n <= params.min) return n;
    if (n > params.max) n = params.max;
    return this.scan(start, n, params.min, Math.min(params.avg, n), maskS | 0, maskL | 0);
  }
}

/** The cut-point scanner: WebAssembly (default) or the JS loop (the reference the tests compare with). */
export type CdcScanner = 'wasm' | 'js';

export class FastCdc {
  private carry: Buffer = Buffer.alloc(0);
  private readonly maskS: number;
  private readonly maskL: number;
  private readonly wasm: GearScanner | null;

  constructor(
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly params: CdcParameters = DEFAULT_CDC,
    scanner: CdcScanner = 'wasm',
  ) {
    this.wasm = scanner === 'wasm' ? new GearScanner() : null;
    if (!(params.min > 0 && params.min <= params.avg && params.avg <= params.max)) throw new RangeError('need 0 < min ≤ avg ≤ max');
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topBits(bits + 2);
    this.maskL = topBits(bits - 2);
  }

  /**
   * Cuts every chunk that is final: only where a full `max` bytes follow the chunk start, since a
   * later push could move the cut otherwise. The held-back tail (< max bytes) is joined with just
   * the head of the next piece, never with the whole piece: no copy of each 1 MiB read.
   */
  push(piece: Buffer): void {
    const carried = this.carry.length;
    if (carried === 0) {
      this.cutFrom(piece, 0);
      return;
    }
    // Chunks starting inside the carry end at most `max` bytes later: carry + that much of the piece suffices.
    const head = Buffer.concat([this.carry, piece.subarray(0, this.params.max)]);
    this.wasm?.load(head);
    let start = 0;
    while (start < carried && head.length - start >= this.params.max) start += this.cut(head, start);
    if (start < carried) {
      // The piece was too short to finish the chunk: everything is carried on.
      this.carry = Buffer.from(head.subarray(start));
      return;
    }
    this.cutFrom(piece, start - carried);
  }

  /** One chunk of `data` from `start`; with the WebAssembly scanner, `data` must be the one loaded last. */
  private cut(data: Buffer, start: number): number {
    const length = this.wasm ? this.wasm.cut(start, data.length, this.params, this.maskS, this.maskL) : cutPoint(data, start, data.length, this.params, this.maskS, this.maskL);
    this.onChunk(data.subarray(start, start + length));
    return length;
  }

  private cutFrom(data: Buffer, start: number): void {
    if (data.length - start >= this.params.max) this.wasm?.load(data);
    while (data.length - start >= this.params.max) start += this.cut(data, start);
    // A copy of the tail (< max bytes): the caller may reuse its buffer.
    this.carry = Buffer.from(data.subarray(start));
  }

  /** End of the stream (one file): cut the rest. */
  finish(): void {
    const data = this.carry;
    this.wasm?.load(data);
    for (let start = 0; start < data.length; ) start += this.cut(data, start);
    this.carry = Buffer.alloc(0);
  }
}

/** Fixed-size blocks from a stream of pieces (the last block of a file may be short). */
export class FixedBlocks {
  private carry: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onBlock: (block: Buffer) => void,
    private readonly size = 4096,
  ) {}

  /** Only a partial block is ever copied (to complete or carry it), never the whole piece. */
  push(piece: Buffer): void {
    let start = 0;
    if (this.carry.length > 0) {
      start = Math.min(this.size - this.carry.length, piece.length);
      this.carry = Buffer.concat([this.carry, piece.subarray(0, start)]);
      if (this.carry.length < this.size) return;
      this.onBlock(this.carry);
    }
    for (; piece.length - start >= this.size; start += this.size) this.onBlock(piece.subarray(start, start + this.size));
    this.carry = Buffer.from(piece.subarray(start));
  }

  finish(): void {
    if (this.carry.length > 0) this.onBlock(this.carry);
    this.carry = Buffer.alloc(0);
  }
}

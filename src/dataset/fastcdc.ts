/**
 * FastCDC content-defined chunking (Xia et al., USENIX ATC 2016) with normalized chunking
 * (level 2), on a 32-bit gear hash. Streaming: bytes are pushed in any pieces; at most `max`
 * bytes are held back between pushes.
 */
import { Xoshiro128 } from './prng.js';

export interface CdcParameters {
  min: number;
  avg: number;
  max: number;
}

/** The parameters `estimate` states: 2 KiB / 8 KiB / 64 KiB. */
export const DEFAULT_CDC: CdcParameters = { min: 2 * 1024, avg: 8 * 1024, max: 64 * 1024 };

/** A fixed, seeded gear table: chunk boundaries are reproducible across runs and machines. */
const GEAR = (() => {
  const rng = Xoshiro128.from('fastcdc-gear-table');
  return Uint32Array.from({ length: 256 }, () => rng.nextUint32());
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
  let fp = 0;
  let i = params.min;
  for (; i < normal; i++) {
    fp = ((fp << 1) + (GEAR[data[start + i] as number] as number)) >>> 0;
    if ((fp & maskS) === 0) return i + 1;
  }
  for (; i < n; i++) {
    fp = ((fp << 1) + (GEAR[data[start + i] as number] as number)) >>> 0;
    if ((fp & maskL) === 0) return i + 1;
  }
  return n;
}

export class FastCdc {
  private carry: Buffer = Buffer.alloc(0);
  private readonly maskS: number;
  private readonly maskL: number;

  constructor(
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly params: CdcParameters = DEFAULT_CDC,
  ) {
    if (!(params.min > 0 && params.min <= params.avg && params.avg <= params.max)) throw new RangeError('need 0 < min ≤ avg ≤ max');
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topBits(bits + 2);
    this.maskL = topBits(bits - 2);
  }

  push(piece: Buffer): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, piece]) : piece;
    let start = 0;
    // Only cut where a full `max` bytes are available: a later push could move the cut otherwise.
    while (data.length - start >= this.params.max) {
      const length = cutPoint(data, start, data.length, this.params, this.maskS, this.maskL);
      this.onChunk(data.subarray(start, start + length));
      start += length;
    }
    this.carry = Buffer.from(data.subarray(start));
  }

  /** End of the stream (one file): cut the rest. */
  finish(): void {
    const data = this.carry;
    let start = 0;
    while (start < data.length) {
      const length = cutPoint(data, start, data.length, this.params, this.maskS, this.maskL);
      this.onChunk(data.subarray(start, start + length));
      start += length;
    }
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

  push(piece: Buffer): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, piece]) : piece;
    let start = 0;
    for (; data.length - start >= this.size; start += this.size) this.onBlock(data.subarray(start, start + this.size));
    this.carry = Buffer.from(data.subarray(start));
  }

  finish(): void {
    if (this.carry.length > 0) this.onBlock(this.carry);
    this.carry = Buffer.alloc(0);
  }
}

/**
 * Seeded randomness: xoshiro128** (Blackman & Vigna) on 32-bit integer math, seeded from a
 * sha256 of a key string so that every (seed, purpose, file) gets an independent stream.
 */
import { createHash } from 'node:crypto';

/** 32 bytes derived from the parts: the root of every per-file stream. */
export function deriveKey(...parts: (string | number)[]): Buffer {
  return createHash('sha256').update(parts.join('\u0000')).digest();
}

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(key: Buffer) {
    this.s0 = key.readInt32LE(0);
    this.s1 = key.readInt32LE(4);
    this.s2 = key.readInt32LE(8);
    this.s3 = key.readInt32LE(12);
    // An all-zero state would only ever produce zeros.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9;
  }

  static from(...parts: (string | number)[]): Xoshiro128 {
    return new Xoshiro128(deriveKey(...parts));
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n) for n ≤ 2^32 (multiply-shift; bias below 2^-32·n is irrelevant here). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [min, max], both inclusive. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

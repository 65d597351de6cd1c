/**
 * The random_binary keystream: eight xorshift128+ generators in WebAssembly SIMD (keystream.wat),
 * seeded from the 32-byte content key: 20+ GB/s into the module's memory on this machine. Each
 * Keystream copies its chunk out of the shared module memory into a buffer of its own and hands
 * out that buffer, valid until its next call (consumers copy: FileSink copies into its ring). A
 * view of the module memory itself could be overwritten by another Keystream before the consumer
 * copies it (for-await resumes in a microtask), and a fresh Buffer per chunk cost more than
 * generating it.
 * Replaced AES-128-CTR through `cipher.update` (2.7 GB/s at best here, a new output Buffer per
 * call), which could not reach fio's buffer generation rate (SPEC §10).
 */
import { createHash } from 'node:crypto';
import { KEYSTREAM_WASM_BASE64 } from './keystream-wasm.js';

export const STATE_BYTES = 128;
/** Bytes per turn of the WebAssembly loop: one u64 from each of the eight generators. */
export const BLOCK_BYTES = 64;
/** Largest chunk one `next` call returns: cache-sized, so the copy out of the module stays hot. */
export const MAX_KEYSTREAM_CHUNK = 64 * 1024;

const STATE_OFFSET = 0;
const OUTPUT_OFFSET = 1024;

interface KeystreamExports {
  memory: WebAssembly.Memory;
  fill(state: number, out: number, blocks: number): void;
}

let loaded: KeystreamExports | null = null;

/** One module instance for the process: `fill` is synchronous, so callers never interleave. */
function keystreamModule(): KeystreamExports {
  if (loaded) return loaded;
  const module = new WebAssembly.Module(Buffer.from(KEYSTREAM_WASM_BASE64, 'base64'));
  const exports = new WebAssembly.Instance(module).exports as unknown as KeystreamExports;
  const needed = OUTPUT_OFFSET + MAX_KEYSTREAM_CHUNK;
  const pages = Math.ceil((needed - exports.memory.buffer.byteLength) / 65536);
  if (pages > 0) exports.memory.grow(pages);
  loaded = exports;
  return exports;
}

/** The 128-byte generator state for a content key (independent sha256 expansions, never all zero). */
export function keystreamState(key: Buffer): Uint8Array {
  const state = new Uint8Array(STATE_BYTES);
  for (let part = 0; part < STATE_BYTES / 32; part++) {
    state.set(createHash('sha256').update(key).update(`xorshift128+/${part}`).digest(), part * 32);
  }
  const view = new DataView(state.buffer);
  // A generator whose two state words are both zero would only ever output zeros.
  for (let generator = 0; generator < 8; generator++) {
    const s0 = 32 * (generator >> 1) + 8 * (generator & 1);
    if (view.getBigUint64(s0, true) === 0n && view.getBigUint64(s0 + 16, true) === 0n) view.setBigUint64(s0, 0x9e3779b97f4a7c15n, true);
  }
  return state;
}

export class Keystream {
  private readonly state: Uint8Array;
  private output: Buffer | null = null;

  constructor(key: Buffer) {
    this.state = keystreamState(key);
  }

  /**
   * The next `length` (≤ MAX_KEYSTREAM_CHUNK) bytes, in this Keystream's own buffer, which its next
   * call overwrites. A length that is not a multiple of 64 uses up the whole last block: only a
   * file's final chunk is short.
   */
  next(length: number): Buffer {
    if (!Number.isInteger(length) || length < 0 || length > MAX_KEYSTREAM_CHUNK) throw new Error(`internal: keystream chunk of ${length} bytes`);
    const wasm = keystreamModule();
    const memory = new Uint8Array(wasm.memory.buffer);
    memory.set(this.state, STATE_OFFSET);
    wasm.fill(STATE_OFFSET, OUTPUT_OFFSET, Math.ceil(length / BLOCK_BYTES));
    this.state.set(memory.subarray(STATE_OFFSET, STATE_OFFSET + STATE_BYTES));
    this.output ??= Buffer.allocUnsafe(MAX_KEYSTREAM_CHUNK);
    this.output.set(memory.subarray(OUTPUT_OFFSET, OUTPUT_OFFSET + length));
    return this.output.subarray(0, length);
  }
}

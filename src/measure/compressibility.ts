/**
 * The compressibility ceiling used by the plausibility check (SPEC §6.3): how far a standard
 * compressor (zlib deflate, level 6) shrinks the data set's *unique* files, each compressed on its
 * own so cross-file duplicates do not count twice (they are already in the ideal EDR).
 * Bounded sample: at most SAMPLE_PER_FILE bytes from each unique file, SAMPLE_TOTAL in all.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import type { Manifest } from '../dataset/manifest.js';

export const SAMPLE_PER_FILE = 256 * 1024;
export const SAMPLE_TOTAL = 16 * 1024 * 1024;

/** raw / compressed, never below 1 (incompressible data costs a few bytes of framing, not less space). */
export function compressionRatio(rawBytes: number, compressedBytes: number): number {
  if (rawBytes <= 0 || compressedBytes <= 0) return 1;
  return Math.max(1, rawBytes / compressedBytes);
}

export async function compressibilityOf(dir: string, manifest: Manifest): Promise<number> {
  let raw = 0;
  let compressed = 0;
  for (const entry of manifest.entries) {
    if (entry.duplicateOf !== null) continue;
    if (raw >= SAMPLE_TOTAL) break;
    const length = Math.min(entry.size, SAMPLE_PER_FILE, SAMPLE_TOTAL - raw);
    if (length <= 0) continue;
    const handle = await open(join(dir, entry.name), 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, 0);
      raw += bytesRead;
      compressed += deflateRawSync(buffer.subarray(0, bytesRead), { level: 6 }).length;
    } finally {
      await handle.close();
    }
  }
  return compressionRatio(raw, compressed);
}

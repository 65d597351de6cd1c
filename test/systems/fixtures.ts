/**
 * Tiny deterministic inputs for adapter tests: LabFiles (with exact duplicates), cells, and a
 * native table + parser covering every portable column type. No randomness: the same call
 * gives the same bytes, so failures reproduce.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeTable } from '../../src/dataset/records.js';
import type { CellContext, LabFile, Mode } from '../../src/systems/types.js';

export function sha256Hex(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Incompressible bytes from a seed (sha256 in counter mode). */
export function pseudoRandomBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let block = 0; offset < size; block++) {
    const digest = createHash('sha256').update(`${seed}:${block}`).digest();
    offset += digest.copy(out, offset);
  }
  return out;
}

const WORDS = ['storage', 'dedup', 'page', 'block', 'toast', 'vacuum', 'merge', 'segment', 'checkpoint', 'row'];

/** Compressible prose-like bytes from a seed. */
export function pseudoTextBytes(seed: string, size: number): Buffer {
  const noise = pseudoRandomBytes(seed, Math.ceil(size / 4) + 1);
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const word = WORDS[noise[i % noise.length]! % WORDS.length]!;
    parts.push(word);
    length += word.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, size);
}

export interface LabFileSpec {
  count: number;
  /** Bytes per file (every file the same size keeps assertions simple). */
  size: number;
  /** duplicate index → index of the earlier file it copies. */
  duplicates?: Record<number, number>;
  kind?: 'random' | 'text';
  seed?: string;
  payloadType?: string;
}

/** Files 0…count-1; a duplicate has the same content and sha256 as the file it copies. */
export function makeLabFiles(spec: LabFileSpec): LabFile[] {
  const { count, size, duplicates = {}, kind = 'random', seed = 'fixture' } = spec;
  const payloadType = spec.payloadType ?? (kind === 'random' ? 'random_binary' : 'text_document');
  const files: LabFile[] = [];
  for (let id = 0; id < count; id++) {
    const source = duplicates[id];
    if (source !== undefined && source >= id) throw new Error(`duplicate ${id} must copy an earlier file, not ${source}`);
    const content =
      source !== undefined ? files[source]!.content : kind === 'random' ? pseudoRandomBytes(`${seed}:${id}`, size) : pseudoTextBytes(`${seed}:${id}`, size);
    files.push({ id, name: `${String(id).padStart(5, '0')}.bin`, size: content.length, sha256: sha256Hex(content), payloadType, content });
  }
  return files;
}

export async function* iterate<T>(items: readonly T[]): AsyncIterable<T> {
  for (const item of items) yield item;
}

/** A native table using every portable column type once. */
export const FIXTURE_NATIVE_TABLE: NativeTable = {
  name: 'fixture_rows',
  columns: [
    { name: 'line_no', type: 'int' },
    { name: 'word', type: 'text' },
    { name: 'amount', type: 'decimal' },
    { name: 'ratio', type: 'float' },
    { name: 'at', type: 'timestamp' },
    { name: 'key', type: 'uuid' },
    { name: 'doc', type: 'json' },
    { name: 'flag', type: 'bool' },
    { name: 'raw', type: 'bytes' },
  ],
};

export const FIXTURE_ROWS_PER_FILE = 3;

/** Rows derived from a file's bytes: duplicate files give identical rows (as real parsers do). */
export async function* parseFixtureRows(file: LabFile): AsyncIterable<unknown[]> {
  for (let line = 0; line < FIXTURE_ROWS_PER_FILE; line++) {
    const bytes = createHash('sha256').update(file.content).update(String(line)).digest();
    const hex = bytes.toString('hex');
    const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    yield [
      line,
      WORDS[bytes[0]! % WORDS.length]!,
      `${bytes.readUInt16BE(1)}.${String(bytes[3]! % 100).padStart(2, '0')}`,
      bytes.readUInt16BE(4) / 65536,
      new Date(Date.UTC(2024, 0, 1) + bytes.readUInt32BE(6) * 1000).toISOString(),
      uuid,
      JSON.stringify({ line, tag: hex.slice(0, 6), nested: { n: bytes[10] } }),
      bytes[11]! % 2 === 0,
      bytes.subarray(12, 28),
    ];
  }
}

export interface CellSpec {
  variant: string;
  mode: Mode;
  signal?: AbortSignal;
  parseRecords?: (file: LabFile) => AsyncIterable<unknown[]>;
}

export function makeCell(spec: CellSpec): CellContext {
  const native = spec.mode === 'native';
  return {
    cellId: `contract.${spec.variant}.${spec.mode}.fixture.U0.r1`,
    objectTag: `t${spec.variant.replace(/[^a-z0-9]/g, '')}${spec.mode === 'blob' ? 'b' : 'n'}`.slice(0, 16),
    variant: spec.variant,
    mode: spec.mode,
    payloadType: native ? 'fixture' : 'random_binary',
    grade: 'U0',
    nativeTable: native ? FIXTURE_NATIVE_TABLE : undefined,
    parseRecords: native ? (spec.parseRecords ?? parseFixtureRows) : undefined,
    signal: spec.signal ?? new AbortController().signal,
  };
}

/** `name:size,…` of a folder's entries — a fingerprint for "nothing was written here". */
export function dirListing(dir: string): string {
  if (!existsSync(dir)) return '<none>';
  return readdirSync(dir)
    .sort()
    .map((name) => `${name}:${statSync(join(dir, name)).size}`)
    .join(',');
}

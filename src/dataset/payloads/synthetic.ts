/**
 * Synthetic payload generators (SPEC §3). Each turns a 32-byte content key and a size into
 * exactly `size` bytes, yielded in chunks of at most CHUNK_SIZE so memory never depends on the
 * file size. Same key → same bytes.
 */
import { createCipheriv } from 'node:crypto';
import { Xoshiro128 } from '../prng.js';
import type { SyntheticType } from '../types.js';
import {
  CATEGORIES,
  CITIES,
  CURRENCIES,
  DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  MERCHANTS,
  ORDER_STATUSES,
  STREETS,
  TAGS,
  WORDS,
} from './vocabulary.js';

/** Text payloads are assembled in 1 MiB chunks. */
export const CHUNK_SIZE = 1 << 20;
/** Keystream chunks stay cache-sized: 64 KiB runs ~2x faster than 1 MiB (measured). */
export const RANDOM_CHUNK_SIZE = 64 * 1024;

export type PayloadGenerator = (key: Buffer, size: number) => Iterable<Buffer>;

/**
 * Incompressible bytes: the AES-128-CTR keystream (key and IV from the content key). With AES-NI
 * this runs at several GB/s, is deterministic, and never repeats a 16-byte block within a file
 * or across files (different keys).
 */
export function* randomBinary(key: Buffer, size: number): Iterable<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = zeroBuffer();
  for (let done = 0; done < size; ) {
    const length = Math.min(RANDOM_CHUNK_SIZE, size - done);
    yield cipher.update(length === RANDOM_CHUNK_SIZE ? zeros : zeros.subarray(0, length));
    done += length;
  }
}

let zeroChunk: Buffer | null = null;
function zeroBuffer(): Buffer {
  zeroChunk ??= Buffer.alloc(RANDOM_CHUNK_SIZE);
  return zeroChunk;
}

/**
 * Frame for text payloads: `opening`, then whole records while they fit in front of `closing`,
 * then `pad` bytes, then `closing`, so the file is exactly `size` bytes and stays valid (JSON
 * arrays padded with spaces, CSV and line files padded with empty lines). Records are ASCII.
 */
interface TextFrame {
  opening: string;
  closing: string;
  separator: string;
  pad: string;
  /** Files smaller than opening+closing get this many bytes of it instead (still valid where possible). */
  tiny(size: number): string;
  /** Text may be cut anywhere: the tail is a truncated record instead of padding. */
  truncateLast?: boolean;
}

function* framedText(size: number, frame: TextFrame, nextRecord: () => string): Iterable<Buffer> {
  if (size < frame.opening.length + frame.closing.length || size < 1) {
    yield Buffer.from(frame.tiny(size), 'latin1');
    return;
  }
  // Records are gathered into a string batch and written to the chunk in one latin1 copy:
  // far cheaper than one Buffer write per record.
  const writer = new ChunkWriter(size);
  let batch = frame.opening;
  let remaining = size - frame.opening.length; // bytes still to be decided after the batch
  let first = true;
  for (;;) {
    const record = (first ? '' : frame.separator) + nextRecord();
    if (record.length + frame.closing.length > remaining) {
      const room = remaining - frame.closing.length;
      if (room > 0) batch += frame.truncateLast ? record.slice(0, room) : frame.pad.repeat(room);
      batch += frame.closing;
      break;
    }
    batch += record;
    remaining -= record.length;
    first = false;
    if (batch.length >= BATCH_CHARS) {
      writer.write(batch);
      batch = '';
      yield* writer.drain();
    }
  }
  writer.write(batch);
  yield* writer.drain();
  yield* writer.finish();
}

const BATCH_CHARS = 32 * 1024;

/** Fills fixed-size chunks from latin1 strings; full chunks are handed out by `drain`. */
class ChunkWriter {
  private chunk: Buffer;
  private used = 0;
  private remaining: number;
  private readonly full: Buffer[] = [];

  constructor(private readonly size: number) {
    this.remaining = size;
    this.chunk = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, size));
  }

  write(text: string): void {
    let offset = 0;
    while (offset < text.length) {
      if (this.used === this.chunk.length) {
        this.full.push(this.chunk);
        this.chunk = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, this.remaining));
        this.used = 0;
      }
      const part = offset === 0 && text.length <= this.chunk.length - this.used ? text : text.slice(offset, offset + this.chunk.length - this.used);
      const written = this.chunk.write(part, this.used, 'latin1');
      this.used += written;
      offset += written;
      this.remaining -= written;
    }
  }

  *drain(): Iterable<Buffer> {
    while (this.full.length > 0) yield this.full.shift() as Buffer;
  }

  *finish(): Iterable<Buffer> {
    if (this.remaining !== 0) throw new Error(`internal: text payload is ${this.size - this.remaining} bytes, planned ${this.size}`);
    if (this.used > 0) yield this.chunk.subarray(0, this.used);
  }
}

const JSON_FRAME: TextFrame = {
  opening: '[\n',
  closing: '\n]\n',
  separator: ',\n',
  pad: ' ',
  tiny: (size) => (size === 1 ? '0' : `[${' '.repeat(Math.max(0, size - 2))}]`),
};

function csvFrame(header: string): TextFrame {
  return { opening: header, closing: '', separator: '', pad: '\n', tiny: (size) => header.slice(0, size - 1) + '\n' };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(x: number): string {
  return (HEX[x >>> 24] as string) + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
}

/** RFC 4122 version-4 UUID text from four PRNG words. */
export function uuidFrom(rng: Xoshiro128): string {
  const a = rng.nextUint32();
  const b = rng.nextUint32();
  const c = rng.nextUint32();
  const d = rng.nextUint32();
  const bHex = hex32((b & 0xffff0fff) | 0x00004000);
  const cHex = hex32((c & 0x3fffffff) | 0x80000000);
  return `${hex32(a)}-${bHex.slice(0, 4)}-${bHex.slice(4)}-${cHex.slice(0, 4)}-${cHex.slice(4)}${hex32(d)}`;
}

// Timestamps: seconds since 2020-01-01 within ~5 years, formatted without Date objects (hot path).
const EPOCH_2020 = 1577836800;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}
export function isoTimestamp(secondsSince2020: number): string {
  let days = Math.floor(secondsSince2020 / 86400);
  let rest = secondsSince2020 - days * 86400;
  let year = 2020;
  for (;;) {
    const yearDays = year % 4 === 0 ? 366 : 365;
    if (days < yearDays) break;
    days -= yearDays;
    year += 1;
  }
  let month = 0;
  for (;;) {
    const monthDays = (MONTH_DAYS[month] as number) + (month === 1 && year % 4 === 0 ? 1 : 0);
    if (days < monthDays) break;
    days -= monthDays;
    month += 1;
  }
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const minute = Math.floor(rest / 60);
  return `${year}-${two(month + 1)}-${two(days + 1)}T${two(hour)}:${two(minute)}:${two(rest - minute * 60)}Z`;
}
export const TIMESTAMP_SPAN = 5 * 365 * 86400;
export { EPOCH_2020 };

/** Fixed-point decimal text of value/10^digits without float noise (e.g. -598.994). */
function fixed(value: number, digits: 1 | 2 | 3): string {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  const scale = digits === 1 ? 10 : digits === 2 ? 100 : 1000;
  const fraction = abs % scale;
  const fractionText = `${fraction}`;
  return `${sign}${(abs - fraction) / scale}.${'00'.slice(0, digits - fractionText.length)}${fractionText}`;
}

function cents(value: number): string {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  const fraction = abs % 100;
  return `${sign}${(abs - fraction) / 100}.${fraction < 10 ? '0' : ''}${fraction}`;
}

function sentence(rng: Xoshiro128, words: number): string {
  const first = rng.pick(WORDS);
  let text = first.charAt(0).toUpperCase() + first.slice(1);
  for (let i = 1; i < words; i++) text += (rng.below(12) === 0 ? ', ' : ' ') + rng.pick(WORDS);
  return text + (rng.below(10) === 0 ? '?' : '.');
}

export function* structuredJson(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  let id = rng.below(1_000_000) * 1000;
  yield* framedText(size, JSON_FRAME, () => {
    id += 1 + rng.below(5);
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const [city, country] = rng.pick(CITIES);
    const tags = rng.below(3) === 0 ? `"${rng.pick(TAGS)}"` : `"${rng.pick(TAGS)}","${rng.pick(TAGS)}"`;
    return (
      `{"id":${id},"username":"${first}.${last}${rng.below(100)}","name":"${capitalize(first)} ${capitalize(last)}",` +
      `"email":"${first}.${last}@${rng.pick(DOMAINS)}","age":${18 + rng.below(70)},"city":"${city}","country":"${country}",` +
      `"score":${rng.below(100000) / 100},"active":${rng.below(4) !== 0},"created_at":"${isoTimestamp(rng.below(TIMESTAMP_SPAN))}",` +
      `"tags":[${tags}]}`
    );
  });
}

export function* jsonbDocuments(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  yield* framedText(size, JSON_FRAME, () => {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const [city, country] = rng.pick(CITIES);
    const itemCount = 1 + rng.below(4);
    let items = '';
    let total = 0;
    for (let i = 0; i < itemCount; i++) {
      const price = 99 + rng.below(20000);
      const quantity = 1 + rng.below(3);
      total += price * quantity;
      items += `${i ? ',' : ''}{"sku":"SKU-${10000 + rng.below(90000)}","name":"${rng.pick(WORDS)} ${rng.pick(WORDS)}","quantity":${quantity},"price":${cents(price)}}`;
    }
    return (
      `{"order_id":"${uuidFrom(rng)}","status":"${rng.pick(ORDER_STATUSES)}","created_at":"${isoTimestamp(rng.below(TIMESTAMP_SPAN))}",` +
      `"customer":{"id":${rng.below(10_000_000)},"name":"${capitalize(first)} ${capitalize(last)}","email":"${first}.${last}@${rng.pick(DOMAINS)}",` +
      `"address":{"street":"${1 + rng.below(200)} ${rng.pick(STREETS)}","city":"${city}","postal_code":"${10000 + rng.below(89999)}","country":"${country}"}},` +
      `"items":[${items}],"total":${cents(total)},"currency":"${rng.pick(CURRENCIES)}","notes":${rng.below(3) === 0 ? `"${sentence(rng, 4 + rng.below(10))}"` : 'null'}}`
    );
  });
}

const TEXT_FRAME: TextFrame = { opening: '', closing: '', separator: '\n\n', pad: ' ', tiny: (size) => 'a'.repeat(size), truncateLast: true };

export function* textDocument(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  yield* framedText(size, TEXT_FRAME, () => {
    const sentences = 2 + rng.below(6);
    let paragraph = sentence(rng, 5 + rng.below(16));
    for (let i = 1; i < sentences; i++) paragraph += ' ' + sentence(rng, 5 + rng.below(16));
    return paragraph;
  });
}

const LINES_FRAME: TextFrame = { opening: '', closing: '', separator: '', pad: '\n', tiny: (size) => '\n'.repeat(size) };

export function* uuidKeys(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  yield* framedText(size, LINES_FRAME, () => `${uuidFrom(rng)}\n`);
}

export const NUMERIC_HEADER = 'id,x,y,z,temperature,pressure,count\n';

export function* numericDataset(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  let id = rng.below(1_000_000) * 1000;
  yield* framedText(size, csvFrame(NUMERIC_HEADER), () => {
    id += 1;
    return (
      `${id},${fixed(rng.below(2_000_000) - 1_000_000, 3)},${fixed(rng.below(2_000_000) - 1_000_000, 3)},` +
      `${fixed(rng.below(2_000_000) - 1_000_000, 3)},${fixed(rng.below(8000) - 2000, 2)},${fixed(950_000 + rng.below(100_000), 1)},${rng.below(1000)}\n`
    );
  });
}

export const BANK_HEADER = 'transaction_id,account_iban,booked_at,amount,currency,counterparty,category,balance\n';

export function* bankTransactions(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  let id = rng.below(1_000_000) * 1000;
  let balance = 100_000 + rng.below(1_000_000);
  let time = rng.below(TIMESTAMP_SPAN - 86400 * 365);
  const account = `DE${10 + rng.below(90)}${hex32(rng.nextUint32()).replace(/[a-f]/g, '7')}${1000000000 + rng.below(999999999)}`;
  yield* framedText(size, csvFrame(BANK_HEADER), () => {
    id += 1;
    time += 60 + rng.below(86400);
    const amount = rng.below(10) === 0 ? 50_000 + rng.below(300_000) : -(100 + rng.below(20_000));
    balance += amount;
    return `${id},${account},${isoTimestamp(time)},${cents(amount)},${rng.pick(CURRENCIES)},${rng.pick(MERCHANTS)},${rng.pick(CATEGORIES)},${cents(balance)}\n`;
  });
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

export const SYNTHETIC_GENERATORS: Record<SyntheticType, PayloadGenerator> = {
  random_binary: randomBinary,
  structured_json: structuredJson,
  text_document: textDocument,
  uuid_keys: uuidKeys,
  jsonb_documents: jsonbDocuments,
  numeric_dataset: numericDataset,
  bank_transactions: bankTransactions,
};

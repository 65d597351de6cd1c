/**
 * Synthetic payload generators (SPEC §3). Each turns a 32-byte content key and a size into
 * exactly `size` bytes, yielded in chunks of about CHUNK_SIZE bytes (random data: RANDOM_CHUNK_SIZE)
 * so memory never depends on the file size. Same key → same bytes.
 *
 * The structured types write their records byte by byte into the output chunk (see bytes.ts and
 * frame.ts): pre-encoded field and word tables, digit tables for numbers, hex for UUIDs.
 */
import { Xoshiro128 } from '../prng.js';
import type { SyntheticType } from '../types.js';
import { ascii, ByteTable, constant, EPOCH_2020, putFixed1, putFixed2, putFixed3, putIsoTimestamp, putUint, putUuid } from './bytes.js';
import { CHUNK_SIZE, framedRecords, type ByteFrame } from './frame.js';
import { Keystream, MAX_KEYSTREAM_CHUNK } from './keystream.js';
import {
  CITIES,
  CURRENCIES,
  DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  MERCHANTS,
  ORDER_STATUSES,
  PAYERS,
  STREETS,
  TAGS,
  WORDS,
} from './vocabulary.js';

export { CHUNK_SIZE, EPOCH_2020 };

/** Random data comes in chunks of this size (the keystream's largest, cache-sized chunk). */
export const RANDOM_CHUNK_SIZE = MAX_KEYSTREAM_CHUNK;

/**
 * A chunk is valid only until the generator is resumed: consumers copy what they keep —
 * `Buffer.concat([...generator])` would be wrong, `collectPayload` is right.
 * FileSink copies into its batch buffers; reusing chunk memory saves an allocation per chunk.
 */
export type PayloadGenerator = (key: Buffer, size: number) => Iterable<Buffer>;

/** A whole payload in one Buffer (copying each chunk as it arrives): for small payloads and tests. */
export function collectPayload(chunks: Iterable<Buffer>): Buffer {
  return Buffer.concat(Array.from(chunks, (chunk) => Buffer.from(chunk)));
}

/**
 * Incompressible bytes: eight xorshift128+ generators seeded from the content key (keystream.ts).
 * Deterministic; with 2^128 - 1 states per generator, no 4 KiB block or CDC chunk repeats within
 * or across files.
 */
export function* randomBinary(key: Buffer, size: number): Iterable<Buffer> {
  const keystream = new Keystream(key);
  for (let done = 0; done < size; ) {
    const length = Math.min(RANDOM_CHUNK_SIZE, size - done);
    yield keystream.next(length);
    done += length;
  }
}

/** Timestamps fall within ~5 years from 2020-01-01. */
export const TIMESTAMP_SPAN = 5 * 365 * 86400;

const JSON_FRAME: ByteFrame = {
  opening: ascii('[\n'),
  closing: ascii('\n]\n'),
  separator: ascii(',\n'),
  pad: 32,
  tiny: (size) => Buffer.from(size === 1 ? '0' : `[${' '.repeat(Math.max(0, size - 2))}]`, 'latin1'),
  truncateLast: false,
};

function csvFrame(header: string): ByteFrame {
  return {
    opening: ascii(header),
    closing: new Uint8Array(0),
    separator: new Uint8Array(0),
    pad: 10,
    tiny: (size) => Buffer.from(header.slice(0, size - 1) + '\n', 'latin1'),
    truncateLast: false,
  };
}

const TEXT_FRAME: ByteFrame = {
  opening: new Uint8Array(0),
  closing: new Uint8Array(0),
  separator: ascii('\n\n'),
  pad: 32,
  tiny: (size) => Buffer.alloc(size, 'a'),
  truncateLast: true,
};

const LINES_FRAME: ByteFrame = {
  opening: new Uint8Array(0),
  closing: new Uint8Array(0),
  separator: new Uint8Array(0),
  pad: 10,
  tiny: (size) => Buffer.alloc(size, '\n'),
  truncateLast: false,
};

const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

// Pre-encoded tables. Same index into a lower-case and a capitalized table gives the same name.
const FIRST = new ByteTable(FIRST_NAMES);
const FIRST_CAP = new ByteTable(FIRST_NAMES.map(capitalize));
const LAST = new ByteTable(LAST_NAMES);
const LAST_CAP = new ByteTable(LAST_NAMES.map(capitalize));
const DOMAIN = new ByteTable(DOMAINS);
const WORD = new ByteTable(WORDS);
const WORD_CAP = new ByteTable(WORDS.map(capitalize));
const SPACE_WORD = new ByteTable(WORDS, ' ');
/** Odds of a comma before a word inside a sentence: 1 in COMMA_ODDS. */
const COMMA_ODDS = 12;
/**
 * A word following another: ' word' in COMMA_ODDS − 1 of COMMA_ODDS copies, ', word' in one, so a
 * single draw picks both the word and the comma (same distribution as two independent draws).
 */
const NEXT_WORD = new ByteTable([
  ...Array.from({ length: COMMA_ODDS - 1 }, () => WORDS.map((word) => ` ${word}`)).flat(),
  ...WORDS.map((word) => `, ${word}`),
]);
const TAG = new ByteTable(TAGS, '"', '"');
const STREET = new ByteTable(STREETS);
const STATUS = new ByteTable(ORDER_STATUSES);
const CURRENCY = new ByteTable(CURRENCIES);
/** `,merchant,category,` and `,payer,category,`: the counterparty decides the category. */
const MERCHANT = new ByteTable(MERCHANTS.map(([name, category]) => `${name},${category}`), ',', ',');
const PAYER = new ByteTable(PAYERS.map(([name, category]) => `${name},${category}`), ',', ',');

const SPACE = 32;
const COMMA = 44;
const NEWLINE = 10;
const QUOTE = 34;

/** A sentence of `words` words from the vocabulary: capitalized, an occasional comma, '.' or '?'. */
function putSentence(view: DataView, pos: number, rng: Xoshiro128, words: number): number {
  pos = WORD_CAP.put(view, pos, rng.below(WORD.count));
  const count = NEXT_WORD.count;
  let i = 1;
  // Two words per 32-bit draw (16-bit multiply-shift each).
  for (; i + 1 < words; i += 2) {
    const r = rng.nextUint32();
    pos = NEXT_WORD.put(view, pos, ((r >>> 16) * count) >>> 16);
    pos = NEXT_WORD.put(view, pos, ((r & 0xffff) * count) >>> 16);
  }
  if (i < words) pos = NEXT_WORD.put(view, pos, rng.below(count));
  view.setUint8(pos, rng.below(10) === 0 ? 63 : 46);
  return pos + 1;
}

/** `first.last@domain` for the picked name indexes. */
function putEmail(view: DataView, pos: number, rng: Xoshiro128, first: number, last: number): number {
  pos = FIRST.put(view, pos, first);
  view.setUint8(pos++, 46);
  pos = LAST.put(view, pos, last);
  view.setUint8(pos++, 64);
  return DOMAIN.put(view, pos, rng.below(DOMAIN.count));
}

/** `First Last` for the picked name indexes. */
function putFullName(view: DataView, pos: number, first: number, last: number): number {
  pos = FIRST_CAP.put(view, pos, first);
  view.setUint8(pos++, SPACE);
  return LAST_CAP.put(view, pos, last);
}

// structured_json: one flat user record per line.
const SJ_ID = constant('{"id":');
const SJ_USERNAME = constant(',"username":"');
const SJ_NAME = constant('","name":"');
const SJ_EMAIL = constant('","email":"');
const SJ_AGE = constant('","age":');
const SJ_CITY = new ByteTable(CITIES.map(([city, country]) => `,"city":"${city}","country":"${country}","score":`));
const SJ_ACTIVE = new ByteTable(['true', 'false'], ',"active":', ',"created_at":"');
const SJ_TAGS = constant('","tags":[');
const SJ_END = constant(']}');

export function structuredJson(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  let id = rng.below(1_000_000) * 1000;
  return framedRecords(size, JSON_FRAME, (view, pos) => {
    id += 1 + rng.below(5);
    const first = rng.below(FIRST.count);
    const last = rng.below(LAST.count);
    pos = SJ_ID.put(view, pos, 0);
    pos = putUint(view, pos, id);
    pos = SJ_USERNAME.put(view, pos, 0);
    pos = FIRST.put(view, pos, first);
    view.setUint8(pos++, 46);
    pos = LAST.put(view, pos, last);
    pos = putUint(view, pos, rng.below(100));
    pos = SJ_NAME.put(view, pos, 0);
    pos = putFullName(view, pos, first, last);
    pos = SJ_EMAIL.put(view, pos, 0);
    pos = putEmail(view, pos, rng, first, last);
    pos = SJ_AGE.put(view, pos, 0);
    pos = putUint(view, pos, 18 + rng.below(70));
    pos = SJ_CITY.put(view, pos, rng.below(SJ_CITY.count));
    pos = putFixed2(view, pos, rng.below(100_000));
    pos = SJ_ACTIVE.put(view, pos, rng.below(4) !== 0 ? 0 : 1);
    pos = putIsoTimestamp(view, pos, rng.below(TIMESTAMP_SPAN));
    pos = SJ_TAGS.put(view, pos, 0);
    pos = TAG.put(view, pos, rng.below(TAG.count));
    if (rng.below(3) !== 0) {
      view.setUint8(pos++, COMMA);
      pos = TAG.put(view, pos, rng.below(TAG.count));
    }
    return SJ_END.put(view, pos, 0);
  });
}

// jsonb_documents: nested order documents, one per line.
const JD_ORDER = constant('{"order_id":"');
const JD_STATUS = constant('","status":"');
const JD_CREATED = constant('","created_at":"');
const JD_CUSTOMER = constant('","customer":{"id":');
const JD_NAME = constant(',"name":"');
const JD_EMAIL = constant('","email":"');
const JD_STREET = constant('","address":{"street":"');
const JD_CITY = new ByteTable(CITIES.map(([city]) => `","city":"${city}","postal_code":"`));
const JD_COUNTRY = new ByteTable(CITIES.map(([, country]) => `","country":"${country}"}},"items":[`));
const JD_SKU = constant('{"sku":"SKU-');
const JD_ITEM_NAME = constant('","name":"');
const JD_QUANTITY = constant('","quantity":');
const JD_PRICE = constant(',"price":');
const JD_TOTAL = constant('],"total":');
const JD_CURRENCY = constant(',"currency":"');
const JD_NOTES = constant('","notes":');
const JD_NULL_END = constant('null}');

export function jsonbDocuments(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  return framedRecords(size, JSON_FRAME, (view, pos) => {
    const first = rng.below(FIRST.count);
    const last = rng.below(LAST.count);
    const city = rng.below(CITIES.length);
    pos = JD_ORDER.put(view, pos, 0);
    pos = putUuid(view, pos, rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32());
    pos = JD_STATUS.put(view, pos, 0);
    pos = STATUS.put(view, pos, rng.below(STATUS.count));
    pos = JD_CREATED.put(view, pos, 0);
    pos = putIsoTimestamp(view, pos, rng.below(TIMESTAMP_SPAN));
    pos = JD_CUSTOMER.put(view, pos, 0);
    pos = putUint(view, pos, rng.below(10_000_000));
    pos = JD_NAME.put(view, pos, 0);
    pos = putFullName(view, pos, first, last);
    pos = JD_EMAIL.put(view, pos, 0);
    pos = putEmail(view, pos, rng, first, last);
    pos = JD_STREET.put(view, pos, 0);
    pos = putUint(view, pos, 1 + rng.below(200));
    view.setUint8(pos++, SPACE);
    pos = STREET.put(view, pos, rng.below(STREET.count));
    pos = JD_CITY.put(view, pos, city);
    pos = putUint(view, pos, 10000 + rng.below(89999));
    pos = JD_COUNTRY.put(view, pos, city);
    const itemCount = 1 + rng.below(4);
    let total = 0;
    for (let i = 0; i < itemCount; i++) {
      const price = 99 + rng.below(20000);
      const quantity = 1 + rng.below(3);
      total += price * quantity;
      if (i > 0) view.setUint8(pos++, COMMA);
      pos = JD_SKU.put(view, pos, 0);
      pos = putUint(view, pos, 10000 + rng.below(90000));
      pos = JD_ITEM_NAME.put(view, pos, 0);
      pos = WORD.put(view, pos, rng.below(WORD.count));
      pos = SPACE_WORD.put(view, pos, rng.below(WORD.count));
      pos = JD_QUANTITY.put(view, pos, 0);
      pos = putUint(view, pos, quantity);
      pos = JD_PRICE.put(view, pos, 0);
      pos = putFixed2(view, pos, price);
      view.setUint8(pos++, 125); // }
    }
    pos = JD_TOTAL.put(view, pos, 0);
    pos = putFixed2(view, pos, total);
    pos = JD_CURRENCY.put(view, pos, 0);
    pos = CURRENCY.put(view, pos, rng.below(CURRENCY.count));
    pos = JD_NOTES.put(view, pos, 0);
    if (rng.below(3) !== 0) return JD_NULL_END.put(view, pos, 0);
    view.setUint8(pos++, QUOTE);
    pos = putSentence(view, pos, rng, 4 + rng.below(10));
    view.setUint8(pos++, QUOTE);
    view.setUint8(pos++, 125);
    return pos;
  });
}

/** Prose: paragraphs of 2–7 sentences of 5–20 words, separated by blank lines. */
export function textDocument(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  return framedRecords(size, TEXT_FRAME, (view, pos) => {
    const sentences = 2 + rng.below(6);
    pos = putSentence(view, pos, rng, 5 + rng.below(16));
    for (let i = 1; i < sentences; i++) {
      view.setUint8(pos++, SPACE);
      pos = putSentence(view, pos, rng, 5 + rng.below(16));
    }
    return pos;
  });
}

export function uuidKeys(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  return framedRecords(size, LINES_FRAME, (view, pos) => {
    pos = putUuid(view, pos, rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32());
    view.setUint8(pos, NEWLINE);
    return pos + 1;
  });
}

export const NUMERIC_HEADER = 'id,x,y,z,temperature,pressure,count\n';

export function numericDataset(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  let id = rng.below(1_000_000) * 1000;
  return framedRecords(size, csvFrame(NUMERIC_HEADER), (view, pos) => {
    id += 1;
    pos = putUint(view, pos, id);
    view.setUint8(pos++, COMMA);
    pos = putFixed3(view, pos, rng.below(2_000_000) - 1_000_000);
    view.setUint8(pos++, COMMA);
    pos = putFixed3(view, pos, rng.below(2_000_000) - 1_000_000);
    view.setUint8(pos++, COMMA);
    pos = putFixed3(view, pos, rng.below(2_000_000) - 1_000_000);
    view.setUint8(pos++, COMMA);
    pos = putFixed2(view, pos, rng.below(8000) - 2000);
    view.setUint8(pos++, COMMA);
    pos = putFixed1(view, pos, 950_000 + rng.below(100_000));
    view.setUint8(pos++, COMMA);
    pos = putUint(view, pos, rng.below(1000));
    view.setUint8(pos, NEWLINE);
    return pos + 1;
  });
}

export const BANK_HEADER = 'transaction_id,account_iban,booked_at,amount,currency,counterparty,category,balance\n';

/** Transactions per account block: a file is an export of consecutive accounts. */
const BANK_MIN_PER_ACCOUNT = 100;
const BANK_EXTRA_PER_ACCOUNT = 900;
/** Seconds between two bookings: 1 minute to 1 day. */
const BANK_MAX_STEP = 86400;

/**
 * A German IBAN with valid ISO 13616 check digits (mod 97 = 1): DE, 2 check digits, 8-digit bank
 * code, 10-digit account number.
 */
export function germanIban(bankCode: number, account: number): string {
  const bban = String(bankCode).padStart(8, '0') + String(account).padStart(10, '0');
  // Check digits: 98 − (BBAN ‖ "DE00" with letters as numbers, D=13 E=14) mod 97.
  let remainder = 0;
  for (const digit of `${bban}131400`) remainder = (remainder * 10 + Number(digit)) % 97;
  const check = 98 - remainder;
  return `DE${String(check).padStart(2, '0')}${bban}`;
}

export function bankTransactions(key: Buffer, size: number): Iterable<Buffer> {
  const rng = new Xoshiro128(key);
  let id = rng.below(1_000_000) * 1000;
  let left = 0; // transactions left in the current account block
  let account = constant(',');
  let balance = 0;
  let time = 0;
  let currency = 0;
  return framedRecords(size, csvFrame(BANK_HEADER), (view, pos) => {
    if (left === 0) {
      // Next account: its own IBAN, currency, opening balance and start time (timestamps stay in 2020–2025).
      left = BANK_MIN_PER_ACCOUNT + rng.below(BANK_EXTRA_PER_ACCOUNT);
      account = constant(`,${germanIban(10_000_000 + rng.below(89_999_999), rng.below(2_000_000_000) + 1)},`);
      balance = 100_000 + rng.below(1_000_000);
      currency = rng.below(CURRENCY.count);
      time = rng.below(TIMESTAMP_SPAN - (BANK_MIN_PER_ACCOUNT + BANK_EXTRA_PER_ACCOUNT) * (BANK_MAX_STEP + 60));
    }
    left -= 1;
    id += 1;
    time += 60 + rng.below(BANK_MAX_STEP);
    // One booking in ten is money in (salary, refund, transfer), the rest card payments.
    const incoming = rng.below(10) === 0;
    const amount = incoming ? 50_000 + rng.below(300_000) : -(100 + rng.below(20_000));
    balance += amount;
    pos = putUint(view, pos, id);
    pos = account.put(view, pos, 0);
    pos = putIsoTimestamp(view, pos, time);
    view.setUint8(pos++, COMMA);
    pos = putFixed2(view, pos, amount);
    view.setUint8(pos++, COMMA);
    pos = CURRENCY.put(view, pos, currency);
    pos = incoming ? PAYER.put(view, pos, rng.below(PAYER.count)) : MERCHANT.put(view, pos, rng.below(MERCHANT.count));
    pos = putFixed2(view, pos, balance);
    view.setUint8(pos, NEWLINE);
    return pos + 1;
  });
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

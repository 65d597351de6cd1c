import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteTable, EPOCH_2020, putFixed1, putFixed2, putFixed3, putIsoTimestamp, putUint, putUuid } from '../../src/dataset/payloads/bytes.js';
import { CHUNK_SIZE } from '../../src/dataset/payloads/frame.js';
import { BANK_HEADER, collectPayload, germanIban, NUMERIC_HEADER, SYNTHETIC_GENERATORS, TIMESTAMP_SPAN } from '../../src/dataset/payloads/synthetic.js';
import { MERCHANTS, PAYERS, WORDS } from '../../src/dataset/payloads/vocabulary.js';
import { deriveKey, Xoshiro128 } from '../../src/dataset/prng.js';
import { SYNTHETIC_TYPES } from '../../src/dataset/types.js';

/** Run one writer on a scratch buffer and return its text. */
function written(write: (view: DataView, pos: number) => number): string {
  const buffer = Buffer.alloc(256);
  const end = write(new DataView(buffer.buffer, buffer.byteOffset, buffer.length), 0);
  return buffer.toString('latin1', 0, end);
}

function generate(type: keyof typeof SYNTHETIC_GENERATORS, size: number, label = 'payloads-test'): Buffer {
  return collectPayload(SYNTHETIC_GENERATORS[type](deriveKey(label, type, size), size));
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DECIMAL2 = /^-?\d+\.\d\d$/;

/** ISO 13616: move the first four characters to the end, letters to numbers (A=10 …), mod 97 must be 1. */
function ibanValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const value = /[A-Z]/.test(char) ? String(char.charCodeAt(0) - 55) : char;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

test('putUint writes the decimal text of any safe integer', () => {
  const rng = Xoshiro128.from('putUint');
  const values = [0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 10001, 99999999, 100000000, 100000001, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 1e15 + 7, Number.MAX_SAFE_INTEGER];
  for (let i = 0; i < 2000; i++) values.push(rng.below(10 ** (1 + (i % 12))));
  for (const n of values) assert.equal(written((view, pos) => putUint(view, pos, n)), String(n));
});

const putFixed = (view: DataView, pos: number, value: number, decimals: 1 | 2 | 3): number =>
  (decimals === 1 ? putFixed1 : decimals === 2 ? putFixed2 : putFixed3)(view, pos, value);

test('putFixed1/2/3 write exact fixed-point decimals with sign', () => {
  const reference = (value: number, decimals: number): string => {
    const scale = 10 ** decimals;
    const magnitude = Math.abs(value);
    return `${value < 0 ? '-' : ''}${Math.floor(magnitude / scale)}.${String(magnitude % scale).padStart(decimals, '0')}`;
  };
  const rng = Xoshiro128.from('putFixed');
  for (let i = 0; i < 3000; i++) {
    const decimals = (1 + (i % 3)) as 1 | 2 | 3;
    const value = rng.below(2_000_000_000) - 1_000_000_000;
    assert.equal(written((view, pos) => putFixed(view, pos, value, decimals)), reference(value, decimals));
  }
  assert.equal(written((view, pos) => putFixed(view, pos, -598994, 3)), '-598.994');
  assert.equal(written((view, pos) => putFixed(view, pos, 5, 2)), '0.05');
  assert.equal(written((view, pos) => putFixed(view, pos, -7, 1)), '-0.7');
  assert.equal(written((view, pos) => putFixed(view, pos, 0, 3)), '0.000');
  assert.equal(written((view, pos) => putFixed(view, pos, 12_345_678_901_234, 2)), '123456789012.34');
});

test('putIsoTimestamp agrees with Date for 2020…2100 (table and computed dates)', () => {
  const rng = Xoshiro128.from('iso');
  const seconds = [0, 59, 86399, 86400, 59 * 86400, 60 * 86400 - 1, 366 * 86400, 7305 * 86400 - 1, 7305 * 86400, 80 * 365 * 86400];
  for (let i = 0; i < 5000; i++) seconds.push(rng.below(80 * 365 * 86400));
  for (const s of seconds) {
    const expected = new Date((EPOCH_2020 + s) * 1000).toISOString().replace('.000Z', 'Z');
    assert.equal(written((view, pos) => putIsoTimestamp(view, pos, s)), expected, `${s}`);
  }
});

test('putUuid writes RFC 9562 version-4 UUIDs from the random words', () => {
  assert.equal(written((view, pos) => putUuid(view, pos, 0, 0, 0, 0)), '00000000-0000-4000-8000-000000000000');
  assert.equal(written((view, pos) => putUuid(view, pos, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
  assert.equal(written((view, pos) => putUuid(view, pos, 0x01234567, 0x89abcdef, 0x01234567, 0x89abcdef)), '01234567-89ab-4def-8123-456789abcdef');
});

test('ByteTable copies whole slots but the output is exactly the concatenated entries', () => {
  const table = new ByteTable(['a', 'longer entry', '', 'xyz'], '<', '>');
  const rng = Xoshiro128.from('table');
  const picks = Array.from({ length: 40 }, () => rng.below(table.count));
  const text = written((view, pos) => picks.reduce((at, index) => table.put(view, at, index), pos));
  assert.equal(text, picks.map((index) => `<${['a', 'longer entry', '', 'xyz'][index]}>`).join(''));
});

test('germanIban gives 22-character IBANs with valid check digits', () => {
  const rng = Xoshiro128.from('iban');
  for (let i = 0; i < 500; i++) {
    const iban = germanIban(10_000_000 + rng.below(89_999_999), rng.below(2_000_000_000) + 1);
    assert.match(iban, /^DE\d{20}$/);
    assert.ok(ibanValid(iban), iban);
  }
  assert.ok(ibanValid('DE89370400440532013000'), 'the reference validator accepts the well-known example IBAN');
  assert.equal(germanIban(37040044, 532013000), 'DE89370400440532013000');
});

// Files larger than several chunks, so records cross chunk boundaries.
const MULTI_CHUNK = 3 * CHUNK_SIZE + 12345;

test('structured_json: every file parses, one flat user record per line with typed fields', () => {
  const text = generate('structured_json', MULTI_CHUNK).toString('utf8');
  assert.equal(text.length, MULTI_CHUNK);
  const records = JSON.parse(text) as Record<string, unknown>[];
  assert.ok(records.length > 3000, `${records.length} records`);
  let lastId = -1;
  for (const record of records) {
    assert.deepEqual(Object.keys(record), ['id', 'username', 'name', 'email', 'age', 'city', 'country', 'score', 'active', 'created_at', 'tags']);
    assert.ok(Number.isInteger(record.id) && (record.id as number) > lastId);
    lastId = record.id as number;
    assert.match(record.username as string, /^[a-z]+\.[a-z]+\d{1,2}$/);
    assert.match(record.name as string, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
    assert.match(record.email as string, /^[a-z]+\.[a-z]+@[a-z.]+$/);
    assert.ok(Number.isInteger(record.age) && (record.age as number) >= 18 && (record.age as number) < 88);
    assert.match(record.country as string, /^[A-Z]{2}$/);
    assert.equal(typeof record.score, 'number');
    assert.equal(typeof record.active, 'boolean');
    assert.match(record.created_at as string, ISO);
    assert.ok(Array.isArray(record.tags) && (record.tags as unknown[]).length >= 1);
  }
  // One element per line, as the native parser expects.
  assert.equal(text.split('\n').filter((line) => line.startsWith('{')).length, records.length);
});

test('jsonb_documents: nested orders whose total is the sum of their items', () => {
  const records = JSON.parse(generate('jsonb_documents', MULTI_CHUNK).toString('utf8')) as {
    order_id: string;
    created_at: string;
    customer: { address: { postal_code: string; country: string } };
    items: { sku: string; quantity: number; price: number }[];
    total: number;
    notes: string | null;
  }[];
  assert.ok(records.length > 1000);
  const notes = records.filter((record) => record.notes !== null);
  assert.ok(notes.length > records.length / 5 && notes.every((record) => /^[A-Z][a-z ,]+[.?]$/.test(record.notes as string)));
  for (const record of records) {
    assert.match(record.order_id, UUID_V4);
    assert.match(record.created_at, ISO);
    assert.match(record.customer.address.postal_code, /^\d{5}$/);
    assert.ok(record.items.length >= 1 && record.items.length <= 4);
    const cents = record.items.reduce((sum, item) => sum + Math.round(item.price * 100) * item.quantity, 0);
    assert.equal(Math.round(record.total * 100), cents);
  }
});

test('text_document: paragraphs of sentences made of vocabulary words', () => {
  const text = generate('text_document', MULTI_CHUNK).toString('latin1');
  assert.equal(text.length, MULTI_CHUNK);
  const vocabulary = new Set(WORDS);
  const paragraphs = text.split('\n\n');
  assert.ok(paragraphs.length > 500);
  for (const paragraph of paragraphs.slice(0, -1)) {
    assert.match(paragraph, /^[A-Z]/);
    assert.match(paragraph, /[.?]$/);
    for (const word of paragraph.toLowerCase().split(/[ ,.?]+/).filter(Boolean)) assert.ok(vocabulary.has(word), word);
  }
});

test('uuid_keys: distinct v4 UUIDs, one per line', () => {
  const lines = generate('uuid_keys', MULTI_CHUNK).toString('latin1').split('\n').filter(Boolean);
  assert.ok(lines.length > 20000);
  for (const line of lines) assert.match(line, UUID_V4);
  assert.equal(new Set(lines).size, lines.length);
});

test('numeric_dataset: header and rows of typed numbers in their ranges', () => {
  const text = generate('numeric_dataset', MULTI_CHUNK).toString('latin1');
  assert.ok(text.startsWith(NUMERIC_HEADER));
  const rows = text.slice(NUMERIC_HEADER.length).split('\n').filter(Boolean);
  assert.ok(rows.length > 10000);
  let lastId = -1;
  for (const row of rows) {
    assert.match(row, /^\d+,(-?\d+\.\d{3},){3}-?\d+\.\d\d,\d+\.\d,\d+$/);
    const [id, x, , , temperature, pressure, count] = row.split(',').map(Number) as number[];
    assert.equal(id, lastId < 0 ? id : lastId + 1);
    lastId = id as number;
    assert.ok(Math.abs(x as number) <= 1000 && (temperature as number) >= -20 && (temperature as number) < 60);
    assert.ok((pressure as number) >= 95000 && (pressure as number) < 105000 && (count as number) < 1000);
  }
});

test('bank_transactions: accounts with valid IBANs, running balances, ordered 2020–2025 bookings', () => {
  const text = generate('bank_transactions', MULTI_CHUNK).toString('latin1');
  assert.ok(text.startsWith(BANK_HEADER));
  const rows = text.slice(BANK_HEADER.length).split('\n').filter(Boolean).map((row) => row.split(','));
  assert.ok(rows.length > 5000);
  const categories = new Map([...MERCHANTS, ...PAYERS]);
  let previous: string[] | null = null;
  const accounts = new Set<string>();
  for (const row of rows) {
    assert.equal(row.length, 8, row.join(','));
    const [id, iban, bookedAt, amount, currency, counterparty, category, balance] = row as [string, string, string, string, string, string, string, string];
    assert.match(bookedAt, ISO);
    const time = Date.parse(bookedAt);
    assert.ok(time >= Date.UTC(2020, 0, 1) && time < Date.UTC(2026, 0, 1), bookedAt);
    assert.match(amount, DECIMAL2);
    assert.match(balance, DECIMAL2);
    assert.match(currency, /^[A-Z]{3}$/);
    assert.equal(categories.get(counterparty), category, counterparty);
    if (!accounts.has(iban)) {
      assert.ok(ibanValid(iban), iban);
      accounts.add(iban);
    } else {
      // Within one account: later booking, same currency, balance moves by the amount.
      const last = previous as string[];
      assert.equal(last[1], iban, 'an account block is contiguous');
      assert.ok(time > Date.parse(last[2] as string));
      assert.equal(currency, last[4]);
      const cents = (value: string): number => Math.round(Number(value) * 100);
      assert.equal(cents(balance), cents(last[7] as string) + cents(amount));
    }
    if (previous) assert.equal(Number(id), Number(previous[0]) + 1);
    previous = row;
  }
  assert.ok(accounts.size >= 2, 'a multi-chunk file spans several accounts');
  assert.ok(TIMESTAMP_SPAN > 0);
});

test('every type: exact sizes at every small size and around chunk boundaries; same key same bytes, other key other bytes', () => {
  const sizes = [...Array.from({ length: 400 }, (_, i) => i + 1), CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 3];
  for (const type of SYNTHETIC_TYPES) {
    for (const size of sizes) {
      const content = generate(type, size);
      assert.equal(content.length, size, `${type} ${size}`);
      if (type === 'structured_json' || type === 'jsonb_documents') JSON.parse(content.toString('utf8'));
    }
    assert.ok(generate(type, 50_000).equals(generate(type, 50_000)), `${type} is deterministic`);
    assert.ok(!generate(type, 50_000).equals(generate(type, 50_000, 'other key')), `${type} depends on the key`);
  }
});

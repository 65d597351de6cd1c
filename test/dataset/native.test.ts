import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDataset, nativeTableFor, parseRecords, SYNTHETIC_TYPES, REAL_WORLD_TYPES, type NativeValue } from '../../src/dataset/index.js';
import { params, withTempDir } from './helpers.js';

async function rows(type: string, content: Buffer): Promise<NativeValue[][]> {
  const out: NativeValue[][] = [];
  for await (const row of parseRecords(type, content)) out.push(row);
  return out;
}

function checkType(value: NativeValue, type: string, where: string): void {
  if (value === null) return;
  const ok =
    type === 'int' ? Number.isInteger(value) :
    type === 'float' ? typeof value === 'number' :
    type === 'bool' ? typeof value === 'boolean' :
    type === 'bytes' ? Buffer.isBuffer(value) :
    type === 'json' ? typeof value === 'string' && (JSON.parse(value), true) :
    type === 'timestamp' ? typeof value === 'string' && !Number.isNaN(Date.parse(value)) :
    type === 'decimal' ? typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) :
    type === 'uuid' ? typeof value === 'string' && /^[0-9a-f-]{36}$/.test(value) :
    typeof value === 'string';
  assert.ok(ok, `${where}: ${String(value)} is not ${type}`);
}

test('every payload type except mixed has a native table with safe column names', () => {
  assert.equal(nativeTableFor('mixed'), null);
  for (const type of [...SYNTHETIC_TYPES, ...REAL_WORLD_TYPES, 'my_logs']) {
    const table = nativeTableFor(type);
    assert.ok(table && table.columns.length > 0, type);
    for (const column of table.columns) assert.match(column.name, /^[a-z][a-z0-9_]*$/);
  }
  assert.deepEqual(nativeTableFor('random_binary')?.columns, [{ name: 'content', type: 'bytes' }]);
  assert.deepEqual(nativeTableFor('uuid_keys')?.columns, [{ name: 'key', type: 'uuid' }]);
});

test('generated files parse into rows that match their table, and duplicates give the same rows', async () => {
  await withTempDir(async (dataDir) => {
    for (const type of SYNTHETIC_TYPES) {
      const table = nativeTableFor(type);
      assert.ok(table);
      const { dir, manifest } = await ensureDataset(params({ payloadType: type, files: 4, grade: 'U50', minSize: 6000, maxSize: 20000 }), dataDir);
      const byName = new Map<string, string>();
      for (const entry of manifest.entries) {
        const content = await readFile(join(dir, entry.name));
        const parsed = await rows(type, content);
        assert.ok(parsed.length >= 1, `${type} ${entry.name}`);
        for (const row of parsed) {
          assert.equal(row.length, table.columns.length);
          row.forEach((value, i) => checkType(value, table.columns[i]?.type as string, `${type} ${entry.name}`));
        }
        const digest = JSON.stringify(parsed.map((row) => row.map((value) => (Buffer.isBuffer(value) ? value.toString('hex') : value))));
        byName.set(entry.name, digest);
        if (entry.duplicateOf) assert.equal(digest, byName.get(entry.duplicateOf));
      }
    }
  });
});

test('known answers: CSV typed columns, paragraphs, JSON records and UUIDs', async () => {
  const csv = Buffer.from('transaction_id,account_iban,booked_at,amount,currency,counterparty,category,balance\n7,DE1,2024-01-02T03:04:05Z,-12.50,EUR,Rewe,groceries,100.00\n\n\n');
  assert.deepEqual(await rows('bank_transactions', csv), [[7, 'DE1', '2024-01-02T03:04:05Z', '-12.50', 'EUR', 'Rewe', 'groceries', '100.00']]);
  const numeric = Buffer.from('id,x,y,z,temperature,pressure,count\n1,-1.5,2.25,0.001,20.00,1000.5,3\n');
  assert.deepEqual(await rows('numeric_dataset', numeric), [[1, -1.5, 2.25, 0.001, 20, 1000.5, 3]]);
  const text = Buffer.from('First line.\r\nstill first.\r\n\r\nSecond.\n\n\nThird');
  assert.deepEqual(await rows('gutenberg_text', text), [[0, 'First line.\nstill first.'], [1, 'Second.'], [2, 'Third']]);
  const json = Buffer.from('[\n{"id":1,"username":"a","tags":["x"],"active":true},\n{"id":2,"score":1.5}\n   \n]\n');
  const parsed = await rows('structured_json', json);
  assert.equal(parsed.length, 2);
  assert.deepEqual(parsed[0]?.slice(0, 2), [1, 'a']);
  assert.equal(parsed[0]?.[10], '["x"]');
  assert.equal(parsed[1]?.[7], 1.5);
  assert.deepEqual(await rows('uuid_keys', Buffer.from('8c0e6a0e-1b7a-4d55-9a55-d8d8a1b2c3d4\n\n')), [['8c0e6a0e-1b7a-4d55-9a55-d8d8a1b2c3d4']]);
  await assert.rejects(rows('uuid_keys', Buffer.from('not-a-uuid\n')), /line 1 is not a UUID/);
  await assert.rejects(rows('github_events', Buffer.from('{"a":1}\n{"b":\n')), /line 2 is not valid JSON/);
  const blob = Buffer.from([0, 1, 2]);
  assert.deepEqual(await rows('random_binary', blob), [[blob]]);
});

/** Unit tests of the native read-back comparison (src/systems/shared/native-readback.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeTable } from '../../src/dataset/records.js';
import { canonicalValue, nativeReadSql, normalizeDecimalText, recordsDigest, rowsInColumnOrder } from '../../src/systems/shared/native-readback.js';
import { quoteIdent } from '../../src/systems/shared/identifiers.js';

const TABLE: NativeTable = {
  name: 't',
  columns: [
    { name: 'n', type: 'int' },
    { name: 'amount', type: 'decimal' },
    { name: 'at', type: 'timestamp' },
    { name: 'doc', type: 'json' },
  ],
};

describe('normalizeDecimalText', () => {
  it('drops leading and trailing zeros and the sign of zero, keeps every significant digit', () => {
    assert.equal(normalizeDecimalText('0123.4500'), '123.45');
    assert.equal(normalizeDecimalText('100.00'), '100');
    assert.equal(normalizeDecimalText('-0.000'), '0');
    assert.equal(normalizeDecimalText('-12.3400000000'), '-12.34');
    assert.equal(normalizeDecimalText('.5'), '0.5');
    assert.equal(normalizeDecimalText('1e3'), '1000');
    assert.equal(normalizeDecimalText('12345678901234567890.123456789'), '12345678901234567890.123456789');
  });
  it('refuses what is not a number', () => {
    assert.throws(() => normalizeDecimalText('12a'), /not a decimal: "12a"/);
    assert.throws(() => normalizeDecimalText(''), /not a decimal/);
  });
});

describe('canonicalValue', () => {
  it('reads each engine\'s shape of the same value as one text', () => {
    assert.equal(canonicalValue('decimal', 123.4), canonicalValue('decimal', '123.4000'));
    assert.equal(canonicalValue('int', 42), canonicalValue('int', 42n));
    assert.equal(canonicalValue('int', '42'), '42');
    assert.equal(canonicalValue('timestamp', '2024-01-01T00:00:05Z'), canonicalValue('timestamp', new Date(Date.UTC(2024, 0, 1, 0, 0, 5))));
    assert.equal(canonicalValue('timestamp', Date.UTC(2024, 0, 1, 0, 0, 5)), String(Date.UTC(2024, 0, 1, 0, 0, 5)));
    assert.equal(canonicalValue('json', '{"b":1,"a":[1,{"d":2,"c":3}]}'), canonicalValue('json', { a: [1, { c: 3, d: 2 }], b: 1 }));
    assert.equal(canonicalValue('bool', 1), 'true');
    assert.equal(canonicalValue('bool', false), 'false');
    assert.equal(canonicalValue('uuid', 'ABCDEF00-0000-4000-8000-000000000000'), 'abcdef00-0000-4000-8000-000000000000');
    assert.equal(canonicalValue('bytes', new Uint8Array([1, 255])), '01ff');
    assert.equal(canonicalValue('bytes', { bytes: new Uint8Array([1, 255]) }), '01ff');
    assert.equal(canonicalValue('float', '0.1'), canonicalValue('float', 0.1));
    assert.equal(canonicalValue('text', null), null);
  });
  it('tells different values apart', () => {
    assert.notEqual(canonicalValue('decimal', '123.45'), canonicalValue('decimal', '123.46'));
    assert.notEqual(canonicalValue('timestamp', '2024-01-01T00:00:05Z'), canonicalValue('timestamp', '2024-01-01T00:00:06Z'));
    assert.notEqual(canonicalValue('float', 0.1), canonicalValue('float', 0.1 + Number.EPSILON));
    assert.notEqual(canonicalValue('json', '{"a":1}'), canonicalValue('json', '{"a":"1"}'));
    assert.notEqual(canonicalValue('text', ''), canonicalValue('text', null));
    assert.throws(() => canonicalValue('bool', 2), /not a boolean/);
    assert.throws(() => canonicalValue('timestamp', 'yesterday'), /not a timestamp/);
  });
});

describe('recordsDigest', () => {
  const rows = [
    [1, '1.50', '2024-01-01T00:00:00Z', '{"a":1}'],
    [2, '2.00', '2024-01-02T00:00:00Z', '{"b":[1,2]}'],
  ];
  it('is the same for the rows in another order and in another engine shape', () => {
    const back = [
      [2n, 2, new Date(Date.UTC(2024, 0, 2)), { b: [1, 2] }],
      ['1', 1.5, Date.UTC(2024, 0, 1), '{ "a": 1 }'],
    ];
    assert.equal(recordsDigest(TABLE, back).digest, recordsDigest(TABLE, rows).digest);
  });
  it('differs for a lost, doubled or altered row', () => {
    const base = recordsDigest(TABLE, rows).digest;
    assert.notEqual(recordsDigest(TABLE, rows.slice(1)).digest, base);
    assert.notEqual(recordsDigest(TABLE, [...rows, rows[0]!]).digest, base);
    assert.notEqual(recordsDigest(TABLE, [rows[0]!, [2, '2.01', '2024-01-02T00:00:00Z', '{"b":[1,2]}']]).digest, base);
    assert.notEqual(recordsDigest(TABLE, [rows[0]!, [2, '2.00', '2024-01-02T00:00:00Z', '{"b":[2,1]}']]).digest, base);
  });
  it('refuses a row of the wrong width (a column shift must not compare)', () => {
    assert.throws(() => recordsDigest(TABLE, [[1, '1.5', null]]), /row has 3 values, table t has 4 columns/);
  });
});

describe('nativeReadSql', () => {
  it('selects the columns in table order, aliased, filtered by file id', () => {
    const sql = nativeReadSql(TABLE, '"lab"."n_t"', 'file_id', '$1', (name) => quoteIdent(name), (column, type) => (type === 'timestamp' ? `epoch_ms(${column})` : column));
    assert.equal(sql, 'SELECT "n" AS c0, "amount" AS c1, epoch_ms("at") AS c2, "doc" AS c3 FROM "lab"."n_t" WHERE "file_id" = $1');
    assert.deepEqual(rowsInColumnOrder(TABLE, [{ c3: 'd', c0: 1, c1: 'a', c2: 5 }]), [[1, 'a', 5, 'd']]);
  });
});

/**
 * clickhouse adapter against the real server of scripts/services.sh (ClickHouse 18.16, env
 * DEDUP_LAB_CLICKHOUSE_*): the shared contract suite plus RowBinary, replacing collapse at
 * OPTIMIZE FINAL, mutations waited for, and errors surfacing as errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chString, clickhouseNativeText, clickhouseReadbackValue, clickhouseRecordsSql, definition, rowBinaryBlobRow, rowBinaryString, RowBinaryStringReader, tsvEscape, varUInt } from '../../src/systems/clickhouse.js';
import { canonicalValue } from '../../src/systems/shared/native-readback.js';
import { FIXTURE_NATIVE_TABLE, FIXTURE_ROWS_PER_FILE } from './fixtures.js';
import { assertRecordsReadBack } from './contract-dimensions.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { blobCell, clickhouseAdmin, clickhouseOptionsFromEnv, labFiles, nativeCell, streamOf } from './sql-helpers.js';

const CONTRACT_LAB = 'dedup_contract_ch';
const LAB = 'dedup_lab_chtest';
const CANARY_DB = 'dedup_canary_ch';

runContractSuite({
  definitionId: 'clickhouse',
  options: () => clickhouseOptionsFromEnv(),
  labName: CONTRACT_LAB,
  fileCount: 8,
  canary: {
    async create() {
      await clickhouseAdmin(`CREATE DATABASE IF NOT EXISTS ${CANARY_DB}`);
      await clickhouseAdmin(`DROP TABLE IF EXISTS ${CANARY_DB}.keep`);
      await clickhouseAdmin(`CREATE TABLE ${CANARY_DB}.keep (k String) ENGINE = TinyLog`);
      await clickhouseAdmin(`INSERT INTO ${CANARY_DB}.keep VALUES ('canary\\tbytes\\0')`);
    },
    async read() {
      return clickhouseAdmin(`SELECT hex(k) FROM ${CANARY_DB}.keep`);
    },
  },
  sideEffectSnapshot: async () => clickhouseAdmin('SELECT name FROM system.databases ORDER BY name'),
  labExists: async () => (await clickhouseAdmin(`SELECT count() FROM system.databases WHERE name = ${chString(CONTRACT_LAB)}`)) === '1',
});

describe('clickhouse encodings (pure)', () => {
  test('RowBinary varints and rows', () => {
    assert.deepEqual([...varUInt(0)], [0]);
    assert.deepEqual([...varUInt(127)], [127]);
    assert.deepEqual([...varUInt(300)], [0xac, 0x02]);
    const parts = rowBinaryBlobRow({ id: 1, name: 'a', sha256: 'ff', size: 2, content: Buffer.from([7, 8]) });
    assert.deepEqual([...Buffer.concat(parts)], [1, 0, 0, 0, 1, 0x61, 2, 0x66, 0x66, 2, 0, 0, 0, 0, 0, 0, 0, 2, 7, 8]);
    const big = Buffer.alloc(300, 7);
    assert.deepEqual(rowBinaryString(Buffer.concat([varUInt(300), big])), big);
    assert.deepEqual(rowBinaryString(Buffer.from([0])), Buffer.alloc(0));
    assert.throws(() => rowBinaryString(Buffer.concat([varUInt(300), big.subarray(1)])), /prefix says 300 bytes, 299 follow/);
    assert.throws(() => rowBinaryString(Buffer.from([0x80])), /no complete length prefix/);
  });
  test('RowBinary answers decoded as they stream: any chunking, one buffer of its own, errors', () => {
    const content = Buffer.from(Array.from({ length: 300 }, (_, index) => index % 251));
    const answer = Buffer.concat([varUInt(300), content]); // a two-byte prefix
    for (const cut of [1, 2, 3, 150, answer.length - 1]) {
      const reader = new RowBinaryStringReader();
      reader.push(answer.subarray(0, cut));
      reader.push(answer.subarray(cut));
      const read = reader.finish();
      assert.deepEqual(read, content, `cut at ${cut}`);
      // Its own ArrayBuffer (not a pool slice, not a view into a chunk): releaseContent can free it.
      assert.equal(read!.byteOffset, 0);
      assert.equal(read!.buffer.byteLength, 300);
    }
    const oneByteChunks = new RowBinaryStringReader();
    for (const byte of answer) oneByteChunks.push(Buffer.from([byte]));
    assert.deepEqual(oneByteChunks.finish(), content);
    assert.equal(new RowBinaryStringReader().finish(), null, 'an empty answer (no row) is null');
    const tooLong = new RowBinaryStringReader();
    assert.throws(() => tooLong.push(Buffer.concat([answer, Buffer.from([1])])), /prefix says 300 bytes, more follow/);
    const noPrefix = new RowBinaryStringReader();
    assert.throws(() => noPrefix.push(Buffer.alloc(11, 0x80)), /no complete length prefix/);
  });
  test('native values: exact text for each 18.16 type, refusals instead of rounding', () => {
    assert.equal(clickhouseNativeText('timestamp', '2024-01-02T03:04:05.678Z').toString(), String(Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
    assert.equal(clickhouseNativeText('decimal', '-12345678901234.5678').toString(), '-12345678901234.5678');
    assert.throws(() => clickhouseNativeText('decimal', '1.23456'), /Decimal\(18, 4\)/);
    assert.throws(() => clickhouseNativeText('int', 1.5), /not an integer/);
    assert.throws(() => clickhouseNativeText('uuid', 'nope'), /not a UUID/);
    assert.equal(clickhouseNativeText('bool', true).toString(), '1');
    assert.equal(clickhouseNativeText('text', null).toString(), '\\N');
    assert.deepEqual(tsvEscape(Buffer.from('a\tb\nc\\d\re')), Buffer.from('a\\tb\\nc\\\\d\\re'));
  });
  test('native read-back: values selected as text come back exact (no JSON rounding, bytes via hex)', () => {
    assert.equal(canonicalValue('decimal', clickhouseReadbackValue('decimal', '-12345678901234.5678')), '-12345678901234.5678');
    assert.equal(canonicalValue('int', clickhouseReadbackValue('int', '9223372036854775807')), '9223372036854775807');
    assert.equal(clickhouseReadbackValue('float', 'inf'), Infinity);
    assert.equal(clickhouseReadbackValue('float', '-inf'), -Infinity);
    assert.ok(Number.isNaN(clickhouseReadbackValue('float', 'nan')));
    assert.equal(canonicalValue('float', clickhouseReadbackValue('float', '0.1')), canonicalValue('float', 0.1));
    assert.equal(canonicalValue('timestamp', clickhouseReadbackValue('timestamp', '1704067205000')), canonicalValue('timestamp', '2024-01-01T00:00:05Z'));
    assert.deepEqual(clickhouseReadbackValue('bytes', '00FF0A'), Buffer.from([0, 255, 10]));
    assert.equal(clickhouseReadbackValue('text', Buffer.from('tab\tnew\nline é', 'utf8').toString('hex')), 'tab\tnew\nline é');
    assert.equal(canonicalValue('bool', clickhouseReadbackValue('bool', '1')), 'true');
    assert.equal(clickhouseReadbackValue('uuid', null), null);
    const file = { id: 7, sha256: 'a'.repeat(64) };
    assert.match(clickhouseRecordsSql(FIXTURE_NATIVE_TABLE, '`lab`.`n_fixture_rows`', file, false), /WHERE `file_id` = 7$/);
    assert.match(clickhouseRecordsSql(FIXTURE_NATIVE_TABLE, '`lab`.`n_fixture_rows`', file, true), /^SELECT DISTINCT row_no, .* WHERE file_sha256 = 'a{64}'$/);
  });
  test('string literals escape quotes and backslashes', () => {
    assert.equal(chString("a'b\\c"), "'a\\'b\\\\c'");
  });
});

describe('clickhouse server', () => {
  let adapter: SystemAdapter;
  before(async () => {
    adapter = definition.create('clickhouse', definition.parseOptions(clickhouseOptionsFromEnv()), LAB);
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  test('version is the real server version', async () => {
    assert.match(await adapter.version(), /^\d+\.\d+/);
  });

  test('RowBinary insert round-trips every byte', async () => {
    const cell = blobCell('mergetree');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 4, size: 300_000, duplicates: 1, kind: 'random' });
    assert.deepEqual(await adapter.bulkInsert(streamOf(files), cell), { acknowledged: [0, 1, 2, 3], failed: [] });
    const hashes = await clickhouseAdmin(`SELECT lower(hex(SHA256(content))) FROM ${LAB}.blobs ORDER BY id FORMAT TabSeparated`).catch(async () =>
      // 18.16 has no SHA256(): compare MD5 of the content with the files' MD5 instead.
      clickhouseAdmin(`SELECT lower(hex(MD5(content))) FROM ${LAB}.blobs ORDER BY id FORMAT TabSeparated`),
    );
    const { createHash } = await import('node:crypto');
    const algorithm = hashes.split('\n')[0]!.length === 64 ? 'sha256' : 'md5';
    assert.deepEqual(
      hashes.split('\n'),
      files.map((file) => createHash(algorithm).update(file.content).digest('hex')),
    );
  });

  test('replacing collapses duplicates at OPTIMIZE FINAL; mergetree keeps every row', async () => {
    const files = labFiles({ count: 20, size: 4096, duplicates: 15, kind: 'random' });
    for (const variant of ['replacing', 'mergetree']) {
      const cell = blobCell(variant);
      await adapter.resetLab(cell);
      await adapter.bulkInsert(streamOf(files), cell);
      const before = Number(await clickhouseAdmin(`SELECT count() FROM ${LAB}.blobs`));
      assert.equal(before, 20);
      await adapter.compact(cell);
      const rows = Number(await clickhouseAdmin(`SELECT count() FROM ${LAB}.blobs`));
      assert.equal(rows, variant === 'replacing' ? 5 : 20, `${variant}: rows after OPTIMIZE FINAL`);
      assert.equal(await adapter.countStored(cell), 20, 'every file is still held (by reference in replacing)');
      assert.equal(await clickhouseAdmin(`SELECT count() FROM system.merges WHERE database = ${chString(LAB)}`), '0');
    }
  });

  test('replacing deletes: content stays while a duplicate references it, goes with the last reference', async () => {
    const cell = blobCell('replacing');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 3, size: 2048, duplicates: 1, kind: 'random' }); // file 2 copies file 0
    for (const file of files) await adapter.insertOne(file, cell);
    await adapter.deleteOne(files[0]!, cell);
    assert.equal(Number(await clickhouseAdmin(`SELECT count() FROM ${LAB}.blobs WHERE sha256 = ${chString(files[0]!.sha256)}`)) > 0, true);
    await adapter.deleteOne(files[2]!, cell);
    assert.equal(await clickhouseAdmin(`SELECT count() FROM ${LAB}.blobs WHERE sha256 = ${chString(files[0]!.sha256)}`), '0');
    assert.equal(await clickhouseAdmin(`SELECT count() FROM system.mutations WHERE database = ${chString(LAB)} AND is_done = 0`), '0');
    assert.equal(await adapter.countStored(cell), 1);
    await assert.rejects(adapter.deleteOne(files[0]!, cell), /delete did nothing/);
  });

  test('native mode: typed columns, every value read back exactly', async () => {
    const cell = nativeCell('mergetree');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 2, size: 1000, duplicates: 0, kind: 'random' });
    assert.deepEqual(await adapter.bulkInsert(streamOf(files), cell), { acknowledged: [0, 1], failed: [] });
    // 18.16's system.columns has no position column; DESCRIBE lists columns in table order.
    const described = await clickhouseAdmin(`DESCRIBE TABLE ${LAB}.n_fixture_rows FORMAT TabSeparated`);
    const types = described
      .split('\n')
      .map((line) => line.split('\t').slice(0, 2).join('\t'))
      .join('\n');
    assert.match(types, /^file_id\tUInt32\nfile_sha256\tString\nrow_no\tUInt32\nline_no\tNullable\(Int64\)\nword\tNullable\(String\)\namount\tNullable\(Decimal\(18, 4\)\)\nratio\tNullable\(Float64\)\nat\tNullable\(Int64\)\nkey\tNullable\(UUID\)\ndoc\tNullable\(String\)\nflag\tNullable\(UInt8\)\nraw\tNullable\(String\)$/);
    const expected: string[] = [];
    for (const file of files) {
      let row = 0;
      for await (const values of cell.parseRecords!(file)) {
        const [lineNo, word, amount, ratio, at, key, doc, flag, raw] = values as [number, string, string, number, string, string, string, boolean, Buffer];
        expected.push([file.id, row++, lineNo, word, Number(amount).toFixed(4), ratio, Date.parse(at), key, doc, flag ? 1 : 0, raw.toString('hex').toUpperCase()].join('|'));
      }
    }
    const read = await clickhouseAdmin(
      `SELECT concat(toString(file_id), '|', toString(row_no), '|', toString(line_no), '|', word, '|', toString(amount), '|', toString(ratio), '|', toString(at), '|', toString(key), '|', doc, '|', toString(flag), '|', hex(raw)) FROM ${LAB}.n_fixture_rows ORDER BY file_id, row_no FORMAT TSVRaw`,
    );
    assert.deepEqual(read.split('\n'), expected);
  });

  test('replacing native read-back: a file reads back as its records before and after its copies collapse; a differing copy is an extra row', async () => {
    const cell = nativeCell('replacing');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 3, size: 2048, duplicates: 1, kind: 'random', seed: 'readback' }); // file 2 copies file 0
    for (const file of files) await adapter.insertOne(file, cell);
    const readsBackExactly = (moment: string) => assertRecordsReadBack(adapter, cell, files, `${moment}: `);
    const contentRows = async () => Number(await clickhouseAdmin(`SELECT count() FROM ${LAB}.n_fixture_rows`));
    assert.equal(await contentRows(), 3 * FIXTURE_ROWS_PER_FILE, 'before the merge both copies of file 0 are stored');
    await readsBackExactly('before the merge');
    await adapter.compact(cell);
    assert.equal(await contentRows(), 2 * FIXTURE_ROWS_PER_FILE, 'OPTIMIZE FINAL collapsed the copy');
    await readsBackExactly('after the merge');
    // A stored copy of file 0's content whose row 0 differs (word) is not collapsed into the file's records.
    await clickhouseAdmin(`INSERT INTO ${LAB}.n_fixture_rows (file_id, file_sha256, row_no, word) VALUES (2, ${chString(files[0]!.sha256)}, 0, 'tampered')`);
    assert.equal((await adapter.readRecords!(files[0]!, cell)).length, FIXTURE_ROWS_PER_FILE + 1, 'the differing copy is read back as a row of its own');
    await adapter.deleteOne(files[0]!, cell);
    assert.deepEqual(await adapter.readRecords!(files[0]!, cell), [], 'a deleted file has no records (its copy, file 2, keeps the content)');
  });

  test('server errors are errors: a write to a missing table is not acknowledged, a read throws', async () => {
    const cell = blobCell('mergetree');
    await adapter.resetLab(cell);
    await clickhouseAdmin(`DROP TABLE ${LAB}.blobs`);
    const files = labFiles({ count: 2, size: 1000, duplicates: 0, kind: 'random' });
    const outcome = await adapter.bulkInsert(streamOf(files), cell);
    assert.deepEqual(outcome.acknowledged, []);
    assert.equal(outcome.failed.length, 2);
    assert.match(outcome.failed[0]!.error, /doesn't exist|Code: 60/);
    await assert.rejects(adapter.countStored(cell), /Code: 60|doesn't exist/);
    const probe = await adapter.probes(cell)[0]!.read();
    assert.equal(probe.bytes, 0, 'an empty lab database has no active parts');
  });
});

/**
 * mariadb adapter against the real server of scripts/services.sh (env DEDUP_LAB_MARIADB_*):
 * the shared contract suite plus LOAD DATA escaping, page compression, OPTIMIZE reclamation.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkOptimizeResult, definition, escapeLoadDataField, toMariadbDatetime } from '../../src/systems/mariadb.js';
import type { CellContext, SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { blobCell, labFiles, mariadbAdmin, mariadbOptionsFromEnv, streamOf } from './sql-helpers.js';

const CONTRACT_LAB = 'dedup_contract_my';
const LAB = 'dedup_lab_mytest';
const CANARY_DB = 'dedup_canary_my';

runContractSuite({
  definitionId: 'mariadb',
  options: () => mariadbOptionsFromEnv(),
  labName: CONTRACT_LAB,
  // InnoDB sizes are page-granular (16 KiB): 12 files' native rows fit the table's first page and
  // would not move the probe, so the suite loads enough rows to span pages.
  fileCount: 160,
  fileSize: 2048,
  canary: {
    async create() {
      await mariadbAdmin(`CREATE DATABASE IF NOT EXISTS ${CANARY_DB}`);
      await mariadbAdmin(`DROP TABLE IF EXISTS ${CANARY_DB}.keep`);
      await mariadbAdmin(`CREATE TABLE ${CANARY_DB}.keep (k LONGBLOB)`);
      await mariadbAdmin(`INSERT INTO ${CANARY_DB}.keep VALUES (?)`, [Buffer.from('canary\t\n\\\u0000bytes')]);
    },
    async read() {
      const rows = await mariadbAdmin<{ h: string }[]>(`SELECT MD5(GROUP_CONCAT(HEX(k))) AS h FROM ${CANARY_DB}.keep`);
      return rows[0]?.h ?? '<missing>';
    },
  },
  failWrites: {
    async arm({ cell, poisoned }) {
      const table = cell.mode === 'blob' ? 'blobs' : 'n_fixture_rows';
      const column = cell.mode === 'blob' ? 'id' : 'file_id';
      await mariadbAdmin(`ALTER TABLE ${CONTRACT_LAB}.${table} ADD CONSTRAINT refuse_one CHECK (${column} <> ${Number(poisoned.id)})`);
    },
  },
  sideEffectSnapshot: async () => JSON.stringify(await mariadbAdmin('SHOW DATABASES')),
  labExists: async () => (await mariadbAdmin<unknown[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [CONTRACT_LAB])).length > 0,
});

describe('mariadb encodings (pure)', () => {
  test('LOAD DATA escaping of binary fields', () => {
    assert.deepEqual(escapeLoadDataField(Buffer.from('a\tb\nc\\d')), Buffer.from('a\\\tb\\\nc\\\\d'.replace('\\\t', '\\t').replace('\\\n', '\\n')));
    const plain = Buffer.from('no specials');
    assert.equal(escapeLoadDataField(plain), plain);
    assert.deepEqual(escapeLoadDataField(Buffer.from([0, 9, 255])), Buffer.from([0, 0x5c, 0x74, 255]));
  });
  test('timestamps become UTC DATETIME text', () => {
    assert.equal(toMariadbDatetime('2024-01-02T03:04:05.678Z'), '2024-01-02 03:04:05.678000');
    assert.throws(() => toMariadbDatetime('yesterday'), /invalid timestamp/);
  });
  test('OPTIMIZE answers: the InnoDB recreate note is not an error, an error row is', () => {
    checkOptimizeResult([
      { Table: 'l.blobs', Op: 'optimize', Msg_type: 'note', Msg_text: 'Table does not support optimize, doing recreate + analyze instead' },
      { Table: 'l.blobs', Op: 'optimize', Msg_type: 'status', Msg_text: 'OK' },
    ]);
    assert.throws(() => checkOptimizeResult([{ Table: 'l.blobs', Op: 'optimize', Msg_type: 'Error', Msg_text: "Table 'l.blobs' doesn't exist" }]), /failed/);
  });
});

describe('mariadb server', () => {
  let adapter: SystemAdapter;
  before(async () => {
    adapter = definition.create('mariadb', definition.parseOptions(mariadbOptionsFromEnv()), LAB);
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  // Both blob bulk paths; batchBytes below the file size sends one batch per file.
  for (const extra of [{ blobBulk: 'batch' }, { blobBulk: 'batch', batchBytes: 1_000_000 }, { blobBulk: 'load-data' }]) {
    test(`bulk ${JSON.stringify(extra)} round-trips every byte value, including 1 MiB+ files`, async () => {
      const bulk = definition.create('mariadb', definition.parseOptions({ ...mariadbOptionsFromEnv(), ...extra }), LAB);
      await bulk.connect();
      try {
        const cell = blobCell('default');
        await bulk.resetLab(cell);
        const files = labFiles({ count: 3, size: 1_200_000, duplicates: 1, kind: 'random' });
        const everyByte = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256)); // tabs, newlines, backslashes, NULs
        files.push({ id: 3, name: '00003.bin', size: everyByte.length, sha256: createHash('sha256').update(everyByte).digest('hex'), payloadType: 'random_binary', content: everyByte });
        const outcome = await bulk.bulkInsert(streamOf(files), cell);
        assert.deepEqual(outcome, { acknowledged: [0, 1, 2, 3], failed: [] });
        const rows = await mariadbAdmin<{ id: number; h: string; n: number }[]>(`SELECT id, SHA2(content, 256) AS h, LENGTH(content) AS n FROM ${LAB}.blobs ORDER BY id`);
        assert.deepEqual(
          rows.map((row) => [row.id, row.h, row.n]),
          files.map((file) => [file.id, file.sha256, file.size]),
        );
      } finally {
        await bulk.close();
      }
    });
  }

  // --placement across:3 on both blob bulk paths: each file in its own table `blobs_p<id % 3>`, the
  // tablespace and lab_fs probes cover all 3 .ibd files, truncate / dropAndRecreate / OPTIMIZE reach all 3.
  for (const blobBulk of ['batch', 'load-data']) {
    test(`placement across:3 with blobBulk ${blobBulk}: rows in their tables, probes over all 3 .ibd files, every table emptied`, async () => {
      const options = { ...mariadbOptionsFromEnv(), blobBulk, batchBytes: 300_000 };
      const placed = definition.create('mariadb', definition.parseOptions(options), LAB);
      await placed.connect();
      try {
        const cell: CellContext = { ...blobCell('default'), placement: { kind: 'across', objects: 3 }, twoMaintenanceLevels: true };
        await placed.resetLab(cell);
        const files = labFiles({ count: 9, size: 100_000, duplicates: 0, kind: 'random' });
        assert.deepEqual((await placed.bulkInsert(streamOf(files), cell)).acknowledged, files.map((file) => file.id));
        for (let k = 0; k < 3; k += 1) {
          const rows = await mariadbAdmin<{ id: number }[]>(`SELECT id FROM ${LAB}.blobs_p${k} ORDER BY id`);
          assert.deepEqual(rows.map((row) => row.id), files.filter((file) => file.id % 3 === k).map((file) => file.id), `table blobs_p${k}`);
        }
        await placed.settle(cell);
        const read = async (name: string) => (await placed.probes(cell).find((probe) => probe.name === name)!.read()).bytes!;
        const ibd = [0, 1, 2].map((k) => statSync(join(String(mariadbOptionsFromEnv().dataDir), LAB, `blobs_p${k}.ibd`)).size);
        assert.ok(await read('lab_fs') >= ibd.reduce((sum, size) => sum + size, 0), `lab_fs covers the 3 .ibd files (${ibd.join(' + ')})`);
        assert.ok(await read('tablespace_file') >= 900_000, 'tablespace_file sums over the 3 tablespaces');
        await placed.truncate!(cell);
        assert.equal(await placed.countStored(cell), 0, 'truncate empties all 3 tables');
        await placed.bulkInsert(streamOf(files), cell);
        await placed.dropAndRecreate!(cell);
        assert.equal(await placed.countStored(cell), 0, 'dropAndRecreate empties all 3 tables');
        await placed.bulkInsert(streamOf(files), cell);
        for (const file of files) await placed.deleteOne(file, cell);
        await placed.settle(cell);
        const beforeOptimize = await read('tablespace_file');
        await placed.maintenance(cell); // light level: purge only
        await placed.maintenanceFull!(cell);
        await placed.settle(cell);
        const afterOptimize = await read('tablespace_file');
        assert.ok(afterOptimize < beforeOptimize / 4, `OPTIMIZE rebuilds all 3 tables: ${beforeOptimize} → ${afterOptimize}`);
      } finally {
        await placed.close();
      }
    });
  }

  test('page-compressed allocates less than default on compressible data; OPTIMIZE reclaims after deletes', async () => {
    const files = labFiles({ count: 24, size: 64 * 1024, duplicates: 0, kind: 'text' });
    const allocated: Record<string, number> = {};
    for (const variant of ['default', 'page-compressed']) {
      const cell = blobCell(variant);
      await adapter.resetLab(cell);
      await adapter.bulkInsert(streamOf(files), cell);
      await adapter.settle(cell);
      const probe = adapter.probes(cell).find((candidate) => candidate.name === 'tablespace')!;
      allocated[variant] = (await probe.read()).bytes!;
      if (variant === 'default') {
        for (const file of files) await adapter.deleteOne(file, cell);
        await adapter.settle(cell);
        // After purge (settle waits for it) DATA_LENGTH has dropped, but the tablespace file keeps
        // the freed pages until OPTIMIZE (recreate) rebuilds it.
        const internal = adapter.probes(cell).find((candidate) => candidate.name === 'internal')!;
        assert.ok((await internal.read()).bytes! < allocated[variant]! / 4, 'purged deletes free the pages inside the tablespace');
        const fileAfterDelete = (await probe.read()).bytes!;
        assert.ok(fileAfterDelete > allocated[variant]! * 0.9, `the tablespace file keeps its size after DELETE: ${allocated[variant]} → ${fileAfterDelete}`);
        await adapter.maintenance(cell);
        await adapter.settle(cell);
        const fileAfterOptimize = (await probe.read()).bytes!;
        assert.ok(fileAfterOptimize < fileAfterDelete / 4, `OPTIMIZE (recreate) reclaims: ${fileAfterDelete} → ${fileAfterOptimize}`);
      }
    }
    assert.ok(allocated['page-compressed']! < allocated.default! * 0.8, `page compression punches holes: ${JSON.stringify(allocated)}`);
  });
});

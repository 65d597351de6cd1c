/**
 * SPEC §4.1 `read` in native mode: every stored file's records read back through the system and
 * compared with the rows the file parses into. Through the real runner on the embedded engines
 * and on the real PostgreSQL server (hold the servers lock), over the payload types that between
 * them use every portable column type; and a record altered inside the database is an integrity
 * error in the record, never a number.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { readOperation, type StageKit } from '../../src/experiment/stages/dimension-stages.js';
import { DEFAULT_DIMENSIONS } from '../../src/experiment/dimensions.js';
import { definition as sqlite } from '../../src/systems/sqlite.js';
import { pgOptionsFromEnv } from '../systems/sql-helpers.js';
import { FIXTURE_NATIVE_TABLE, iterate, makeCell, makeLabFiles } from '../systems/fixtures.js';
import { embeddedConfig, runInProcess, tempDir } from './helpers.js';

// structured_json: int text float bool timestamp json; bank_transactions: decimal timestamp text;
// uuid_keys: uuid; random_binary: bytes; text_document: int text (paragraphs).
const PAYLOADS = 'structured_json,bank_transactions,uuid_keys,random_binary,text_document';
const DATA = { mode: 'native', payloadTypes: PAYLOADS, grades: 'U50', files: '6', minSize: '8KiB', maxSize: '32KiB', stages: 'perfile_insert,read' };

function assertEveryReadVerified(records: readonly StageRecord[], systems: readonly string[]): void {
  for (const system of systems) {
    for (const payload of PAYLOADS.split(',')) {
      const read = records.find((record) => record.system === system && record.payloadType === payload && record.stage === 'read');
      assert.ok(read, `${system} ${payload}: no read record`);
      assert.equal(read.error, null, `${system} ${payload}: ${read.error?.message}`);
      assert.equal(read.files, 6, `${system} ${payload}: ${read.edrFlag.reason}`);
      assert.equal(read.latencyUs?.count, 6);
    }
  }
}

describe('native read-back through the runner', () => {
  it('sqlite, pglite, duckdb: every file\'s records read back equal what it parses into', async () => {
    const root = tempDir('native-read');
    const systems = ['sqlite', 'pglite', 'duckdb'];
    const run = await runInProcess({ config: embeddedConfig(join(root, 'lab'), systems), cli: { systems: systems.join(','), variants: 'default', ...DATA }, dataDir: join(root, 'data'), resultsDir: join(root, 'r') });
    assert.deepEqual(run.summary.failedCells, []);
    assertEveryReadVerified(run.records, systems);
  });

  it('postgresql (real server): every file\'s records read back equal what it parses into', async () => {
    const root = tempDir('native-read-pg');
    const config = parseConfig({ labName: 'dedup_native_read', systems: [{ id: 'postgresql', options: pgOptionsFromEnv() }] });
    const run = await runInProcess({ config, cli: { systems: 'postgresql', variants: 'default', ...DATA }, dataDir: join(root, 'data'), resultsDir: join(root, 'r') });
    assert.deepEqual(run.summary.failedCells, []);
    assertEveryReadVerified(run.records, ['postgresql']);
  });
});

describe('native read-back of an altered record', () => {
  it('sqlite: a value changed inside the database is an integrity error naming the file, with no numbers', async () => {
    const dir = tempDir('native-tamper');
    const adapter = sqlite.create('sqlite', sqlite.parseOptions({ dataDir: dir }), 'dedup_tamper');
    const cell = makeCell({ variant: 'default', mode: 'native' });
    const files = makeLabFiles({ count: 5, size: 2000, duplicates: { 4: 0 }, seed: 'native-tamper' });
    await adapter.connect();
    try {
      await adapter.resetLab(cell);
      await adapter.bulkInsert(iterate(files), cell);
      const kit = kitFor(adapter, cell, files);
      const clean = await readOperation(kit);
      assert.equal(clean.error, null);
      assert.equal(clean.files, 5);
      // The same database file through a second connection: one word of file 2 changes.
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(dir, 'dedup_tamper.sqlite'));
      const changed = db.prepare(`UPDATE "n_${FIXTURE_NATIVE_TABLE.name}" SET word = word || 'x' WHERE file_id = 2 AND line_no = 1`).run().changes;
      db.close();
      assert.equal(changed, 1);
      const tampered = await readOperation(kit);
      assert.equal(tampered.error?.kind, 'integrity');
      assert.match(tampered.error?.message ?? '', /^1 of 5 files whose records read back differ .*first: file 2 \(00002\.bin\)/);
      assert.equal(tampered.files, 0);
      assert.deepEqual(tampered.latenciesUs, []);
    } finally {
      await adapter.dropLab();
      await adapter.close();
    }
  });
});

/** The runner's kit for a cell holding `files` (read stage only). */
function kitFor(adapter: StageKit['adapter'], cell: StageKit['context'], files: ReturnType<typeof makeLabFiles>): StageKit {
  const entries = files.map((file) => ({ name: file.name, size: file.size, sha256: file.sha256, duplicateOf: null, payloadType: file.payloadType }));
  const unused = () => {
    throw new Error('not used by the read stage');
  };
  return {
    adapter,
    context: cell,
    dimensions: DEFAULT_DIMENSIONS,
    entries,
    stored: () => files.map((file) => file.id),
    setStored: unused,
    bytesOf: (ids) => ids.reduce((sum, id) => sum + (files[id]?.size ?? 0), 0),
    timeEach: unused,
    files: (ids) => iterate(ids.map((id) => files[id]!)),
    verifyCount: unused,
    writeFailure: unused,
    firstInsertGrowth: () => null,
  };
}

/** sqlite adapter: the shared contract suite plus SQLite-specific behaviour, on real SQLite files. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { definition, sqliteFileBytes } from '../../src/systems/sqlite.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { dirListing, iterate, makeCell, makeLabFiles } from './fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dedup-sqlite-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const LAB = 'dedup_contract';
const labFile = join(dataDir, `${LAB}.sqlite`);
const canaryFile = join(dataDir, 'canary.sqlite');


runContractSuite({
  definitionId: 'sqlite',
  options: { dataDir },
  labName: LAB,
  canary: {
    async create() {
      const db = new Database(canaryFile);
      db.exec("CREATE TABLE IF NOT EXISTS keep (k TEXT); DELETE FROM keep; INSERT INTO keep VALUES ('canary bytes')");
      db.close();
    },
    async read() {
      return createHash('sha256').update(readFileSync(canaryFile)).digest('hex');
    },
  },
  failWrites: {
    async arm({ cell, poisoned }) {
      // A trigger in the lab database refusing exactly one file id: a real SQLite error.
      const db = new Database(labFile);
      const table = cell.mode === 'blob' ? 'blobs' : 'n_fixture_rows';
      const column = cell.mode === 'blob' ? 'id' : 'file_id';
      db.exec(`CREATE TRIGGER refuse_one BEFORE INSERT ON ${table} WHEN NEW.${column} = ${Number(poisoned.id)} BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`);
      db.close();
    },
  },
  sideEffectSnapshot: async () => dirListing(dataDir),
  labExists: async () => existsSync(labFile),
});

describe('sqlite specifics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-sqlite-x-'));
  let adapter: SystemAdapter;
  after(async () => {
    await adapter?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const blobCell = makeCell({ variant: 'default', mode: 'blob' });
  const probe = async (name: string): Promise<number> => {
    await adapter.settle(blobCell);
    const reading = await adapter.probes(blobCell).find((candidate) => candidate.name === name)!.read();
    assert.equal(typeof reading.bytes, 'number', reading.error);
    return reading.bytes!;
  };

  it('page arithmetic', () => {
    assert.equal(sqliteFileBytes(10, 4096), 40960);
    assert.equal(sqliteFileBytes(0, 4096), 0);
  });

  it('defaults its data dir to .dedup-lab/sqlite under the cwd', () => {
    assert.equal(definition.parseOptions({}).dataDir, resolve('.dedup-lab', 'sqlite'));
    assert.equal(definition.parseOptions({ dataDir: 'x/y' }).dataDir, resolve('x/y'));
  });

  it('random data costs about its own size: internal delta / logical bytes within [1.0, 1.25]', async () => {
    adapter = definition.create('sqlite', definition.parseOptions({ dataDir: dir }), 'dedup_specific');
    await adapter.connect();
    await adapter.resetLab(blobCell);
    const baseline = await probe('internal');
    const files = makeLabFiles({ count: 40, size: 16384, seed: 'sqlite-truth' });
    const outcome = await adapter.bulkInsert(iterate(files), blobCell);
    assert.equal(outcome.acknowledged.length, 40);
    const ratio = ((await probe('internal')) - baseline) / (40 * 16384);
    assert.ok(ratio >= 1.0 && ratio <= 1.25, `physical/logical ratio ${ratio}`);
  });

  it('deletes leave the file size (freelist) until VACUUM gives the pages back', async () => {
    const loaded = await probe('internal');
    const usedLoaded = await probe('dbstat');
    const files = makeLabFiles({ count: 40, size: 16384, seed: 'sqlite-truth' });
    for (const file of files.slice(0, 30)) await adapter.deleteOne(file, blobCell);
    assert.equal(await adapter.countStored(blobCell), 10);
    assert.equal(await probe('internal'), loaded, 'DELETE alone does not shrink an SQLite file');
    assert.ok((await probe('dbstat')) < usedLoaded - 25 * 16384, 'dbstat counts only pages in use');
    assert.equal(await adapter.maintenance(blobCell), undefined);
    const vacuumed = await probe('internal');
    assert.ok(vacuumed < loaded - 25 * 16384, `VACUUM must give back the deleted pages: ${loaded} → ${vacuumed}`);
    const paths = adapter.localDataPaths();
    assert.equal(paths[0], join(dir, 'dedup_specific.sqlite'));
    assert.equal(statSync(paths[0]!).size, vacuumed, 'after settle the file on disk is exactly page_count × page_size');
    assert.equal(statSync(paths[1]!).size, 0, 'settle truncates the WAL');
  });

  it('native rows use SQLite storage classes per portable type', async () => {
    const cell = makeCell({ variant: 'default', mode: 'native' });
    await adapter.resetLab(cell);
    await adapter.insertOne(makeLabFiles({ count: 1, size: 4096, seed: 'native' })[0]!, cell);
    await adapter.close();
    const db = new Database(join(dir, 'dedup_specific.sqlite'), { readonly: true });
    const row = db
      .prepare('SELECT typeof(file_id) f, typeof(line_no) i, typeof(word) t, typeof(amount) d, typeof(ratio) r, typeof(raw) b, typeof(flag) l, count(*) OVER () n FROM n_fixture_rows LIMIT 1')
      .get();
    db.close();
    assert.deepEqual(row, { f: 'integer', i: 'integer', t: 'text', d: 'real', r: 'real', b: 'blob', l: 'integer', n: 3 });
    await adapter.connect();
  });
});

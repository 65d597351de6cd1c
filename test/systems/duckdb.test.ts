/** duckdb adapter: the shared contract suite plus DuckDB-specific behaviour, on real DuckDB files. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { minorCollector } from '../../src/core/gc.js';
import { blobChunks, definition, DUCKDB_ALLOCATOR_CONF, DUCKDB_ALLOCATOR_ENV, DUCKDB_BLOB_CHUNK_BYTES, duckdbUsedBytes, openDuckdbLab } from '../../src/systems/duckdb.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { dirListing, iterate, makeCell, makeLabFiles } from './fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dedup-duckdb-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const LAB = 'dedup_contract';
const labFile = join(dataDir, `${LAB}.duckdb`);
const canaryFile = join(dataDir, 'canary.duckdb');


/** Run SQL on a lab file through the adapter's shared handle (shares its open database). */
async function withDuck<T>(path: string, work: (run: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  const database = await openDuckdbLab(path, null);
  const connection = await database.connect();
  try {
    return await work(async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
  } finally {
    connection.closeSync();
    database.release();
  }
}

runContractSuite({
  definitionId: 'duckdb',
  options: { dataDir },
  labName: LAB,
  canary: {
    async create() {
      await withDuck(canaryFile, async (run) => {
        await run("CREATE OR REPLACE TABLE keep AS SELECT 'canary bytes' AS k");
        await run('CHECKPOINT');
      });
    },
    async read() {
      return createHash('sha256').update(readFileSync(canaryFile)).digest('hex');
    },
  },
  failWrites: {
    // DuckDB has no triggers or ADD CONSTRAINT: retyping a text column to UUID makes the real
    // engine refuse every row (its names/words are not UUIDs), the poisoned file included.
    async arm({ cell }) {
      const [table, column] = cell.mode === 'blob' ? ['blobs', 'name'] : ['n_fixture_rows', 'word'];
      await withDuck(labFile, (run) => run(`ALTER TABLE ${table} ALTER ${column} TYPE UUID`));
    },
  },
  sideEffectSnapshot: async () => dirListing(dataDir),
  labExists: async () => existsSync(labFile),
});

describe('duckdb specifics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-duckdb-x-'));
  const cell = makeCell({ variant: 'default', mode: 'blob' });
  const files = makeLabFiles({ count: 60, size: 32_768, seed: 'duck-truth' });
  let adapter: SystemAdapter;
  after(async () => {
    await adapter?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const internal = async (): Promise<number> => {
    await adapter.settle(cell);
    const reading = await adapter.probes(cell)[0]!.read();
    assert.equal(typeof reading.bytes, 'number', reading.error);
    return reading.bytes!;
  };

  it('block arithmetic', () => {
    assert.equal(duckdbUsedBytes(3n, 262_144n), 786_432);
    assert.equal(duckdbUsedBytes(0, 262_144), 0);
  });

  it('random data costs about its own size (256 KiB block granularity): ratio within [1.0, 1.3]', async () => {
    adapter = definition.create('duckdb', definition.parseOptions({ dataDir: dir }), 'dedup_specific');
    await adapter.connect();
    await adapter.resetLab(cell);
    const baseline = await internal();
    assert.equal((await adapter.bulkInsert(iterate(files), cell)).acknowledged.length, 60);
    const ratio = ((await internal()) - baseline) / (60 * 32_768);
    assert.ok(ratio >= 1.0 && ratio <= 1.3, `physical/logical ${ratio}`);
  });

  it('chunks: a file is rows of at most 8 KiB, at least one row (an empty file is one empty row)', () => {
    assert.equal(DUCKDB_BLOB_CHUNK_BYTES, 8192);
    const content = Buffer.alloc(20 * 1024, 7);
    assert.deepEqual(blobChunks(content).map((chunk) => chunk.length), [8192, 8192, 4096]);
    assert.deepEqual(Buffer.concat(blobChunks(content)), content);
    assert.deepEqual(blobChunks(Buffer.alloc(8192)).map((chunk) => chunk.length), [8192]);
    assert.deepEqual(blobChunks(Buffer.alloc(0)).map((chunk) => chunk.length), [0]);
  });

  it('the appender stores every byte: each 32 KiB file is 4 chunk rows (seq 0–3) that join to its content', async () => {
    await adapter.close();
    const rows = await withDuck(join(dir, 'dedup_specific.duckdb'), (run) => run('SELECT id, seq, hex(content) AS content FROM blobs ORDER BY id, seq'));
    const stored = new Map<unknown, { seqs: unknown[]; hash: ReturnType<typeof createHash> }>();
    for (const row of rows) {
      const entry = stored.get(row.id) ?? { seqs: [], hash: createHash('sha256') };
      stored.set(row.id, entry);
      entry.seqs.push(row.seq);
      entry.hash.update(Buffer.from(String(row.content), 'hex'));
    }
    assert.deepEqual(
      [...stored].map(([id, entry]) => [id, entry.seqs, entry.hash.digest('hex')]),
      files.map((file) => [file.id, [0, 1, 2, 3], file.sha256]),
    );
    await adapter.connect();
  });

  it('readOne reassembles the chunks in order', async () => {
    const readOne = adapter.readOne?.bind(adapter);
    assert.ok(readOne, 'duckdb reads files back');
    for (const file of [files[0]!, files[59]!]) assert.equal(createHash('sha256').update(await readOne(file, cell)).digest('hex'), file.sha256);
  });

  it('readOne returns a buffer of its own (the read stage frees it) and names a lost chunk or a wrong length', async () => {
    assert.equal(adapter.readOneOwned, true);
    const own = await adapter.readOne!(files[50]!, cell);
    assert.ok(own.byteOffset === 0 && own.byteLength === own.buffer.byteLength && own.byteLength === 32_768, 'the whole ArrayBuffer is the file');
    // Tamper through the shared handle (the adapter keeps the file open): files 50–52 stay counted below.
    const path = join(dir, 'dedup_specific.duckdb');
    await withDuck(path, (run) => run(`DELETE FROM blobs WHERE id = ${files[50]!.id} AND seq = 2`));
    await assert.rejects(adapter.readOne!(files[50]!, cell), /chunk 2 is missing \(found seq 3\)/);
    await withDuck(path, (run) => run(`UPDATE blobs SET size = size + 1 WHERE id = ${files[51]!.id}`));
    await assert.rejects(adapter.readOne!(files[51]!, cell), /32768 bytes stored, 32769 expected/);
    await withDuck(path, (run) => run(`UPDATE blobs SET size = size - 1 WHERE id = ${files[52]!.id}`));
    await assert.rejects(adapter.readOne!(files[52]!, cell), /32768 bytes stored, 32767 expected/);
  });

  it('V8 collections for dead DuckDB results are available on this Node line', () => {
    // Without it the read stage keeps every dead result until V8 collects for its own reasons.
    assert.equal(typeof minorCollector(), 'function');
  });

  it("DuckDB's jemalloc reads its settings from the variable the adapter sets; a value set by the user is kept", () => {
    const script = (conf: string | null) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env[DUCKDB_ALLOCATOR_ENV];
      if (conf !== null) env[DUCKDB_ALLOCATOR_ENV] = conf;
      const source = `const { definition } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/systems/duckdb.ts', import.meta.url)))});
        const adapter = definition.create('duckdb', definition.parseOptions({ dataDir: ${JSON.stringify(dir)} }), 'dedup_alloc');
        await adapter.connect(); await adapter.version();
        process.stdout.write(String(process.env.${DUCKDB_ALLOCATOR_ENV}));`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { env, encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      return child;
    };
    assert.equal(script(null).stdout, DUCKDB_ALLOCATOR_CONF);
    // confirm_conf makes jemalloc print each source it read: the env variable is one, with the user's value.
    const user = script('confirm_conf:true');
    assert.equal(user.stdout, 'confirm_conf:true');
    assert.match(user.stderr, /environment variable MALLOC_CONF\): "confirm_conf:true"/);
  });

  it('observed: deletes + CHECKPOINT/VACUUM do not give DuckDB blocks back', async () => {
    const loaded = await internal();
    for (const file of files.slice(0, 45)) await adapter.deleteOne(file, cell);
    assert.equal(await adapter.countStored(cell), 15);
    assert.equal(await adapter.maintenance(cell), undefined);
    const after = await internal();
    assert.ok(after >= loaded * 0.9, `DuckDB ${loaded} → ${after}: if this fails, DuckDB now reclaims; update docs/systems-embedded.md`);
  });

  it('native mode stores typed DuckDB columns', async () => {
    const native = makeCell({ variant: 'default', mode: 'native' });
    await adapter.resetLab(native);
    await adapter.insertOne(makeLabFiles({ count: 1, size: 4096, seed: 'native' })[0]!, native);
    await adapter.close();
    const columns = await withDuck(join(dir, 'dedup_specific.duckdb'), (run) => run('DESCRIBE n_fixture_rows'));
    assert.deepEqual(
      columns.map((column) => `${String(column.column_name)}:${String(column.column_type)}`),
      ['file_id:INTEGER', 'line_no:BIGINT', 'word:VARCHAR', 'amount:DECIMAL(18,4)', 'ratio:DOUBLE', 'at:TIMESTAMP WITH TIME ZONE', 'key:UUID', 'doc:JSON', 'flag:BOOLEAN', 'raw:BLOB'],
    );
    await adapter.connect();
    assert.equal(await adapter.countStored(native), 1);
  });
});

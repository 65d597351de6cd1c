/** pglite adapter: the shared contract suite plus PGlite/PostgreSQL-specific behaviour, on a real PGlite data dir. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { acquirePglite, definition, PgliteHostLostError, processMemory, type PgliteHandle } from '../../src/systems/pglite.js';
import { pgliteTemplateDir } from '../../src/systems/pglite-host.js';
import { InvalidLabNameError, type SystemAdapter } from '../../src/systems/types.js';
import {
  PG_COPY_BINARY_HEADER,
  assertLabSchema,
  pgCopyBinaryBlobRow,
  pgCreateTableStatements,
  pgNativeInsertSql,
  pgNativeRowParams,
} from '../../src/systems/shared/pgCommon.js';
import { runContractSuite } from './contract.js';
import { assertHostFollowsParentOut } from './host-helpers.js';
import { FIXTURE_NATIVE_TABLE, iterate, makeCell, makeLabFiles } from './fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dedup-pglite-'));
const LAB = 'dedup_contract';
// A private template cache: this file's first host builds the template (initdb), later new
// data dirs are copies of it — both paths run here. Forked hosts inherit the variable.
const cacheDir = mkdtempSync(join(tmpdir(), 'dedup-pglite-cache-'));
process.env.XDG_CACHE_HOME = cacheDir;
// One handle for the whole file keeps the WASM instance open (start-up costs seconds); the
// adapters under test join the same instance through the same reference-counted registry.
let handle: PgliteHandle | null = null;
const db = async () => (handle ??= await acquirePglite(dataDir)).db;
after(async () => {
  await handle?.release();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

runContractSuite({
  definitionId: 'pglite',
  options: { dataDir },
  labName: LAB,
  canary: {
    async create() {
      await (await db()).exec("DROP TABLE IF EXISTS public.canary_keep; CREATE TABLE public.canary_keep (k text, v bytea); INSERT INTO public.canary_keep VALUES ('canary', '\\x00ff10'::bytea)");
    },
    async read() {
      const result = await (await db()).query<{ k: string; v: Uint8Array }>('SELECT k, v FROM public.canary_keep ORDER BY k');
      return JSON.stringify(result.rows.map((row) => [row.k, Buffer.from(row.v).toString('hex')]));
    },
  },
  failWrites: {
    async arm({ cell, poisoned }) {
      const table = cell.mode === 'blob' ? 'blobs' : 'n_fixture_rows';
      const column = cell.mode === 'blob' ? 'id' : 'file_id';
      await (await db()).exec(`
        CREATE FUNCTION ${LAB}.refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON ${LAB}.${table} FOR EACH ROW WHEN (NEW.${column} = ${Number(poisoned.id)}) EXECUTE FUNCTION ${LAB}.refuse_one();`);
    },
  },
  sideEffectSnapshot: async () => JSON.stringify((await (await db()).query('SELECT nspname FROM pg_namespace ORDER BY nspname')).rows),
  labExists: async () => (await (await db()).query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [LAB])).rows.length > 0,
});

describe('PostgreSQL dialect helpers (pure)', () => {
  it('refuses system and shared schemas as lab names', () => {
    for (const name of ['public', 'information_schema', 'pg_catalog', 'pg_toast']) assert.throws(() => assertLabSchema(name), InvalidLabNameError);
    assert.equal(assertLabSchema('dedup_lab'), 'dedup_lab');
  });

  it('encodes a blob row in COPY binary format', () => {
    const [file] = makeLabFiles({ count: 1, size: 100, seed: 'copy' });
    const [head, content] = pgCopyBinaryBlobRow(file!);
    assert.equal(PG_COPY_BINARY_HEADER.length, 19);
    assert.equal(head!.readInt16BE(0), 5);
    assert.equal(head!.readInt32BE(2), 4);
    assert.equal(head!.readInt32BE(6), file!.id);
    assert.equal(head!.readInt32BE(10), file!.name.length);
    assert.equal(head!.readInt32BE(head!.length - 4), 100);
    assert.equal(content, file!.content);
  });

  it('builds multi-row native inserts with one cast parameter per value', () => {
    const sql = pgNativeInsertSql('dedup_lab', FIXTURE_NATIVE_TABLE, 'n_fixture_rows', 2);
    assert.equal((sql.match(/\$\d+/g) ?? []).length, 2 * (FIXTURE_NATIVE_TABLE.columns.length + 1));
    assert.match(sql, /\$12::text::bigint/);
    assert.match(sql, /::bytea/);
    assert.deepEqual(pgNativeRowParams({ name: 't', columns: [{ name: 'a', type: 'bool' }] }, 7, [true]), ['7', 'true']);
  });

  it('applies the variant storage settings and the hash index', () => {
    const ddl = (variant: string) => pgCreateTableStatements('dedup_lab', makeCell({ variant, mode: 'blob' })).join(';');
    assert.match(ddl('default'), /SET STORAGE EXTENDED.*SET COMPRESSION pglz/);
    assert.match(ddl('uncompressed'), /SET STORAGE EXTERNAL/);
    assert.doesNotMatch(ddl('uncompressed'), /COMPRESSION/);
    assert.match(ddl('hash-index'), /CREATE INDEX "blobs_hash_idx" ON "dedup_lab"."blobs" USING btree \("sha256"\)/);
    assert.throws(() => ddl('bogus'), /unknown PostgreSQL variant/);
  });
});

describe('pglite specifics', () => {
  const adapters: SystemAdapter[] = [];
  const open = async (lab: string): Promise<SystemAdapter> => {
    const adapter = definition.create('pglite', definition.parseOptions({ dataDir }), lab);
    await adapter.connect();
    adapters.push(adapter);
    return adapter;
  };
  const internal = async (adapter: SystemAdapter, variant: string): Promise<number> => {
    const cell = makeCell({ variant, mode: 'blob' });
    await adapter.settle(cell);
    const reading = await adapter.probes(cell)[0]!.read();
    assert.equal(typeof reading.bytes, 'number', reading.error);
    return reading.bytes!;
  };
  before(async () => {
    await db();
  });
  after(async () => {
    for (const adapter of adapters) {
      await adapter.dropLab();
      await adapter.close();
    }
  });

  it('PGlite has no lz4, which is why the lz4 variant is absent', async () => {
    assert.ok(!definition.variants.includes('lz4'));
    const pg = await db();
    await pg.exec('CREATE TEMP TABLE lz4_probe (b bytea)');
    await assert.rejects(pg.exec('ALTER TABLE lz4_probe ALTER COLUMN b SET COMPRESSION lz4'), /lz4/);
  });

  it('bytea parameters cross in binary format and results are decoded natively: every byte value, empty and 512 KiB values come back identical; shared_buffers is 16MB', async () => {
    const pg = await db();
    assert.equal((await pg.query<{ s: string }>("SELECT current_setting('shared_buffers') AS s")).rows[0]?.s, '16MB');
    await pg.exec('CREATE TEMP TABLE bytea_probe (id int, b bytea)');
    const values = [new Uint8Array(0), Uint8Array.from({ length: 256 }, (_, i) => i), randomBytes(512 * 1024)];
    for (const [id, value] of values.entries()) await pg.query('INSERT INTO bytea_probe VALUES ($1, $2)', [id, value]);
    const rows = (await pg.query<{ id: number; b: Uint8Array; hex: string }>("SELECT id, b, encode(b, 'hex') AS hex FROM bytea_probe ORDER BY id")).rows;
    assert.equal(rows.length, values.length);
    for (const [id, value] of values.entries()) {
      assert.ok(rows[id]!.b instanceof Uint8Array);
      assert.ok(Buffer.from(rows[id]!.b).equals(Buffer.from(value)), `value ${id} read back`);
      // What PostgreSQL stored, independent of the host's decoder.
      assert.equal(rows[id]!.hex, Buffer.from(value).toString('hex'), `value ${id} stored`);
    }
    // Anything but bytes still goes to PGlite's own serializer, which refuses it.
    await assert.rejects(pg.query('INSERT INTO bytea_probe VALUES ($1, $2)', [9, '\\x00']), /bytea/);
  });

  it('binary COPY stores every byte: contents read back identical', async () => {
    const adapter = await open('dedup_copy');
    const cell = makeCell({ variant: 'default', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 6, size: 70_000, duplicates: { 5: 0 }, seed: 'copy-roundtrip' });
    assert.equal((await adapter.bulkInsert(iterate(files), cell)).acknowledged.length, 6);
    const rows = (await (await db()).query<{ id: number; name: string; sha256: string; size: number; content: Uint8Array }>('SELECT * FROM dedup_copy.blobs ORDER BY id')).rows;
    assert.deepEqual(
      rows.map((row) => [row.id, row.name, row.sha256, row.size, Buffer.from(row.content).equals(files[row.id]!.content)]),
      files.map((file) => [file.id, file.name, file.sha256, file.size, true]),
    );
  });

  it('random data costs about its own size in the default variant (pglz cannot compress it)', async () => {
    const adapter = await open('dedup_random');
    const cell = makeCell({ variant: 'default', mode: 'blob' });
    await adapter.resetLab(cell);
    const baseline = await internal(adapter, 'default');
    const files = makeLabFiles({ count: 20, size: 32_768, seed: 'pg-random' });
    await adapter.bulkInsert(iterate(files), cell);
    const ratio = ((await internal(adapter, 'default')) - baseline) / (20 * 32_768);
    assert.ok(ratio >= 0.95 && ratio <= 1.3, `physical/logical ${ratio}`);
  });

  it('uncompressed (STORAGE EXTERNAL) stores compressible text far bigger than default (pglz)', async () => {
    const files = makeLabFiles({ count: 10, size: 32_768, kind: 'text', seed: 'pg-text' });
    const sizes: Record<string, number> = {};
    for (const variant of ['default', 'uncompressed']) {
      const adapter = await open(`dedup_${variant}`);
      const cell = makeCell({ variant, mode: 'blob' });
      await adapter.resetLab(cell);
      const baseline = await internal(adapter, variant);
      await adapter.bulkInsert(iterate(files), cell);
      sizes[variant] = (await internal(adapter, variant)) - baseline;
    }
    assert.ok(sizes.uncompressed! >= 10 * 32_768, `uncompressed ${sizes.uncompressed} holds at least the raw bytes`);
    assert.ok(sizes.uncompressed! > 2 * sizes.default!, `uncompressed ${sizes.uncompressed} vs default ${sizes.default}`);
    const compression = await (await db()).query<{ method: string }>('SELECT DISTINCT pg_column_compression(content) AS method FROM dedup_default.blobs');
    assert.deepEqual(compression.rows, [{ method: 'pglz' }]);
  });

  it('hash-index creates a B-tree on the content hash, counted by the internal probe', async () => {
    const adapter = await open('dedup_hashidx');
    const cell = makeCell({ variant: 'hash-index', mode: 'blob' });
    await adapter.resetLab(cell);
    const indexes = await (await db()).query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE schemaname = 'dedup_hashidx'");
    assert.equal(indexes.rows.length, 1);
    assert.match(indexes.rows[0]!.indexdef, /USING btree \(sha256\)/);
    const sizes = await (await db()).query<{ total: string; table: string }>(
      "SELECT pg_total_relation_size('dedup_hashidx.blobs')::text AS total, pg_table_size('dedup_hashidx.blobs')::text AS table",
    );
    assert.ok(Number(sizes.rows[0]!.total) > Number(sizes.rows[0]!.table), 'the index bytes are part of the total');
    assert.equal(await internal(adapter, 'hash-index'), Number(sizes.rows[0]!.total));
  });

  it('deletes leave dead TOAST space until VACUUM FULL gives it back', async () => {
    const adapter = await open('dedup_random');
    const cell = makeCell({ variant: 'default', mode: 'blob' });
    const loaded = await internal(adapter, 'default');
    const files = makeLabFiles({ count: 20, size: 32_768, seed: 'pg-random' });
    for (const file of files.slice(0, 15)) await adapter.deleteOne(file, cell);
    assert.equal(await adapter.countStored(cell), 5);
    assert.ok((await internal(adapter, 'default')) >= loaded * 0.95, 'plain DELETE does not shrink the relation files');
    await adapter.maintenance(cell);
    const vacuumed = await internal(adapter, 'default');
    assert.ok(vacuumed < loaded - 12 * 32_768, `VACUUM FULL must reclaim: ${loaded} → ${vacuumed}`);
  });

  it('native mode stores typed PostgreSQL columns', async () => {
    const adapter = await open('dedup_native');
    const cell = makeCell({ variant: 'default', mode: 'native' });
    await adapter.resetLab(cell);
    await adapter.insertOne(makeLabFiles({ count: 1, size: 4096, seed: 'native' })[0]!, cell);
    const types = await (await db()).query<{ column_name: string; data_type: string }>(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'dedup_native' ORDER BY ordinal_position",
    );
    assert.deepEqual(
      types.rows.map((row) => `${row.column_name}:${row.data_type}`),
      ['file_id:integer', 'line_no:bigint', 'word:text', 'amount:numeric', 'ratio:double precision', 'at:timestamp with time zone', 'key:uuid', 'doc:jsonb', 'flag:boolean', 'raw:bytea'],
    );
    const row = (await (await db()).query<{ n: number; nested: number }>("SELECT count(*)::int AS n, max((doc->'nested'->>'n')::int) AS nested FROM dedup_native.n_fixture_rows")).rows[0]!;
    assert.equal(row.n, 3);
    assert.equal(typeof row.nested, 'number');
  });
});

describe('pglite host process', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'dedup-pglite-host-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('a new data dir is a copy of the template cluster (built once per PGlite version)', async () => {
    await db();
    const template = pgliteTemplateDir({ XDG_CACHE_HOME: cacheDir });
    assert.ok(existsSync(join(template, 'PG_VERSION')), template);
    assert.equal(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8'), readFileSync(join(template, 'PG_VERSION'), 'utf8'));
    const fresh = join(scratch, 'seeded');
    const seeded = await acquirePglite(fresh);
    try {
      for (const name of readdirSync(template)) assert.ok(existsSync(join(fresh, name)), `${name} copied`);
      assert.deepEqual((await seeded.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', ['public'])).rows, [{ n: 1 }]);
    } finally {
      await seeded.release();
    }
  });

  it('without a template cache it can write, initdb still runs outside the host, and the tool is warned', async () => {
    const notAFolder = join(scratch, 'cache-is-a-file');
    writeFileSync(notAFolder, '');
    const fresh = join(scratch, 'uncached');
    const stderr: string[] = [];
    const write = process.stderr.write;
    process.env.XDG_CACHE_HOME = notAFolder; // the forked host inherits it: no template can be built
    process.stderr.write = ((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
    let opened: PgliteHandle;
    try {
      opened = await acquirePglite(fresh);
    } finally {
      process.env.XDG_CACHE_HOME = cacheDir;
      process.stderr.write = write;
    }
    try {
      assert.match(stderr.join(''), /^warning: pglite template not used \(.+\); running initdb in a process of its own$/m);
      assert.ok(existsSync(join(fresh, 'PG_VERSION')), 'the data dir holds a cluster');
      assert.deepEqual((await opened.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', ['public'])).rows, [{ n: 1 }]);
      // PGlite's initdb in the host takes it to ≈ 440 MiB; an opened cluster is ≈ 130 MiB.
      const peakMiB = (processMemory(opened.db.pid)?.peakRssBytes ?? Infinity) / 2 ** 20;
      assert.ok(peakMiB < 300, `host peak ${peakMiB.toFixed(0)} MiB: initdb ran in the host`);
    } finally {
      await opened.release();
    }
  });

  it('a killed host is a lost connection: calls reject, and connect() after close() starts a fresh host with the committed data', async () => {
    const adapter = definition.create('pglite', definition.parseOptions({ dataDir: join(scratch, 'crash') }), 'dedup_crash');
    await adapter.connect();
    const cell = makeCell({ variant: 'default', mode: 'blob' });
    await adapter.resetLab(cell);
    await adapter.bulkInsert(iterate(makeLabFiles({ count: 3, size: 4096, seed: 'crash' })), cell);
    const joined = await acquirePglite(join(scratch, 'crash'));
    const killedPid = joined.db.pid;
    await joined.release();
    process.kill(killedPid, 'SIGKILL');
    await assert.rejects(adapter.countStored(cell), (error: unknown) => error instanceof PgliteHostLostError && /connection lost/.test(error.message));
    await assert.rejects(adapter.version(), PgliteHostLostError);
    await adapter.close();
    await adapter.connect();
    assert.equal(await adapter.countStored(cell), 3);
    const again = await acquirePglite(join(scratch, 'crash'));
    assert.notEqual(again.db.pid, killedPid);
    await again.release();
    await adapter.dropLab();
    await adapter.close();
  });

  it('PostgreSQL errors keep their message and SQLSTATE across the process boundary', async () => {
    const pg = await db();
    await assert.rejects(pg.query('SELECT * FROM no_such_table_here'), (error: unknown) => {
      const fields = error as { message: string; code?: string };
      return /no_such_table_here/.test(fields.message) && fields.code === '42P01';
    });
  });

  it('the host exits when the dedup-lab process dies', async () => {
    await assertHostFollowsParentOut(new URL('../../src/systems/pglite.ts', import.meta.url), 'acquirePglite', join(scratch, 'orphan'), scratch);
  });
});

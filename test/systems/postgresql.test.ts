/**
 * postgresql adapter against the real server of scripts/services.sh (env DEDUP_LAB_PG_*).
 * System-specific behaviour: COPY path, every variant's real storage setting, VACUUM FULL
 * reclamation, native mode, the size probe counting heap + TOAST + indexes once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { definition, openPgClient, pgCopyTextLine, pgCopyTextValue } from '../../src/systems/postgresql.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { blobCell, labFiles, nativeCell, pgContractHooks, pgOptionsFromEnv, streamOf } from './sql-helpers.js';

const LAB = 'dedup_lab_pgtest';
const CONTRACT_LAB = 'dedup_contract_pg';

runContractSuite({
  definitionId: 'postgresql',
  options: () => pgOptionsFromEnv(),
  labName: CONTRACT_LAB,
  ...pgContractHooks(CONTRACT_LAB, 'dedup_canary_pg'),
});

describe('postgresql encodings (pure)', () => {
  test('COPY text escaping', () => {
    assert.equal(pgCopyTextValue(null), '\\N');
    assert.equal(pgCopyTextValue('a\tb\nc\\d\re'), 'a\\tb\\nc\\\\d\\re');
    assert.equal(pgCopyTextValue(Buffer.from([0, 255])), '\\\\x00ff');
    assert.equal(pgCopyTextValue(true), 't');
    assert.equal(pgCopyTextLine(3, ['x', 1.5, null]), '3\tx\t1.5\t\\N\n');
  });
});

describe('postgresql server', () => {
  let adapter: SystemAdapter;
  let admin: pg.Client;
  const options = definition.parseOptions(pgOptionsFromEnv());

  before(async () => {
    adapter = definition.create('postgresql', options, LAB);
    await adapter.connect();
    admin = await openPgClient(options as never, 'dedup-lab-test');
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
    await admin.end();
  });

  test('version is the real server version', async () => {
    assert.match(await adapter.version(), /^PostgreSQL \d+/);
  });

  test('COPY bulk load stores every byte; lz4 variant really compresses with lz4', async () => {
    const files = labFiles({ count: 12, size: 20_000, duplicates: 4, kind: 'text' });
    for (const variant of ['default', 'lz4'] as const) {
      const cell = blobCell(variant);
      await adapter.resetLab(cell);
      const outcome = await adapter.bulkInsert(streamOf(files), cell);
      assert.deepEqual(outcome.acknowledged, files.map((f) => f.id));
      assert.equal(await adapter.countStored(cell), files.length);
      const rows = await admin.query<{ id: number; ok: boolean; method: string | null }>(
        `SELECT id, content = $1::bytea AS ok, pg_column_compression(content) AS method FROM ${LAB}.blobs WHERE id = 0`,
        [files[0]!.content],
      );
      assert.equal(rows.rows[0]?.ok, true);
      assert.equal(rows.rows[0]?.method, variant === 'lz4' ? 'lz4' : 'pglz');
    }
  });

  test('uncompressed variant stores content out of line without compression', async () => {
    const files = labFiles({ count: 6, size: 40_000, duplicates: 0, kind: 'text' });
    const sizes: Record<string, number> = {};
    for (const variant of ['default', 'uncompressed'] as const) {
      const cell = blobCell(variant);
      await adapter.resetLab(cell);
      await adapter.bulkInsert(streamOf(files), cell);
      const method = await admin.query<{ method: string | null }>(`SELECT pg_column_compression(content) AS method FROM ${LAB}.blobs LIMIT 1`);
      if (variant === 'uncompressed') assert.equal(method.rows[0]?.method, null);
      await adapter.settle(cell);
      const reading = await adapter.probes(cell)[0]!.read();
      sizes[variant] = reading.bytes!;
    }
    assert.ok(sizes.uncompressed! > 240_000, `uncompressed holds every byte: ${sizes.uncompressed}`);
    assert.ok(sizes.uncompressed! > sizes.default! * 1.5, `text compresses in default: ${JSON.stringify(sizes)}`);
  });

  test('hash-index variant creates a B-tree on sha256 and the probe counts it', async () => {
    const cell = blobCell('hash-index');
    await adapter.resetLab(cell);
    const index = await admin.query<{ def: string }>(`SELECT indexdef AS def FROM pg_indexes WHERE schemaname = $1`, [LAB]);
    assert.equal(index.rows.length, 1);
    assert.match(index.rows[0]!.def, /USING btree \(sha256\)/);
    await adapter.bulkInsert(streamOf(labFiles({ count: 10, size: 5000, duplicates: 5, kind: 'random' })), cell);
    const parts = await admin.query<{ total: string; heap: string; toast: string; idx: string }>(
      `SELECT pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap,
              coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast, pg_indexes_size(c.oid) AS idx
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'blobs'`,
      [LAB],
    );
    const row = parts.rows[0]!;
    assert.equal(Number(row.total), Number(row.heap) + Number(row.toast) + Number(row.idx));
    assert.ok(Number(row.idx) > 0);
    const reading = await adapter.probes(cell)[0]!.read();
    assert.equal(reading.bytes, Number(row.total), 'probe = heap + TOAST + index, each once');
  });

  test('a failing COPY acknowledges nothing and stores nothing', async () => {
    const cell = blobCell('default');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 3, size: 1000, duplicates: 0, kind: 'random' });
    // The server refuses file 2 (a CHECK constraint), so the whole COPY fails.
    await admin.query(`ALTER TABLE ${LAB}.blobs ADD CONSTRAINT refuse_two CHECK (id <> 2)`);
    const outcome = await adapter.bulkInsert(streamOf(files), cell);
    assert.deepEqual(outcome.acknowledged, []);
    assert.deepEqual(
      outcome.failed.map((failure) => failure.id),
      [0, 1, 2],
    );
    assert.match(outcome.failed[0]!.error, /refuse_two/);
    assert.equal(await adapter.countStored(cell), 0);
  });

  test('deletes are verified and VACUUM FULL gives the space back', async () => {
    const cell = blobCell('default');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 20, size: 30_000, duplicates: 0, kind: 'random' });
    for (const file of files) await adapter.insertOne(file, cell);
    await adapter.settle(cell);
    const probe = adapter.probes(cell)[0]!;
    const full = (await probe.read()).bytes!;
    for (const file of files) await adapter.deleteOne(file, cell);
    await assert.rejects(adapter.deleteOne(files[0]!, cell), /delete did nothing/);
    assert.equal(await adapter.countStored(cell), 0);
    const afterDelete = (await probe.read()).bytes!;
    // Plain DELETE only marks tuples dead: the files keep their size.
    assert.ok(afterDelete >= full * 0.9, `delete alone keeps the space: ${afterDelete} vs ${full}`);
    await adapter.maintenance(cell);
    const afterVacuum = (await probe.read()).bytes!;
    assert.ok(afterVacuum < full * 0.05, `VACUUM FULL reclaims: ${afterVacuum} of ${full}`);
  });

  test('native mode: typed table, COPY rows, per-file delete by file_id', async () => {
    const cell = nativeCell('default');
    await adapter.resetLab(cell);
    const files = labFiles({ count: 4, size: 200, duplicates: 1, kind: 'text' });
    const outcome = await adapter.bulkInsert(streamOf(files), cell);
    assert.equal(outcome.acknowledged.length, 4);
    assert.equal(await adapter.countStored(cell), 4);
    const rows = await admin.query<{ n: string; t: string }>(`SELECT count(*) AS n, pg_typeof(amount)::text AS t FROM ${LAB}.n_fixture_rows GROUP BY 2`);
    assert.equal(rows.rows[0]?.t, 'numeric');
    await adapter.deleteOne(files[1]!, cell);
    assert.equal(await adapter.countStored(cell), 3);
    await adapter.insertOne(files[1]!, cell);
    assert.equal(await adapter.countStored(cell), 4);
  });

  test('sampleMetrics uses its own connection and reports the lab size', async () => {
    const metrics = await adapter.sampleMetrics();
    assert.equal(typeof metrics.lab_bytes, 'number');
    assert.ok(metrics.xact_commit! > 0);
  });
});

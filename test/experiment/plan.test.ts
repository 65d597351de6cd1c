import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { cellIdOf, objectTagOf, parseMode, parseRuns, parseStages, planCells, selectEntries, selectVariants, type SystemTarget } from '../../src/experiment/plan.js';
import type { SystemDefinition } from '../../src/systems/types.js';
import type { SystemEntry } from '../../src/config/schema.js';

function definition(id: string, variants: string[], modes: ('blob' | 'native')[] = ['blob', 'native']): SystemDefinition {
  return { id, kind: 'embedded', variants, modes, parseOptions: (raw) => raw, create: () => { throw new Error('not in plan tests'); } };
}
function target(id: string, variants: string[], instance = id, modes?: ('blob' | 'native')[]): SystemTarget {
  return { entry: { id, instance, options: {}, probes: { primary: 'internal' } }, instance, definition: definition(id, variants, modes) };
}
const pglite = target('pglite', ['default', 'uncompressed', 'hash-index']);
const sqlite = target('sqlite', ['default']);
const datasets = [
  { payloadType: 'random_binary', grade: 'U0' },
  { payloadType: 'random_binary', grade: 'U90' },
];

describe('planCells', () => {
  it('orders system → variant → mode → payload type → grade → repetition', () => {
    const plan = planCells({ targets: [sqlite, pglite], stages: ['bulk_insert'], mode: 'both', datasets, runs: 2 });
    assert.equal(plan.cells.length, 1 * 2 * 2 * 2 + 3 * 2 * 2 * 2);
    assert.deepEqual(plan.cells.slice(0, 5).map((cell) => cell.cellId), [
      'sqlite.default.blob.random_binary.U0.r1',
      'sqlite.default.blob.random_binary.U0.r2',
      'sqlite.default.blob.random_binary.U90.r1',
      'sqlite.default.blob.random_binary.U90.r2',
      'sqlite.default.native.random_binary.U0.r1',
    ]);
    assert.equal(plan.cells[8]?.cellId, 'pglite.default.blob.random_binary.U0.r1');
    assert.equal(plan.cells.at(-1)?.cellId, 'pglite.hash-index.native.random_binary.U90.r2');
  });

  it('omitted --variants means every variant of each system', () => {
    const plan = planCells({ targets: [pglite], stages: ['bulk_insert'], mode: 'blob', datasets: datasets.slice(0, 1), runs: 1 });
    assert.deepEqual(plan.cells.map((cell) => cell.variant), ['default', 'uncompressed', 'hash-index']);
  });

  it('a bare variant applies to every chosen system that has it; systems without any selected variant are left out with a note', () => {
    const plan = planCells({ targets: [sqlite, pglite], variants: ['uncompressed'], stages: ['bulk_insert'], mode: 'blob', datasets: datasets.slice(0, 1), runs: 1 });
    assert.deepEqual(plan.cells.map((cell) => cell.cellId), ['pglite.uncompressed.blob.random_binary.U0.r1']);
    assert.match(plan.notes.join('\n'), /sqlite: none of the requested variants/);
    const both = planCells({ targets: [sqlite, pglite], variants: ['default'], stages: ['bulk_insert'], mode: 'blob', datasets: datasets.slice(0, 1), runs: 1 });
    assert.deepEqual(both.cells.map((cell) => cell.systemId), ['sqlite', 'pglite']);
  });

  it('system:variant picks that variant of that system only, keeping the definition order', () => {
    const plan = planCells({ targets: [sqlite, pglite], variants: ['pglite:hash-index', 'pglite:default', 'sqlite:default'], stages: ['bulk_insert'], mode: 'blob', datasets: datasets.slice(0, 1), runs: 1 });
    assert.deepEqual(plan.cells.map((cell) => `${cell.systemId}:${cell.variant}`), ['sqlite:default', 'pglite:default', 'pglite:hash-index']);
  });

  it('unknown variants are usage errors naming the valid values', () => {
    assert.throws(() => selectVariants([sqlite, pglite], ['lz4']), (error: Error) => error instanceof UsageError && /unknown variant "lz4"; valid: default, uncompressed, hash-index, sqlite:default, pglite:default/.test(error.message));
    assert.throws(() => selectVariants([sqlite], ['pglite:default']), UsageError);
    assert.throws(() => selectVariants([sqlite], ['sqlite:nope']), /unknown variant "sqlite:nope"/);
    assert.throws(() => selectVariants([sqlite], []), /empty variant list/);
  });

  it('native mode: systems without it are skipped with a note; mixed sets are planned as not applicable', () => {
    const blobOnly = target('redis', ['by-id'], 'redis', ['blob']);
    const plan = planCells({ targets: [blobOnly, sqlite], stages: ['bulk_insert'], mode: 'native', datasets: [{ payloadType: 'mixed', grade: 'U0' }], runs: 1 });
    assert.deepEqual(plan.cells.map((cell) => cell.cellId), ['sqlite.default.native.mixed.U0.r1']);
    assert.match(plan.cells[0]?.notApplicable ?? '', /mixed/);
    assert.match(plan.notes.join('\n'), /redis: has no native mode/);
  });

  it('an empty plan is a usage error', () => {
    const blobOnly = target('redis', ['by-id'], 'redis', ['blob']);
    assert.throws(() => planCells({ targets: [blobOnly], stages: ['bulk_insert'], mode: 'native', datasets, runs: 1 }), UsageError);
  });
});

describe('cell ids', () => {
  it('are readable, include the instance when it differs, and are filesystem-safe', () => {
    const base = { systemId: 'postgresql', instance: 'postgresql', variant: 'hash-index', mode: 'blob' as const, payloadType: 'random_binary', grade: 'U50', repetition: 1 };
    assert.equal(cellIdOf(base), 'postgresql.hash-index.blob.random_binary.U50.r1');
    assert.equal(cellIdOf({ ...base, instance: 'pg-replica' }), 'postgresql@pg-replica.hash-index.blob.random_binary.U50.r1');
    assert.equal(cellIdOf({ ...base, payloadType: 'my/type x' }), 'postgresql.hash-index.blob.my_type_x.U50.r1');
  });
  it('object tags are short, lower-case, start with a letter and differ per cell', () => {
    const tag = objectTagOf('sqlite.default.blob.random_binary.U50.r1');
    assert.match(tag, /^[a-z][a-z0-9]{12}$/);
    assert.notEqual(tag, objectTagOf('sqlite.default.blob.random_binary.U50.r2'));
    assert.equal(tag, objectTagOf('sqlite.default.blob.random_binary.U50.r1'));
  });
});

describe('option parsing', () => {
  it('--stages keeps the order of §4 and refuses unknown stages', () => {
    assert.deepEqual(parseStages(['maintenance', 'bulk_insert']), ['bulk_insert', 'maintenance']);
    assert.equal(parseStages(undefined).length, 5);
    assert.throws(() => parseStages(['bulk']), /unknown stage "bulk"; valid: bulk_insert, compaction, (.*, )?perfile_insert, perfile_delete, maintenance/);
  });
  it('--mode and --runs', () => {
    assert.equal(parseMode('both'), 'both');
    assert.throws(() => parseMode('blobs'), /unknown mode "blobs"; valid: blob, native, both/);
    assert.equal(parseRuns('3'), 3);
    for (const bad of ['0', '-1', '1.5', 'x', '']) assert.throws(() => parseRuns(bad), UsageError);
  });
});

describe('selectEntries', () => {
  const configured: SystemEntry[] = [
    { id: 'postgresql', instance: 'pg-a', options: {}, probes: { primary: 'internal' } },
    { id: 'postgresql', instance: 'pg-b', options: {}, probes: { primary: 'internal' } },
    { id: 'minio', options: {}, probes: { primary: 'internal' } },
  ];
  it('selects by id (all instances), by instance, and by alias', () => {
    assert.deepEqual(selectEntries(configured, ['postgresql']).map((entry) => entry.instance), ['pg-a', 'pg-b']);
    assert.deepEqual(selectEntries(configured, ['pg-b']).map((entry) => entry.instance), ['pg-b']);
    assert.deepEqual(selectEntries(configured, ['s3']).map((entry) => entry.id), ['minio']);
  });
  it('embedded systems work without config entries; server systems need one', () => {
    assert.deepEqual(selectEntries([], ['sqlite', 'duckdb']).map((entry) => entry.id), ['sqlite', 'duckdb']);
    assert.throws(() => selectEntries([], ['mariadb']), /not in the config/);
  });
  it('unknown systems are usage errors listing the valid names', () => {
    assert.throws(() => selectEntries(configured, ['mongo']), (error: Error) => error instanceof UsageError && /unknown system "mongo"; valid: pg-a, pg-b, minio, pglite, sqlite/.test(error.message));
    assert.throws(() => selectEntries([], undefined), /no systems configured/);
  });
});

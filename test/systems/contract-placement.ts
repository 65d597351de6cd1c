/**
 * The contract suite's `--placement across:3` case (SPEC §4.1), registered inside every variant ×
 * mode block of test/systems/contract.ts for adapters whose definition sets `placementAcross`:
 * insert (bulk and per file) → the internal probe sees the files of every object → readOne reads
 * each → delete (per file and bulk) → dropLab leaves nothing in any of the 3 objects; and the
 * §4.1 operations on the whole lab (truncate, drop-and-recreate, compaction and both maintenance
 * levels) reach every one of the 3 objects.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { CellContext, LabFile, SystemAdapter, SystemDefinition } from '../../src/systems/types.js';
import { objectIndexOf } from '../../src/experiment/dimensions.js';
import { iterate } from './fixtures.js';
import { freshCopyOf, reasonOf } from './contract-dimensions.js';

export interface PlacementCheckContext {
  definition: SystemDefinition;
  current(): SystemAdapter;
  cell: CellContext;
  files: readonly LabFile[];
}

const OBJECTS = 3;

async function internalBytes(adapter: SystemAdapter, cell: CellContext): Promise<number> {
  await adapter.settle(cell);
  const probe = adapter.probes(cell).find((candidate) => candidate.name === 'internal');
  assert.ok(probe, 'adapter must declare an `internal` probe');
  const reading = await probe.read();
  assert.equal(typeof reading.bytes, 'number', `internal probe read failed: ${reading.error ?? 'no bytes'}`);
  return reading.bytes as number;
}

/** Bytes of the distinct contents among `files` (what even a deduplicating object must hold). */
function distinctBytes(files: readonly LabFile[]): number {
  const sizes = new Map(files.map((file) => [file.sha256, file.size]));
  return [...sizes.values()].reduce((sum, size) => sum + size, 0);
}

export function registerPlacementChecks(context: PlacementCheckContext): void {
  const { definition, current, files } = context;
  if (!definition.placementAcross) return;
  const across: CellContext = { ...context.cell, placement: { kind: 'across', objects: OBJECTS } };

  it(`placement across:${OBJECTS}: every operation reaches all ${OBJECTS} objects and dropLab removes them all`, async () => {
    const adapter = current();
    await adapter.resetLab(across);
    const empty = await internalBytes(adapter, across);
    // Only files of objects 1 and 2 first: a probe that read object 0 (or the `within` name) alone would not grow.
    const notFirst = files.filter((file) => file.id % OBJECTS !== 0);
    const outcome = await adapter.bulkInsert(iterate(notFirst), across);
    assert.deepEqual([...outcome.acknowledged].sort((a, b) => a - b), notFirst.map((file) => file.id));
    const grown = (await internalBytes(adapter, across)) - empty;
    // Blob mode: the payload bytes themselves (native rows of the fixture are a few bytes and may fit free page space).
    if (across.mode === 'blob') assert.ok(grown >= distinctBytes(notFirst) / 2, `internal probe grew by ${grown} B for ${distinctBytes(notFirst)} B of distinct content in objects 1 and 2`);
    for (const file of files.filter((candidate) => candidate.id % OBJECTS === 0)) await adapter.insertOne(file, across);
    assert.equal(await adapter.countStored(across), files.length, 'countStored sums over every object');
    if (adapter.readOne && across.mode === 'blob') {
      for (const file of files) assert.ok((await adapter.readOne(file, across)).equals(file.content), `readOne of file ${file.id}`);
    }
    // Per-file delete of the first half in insertion order per object, then the rest in one bulk delete.
    const half = files.filter((file) => file.id < files.length / 2);
    for (const file of half) await adapter.deleteOne(file, across);
    assert.equal(await adapter.countStored(across), files.length - half.length);
    const rest = files.filter((file) => !half.includes(file));
    const bulk = adapter.deleteMany ? await adapter.deleteMany(rest, across) : { notApplicable: 'no deleteMany' };
    if (bulk !== undefined) for (const file of rest) await adapter.deleteOne(file, across);
    assert.equal(await adapter.countStored(across), 0, 'nothing may remain after the deletes');
    await adapter.bulkInsert(iterate(files), across);
    await adapter.dropLab();
    assert.equal(await adapter.countStored(across).catch(() => 0), 0, 'after dropLab no object holds a file');
  });

  it(`placement across:${OBJECTS}: truncate and drop-and-recreate empty all ${OBJECTS} objects, and each takes writes again`, async (t) => {
    const adapter = current();
    for (const operation of ['truncate', 'dropAndRecreate'] as const) {
      const run = adapter[operation];
      if (!run) {
        t.diagnostic(`${adapter.id}: no ${operation}`);
        continue;
      }
      await adapter.resetLab(across);
      await adapter.bulkInsert(iterate(files), across);
      const reason = reasonOf(await run.call(adapter, across));
      if (reason !== null) {
        t.diagnostic(`${operation} not applicable across ${OBJECTS}: ${reason}`);
        continue;
      }
      assert.equal(await adapter.countStored(across), 0, `${operation} left files in some object`);
      // Files 0, 1, 2 land in objects 0, 1, 2; new bytes in blob mode (a msg-id window may outlive a purge).
      const oneEach = files.slice(0, OBJECTS).map((file) => (across.mode === 'blob' ? freshCopyOf(file) : file));
      for (const file of oneEach) await adapter.insertOne(file, across);
      assert.equal(await adapter.countStored(across), OBJECTS, `after ${operation} every object takes a write again`);
    }
  });

  it(`placement across:${OBJECTS}: compaction and both maintenance levels run on every object and keep what is not deleted`, async () => {
    const adapter = current();
    await adapter.resetLab(across);
    await adapter.bulkInsert(iterate(files), across);
    const deleted = files.slice(0, OBJECTS); // one file in each object
    for (const file of deleted) await adapter.deleteOne(file, across);
    reasonOf(await adapter.compact(across));
    reasonOf(await adapter.maintenance(across));
    if (adapter.maintenanceFull) reasonOf(await adapter.maintenanceFull(across));
    const kept = files.slice(OBJECTS);
    // A variant that stores a content once per object (Kafka compact, ClickHouse replacing) may
    // collapse copies inside one object after compaction, never across objects and never below that.
    const onePerContentAndObject = new Set(kept.map((file) => `${objectIndexOf(file.id, across.placement)}:${file.sha256}`)).size;
    const stored = await adapter.countStored(across);
    assert.ok(stored >= onePerContentAndObject && stored <= kept.length, `countStored ${stored} after maintenance; expected ${onePerContentAndObject}…${kept.length}`);
  });
}

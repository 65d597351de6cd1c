/**
 * The contract suite's `--placement across:3` case (SPEC §4.1), registered inside every variant ×
 * mode block of test/systems/contract.ts for adapters whose definition sets `placementAcross`:
 * insert (bulk and per file) → the internal probe sees the files of every object → readOne reads
 * each → delete (per file and bulk) → dropLab leaves nothing in any of the 3 objects.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { CellContext, LabFile, SystemAdapter, SystemDefinition } from '../../src/systems/types.js';
import { iterate } from './fixtures.js';

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
}

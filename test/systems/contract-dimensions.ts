/**
 * The contract suite's checks of the SPEC §4.1 operations (optional capabilities of
 * SystemAdapter), registered inside every variant × mode block of test/systems/contract.ts.
 * An adapter without a capability passes only by not having it (the runner then records the
 * stage or method as not applicable); one that has it must do exactly what it says, read back.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { CellContext, LabFile, LabFileRef, Mode, NotApplicable, SystemAdapter } from '../../src/systems/types.js';
import { canonicalRow } from '../../src/systems/shared/native-readback.js';
import type { StoredCountMoment } from './contract.js';

export interface DimensionCheckContext {
  current(): SystemAdapter;
  cell: CellContext;
  mode: Mode;
  files: readonly LabFile[];
  assertStored(adapter: SystemAdapter, cell: CellContext, held: readonly LabFile[], moment: StoredCountMoment): Promise<void>;
}

export function reasonOf(result: unknown): string | null {
  if (result === undefined) return null;
  const reason = (result as NotApplicable).notApplicable;
  assert.ok(typeof reason === 'string' && reason.trim().length > 0, `must return void or { notApplicable: reason }, got ${JSON.stringify(result)}`);
  return reason;
}

function refOf(file: LabFile): LabFileRef {
  return { id: file.id, name: file.name, size: file.size, sha256: file.sha256, payloadType: file.payloadType };
}

/** The later files of a content (the fixture's duplicates), as `--delete-scope duplicates` picks them. */
function copiesOf(files: readonly LabFile[]): LabFile[] {
  const seen = new Set<string>();
  return files.filter((file) => (seen.has(file.sha256) ? true : (seen.add(file.sha256), false)));
}

/** The same file id and size with bytes never written before. */
export function freshCopyOf(file: LabFile): LabFile {
  const content = Buffer.from(file.content);
  randomBytes(Math.min(16, content.length)).copy(content);
  return { ...file, content, sha256: createHash('sha256').update(content).digest('hex') };
}

/** Every file's records read back through `readRecords` equal its parsed records (as a multiset). */
export async function assertRecordsReadBack(adapter: SystemAdapter, cell: CellContext, files: readonly LabFile[], moment: string, toRef: (file: LabFile) => LabFileRef = (file) => file): Promise<void> {
  const canonical = (rows: readonly (readonly unknown[])[]) => rows.map((row) => canonicalRow(cell.nativeTable!, row)).sort();
  for (const file of files) {
    const expected: unknown[][] = [];
    for await (const row of cell.parseRecords!(file)) expected.push(row);
    const back = await adapter.readRecords!(toRef(file), cell);
    assert.equal(back.length, expected.length, `${moment}file ${file.id}: rows read back`);
    assert.deepEqual(canonical(back), canonical(expected), `${moment}file ${file.id}`);
  }
}

export function registerDimensionChecks(context: DimensionCheckContext): void {
  const { current, cell, files, mode } = context;
  const loaded = async () => {
    await current().resetLab(cell);
    for (const file of files) await current().insertOne(file, cell);
  };

  if (mode === 'blob') {
    it('readOne returns every stored file byte-exact; a file not stored throws', async (t) => {
      if (!current().readOne) return t.diagnostic(`${current().id}: no readOne (read stage not applicable)`);
      await loaded();
      for (const file of files) {
        const bytes = await current().readOne!(refOf(file), cell);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), file.sha256, `file ${file.id}`);
      }
      await current().deleteOne(files[0]!, cell);
      await assert.rejects(current().readOne!(refOf(files[0]!), cell));
    });
  }

  if (mode === 'native') {
    it('readRecords returns every stored file\'s records as parsed (canonical multiset); a deleted file gives none', async (t) => {
      if (!current().readRecords) return t.diagnostic(`${current().id}: no readRecords (native read stage not applicable)`);
      await loaded();
      await assertRecordsReadBack(current(), cell, files, '', refOf);
      await current().deleteOne(files[0]!, cell);
      assert.deepEqual(await current().readRecords!(refOf(files[0]!), cell), [], 'a deleted file has no records');
    });
  }

  it('deleteMany of the copies keeps the originals; of the rest empties the lab (or says why not)', async (t) => {
    if (!current().deleteMany) return t.diagnostic(`${current().id}: no deleteMany`);
    await loaded();
    const copies = copiesOf(files);
    const originals = files.filter((file) => !copies.includes(file));
    const first = reasonOf(await current().deleteMany!(copies.map(refOf), cell));
    if (first === null) await context.assertStored(current(), cell, originals, 'perfile_delete');
    else await context.assertStored(current(), cell, files, 'perfile_insert');
    const remaining = first === null ? originals : files;
    const second = reasonOf(await current().deleteMany!(remaining.map(refOf), cell));
    if (second === null) assert.equal(await current().countStored(cell), 0, 'nothing may remain');
    else t.diagnostic(`deleteMany not applicable here: ${second}`);
  });

  for (const operation of ['truncate', 'dropAndRecreate'] as const) {
    it(`${operation} empties the lab and the lab takes writes again (or says why not)`, async (t) => {
      const run = current()[operation];
      if (!run) return t.diagnostic(`${current().id}: no ${operation}`);
      await loaded();
      const reason = reasonOf(await run.call(current(), cell));
      if (reason !== null) return t.diagnostic(`${operation} not applicable: ${reason}`);
      assert.equal(await current().countStored(cell), 0, `${operation} left files`);
      // New bytes in blob mode: a dedup window that outlives the purge (NATS msg-id) would
      // rightly drop a re-published old content; that is the refill's question, not this one's.
      const fresh = mode === 'blob' ? freshCopyOf(files[1]!) : files[1]!;
      await current().insertOne(fresh, cell);
      await context.assertStored(current(), cell, [fresh], 'perfile_insert');
    });
  }

  it('maintenanceFull runs after deletes or says why the system has one level; dropCaches states what it did', async () => {
    await loaded();
    for (const file of files.slice(0, 4)) await current().deleteOne(file, cell);
    if (current().maintenanceFull) reasonOf(await current().maintenanceFull!(cell));
    await context.assertStored(current(), cell, files.slice(4), 'perfile_delete');
    if (current().dropCaches) {
      const said = await current().dropCaches!(cell);
      assert.ok(typeof said === 'string' ? said.trim().length > 0 : reasonOf(said) !== null, 'dropCaches must say what it did or why it cannot');
      // The lab is still there and readable after the caches went.
      await context.assertStored(current(), cell, files.slice(4), 'perfile_delete');
    }
  });
}

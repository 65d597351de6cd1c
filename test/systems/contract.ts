/**
 * The shared adapter contract suite (issue 3): ONE suite every adapter must pass unchanged.
 *
 *   import { runContractSuite } from './contract.js';
 *   runContractSuite({ definitionId: 'sqlite', options: { dataDir: tmp } , canary: … });
 *
 * It registers node:test `describe` blocks: definition-level checks (options, lab-name refusal
 * before any I/O), then for every variant × mode one sequential cycle against the real system:
 * connect → reset → bulk (with duplicate files) → probe grows → reconnect → compact → reset →
 * per-file insert/delete (verified by read-back) → delete of a missing file throws →
 * maintenance → failed writes never acknowledged → canary intact → dropLab (twice).
 * See docs/adding-a-system.md for how to use it and what each hook means.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../src/core/errors.js';
import { loadSystem } from '../../src/systems/registry.js';
import {
  InvalidLabNameError,
  MODES,
  type CellContext,
  type LabFile,
  type Mode,
  type NotApplicable,
  type Probe,
  type SystemAdapter,
  type SystemDefinition,
  PROBE_LAYERS,
} from '../../src/systems/types.js';
import { iterate, makeCell, makeLabFiles, parseFixtureRows } from './fixtures.js';
import { registerDimensionChecks } from './contract-dimensions.js';
import { registerPlacementChecks } from './contract-placement.js';

/** Which moment of the cycle a stored-count expectation is asked for. */
export type StoredCountMoment = 'bulk_insert' | 'compaction' | 'perfile_insert' | 'perfile_delete' | 'failed_write';

export interface StoredCountQuery {
  variant: string;
  mode: Mode;
  /** The files the lab should hold at this moment (acknowledged and not deleted). */
  held: readonly LabFile[];
  moment: StoredCountMoment;
}

/** An object OUTSIDE the lab namespace whose bytes must never change (SPEC §10 safety). */
export interface CanaryHooks {
  /** Create (or overwrite) the canary; called once before any adapter of the suite connects. */
  create(): Promise<void>;
  /**
   * Read the canary as a string (e.g. its bytes' sha256). Called after each variant × mode cycle
   * (an adapter of the suite may be connected then) and after dropLab.
   */
  read(): Promise<string>;
}

export interface FailWritesContext {
  adapter: SystemAdapter;
  labName: string;
  cell: CellContext;
  /** The file the system must refuse once armed. */
  poisoned: LabFile;
}

/**
 * Optional: make the real system refuse a write (e.g. an SQLite trigger that raises for one file
 * id). Called right after `resetLab(cell)`; the next `resetLab` must remove the arming.
 */
export interface FailWritesHook {
  arm(context: FailWritesContext): Promise<void>;
}

/** What `extraChecks` gets to register system-specific tests inside each variant × mode block. */
export interface ContractContext {
  definition: SystemDefinition;
  variant: string;
  mode: Mode;
  labName: string;
  /** The connected adapter of this block (valid inside tests, not at registration time). */
  adapter(): SystemAdapter;
  cell: CellContext;
  files: readonly LabFile[];
}

export interface ContractSetup {
  /** System id as registered in src/systems/registry.ts. */
  definitionId: string;
  /** Raw options as they would appear in the config (`parseOptions` is applied), or a factory. */
  options: unknown;
  /** Lab name (default `dedup_contract`). Use a distinct one per test file if they share a system. */
  labName?: string;
  instance?: string;
  /** Restrict variants / modes (default: every one the definition declares). */
  variants?: readonly string[];
  modes?: readonly Mode[];
  /** Files per cycle (default 12) and bytes per file (default 8 KiB). */
  fileCount?: number;
  fileSize?: number;
  /**
   * How many files `countStored` must report. Default: the number of distinct file ids held.
   * Return a number or the list of accepted numbers (e.g. a content-addressed variant whose
   * background merge may or may not have collapsed duplicates yet).
   */
  expectedStoredCount?: (query: StoredCountQuery) => number | readonly number[];
  canary?: CanaryHooks;
  failWrites?: FailWritesHook;
  /** Returns a fingerprint of everything the system could have written (e.g. a directory listing);
   * compared before and after refused lab names to prove nothing was written. */
  sideEffectSnapshot?: () => Promise<string>;
  /** Returns whether the lab namespace exists (checked after dropLab). */
  labExists?: () => Promise<boolean>;
  /** Register more tests inside each variant × mode block (run after the standard cycle, before dropLab). */
  extraChecks?: (context: ContractContext) => void;
}

/** Lab names that must be refused by `create` before any I/O. */
export const HOSTILE_LAB_NAMES = [
  'dedup_lab; DROP TABLE x',
  'a"b',
  "a'b",
  '',
  'Upper',
  'a'.repeat(64),
  'lab-name',
  '1lab',
  'lab\u0000x',
  'lab/../x',
] as const;

/** Duplicates inside the default set: 4 and 9 copy 1, 10 copies 2 (same bytes, same sha256). */
const FIXTURE_DUPLICATES: Record<number, number> = { 4: 1, 9: 1, 10: 2 };

function isNotApplicable(value: unknown): value is NotApplicable {
  return typeof value === 'object' && value !== null && typeof (value as NotApplicable).notApplicable === 'string';
}

/** A stage that runs must return nothing; a stage that cannot must say why. */
function assertVoidOrNotApplicable(result: unknown, stage: string): void {
  if (result === undefined) return;
  assert.ok(isNotApplicable(result), `${stage} must return void or { notApplicable: reason }, got ${JSON.stringify(result)}`);
  assert.ok(result.notApplicable.trim().length > 0, `${stage}: notApplicable needs a reason`);
}

function internalProbe(adapter: SystemAdapter, cell: CellContext): Probe {
  const probe = adapter.probes(cell).find((candidate) => candidate.name === 'internal');
  assert.ok(probe, 'adapter must declare an `internal` probe');
  return probe;
}

async function readInternal(adapter: SystemAdapter, cell: CellContext): Promise<number> {
  await adapter.settle(cell);
  const reading = await internalProbe(adapter, cell).read();
  assert.equal(typeof reading.bytes, 'number', `internal probe read failed: ${reading.error ?? 'no bytes and no error'}`);
  const bytes = reading.bytes as number;
  assert.ok(Number.isFinite(bytes) && bytes >= 0, `internal probe returned ${bytes}; a failed read must be null, never negative`);
  return bytes;
}

function ids(files: readonly LabFile[]): number[] {
  return files.map((file) => file.id).sort((a, b) => a - b);
}

export function runContractSuite(setup: ContractSetup): void {
  const labName = setup.labName ?? 'dedup_contract';
  const instance = setup.instance ?? setup.definitionId;
  const rawOptions = (): unknown => (typeof setup.options === 'function' ? (setup.options as () => unknown)() : setup.options);
  const files = makeLabFiles({
    count: setup.fileCount ?? 12,
    size: setup.fileSize ?? 8192,
    duplicates: FIXTURE_DUPLICATES,
    seed: `contract:${setup.definitionId}`,
  });

  describe(`adapter contract: ${setup.definitionId}`, async () => {
    const definition = await loadSystem(setup.definitionId);
    const variants = setup.variants ?? definition.variants;
    const modes = setup.modes ?? definition.modes;
    let canaryValue: string | null = null;

    before(async () => {
      if (setup.canary) {
        await setup.canary.create();
        canaryValue = await setup.canary.read();
      }
    });

    const expectedCount = (variant: string, mode: Mode, held: readonly LabFile[], moment: StoredCountMoment): readonly number[] => {
      const custom = setup.expectedStoredCount?.({ variant, mode, held, moment });
      if (custom === undefined) return [new Set(held.map((file) => file.id)).size];
      return typeof custom === 'number' ? [custom] : custom;
    };

    const assertStored = async (adapter: SystemAdapter, cell: CellContext, held: readonly LabFile[], moment: StoredCountMoment) => {
      const stored = await adapter.countStored(cell);
      const accepted = expectedCount(cell.variant, cell.mode, held, moment);
      assert.ok(accepted.includes(stored), `countStored after ${moment} is ${stored}; expected ${accepted.join(' or ')}`);
    };

    const assertCanary = async () => {
      if (!setup.canary) return;
      assert.equal(await setup.canary.read(), canaryValue, 'canary outside the lab namespace changed');
    };

    describe('definition', () => {
      it('declares id, kind, variants (first = default) and modes', () => {
        assert.equal(definition.id, setup.definitionId);
        assert.ok(definition.kind === 'embedded' || definition.kind === 'server');
        assert.ok(definition.variants.length > 0, 'at least one variant');
        assert.equal(new Set(definition.variants).size, definition.variants.length, 'variant names are unique');
        for (const variant of definition.variants) assert.match(variant, /^[a-z][a-z0-9-]*$/);
        assert.ok(definition.modes.length > 0);
        for (const mode of definition.modes) assert.ok(MODES.includes(mode), `unknown mode ${mode}`);
      });

      it('parses its options and refuses bad ones with a UsageError', () => {
        definition.parseOptions(rawOptions());
        assert.throws(() => definition.parseOptions({ definitelyNotAnOption: true }), UsageError);
        assert.throws(() => definition.parseOptions('not an object'), UsageError);
      });

      it('refuses injection-shaped lab names in create(), before any I/O', async () => {
        const before = await setup.sideEffectSnapshot?.();
        const options = definition.parseOptions(rawOptions());
        for (const name of HOSTILE_LAB_NAMES) {
          assert.throws(() => definition.create(instance, options, name), InvalidLabNameError, `lab name ${JSON.stringify(name)}`);
        }
        if (setup.sideEffectSnapshot) assert.equal(await setup.sideEffectSnapshot(), before, 'refused lab names must not write anything');
        await assertCanary();
      });
    });

    for (const variant of variants) {
      for (const mode of modes) {
        describe(`${variant} / ${mode}`, () => {
          const cell = makeCell({ variant, mode });
          let adapter: SystemAdapter | null = null;
          let baseline = 0;
          let loaded = 0;
          const current = (): SystemAdapter => {
            assert.ok(adapter, 'adapter not created (an earlier test failed)');
            return adapter;
          };

          before(() => {
            adapter = definition.create(instance, definition.parseOptions(rawOptions()), labName);
          });
          after(async () => {
            await adapter?.close();
          });

          it('connects and reports a non-empty version', async () => {
            await current().connect();
            const version = await current().version();
            assert.equal(typeof version, 'string');
            assert.ok(version.trim().length > 0, 'version must not be empty');
          });

          it('declares an internal probe (replicas 1), its timings and local data paths', () => {
            const probes = current().probes(cell);
            const names = probes.map((probe) => probe.name);
            assert.equal(new Set(names).size, names.length, 'probe names are unique');
            const internal = internalProbe(current(), cell);
            assert.equal(internal.replicas, 1);
            for (const probe of probes) {
              assert.ok(probe.replicas >= 1, `${probe.name}: replicas >= 1`);
              assert.ok(probe.settleTimeoutMs > 0 && probe.pollIntervalMs > 0, `${probe.name}: positive settle timings`);
              assert.ok(probe.pollIntervalMs <= probe.settleTimeoutMs, `${probe.name}: poll interval within the timeout`);
              // SPEC §6.2: every probe says which layer it reads; file probes are storage.
              assert.ok(PROBE_LAYERS.includes(probe.layer), `${probe.name}: layer ${String(probe.layer)}`);
              if (probe.name === 'lab_fs' || probe.name === 'log_fs') assert.equal(probe.layer, 'storage', probe.name);
            }
            const paths = current().localDataPaths();
            assert.ok(Array.isArray(paths));
            for (const path of paths) assert.ok(typeof path === 'string' && path.startsWith('/'), `local data path must be absolute: ${path}`);
            if (definition.kind === 'embedded') assert.ok(paths.length > 0, 'an embedded system has local data paths');
          });

          it('resetLab leaves an empty lab with a readable internal probe', async () => {
            await current().resetLab(cell);
            assert.equal(await current().countStored(cell), 0);
            baseline = await readInternal(current(), cell);
          });

          it('bulkInsert acknowledges every file, duplicates included, and countStored reads them back', async () => {
            const outcome = await current().bulkInsert(iterate(files), cell);
            assert.deepEqual(outcome.failed, []);
            assert.deepEqual([...outcome.acknowledged].sort((a, b) => a - b), ids(files));
            await assertStored(current(), cell, files, 'bulk_insert');
          });

          it('the internal probe grows above the empty baseline after bulkInsert', async () => {
            loaded = await readInternal(current(), cell);
            assert.ok(loaded > baseline, `internal probe ${loaded} must exceed the empty baseline ${baseline}`);
            const metrics = await current().sampleMetrics();
            for (const [name, value] of Object.entries(metrics)) {
              assert.ok(typeof value === 'number' && Number.isFinite(value), `sampleMetrics.${name} must be a finite number, got ${value}`);
            }
          });

          it('stored data survives close() and a new connect()', async () => {
            await current().close();
            await current().connect();
            await assertStored(current(), cell, files, 'bulk_insert');
          });

          it('compact runs to completion or says it is not applicable', async () => {
            assertVoidOrNotApplicable(await current().compact(cell), 'compact');
            await assertStored(current(), cell, files, 'compaction');
            await readInternal(current(), cell);
          });

          it('resetLab empties the lab again and the internal probe drops below the loaded size', async () => {
            await current().resetLab(cell);
            assert.equal(await current().countStored(cell), 0);
            const afterReset = await readInternal(current(), cell);
            assert.ok(afterReset < loaded, `after reset the internal probe (${afterReset}) must drop below the loaded size (${loaded})`);
          });

          it('insertOne stores each file; deleteOne really removes each (read back)', async () => {
            for (const file of files) await current().insertOne(file, cell);
            await assertStored(current(), cell, files, 'perfile_insert');
            const half = Math.floor(files.length / 2);
            for (const file of files.slice(0, half)) await current().deleteOne(file, cell);
            await assertStored(current(), cell, files.slice(half), 'perfile_delete');
            for (const file of files.slice(half)) await current().deleteOne(file, cell);
            assert.equal(await current().countStored(cell), 0, 'every file deleted: nothing may remain');
          });

          it('deleting a file that is not stored throws (never a silent success)', async () => {
            await assert.rejects(current().deleteOne(files[0]!, cell));
            await assert.rejects(current().deleteOne({ ...files[1]!, id: 999_999, name: '99999.bin' }, cell));
            assert.equal(await current().countStored(cell), 0);
          });

          it('maintenance runs to completion or says it is not applicable', async () => {
            assertVoidOrNotApplicable(await current().maintenance(cell), 'maintenance');
            await readInternal(current(), cell);
          });

          it('bulkInsert with an aborted signal rejects instead of reporting success', async () => {
            await current().resetLab(cell);
            const controller = new AbortController();
            controller.abort(new Error('test abort'));
            await assert.rejects(current().bulkInsert(iterate(files), { ...cell, signal: controller.signal }));
          });

          if (setup.failWrites) {
            const hook = setup.failWrites;
            it('a write the system refuses is never acknowledged nor counted as stored', async () => {
              await current().resetLab(cell);
              const poisoned = files[3]!;
              await hook.arm({ adapter: current(), labName, cell, poisoned });
              const outcome = await current().bulkInsert(iterate(files), cell);
              assertOutcomeConsistent(outcome, files);
              assert.ok(!outcome.acknowledged.includes(poisoned.id), 'the refused file must not be acknowledged');
              // Transactional adapters may stop at the first refusal: later files are then neither
              // acknowledged nor failed (only acknowledged bytes ever count), but a failure is reported.
              assert.ok(outcome.failed.length > 0, 'a refused write must be reported in failed');
              const held = files.filter((file) => outcome.acknowledged.includes(file.id));
              await assertStored(current(), cell, held, 'failed_write');
              await current().resetLab(cell);
              await hook.arm({ adapter: current(), labName, cell, poisoned });
              await assert.rejects(current().insertOne(poisoned, cell), 'insertOne of a refused file must throw');
              assert.equal(await current().countStored(cell), 0);
            });
          }

          if (mode === 'native') {
            it('a file whose parsing fails is never acknowledged, and insertOne of it stores no partial rows', async () => {
              const broken = files[5]!;
              const failingCell: CellContext = {
                ...cell,
                parseRecords: async function* (file: LabFile) {
                  let rows = 0;
                  for await (const row of parseFixtureRows(file)) {
                    // One good row first, so a non-atomic adapter would leave it behind.
                    if (file.id === broken.id && rows === 1) throw new Error(`fixture parse error in ${file.name}`);
                    rows++;
                    yield row;
                  }
                },
              };
              await current().resetLab(failingCell);
              const outcome = await current().bulkInsert(iterate(files), failingCell);
              assertOutcomeConsistent(outcome, files);
              assert.ok(!outcome.acknowledged.includes(broken.id), 'the unparsable file must not be acknowledged');
              const held = files.filter((file) => outcome.acknowledged.includes(file.id));
              await assertStored(current(), failingCell, held, 'failed_write');
              await current().resetLab(failingCell);
              await assert.rejects(current().insertOne(broken, failingCell));
              assert.equal(await current().countStored(failingCell), 0, 'a failed per-file insert must leave no rows');
            });
          }

          registerDimensionChecks({ current, cell, mode, files, assertStored });
          registerPlacementChecks({ definition, current, cell, files });

          setup.extraChecks?.({ definition, variant, mode, labName, adapter: current, cell, files });

          it('leaves the canary outside the lab namespace byte-identical', async () => {
            await assertCanary();
          });

          it('dropLab removes the lab namespace; a second dropLab is harmless', async () => {
            await current().resetLab(cell);
            await current().bulkInsert(iterate(files.slice(0, 3)), cell);
            await current().dropLab();
            await current().dropLab();
            if (setup.labExists) assert.equal(await setup.labExists(), false, 'lab namespace still exists after dropLab');
            const remaining = await current()
              .countStored(cell)
              .catch(() => 0);
            assert.equal(remaining, 0, 'after dropLab the lab holds nothing');
            await assertCanary();
          });
        });
      }
    }
  });
}

/** Every file is in at most one list, no failed id is acknowledged, only known ids appear. */
export function assertOutcomeConsistent(outcome: { acknowledged: number[]; failed: { id: number; error: string }[] }, files: readonly LabFile[]): void {
  const known = new Set(files.map((file) => file.id));
  const acknowledged = new Set(outcome.acknowledged);
  assert.equal(acknowledged.size, outcome.acknowledged.length, 'an id is acknowledged twice');
  for (const id of acknowledged) assert.ok(known.has(id), `unknown acknowledged id ${id}`);
  for (const failure of outcome.failed) {
    assert.ok(known.has(failure.id), `unknown failed id ${failure.id}`);
    assert.ok(!acknowledged.has(failure.id), `file ${failure.id} is both acknowledged and failed`);
    assert.ok(failure.error.length > 0, `failed file ${failure.id} needs the system's error text`);
  }
  if (acknowledged.size < files.length) assert.ok(outcome.failed.length > 0, 'files missing from acknowledged need a failure entry');
}

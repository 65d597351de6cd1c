import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import {
  DEFAULT_DIMENSIONS,
  dimensionSuffix,
  duplicateCopyIds,
  filesToDelete,
  objectIndexOf,
  parseCacheState,
  parseDeleteMethods,
  parseDeleteScope,
  parsePlacement,
  scopeConflict,
} from '../../src/experiment/dimensions.js';
import { resolveDimensions } from '../../src/experiment/dimension-options.js';
import { parseStages, planCells, type SystemTarget } from '../../src/experiment/plan.js';
import { parseConfig } from '../../src/config/load.js';
import type { SystemDefinition } from '../../src/systems/types.js';

function target(id: string, placementAcross = false): SystemTarget {
  const definition: SystemDefinition = { id, kind: 'embedded', variants: ['default'], modes: ['blob'], placementAcross, parseOptions: (raw) => raw, create: () => { throw new Error('not in plan tests'); } };
  return { entry: { id, instance: id, options: {}, probes: { primary: 'internal' } }, instance: id, definition };
}

describe('dimension parsers', () => {
  it('delete methods: documented order, each once; bad values name the valid ones', () => {
    assert.deepEqual(parseDeleteMethods(['drop', 'perfile', 'drop']), ['perfile', 'drop']);
    assert.throws(() => parseDeleteMethods(['purge']), (error: Error) => error instanceof UsageError && /purge/.test(error.message) && /perfile, bulk, truncate, drop/.test(error.message));
    assert.throws(() => parseDeleteMethods([]), UsageError);
  });
  it('scope, cache and placement', () => {
    assert.equal(parseDeleteScope('duplicates'), 'duplicates');
    assert.throws(() => parseDeleteScope('copies'), /all, duplicates/);
    assert.equal(parseCacheState('cold'), 'cold');
    assert.throws(() => parseCacheState('hot'), /warm, cold/);
    assert.deepEqual(parsePlacement('within'), { kind: 'within' });
    assert.deepEqual(parsePlacement('across:4'), { kind: 'across', objects: 4 });
    for (const bad of ['across:1', 'across:0', 'across:65', 'across', 'across:x', 'over:3']) assert.throws(() => parsePlacement(bad), /within, across:K/, bad);
  });
});

describe('dimension arithmetic', () => {
  it('round-robin placement', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((id) => objectIndexOf(id, { kind: 'across', objects: 3 })), [0, 1, 2, 0, 1]);
    assert.equal(objectIndexOf(7, { kind: 'within' }), 0);
    assert.equal(objectIndexOf(7, undefined), 0);
  });
  it('the copies are the later files of a content; scope all takes everything stored', () => {
    const entries = [{ sha256: 'a' }, { sha256: 'b' }, { sha256: 'a' }, { sha256: 'a' }, { sha256: 'c' }, { sha256: 'b' }];
    assert.deepEqual(duplicateCopyIds(entries), [2, 3, 5]);
    assert.deepEqual(filesToDelete([0, 1, 2, 3, 4, 5], 'duplicates', entries), [2, 3, 5]);
    assert.deepEqual(filesToDelete([0, 2, 4], 'duplicates', entries), [2]);
    assert.deepEqual(filesToDelete([0, 2, 4], 'all', entries), [0, 2, 4]);
  });
  it('truncate and drop cannot keep the originals', () => {
    assert.match(scopeConflict('truncate', 'duplicates') ?? '', /truncate/);
    assert.match(scopeConflict('drop', 'duplicates') ?? '', /drop/);
    assert.equal(scopeConflict('bulk', 'duplicates'), null);
    assert.equal(scopeConflict('drop', 'all'), null);
  });
  it('cell-id suffix: empty at the defaults, one part per non-default dimension', () => {
    assert.equal(dimensionSuffix(DEFAULT_DIMENSIONS), '');
    assert.equal(dimensionSuffix({ deleteMethod: 'bulk', deleteScope: 'duplicates', placement: { kind: 'across', objects: 4 }, cache: 'cold' }), '.del-bulk.dup.across4.cold');
  });
});

describe('dimensions in the plan', () => {
  const datasets = [{ payloadType: 'random_binary', grade: 'U50' }];
  it('one cell per delete method; default cells keep their old ids', () => {
    const plan = planCells({ targets: [target('sqlite')], stages: ['perfile_delete'], mode: 'blob', datasets, runs: 1, dimensions: { deleteMethods: ['perfile', 'truncate'], deleteScope: 'all', placement: { kind: 'within' }, cache: 'warm' } });
    assert.deepEqual(plan.cells.map((cell) => cell.cellId), ['sqlite.default.blob.random_binary.U50.r1', 'sqlite.default.blob.random_binary.U50.r1.del-truncate']);
    assert.notEqual(plan.cells[0]?.objectTag, plan.cells[1]?.objectTag);
  });
  it('across:K is not applicable for a system that cannot spread its files', () => {
    const plan = planCells({ targets: [target('sqlite'), target('kafka', true)], stages: ['bulk_insert'], mode: 'blob', datasets, runs: 1, dimensions: { deleteMethods: ['perfile'], deleteScope: 'all', placement: { kind: 'across', objects: 3 }, cache: 'warm' } });
    assert.match(plan.cells[0]?.notApplicable ?? '', /sqlite cannot spread/);
    assert.equal(plan.cells[1]?.notApplicable, undefined);
    assert.equal(plan.cells[1]?.cellId, 'kafka.default.blob.random_binary.U50.r1.across3');
  });
  it('the new stages are accepted by --stages, in cell order', () => {
    assert.deepEqual(parseStages(['read', 'refill', 'maintenance_full', 'maintenance']), ['maintenance', 'maintenance_full', 'refill', 'read']);
  });
  it('CLI options win over config keys; config keys are validated like the options', () => {
    const config = parseConfig({ run: { deleteMethods: ['bulk'], deleteScope: 'duplicates', placement: 'across:2', cache: 'cold' } });
    assert.deepEqual(resolveDimensions({}, config), { deleteMethods: ['bulk'], deleteScope: 'duplicates', placement: { kind: 'across', objects: 2 }, cache: 'cold' });
    assert.deepEqual(resolveDimensions({ deleteMethods: 'perfile,drop', deleteScope: 'all', placement: 'within', cache: 'warm' }, config), { deleteMethods: ['perfile', 'drop'], deleteScope: 'all', placement: { kind: 'within' }, cache: 'warm' });
    assert.throws(() => resolveDimensions({}, parseConfig({ run: { placement: 'across:99' } })), UsageError);
  });
});

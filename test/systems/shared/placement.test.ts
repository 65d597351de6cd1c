import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupByObject, objectFor, objectNames } from '../../../src/systems/shared/placement.js';
import { MAX_PLACEMENT_OBJECTS } from '../../../src/experiment/dimensions.js';

describe('placement object names', () => {
  it('within or absent keeps the one object under its usual name', () => {
    assert.deepEqual(objectNames('blobs', undefined), ['blobs']);
    assert.deepEqual(objectNames('blobs', { kind: 'within' }), ['blobs']);
    assert.equal(objectFor(7, 'lab.t1', { kind: 'within' }, '.'), 'lab.t1');
  });

  it('across:K names K distinct objects with the separator', () => {
    assert.deepEqual(objectNames('blobs', { kind: 'across', objects: 3 }), ['blobs_p0', 'blobs_p1', 'blobs_p2']);
    assert.deepEqual(objectNames('lab.t1', { kind: 'across', objects: 2 }, '.'), ['lab.t1.p0', 'lab.t1.p1']);
    const many = objectNames('b', { kind: 'across', objects: MAX_PLACEMENT_OBJECTS });
    assert.equal(new Set(many).size, MAX_PLACEMENT_OBJECTS);
    assert.equal(many.at(-1), `b_p${MAX_PLACEMENT_OBJECTS - 1}`);
  });

  it('file i goes to object i mod K', () => {
    const across = { kind: 'across', objects: 4 } as const;
    assert.equal(objectFor(0, 'blobs', across), 'blobs_p0');
    assert.equal(objectFor(5, 'blobs', across), 'blobs_p1');
    assert.equal(objectFor(11, 'blobs', across), 'blobs_p3');
  });

  it('groups files by object, in object order, leaving empty objects out', () => {
    const files = [0, 1, 2, 3, 4, 6].map((id) => ({ id }));
    const groups = groupByObject(files, 't', { kind: 'across', objects: 3 });
    assert.deepEqual([...groups.keys()], ['t_p0', 't_p1', 't_p2']);
    assert.deepEqual(groups.get('t_p0')!.map((file) => file.id), [0, 3, 6]);
    assert.deepEqual([...groupByObject([{ id: 1 }], 't', { kind: 'across', objects: 3 }).keys()], ['t_p1']);
    assert.deepEqual([...groupByObject(files, 't', undefined).keys()], ['t']);
  });
});

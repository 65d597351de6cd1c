import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bestProbe, choosePrimaryProbe, differsByMoreThanShare, layerGaps, valuesByLayer, type LayeredProbe } from '../../src/measure/layers.js';

const internalSystem: LayeredProbe = { name: 'internal', layer: 'system' };
const fsDataDir: LayeredProbe = { name: 'fs', layer: 'storage', scope: 'data-dir' };
const labFs: LayeredProbe = { name: 'lab_fs', layer: 'storage', scope: 'lab' };
const logFs: LayeredProbe = { name: 'log_fs', layer: 'storage', scope: 'log' };
const extentAware: LayeredProbe = { name: 'storage', layer: 'storage', scope: 'data-dir' };

describe('choosePrimaryProbe', () => {
  it('takes the deepest layer measured: storage over system over logical', () => {
    assert.equal(choosePrimaryProbe([internalSystem, fsDataDir], undefined).name, 'fs');
    assert.equal(choosePrimaryProbe([{ name: 'internal', layer: 'logical' }, internalSystem], undefined).name, 'internal');
    assert.equal(choosePrimaryProbe([{ name: 'internal', layer: 'logical' }], undefined).layer, 'logical');
  });
  it('memory is the physical layer of in-memory systems', () => {
    assert.deepEqual(choosePrimaryProbe([internalSystem, { name: 'memory', layer: 'memory' }], undefined), { name: 'memory', layer: 'memory', reason: 'deepest layer measured' });
  });
  it('within storage prefers the lab-scoped probe, then the extent-aware `storage` probe, never a log-only one', () => {
    assert.equal(choosePrimaryProbe([internalSystem, fsDataDir, logFs, labFs, extentAware], undefined).name, 'lab_fs');
    assert.equal(choosePrimaryProbe([internalSystem, fsDataDir, extentAware], undefined).name, 'storage');
    assert.equal(choosePrimaryProbe([internalSystem, logFs], undefined).name, 'internal');
  });
  it('the configured probe wins, even a shallower one', () => {
    assert.deepEqual(choosePrimaryProbe([internalSystem, labFs], 'internal'), { name: 'internal', layer: 'system', reason: 'configured' });
    assert.equal(choosePrimaryProbe([internalSystem], 'nope').layer, null);
  });
  it('bestProbe of a layer', () => {
    assert.equal(bestProbe([fsDataDir, labFs, internalSystem], 'system')?.name, 'internal');
    assert.equal(bestProbe([internalSystem], 'storage'), null);
  });
});

describe('layer gaps', () => {
  it('more than 10 % apart is a gap, 10 % is not', () => {
    assert.equal(differsByMoreThanShare(100, 89), true);
    assert.equal(differsByMoreThanShare(100, 90), false);
    assert.equal(differsByMoreThanShare(0, 0), false);
  });
  it('S3 content keys: logical 14× against storage 0.96× is shown with a reason', () => {
    const probes = [{ name: 'internal', layer: 'logical' as const, edr: 14.3 }, { name: 'lab_fs', layer: 'storage' as const, scope: 'lab' as const, edr: 0.96 }, { name: 'fs', layer: 'storage' as const, scope: 'data-dir' as const, edr: 0.5 }];
    const values = valuesByLayer(probes, (probe) => probe.edr);
    assert.deepEqual(values, [{ layer: 'storage', probe: 'lab_fs', value: 0.96 }, { layer: 'logical', probe: 'internal', value: 14.3 }]);
    const gaps = layerGaps(values, 'storage');
    assert.equal(gaps.length, 1);
    assert.match(gaps[0] ?? '', /^logical 14\.30× \(internal\) vs storage 0\.96× \(lab_fs\): the system lists less than the disk keeps/);
  });
  it('layers within 10 % give no gap; missing values are left out', () => {
    const values = valuesByLayer([{ name: 'internal', layer: 'system' as const, edr: 1.0 }, { name: 'fs', layer: 'storage' as const, edr: 0.95 }, { name: 'x', layer: 'logical' as const, edr: null }], (probe) => probe.edr);
    assert.deepEqual(layerGaps(values, 'storage'), []);
    assert.equal(values.length, 2);
  });
});

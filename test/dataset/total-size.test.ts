import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { resolveDatasetParameters } from '../../src/cli/options.js';
import { parseConfig } from '../../src/config/load.js';
import { duplicateCount, parseGrade } from '../../src/dataset/grades.js';
import { planDataset } from '../../src/dataset/plan.js';
import { filesForTotalSize, plannedBytes } from '../../src/dataset/total-size.js';

const base = { payloadType: 'random_binary', grade: 'U50', minSize: 4096, maxSize: 1024 * 1024, seed: 42, dupDistribution: 'uniform' as const, source: null };

describe('--total-size', () => {
  it('the smallest count whose plan reaches the total; the grade is still exact', () => {
    for (const total of [1, 10 * 1024 * 1024, 1024 * 1024 * 1024]) {
      const files = filesForTotalSize(base, total);
      assert.ok(plannedBytes({ ...base, files }) >= total, `${total}: ${files} files reach it`);
      if (files > 1) assert.ok(plannedBytes({ ...base, files: files - 1 }) < total, `${total}: ${files - 1} files do not`);
      const plan = planDataset({ ...base, files });
      assert.equal(plan.filter((file) => file.duplicateOf !== null).length, duplicateCount(files, parseGrade('U50')));
    }
  });
  it('1 GiB of the default size range is about two thousand files', () => {
    const files = filesForTotalSize(base, 1024 ** 3);
    assert.ok(files > 1800 && files < 2400, `${files}`);
  });
  it('CLI and config: the parameters record the target; --files with --total-size is refused', () => {
    const fromCli = resolveDatasetParameters({ payloadTypes: 'random_binary', grades: 'U50', totalSize: '10MiB', minSize: '64KiB', maxSize: '64KiB' }, parseConfig({}));
    assert.equal(fromCli[0]?.totalSize, 10 * 1024 * 1024);
    assert.equal(fromCli[0]?.files, 160);
    const fromConfig = resolveDatasetParameters({ payloadTypes: 'random_binary', grades: 'U0' }, parseConfig({ dataset: { totalSize: '1MiB', minSize: 65536, maxSize: 65536 } }));
    assert.equal(fromConfig[0]?.files, 16);
    assert.throws(() => resolveDatasetParameters({ payloadTypes: 'random_binary', files: '10', totalSize: '1MiB' }, parseConfig({})), UsageError);
    assert.throws(() => resolveDatasetParameters({ payloadTypes: 'random_binary', totalSize: 'lots' }, parseConfig({})), /invalid total size "lots"/);
  });
});

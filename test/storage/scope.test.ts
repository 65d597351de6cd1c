import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsProbe } from '../../src/measure/probes/fs.js';
import { labPathsOf, storageDedupOutcome } from '../../src/storage/stage.js';
import { withTempDir } from '../dataset/helpers.js';

const MiB = 1 << 20;

test('storage_dedup simulates the lab_fs probe\'s files, the whole data dir as a second, labelled reading', async () => {
  await withTempDir(async (dir) => {
    const lab = join(dir, 'lab');
    await mkdir(lab);
    const data = randomBytes(MiB);
    await writeFile(join(lab, 'a.bin'), data);
    await writeFile(join(lab, 'b.bin'), data);
    // Outside the lab's files (a WAL, another database): unique data that dilutes the whole-dir ratio.
    await writeFile(join(dir, 'wal.bin'), randomBytes(2 * MiB));
    const probes = [fsProbe({ paths: [dir] }), fsProbe({ name: 'lab_fs', scope: 'lab', paths: async () => [lab] })];
    const labPaths = labPathsOf(probes);
    assert.ok(labPaths);
    const outcome = await storageDedupOutcome([dir], labPaths);
    const { simulated, simulatedDataDir } = outcome.storage;
    assert.equal(simulated?.scope, 'lab-files');
    assert.equal(simulated?.files, 2);
    assert.equal(simulated?.bytes, 2 * MiB);
    assert.equal(simulated?.units[0]?.dedupRatio, 2);
    assert.equal(simulatedDataDir?.scope, 'data-dir');
    assert.equal(simulatedDataDir?.files, 3);
    assert.equal(simulatedDataDir?.units[0]?.dedupRatio, 4 / 3);
    // No lab_fs probe: the data dir is the only reading, and says so.
    const whole = await storageDedupOutcome([dir], labPathsOf([probes[0] as (typeof probes)[0]]));
    assert.equal(whole.storage.simulated?.scope, 'data-dir');
    assert.equal(whole.storage.simulatedDataDir, undefined);
  });
});

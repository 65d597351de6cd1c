import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entriesOf, isPartitionDir, isRelationFile, labFilesProbe } from '../../src/systems/shared/lab-files.js';

describe('lab-scoped file selection', () => {
  it('PostgreSQL: every fork and segment of a relfilenode, nothing of another', () => {
    for (const name of ['16384', '16384.1', '16384_fsm', '16384_vm', '16384_init', '16384_fsm.2']) assert.ok(isRelationFile('16384', name), name);
    for (const name of ['163840', '1638', '16384_x', '16384.a', 'x16384']) assert.ok(!isRelationFile('16384', name), name);
  });
  it('Kafka: live partition directories of the topic only', () => {
    assert.ok(isPartitionDir('dedup_lab_ab.data', 'dedup_lab_ab.data-0'));
    assert.ok(!isPartitionDir('dedup_lab_ab.data', 'dedup_lab_abXdata-0'), 'a dot in a topic name is literal');
    assert.ok(!isPartitionDir('dedup_lab_ab.data', 'dedup_lab_ab.data-0.5f2c1e-delete'));
    assert.ok(!isPartitionDir('dedup_lab_ab', 'dedup_lab_ab.data-0'));
  });
  it('lab_fs counts allocated blocks of exactly the named files; a missing directory is empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'labfs-'));
    try {
      mkdirSync(join(dir, 'd'));
      writeFileSync(join(dir, 'bucket_1.dat'), Buffer.alloc(256 * 1024, 1));
      writeFileSync(join(dir, 'other_1.dat'), Buffer.alloc(512 * 1024, 1));
      const probe = labFilesProbe(() => entriesOf(dir, (name) => name.startsWith('bucket_')));
      assert.equal(probe.layer, 'storage');
      assert.equal(probe.scope, 'lab');
      const reading = await probe.read();
      assert.ok(reading.bytes !== null && reading.bytes >= 256 * 1024 && reading.bytes < 512 * 1024, String(reading.bytes));
      assert.deepEqual(entriesOf(join(dir, 'missing'), () => true), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

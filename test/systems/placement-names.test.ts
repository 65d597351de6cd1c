/**
 * Unit tests (no server): under `--placement across:K` the adapters name their K objects with the
 * shared helper and still recognise only their own objects for deletion.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { definition as kafka } from '../../src/systems/kafka.js';
import { definition as nats } from '../../src/systems/nats.js';
import { definition as minio } from '../../src/systems/minio.js';
import { makeCell } from './fixtures.js';

const across = { kind: 'across', objects: 3 } as const;

describe('placement object names per adapter', () => {
  it('kafka: K data topics <lab>.<tag>.p<k>; only lab topics are recognised', () => {
    const adapter = kafka.create('kafka', kafka.parseOptions({}), 'lab') as unknown as {
      dataTopicsOf(cell: unknown): string[];
      topicOf(cell: unknown, id?: number): string;
      isLabTopic(name: string): boolean;
    };
    const cell = { ...makeCell({ variant: 'compact', mode: 'blob' }), objectTag: 't1' };
    assert.deepEqual(adapter.dataTopicsOf(cell), ['lab.t1']);
    assert.deepEqual(adapter.dataTopicsOf({ ...cell, placement: across }), ['lab.t1.p0', 'lab.t1.p1', 'lab.t1.p2']);
    assert.equal(adapter.topicOf({ ...cell, placement: across }, 4), 'lab.t1.p1');
    for (const name of ['lab.t1', 'lab.t1.p0', 'lab.t1.p63', 'lab.t1.refs']) assert.ok(adapter.isLabTopic(name), name);
    for (const name of ['lab.t1.p', 'lab.t1.px', 'lab.t1.p0.x', 'other.t1.p0', 'lab.t1.p123']) assert.ok(!adapter.isLabTopic(name), name);
  });

  it('nats: K streams <lab>_<tag>_p<k>; only lab streams are recognised', () => {
    const adapter = nats.create('nats', nats.parseOptions({}), 'lab') as unknown as { streamsOf(cell: unknown): string[]; isLabStream(name: string): boolean };
    const cell = { ...makeCell({ variant: 'msg-id', mode: 'blob' }), objectTag: 't1' };
    assert.deepEqual(adapter.streamsOf(cell), ['lab_t1']);
    assert.deepEqual(adapter.streamsOf({ ...cell, placement: across }), ['lab_t1_p0', 'lab_t1_p1', 'lab_t1_p2']);
    for (const name of ['lab_t1', 'lab_t1_p2']) assert.ok(adapter.isLabStream(name), name);
    for (const name of ['lab_t1_p', 'lab_t1_x2', 'other_t1_p0']) assert.ok(!adapter.isLabStream(name), name);
  });

  it('minio: K buckets <prefix><tag>-p<k>, valid S3 names; only lab buckets are recognised', () => {
    const adapter = minio.create('minio', minio.parseOptions({ endpoint: 'http://127.0.0.1:1', accessKeyId: 'k', secretAccessKey: 'placeholder-secret' }), 'my_lab') as unknown as { bucketsOf(cell: unknown): string[]; isLabBucket(name: string): boolean };
    const cell = { ...makeCell({ variant: 'by-content', mode: 'blob' }), objectTag: 't1' };
    const buckets = adapter.bucketsOf({ ...cell, placement: across });
    assert.equal(buckets.length, 3);
    assert.equal(new Set(buckets).size, 3);
    for (const bucket of [...buckets, ...adapter.bucketsOf(cell)]) {
      assert.match(bucket, /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/);
      assert.ok(adapter.isLabBucket(bucket), bucket);
    }
    assert.ok(!adapter.isLabBucket(`${buckets[0]}x`));
  });
});

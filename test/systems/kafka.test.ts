/** kafka adapter against the real KRaft broker of scripts/services.sh (env DEDUP_LAB_KAFKA_*). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { definition, liveKeys } from '../../src/systems/kafka.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { iterate, makeCell, makeLabFiles } from './fixtures.js';
import { kafkaOptionsFromEnv, requireEnv } from './kv-helpers.js';

const LAB = 'dedup_kv_kafka';
const CANARY_TOPIC = 'dedup_kv_kafka.canary.x'; // shares the lab prefix but is no `<lab>.<tag>` name

const admin = (): Admin => new Admin({ clientId: 'kv-test', bootstrapBrokers: [requireEnv('DEDUP_LAB_KAFKA_BROKERS')] });

runContractSuite({
  definitionId: 'kafka',
  options: kafkaOptionsFromEnv,
  labName: LAB,
  canary: {
    async create() {
      const client = admin();
      if ((await client.listTopics()).includes(CANARY_TOPIC)) await client.deleteTopics({ topics: [CANARY_TOPIC] });
      for (let attempt = 0; ; attempt++) {
        try {
          await client.createTopics({ topics: [CANARY_TOPIC], partitions: 1, replicas: 1 });
          break;
        } catch (error) {
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await client.close();
      const producer = new Producer({ clientId: 'kv-test', bootstrapBrokers: [requireEnv('DEDUP_LAB_KAFKA_BROKERS')], acks: -1 });
      await producer.send({ messages: [{ topic: CANARY_TOPIC, partition: 0, key: Buffer.from('k'), value: Buffer.from('canary') }] });
      await producer.close();
    },
    async read() {
      const client = admin();
      try {
        const dirs = await client.describeLogDirs({ topics: [{ name: CANARY_TOPIC, partitions: [0] }] });
        const sizes = dirs.flatMap((b) => b.results.flatMap((r) => r.topics.flatMap((t) => t.partitions.map((p) => String(p.partitionSize)))));
        const listed = (await client.listTopics()).includes(CANARY_TOPIC);
        return `${listed}:${sizes.join(',')}`;
      } finally {
        await client.close();
      }
    },
  },
  labExists: async () => {
    const client = admin();
    const topics = await client.listTopics();
    await client.close();
    return topics.some((name) => name.startsWith(`${LAB}.`) && name !== CANARY_TOPIC);
  },
});

describe('kafka specifics', () => {
  let adapter: SystemAdapter;
  before(async () => {
    adapter = definition.create('kafka', definition.parseOptions({ ...kafkaOptionsFromEnv(), maxMessageBytes: 100_000 }), `${LAB}_x`);
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  test('compacted-topic reading: the last value wins and a tombstone deletes', () => {
    const live = liveKeys([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
      { key: 'a', value: null },
      { key: 'b', value: '3' },
    ]);
    assert.deepEqual([...live], [['b', '3']]);
  });

  test('a file above the topic max.message.bytes is a failed write, never dropped silently', async () => {
    const cell = makeCell({ variant: 'delete', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 3, size: 20_000, seed: 'kafka-small' });
    const big = { ...makeLabFiles({ count: 1, size: 200_000, seed: 'kafka-big' })[0]!, id: 3, name: '00003.bin' };
    const outcome = await adapter.bulkInsert(iterate([...files, big]), cell);
    assert.deepEqual(outcome.failed.map((f) => f.id), [3]);
    assert.deepEqual(outcome.acknowledged, [0, 1, 2]);
    assert.equal(await adapter.countStored(cell), 3);
    await assert.rejects(adapter.insertOne(big, cell));
  });

  test('delete variant: DeleteRecords removes only a prefix, so an out-of-order delete is refused', async () => {
    const cell = makeCell({ variant: 'delete', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 4, size: 10_000, seed: 'kafka-order' });
    for (const file of files) await adapter.insertOne(file, cell);
    await assert.rejects(adapter.deleteOne(files[2]!, cell), /prefix/);
    await adapter.deleteOne(files[0]!, cell);
    assert.equal(await adapter.countStored(cell), 3);
  });

  test('compact variant: compaction shrinks a U75 load toward its unique bytes', async () => {
    const cell = makeCell({ variant: 'compact', mode: 'blob' });
    await adapter.resetLab(cell);
    const duplicates: Record<number, number> = {};
    for (let id = 4; id < 16; id++) duplicates[id] = id % 4;
    const files = makeLabFiles({ count: 16, size: 60_000, duplicates, seed: 'kafka-compact' });
    await adapter.bulkInsert(iterate(files), cell);
    const probe = adapter.probes(cell).find((p) => p.name === 'internal')!;
    const loaded = (await probe.read()).bytes!;
    assert.ok(loaded >= 16 * 60_000, `loaded ${loaded}`);
    await adapter.compact(cell);
    const compacted = (await probe.read()).bytes!;
    assert.ok(compacted < 4 * 60_000 * 1.2, `after compaction ${compacted} should be near the unique 240000 bytes`);
    assert.equal(await adapter.countStored(cell), 16, 'every file is still retrievable by its content key');
  });

  test('readOne after compaction: every file read back byte-exact from the record compaction kept; a deleted file throws', async () => {
    const cell = makeCell({ variant: 'compact', mode: 'blob' });
    await adapter.resetLab(cell);
    const duplicates: Record<number, number> = {};
    for (let id = 4; id < 12; id++) duplicates[id] = id % 4;
    const files = makeLabFiles({ count: 12, size: 30_000, duplicates, seed: 'kafka-read-compact' });
    await adapter.bulkInsert(iterate(files), cell);
    // The originals' own records are compacted away: only each content's latest record is left.
    await adapter.compact(cell);
    for (const file of files) assert.equal(sha256(await adapter.readOne!(file, cell)), file.sha256, `file ${file.id}`);
    await adapter.deleteOne(files[8]!, cell); // a copy: its content is still referenced by files 0 and 4
    await assert.rejects(adapter.readOne!(files[8]!, cell), /not stored/);
    assert.equal(sha256(await adapter.readOne!(files[0]!, cell)), files[0]!.sha256, 'the other copies still read back');
    await adapter.deleteOne(files[0]!, cell);
    await adapter.deleteOne(files[4]!, cell); // last reference: the content gets a tombstone
    await assert.rejects(adapter.readOne!(files[4]!, cell), /not stored/);
  });

  test('readOne (delete variant) fetches a file by its offset; a file below the log start throws', async () => {
    const cell = makeCell({ variant: 'delete', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 6, size: 20_000, seed: 'kafka-read-delete' });
    await adapter.bulkInsert(iterate(files), cell);
    for (const file of [...files].reverse()) assert.equal(sha256(await adapter.readOne!(file, cell)), file.sha256, `file ${file.id}`);
    await adapter.deleteOne(files[0]!, cell);
    await assert.rejects(adapter.readOne!(files[0]!, cell), /not stored/);
    assert.match(String(await adapter.dropCaches!(cell)), /no cache of its own/);
  });
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

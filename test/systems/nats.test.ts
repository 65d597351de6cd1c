/** nats adapter against the real JetStream server of scripts/services.sh (env DEDUP_LAB_NATS_*). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { definition, parseRefPayload } from '../../src/systems/nats.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { iterate, makeCell, makeLabFiles, pseudoRandomBytes } from './fixtures.js';
import { natsOptionsFromEnv, sha256 } from './kv-helpers.js';

const LAB = 'dedup_kv_nats';
const CANARY_STREAM = 'dedup_kv_nats_canary_x'; // shares the lab's text, not a `<lab>_<tag>` name

async function rawConnection(): Promise<NatsConnection> {
  const options = natsOptionsFromEnv();
  return connect({ servers: options.servers as string, user: options.user as string, pass: options.password as string });
}

runContractSuite({
  definitionId: 'nats',
  options: natsOptionsFromEnv,
  labName: LAB,
  canary: {
    async create() {
      const nc = await rawConnection();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(CANARY_STREAM).catch(() => false);
      await jsm.streams.add({ name: CANARY_STREAM, subjects: ['dedupkvcanary.>'] });
      await jetstream(nc).publish('dedupkvcanary.a', Buffer.from('canary bytes'));
      await nc.drain();
    },
    async read() {
      const nc = await rawConnection();
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(CANARY_STREAM);
        const message = await jsm.streams.getMessage(CANARY_STREAM, { seq: 1 });
        return `${info.state.messages}:${info.state.bytes}:${message ? sha256(Buffer.from(message.data)) : 'missing'}`;
      } finally {
        await nc.drain();
      }
    },
  },
  labExists: async () => {
    const nc = await rawConnection();
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    await nc.drain();
    return names.some((name) => name.startsWith(`${LAB}_`) && name !== CANARY_STREAM);
  },
});

describe('nats specifics', () => {
  let adapter: SystemAdapter;
  before(async () => {
    adapter = definition.create('nats', definition.parseOptions({ ...natsOptionsFromEnv(), maxMsgSize: 100_000 }), `${LAB}_x`);
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  test('msg-id drops duplicates at ingestion; a file above max_msg_size is a failed write, not dropped silently', async () => {
    const cell = makeCell({ variant: 'msg-id', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 8, size: 30_000, duplicates: { 2: 0, 3: 0, 5: 1 }, seed: 'nats-specific' });
    const big = { ...makeLabFiles({ count: 1, size: 150_000, seed: 'nats-big' })[0]!, id: 8, name: '00008.bin' };
    const outcome = await adapter.bulkInsert(iterate([...files, big]), cell);
    assert.deepEqual(outcome.acknowledged, files.map((f) => f.id));
    assert.deepEqual(outcome.failed.map((f) => f.id), [8]);
    assert.equal(await adapter.countStored(cell), files.length);
    const stored = (await adapter.probes(cell)[0]!.read()).bytes!;
    const unique = new Set(files.map((f) => f.sha256)).size * 30_000;
    assert.ok(stored >= unique && stored < unique * 1.1, `stream bytes ${stored} vs unique payload ${unique}`);
  });

  test('plain stores every copy', async () => {
    const cell = makeCell({ variant: 'plain', mode: 'blob' });
    await adapter.resetLab(cell);
    const content = pseudoRandomBytes('same', 10_000);
    const files = [0, 1, 2].map((id) => ({ id, name: `${id}`, size: content.length, sha256: sha256(content), payloadType: 'random_binary', content }));
    await adapter.bulkInsert(iterate(files), cell);
    assert.ok((await adapter.probes(cell)[0]!.read()).bytes! >= 30_000);
  });

  test('reference payloads: only a decimal sequence is accepted', () => {
    assert.equal(parseRefPayload(Buffer.from('42')), 42);
    for (const bad of ['', '0', '-1', '4x', ' 4', '1e3', '99999999999999999999']) assert.throws(() => parseRefPayload(Buffer.from(bad)), /not a sequence/);
  });

  test('msg-id: per-file deletes by a new process rebuild the references from the server', async () => {
    const cell = makeCell({ variant: 'msg-id', mode: 'blob' });
    await adapter.resetLab(cell);
    // Files 0..5: 2 and 3 copy 0 (content A), 5 copies 1 (content B), 4 is unique.
    const files = makeLabFiles({ count: 6, size: 20_000, duplicates: { 2: 0, 3: 0, 5: 1 }, seed: 'nats-reconnect' });
    assert.deepEqual((await adapter.bulkInsert(iterate(files), cell)).failed, []);
    const internal = (a: SystemAdapter): Promise<number | null> => a.probes(cell)[0]!.read().then((reading) => reading.bytes);
    const loaded = (await internal(adapter))!;
    await adapter.close();

    // Another adapter object = another process: it holds no memory of the inserts.
    const fresh = definition.create('nats', definition.parseOptions(natsOptionsFromEnv()), `${LAB}_x`);
    await fresh.connect();
    try {
      assert.equal(await fresh.countStored(cell), 6);
      await fresh.deleteOne(files[0]!, cell); // copies 2 and 3 still reference content A
      await fresh.deleteOne(files[5]!, cell); // file 1 still references content B
      assert.equal(await fresh.countStored(cell), 4);
      const afterShared = (await internal(fresh))!;
      assert.ok(loaded - afterShared < 1000, `content still referenced was deleted: ${loaded} → ${afterShared} bytes`);
      await fresh.close(); // and once more, mid-way
      await fresh.connect();
      for (const id of [2, 1, 3, 4]) await fresh.deleteOne(files[id]!, cell);
      assert.equal(await fresh.countStored(cell), 0);
      assert.equal(await internal(fresh), 0, 'contents left after their last reference was deleted');
      await assert.rejects(fresh.deleteOne(files[4]!, cell), /did nothing/);
    } finally {
      await fresh.close();
      await adapter.connect();
    }
  });
});

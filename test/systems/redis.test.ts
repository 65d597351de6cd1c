/** redis adapter against the real server of scripts/services.sh (env DEDUP_LAB_REDIS_*). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { definition, parseRedisInfo } from '../../src/systems/redis.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { iterate, makeCell, makeLabFiles } from './fixtures.js';
import { redisOptionsFromEnv, sha256 } from './kv-helpers.js';

const LAB = 'dedup_kv_redis';
const CANARY_KEY = 'dedup_kv_redis_canary:value'; // shares the lab's text, not its `<lab>:` prefix

function rawClient(): Redis {
  const options = redisOptionsFromEnv();
  return new Redis({ host: options.host as string, port: options.port as number, password: options.password as string });
}

runContractSuite({
  definitionId: 'redis',
  options: redisOptionsFromEnv,
  labName: LAB,
  canary: {
    async create() {
      const client = rawClient();
      await client.set(CANARY_KEY, Buffer.from('canary bytes \u0000\u00ff'));
      await client.quit();
    },
    async read() {
      const client = rawClient();
      const value = await client.getBuffer(CANARY_KEY);
      await client.quit();
      return value ? sha256(value) : 'missing';
    },
  },
  labExists: async () => {
    const client = rawClient();
    const [, keys] = await client.scan('0', 'MATCH', `${LAB}:*`, 'COUNT', 10_000);
    await client.quit();
    return keys.length > 0;
  },
});

describe('redis specifics', () => {
  let adapter: SystemAdapter;
  const files = makeLabFiles({ count: 10, size: 20_000, duplicates: { 3: 0, 4: 0, 7: 1 }, seed: 'redis-specific' });
  before(async () => {
    adapter = definition.create('redis', definition.parseOptions(redisOptionsFromEnv()), `${LAB}_x`);
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  test('bulk load (raw RESP pipeline): SETs the server refuses are failed writes, never acknowledged', async () => {
    // With maxmemory reached and noeviction, Redis answers `-OOM …` to each further SET.
    const cell = makeCell({ variant: 'by-id', mode: 'blob' });
    await adapter.resetLab(cell);
    const client = rawClient();
    const saved = await client.config('GET', 'maxmemory*');
    try {
      const used = Number(parseRedisInfo(await client.info('memory')).used_memory);
      const big = makeLabFiles({ count: 12, size: 256 * 1024, seed: 'redis-oom' });
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      await client.config('SET', 'maxmemory', String(used + 1024 * 1024)); // room for ≈ 4 of 12 files
      const outcome = await adapter.bulkInsert(iterate(big), cell);
      await client.config('SET', 'maxmemory', '0');
      assert.ok(outcome.failed.length > 0, 'some SETs were refused');
      assert.ok(outcome.failed.every((failure) => /OOM/.test(failure.error)), JSON.stringify(outcome.failed[0]));
      assert.equal(outcome.acknowledged.length + outcome.failed.length, big.length);
      // Exactly the acknowledged files are stored.
      assert.equal(await adapter.countStored(cell), outcome.acknowledged.length);
    } finally {
      const settings = saved as string[];
      for (let index = 0; index + 1 < settings.length; index += 2) await client.config('SET', settings[index]!, settings[index + 1]!);
      await client.quit();
    }
  });

  test('bulk load with a wrong password acknowledges nothing', async () => {
    const options = definition.parseOptions({ ...redisOptionsFromEnv(), password: 'definitely-wrong-password' });
    const cell = makeCell({ variant: 'by-id', mode: 'blob' });
    const { pipeSet } = await import('../../src/systems/redis-pipe.js');
    // Redis answers WRONGPASS, or drops an unauthenticated client that sends a large bulk (EPIPE):
    // either way the whole load fails and no file is acknowledged.
    const outcome = await pipeSet(
      { host: String(options.host), port: Number(options.port), password: 'definitely-wrong-password', db: 0, connectTimeoutMs: 5000 },
      (async function* () {
        for (const file of files) yield { key: `${LAB}_x:f:${file.id}`, file };
      })(),
      1024 * 1024,
      cell.signal,
    ).catch((error: Error) => ({ acknowledged: [] as number[], failed: [], thrown: error.message }));
    assert.deepEqual(outcome.acknowledged, []);
    assert.ok('thrown' in outcome, `the bulk load must fail as a whole: ${JSON.stringify(outcome).slice(0, 300)}`);
    assert.match(outcome.thrown, /AUTH failed|lost its connection/);
  });

  test('INFO parsing', () => {
    assert.deepEqual(parseRedisInfo('# Memory\r\nused_memory:123\r\nx:y:z\r\n'), { used_memory: '123', x: 'y:z' });
  });

  test('by-content keeps one value per content; deleting a duplicate keeps the content for the others', async () => {
    const cell = makeCell({ variant: 'by-content', mode: 'blob' });
    await adapter.resetLab(cell);
    await adapter.bulkInsert(iterate(files), cell);
    const client = rawClient();
    try {
      const contentKeys = (await client.keys(`${LAB}_x:c:*`)).length;
      assert.equal(contentKeys, new Set(files.map((f) => f.sha256)).size);
      await adapter.deleteOne(files[3]!, cell); // copy of 0: content must stay
      assert.ok(await client.exists(`${LAB}_x:c:${files[0]!.sha256}`));
      await adapter.deleteOne(files[0]!, cell);
      await adapter.deleteOne(files[4]!, cell); // last reference: content goes
      assert.equal(await client.exists(`${LAB}_x:c:${files[0]!.sha256}`), 0);
      assert.equal(await adapter.countStored(cell), files.length - 3);
    } finally {
      await client.quit();
    }
  });

  test('the internal probe equals MEMORY USAGE summed over the lab keys and shrinks to 0 after deletes', async () => {
    const cell = makeCell({ variant: 'by-id', mode: 'blob' });
    await adapter.resetLab(cell);
    for (const file of files) await adapter.insertOne(file, cell);
    const internal = adapter.probes(cell).find((p) => p.name === 'internal')!;
    const loaded = (await internal.read()).bytes!;
    assert.ok(loaded >= 10 * 20_000 && loaded < 10 * 20_000 * 1.2, `MEMORY USAGE ${loaded} for 200000 payload bytes`);
    for (const file of files) await adapter.deleteOne(file, cell);
    assert.equal((await internal.read()).bytes, 0);
    const memory = adapter.probes(cell).find((p) => p.name === 'memory')!;
    assert.ok((await memory.read()).bytes! > 0);
  });
});

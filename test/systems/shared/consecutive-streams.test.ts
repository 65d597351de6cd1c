/** consecutiveStreams: a file stream cut into consecutive request streams (ClickHouse's bulk INSERTs). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { consecutiveStreams } from '../../../src/systems/shared/stages.js';

async function* filesOf(sizes: number[]): AsyncIterable<{ id: number; size: number }> {
  for (const [id, size] of sizes.entries()) yield { id, size };
}

async function split(sizes: number[], budget: number): Promise<number[][]> {
  const streams: number[][] = [];
  for await (const stream of consecutiveStreams(filesOf(sizes), budget)) {
    const ids: number[] = [];
    for await (const file of stream) ids.push(file.id);
    streams.push(ids);
  }
  return streams;
}

it('a set below the budget is one stream, in order', async () => {
  assert.deepEqual(await split([10, 20, 30], 100), [[0, 1, 2]]);
});

it('a stream ends after the file that reaches the budget; every file is sent exactly once', async () => {
  assert.deepEqual(await split([40, 40, 40, 40, 40], 100), [[0, 1, 2], [3, 4]]);
  assert.deepEqual(await split([100, 1, 100, 1], 100), [[0], [1, 2], [3]]);
});

it('no files, no stream (no empty INSERT)', async () => {
  assert.deepEqual(await split([], 100), []);
});

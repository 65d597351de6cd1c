import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readOnce, readSettled, type Clock } from '../../src/measure/settle.js';

/** A fake clock: sleeping advances time instantly, so timeouts are tested without waiting. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

function scripted(values: (number | null | Error)[]) {
  let index = 0;
  return async () => {
    const value = values[Math.min(index++, values.length - 1)];
    if (value instanceof Error) throw value;
    return value === null ? { bytes: null, error: 'read failed' } : { bytes: value as number };
  };
}

describe('readSettled', () => {
  it('returns as soon as two consecutive reads agree, pausing only the poll interval', async () => {
    const clock = fakeClock();
    const result = await readSettled({ read: scripted([100, 200, 300, 300]), settleTimeoutMs: 10_000, pollIntervalMs: 50 }, clock);
    assert.deepEqual(result, { bytes: 300, settled: true, reads: 4 });
    assert.deepEqual(clock.slept, [50, 50, 50]);
  });

  it('pauses as long as a read took when a read is slower than the poll interval (a slow probe reads at most half the time)', async () => {
    let now = 0;
    const slept: number[] = [];
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    };
    const readTimes = [300, 5, 120.4, 0];
    const values = [1, 2, 3, 3];
    let index = 0;
    const read = async () => {
      now += readTimes[index]!; // the read itself takes this long
      return { bytes: values[index++]! };
    };
    const result = await readSettled({ read, settleTimeoutMs: 10_000, pollIntervalMs: 20 }, clock);
    assert.deepEqual(result, { bytes: 3, settled: true, reads: 4 });
    assert.deepEqual(slept, [300, 20, 121]); // read 1: 300 ms; read 2: 5 ms < the interval; read 3: 120.4 ms, rounded up
  });

  it('gives up at the timeout with settled:false and the last reading', async () => {
    const clock = fakeClock();
    let value = 0;
    const result = await readSettled({ read: async () => ({ bytes: (value += 10) }), settleTimeoutMs: 1000, pollIntervalMs: 100 }, clock);
    assert.equal(result.settled, false);
    assert.equal(result.bytes, 110);
    assert.equal(result.reads, 11);
  });

  it('never settles on two missing reads: missing is not a value', async () => {
    const clock = fakeClock();
    const result = await readSettled({ read: scripted([null]), settleTimeoutMs: 300, pollIntervalMs: 100 }, clock);
    assert.equal(result.settled, false);
    assert.equal(result.bytes, null);
    assert.equal(result.error, 'read failed');
  });

  it('recovers from a failed read in between', async () => {
    const result = await readSettled({ read: scripted([5, new Error('boom'), 7, 7]), settleTimeoutMs: 1000, pollIntervalMs: 10 }, fakeClock());
    assert.deepEqual(result, { bytes: 7, settled: true, reads: 4 });
  });

  it('stops polling when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    let value = 0;
    const result = await readSettled({ read: async () => ({ bytes: value++ }), settleTimeoutMs: 10_000, pollIntervalMs: 10 }, fakeClock(), controller.signal);
    assert.equal(result.settled, false);
    assert.equal(result.reads, 1);
  });
});

describe('readOnce', () => {
  it('turns a throwing probe, a negative size or NaN into a missing value', async () => {
    assert.deepEqual(await readOnce({ read: async () => Promise.reject(new Error('down')) }), { bytes: null, error: 'down' });
    assert.equal((await readOnce({ read: async () => ({ bytes: -1 }) })).bytes, null);
    assert.equal((await readOnce({ read: async () => ({ bytes: Number.NaN }) })).bytes, null);
    assert.deepEqual(await readOnce({ read: async () => ({ bytes: 0 }) }), { bytes: 0 });
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pendingUntilMs, sampleIntervalMs, timeToFinal, watchReclaim } from '../../src/measure/reclaim.js';
import type { Clock } from '../../src/measure/settle.js';

function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) };
}

/** Bytes as a function of the fake time: a disk that gives space back at `dropAtMs`. */
function diskDropping(clock: Clock, before: number, after: number, dropAtMs: number) {
  return async () => ({ bytes: clock.now() >= dropAtMs ? after : before });
}

describe('watchReclaim', () => {
  it('without a declared deferral ends after two equal samples: one poll interval, no fixed wait', async () => {
    const clock = fakeClock();
    const watch = await watchReclaim({ read: async () => ({ bytes: 1000 }), clock, windowMs: 600_000, deferrals: [], minIntervalMs: 20 });
    assert.deepEqual(watch.reclaimCurve, [[0, 1000], [20, 1000]]);
    assert.equal(watch.timeToReclaimMs, 0);
    assert.equal(watch.reclaimNote, null);
    assert.deepEqual(clock.slept, [20]);
  });

  it('does not call a plateau final while a declared deferral is pending, and times the drop', async () => {
    const clock = fakeClock();
    const read = diskDropping(clock, 5_000_000, 1_000_000, 33_000);
    const watch = await watchReclaim({ read, clock, windowMs: 600_000, deferrals: [{ name: 'old_parts_lifetime', durationMs: 60_000, source: 'test' }], minIntervalMs: 20 });
    // 60 s / 60 = one sample a second; the drop lands at the first sample at or after 33 s.
    assert.equal(watch.timeToReclaimMs, 33_000);
    assert.equal(watch.reclaimCurve.at(-1)?.[1], 1_000_000);
    assert.ok((watch.reclaimCurve.at(-1)?.[0] ?? 0) >= 60_000, 'kept sampling until the deferral passed');
  });

  it('keeps watching past the declared duration while the server says the space is still pending', async () => {
    const clock = fakeClock();
    const read = diskDropping(clock, 5_000_000, 1_000_000, 20_000);
    const deferral = { name: 'old_parts_lifetime', durationMs: 12_000, source: 'test', stillPending: async () => clock.now() < 20_000 };
    const watch = await watchReclaim({ read, clock, windowMs: 600_000, deferrals: [deferral], minIntervalMs: 100 });
    assert.equal(watch.timeToReclaimMs, 20_000);
    assert.equal(watch.reclaimCurve.at(-1)?.[1], 1_000_000);
  });

  it('a deferral that stays pending never holds the watch past the last deferral plus the probe settle timeout', async () => {
    const clock = fakeClock();
    const deferral = { name: 'old_parts_lifetime', durationMs: 12_000, source: 'test', stillPending: async () => true };
    const watch = await watchReclaim({ read: async () => ({ bytes: 5_000_000 }), clock, windowMs: 600_000, deferrals: [deferral], minIntervalMs: 100, settleTimeoutMs: 30_000 });
    assert.equal(watch.timeToReclaimMs, null);
    assert.ok(clock.now() <= 42_000, `bounded: ended at ${clock.now()} ms`);
    assert.match(watch.reclaimNote ?? '', /not reclaimed within/);
  });

  it('is null with "not reclaimed within W s" when the window ends first', async () => {
    const clock = fakeClock();
    const read = diskDropping(clock, 5_000_000, 1_000_000, 900_000);
    const watch = await watchReclaim({ read, clock, windowMs: 10_000, deferrals: [{ name: 'file.delete.delay.ms', durationMs: 60_000, source: 'test' }], minIntervalMs: 100 });
    assert.equal(watch.timeToReclaimMs, null);
    assert.match(watch.reclaimNote ?? '', /^not reclaimed within 10 s \(still pending: file\.delete\.delay\.ms 60 s\)/);
    assert.ok(clock.now() <= 10_000);
  });

  it('past the last deferral a probe that never agrees is given only its settle timeout', async () => {
    const clock = fakeClock();
    let bytes = 0;
    const watch = await watchReclaim({ read: async () => ({ bytes: (bytes += 100_000) }), clock, windowMs: 600_000, deferrals: [], minIntervalMs: 100, settleTimeoutMs: 10_000 });
    assert.equal(watch.timeToReclaimMs, null);
    assert.match(watch.reclaimNote ?? '', /still changing after 10 s/);
    assert.ok(clock.now() <= 10_000);
  });

  it('records failed reads as missing, never as numbers', async () => {
    const clock = fakeClock();
    const watch = await watchReclaim({ read: async () => ({ bytes: null, error: 'down' }), clock, windowMs: 1000, deferrals: [], minIntervalMs: 100 });
    assert.deepEqual(watch.reclaimCurve, []);
    assert.equal(watch.timeToReclaimMs, null);
    assert.match(watch.reclaimNote ?? '', /could not be read/);
  });
});

describe('reclaim arithmetic', () => {
  it('timeToFinal is the first sample from which the curve stays at its last value', () => {
    assert.equal(timeToFinal([[0, 10_000_000], [1000, 10_000_000], [2000, 2_000_000], [3000, 2_000_000]]), 2000);
    // A disk that first grows (tombstones, mutated parts) and then gives it back.
    assert.equal(timeToFinal([[0, 5_000_000], [500, 9_000_000], [1500, 5_000_000], [2500, 5_000_000]]), 1500);
    assert.equal(timeToFinal([]), null);
  });
  it('pendingUntilMs takes the latest deferral; sampleIntervalMs stays within the probe interval and 5 s', () => {
    assert.equal(pendingUntilMs([]), 0);
    assert.equal(pendingUntilMs([{ name: 'a', durationMs: 5000, source: '' }, { name: 'b', durationMs: 90_000, source: '' }]), 90_000);
    assert.equal(sampleIntervalMs(0, 20), 20);
    assert.equal(sampleIntervalMs(60_000, 20), 1000);
    assert.equal(sampleIntervalMs(3_600_000, 20), 5000);
  });
});

/**
 * Unit tests of the deferral parsers and decisions (src/systems/shared/deferrals.ts) and of the
 * reclaim watch with a TTL beyond its window. The SeaweedFS answers below have the shape the
 * servers of scripts/services.sh give on /dir/status and a volume server's /status (trimmed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { watchReclaim } from '../../src/measure/reclaim.js';
import type { Clock } from '../../src/measure/settle.js';
import {
  collectionAwaitsVacuum,
  garbageLevel,
  gcTtlDeferral,
  gcTtlFromZoneSql,
  historyLength,
  innodbPurgeDeferral,
  seaweedDataNodes,
  seaweedVacuumDeferral,
  seaweedVolumes,
} from '../../src/systems/shared/deferrals.js';

const volume = (Collection: string, Size: number, DeletedByteCount: number, DeleteCount = DeletedByteCount > 0 ? 1 : 0) => ({ Collection, Size, DeletedByteCount, DeleteCount, Id: 1, FileCount: 3 });
const status = (...volumes: object[]) => ({ Version: '30GB 4.53', DiskStatuses: [], Volumes: volumes });
const dirStatus = { Topology: { Max: 45, DataCenters: [{ Id: 'DefaultDataCenter', Racks: [{ Id: 'DefaultRack', DataNodes: [{ Url: '127.0.0.1:58342', Volumes: 14 }, { Url: '127.0.0.1:58352' }] }] }] }, Version: '30GB 4.53' };

describe('SeaweedFS vacuum deferral', () => {
  it('finds every volume server in the master\'s /dir/status', () => {
    assert.deepEqual(seaweedDataNodes(dirStatus), ['127.0.0.1:58342', '127.0.0.1:58352']);
    assert.throws(() => seaweedDataNodes({ error: 'not leader' }), /no Topology\.DataCenters/);
  });

  it('reads every volume of a volume server\'s /status with its collection, size and garbage', () => {
    const volumes = seaweedVolumes(status(volume('lab-a', 1000, 400), volume('', 50, 0)));
    assert.deepEqual(volumes, [
      { collection: 'lab-a', size: 1000, deletedBytes: 400, deletedCount: 1 },
      { collection: '', size: 50, deletedBytes: 0, deletedCount: 0 },
    ]);
  });

  it('refuses an answer without volumes instead of reading it as "no garbage"', () => {
    assert.throws(() => seaweedVolumes({ error: 'not leader' }), /no Volumes in the answer/);
  });

  it('garbage level is deleted bytes over size; deletions without sizes count as all garbage; an empty volume has none', () => {
    assert.equal(garbageLevel({ collection: 'x', size: 1000, deletedBytes: 250, deletedCount: 2 }), 0.25);
    assert.equal(garbageLevel({ collection: 'x', size: 1000, deletedBytes: 0, deletedCount: 2 }), 1);
    assert.equal(garbageLevel({ collection: 'x', size: 0, deletedBytes: 0, deletedCount: 0 }), 0);
  });

  it('a collection awaits the automatic vacuum only when one of its own volumes is above the threshold', () => {
    const volumes = seaweedVolumes(status(volume('lab-a', 1000, 200), volume('lab-a', 1000, 310), volume('other', 1000, 900)));
    assert.equal(collectionAwaitsVacuum(volumes, 'lab-a', 0.3), true);
    assert.equal(collectionAwaitsVacuum(volumes, 'lab-a', 0.5), false);
    assert.equal(collectionAwaitsVacuum(volumes, 'lab-b', 0.3), false, "another collection's garbage is not the lab's");
  });

  it('states the interval and threshold and where they came from', async () => {
    const deferral = seaweedVacuumDeferral(840, 0.3, false, async () => true);
    assert.equal(deferral.durationMs, 840_000);
    assert.match(deferral.source, /SeaweedFS defaults \(-master\.vacuumIntervalSeconds 840, -master\.garbageThreshold 0\.3; not readable/);
    assert.match(seaweedVacuumDeferral(60, 0.1, true, async () => true).source, /^options \(-master\.vacuumIntervalSeconds 60, -master\.garbageThreshold 0\.1/);
    assert.equal(await deferral.stillPending?.(), true);
  });
});

describe('InnoDB purge deferral', () => {
  it('parses the history length as the driver returns it, null when the metric is missing', () => {
    assert.equal(historyLength([{ n: 17 }]), 17);
    assert.equal(historyLength([{ n: '3' }]), 3);
    assert.equal(historyLength([{ n: 5n }]), 5);
    assert.equal(historyLength([]), null);
    assert.equal(historyLength([{ n: null }]), null);
  });

  it('is declared only while the history is non-empty, with no fixed duration', () => {
    assert.deepEqual(innodbPurgeDeferral(0, async () => false), []);
    assert.deepEqual(innodbPurgeDeferral(null, async () => false), []);
    const [deferral] = innodbPurgeDeferral(12, async () => true);
    assert.ok(deferral);
    assert.equal(deferral.durationMs, 0);
    assert.match(deferral.source, /trx_rseg_history_len = 12/);
  });
});

describe('CockroachDB GC TTL deferral', () => {
  const zone = `ALTER TABLE lab.public.blobs CONFIGURE ZONE USING\n\trange_min_bytes = 134217728,\n\trange_max_bytes = 536870912,\n\tgc.ttlseconds = 600,\n\tnum_replicas = 3`;

  it('reads gc.ttlseconds from raw_config_sql, null when absent', () => {
    assert.equal(gcTtlFromZoneSql(zone), 600);
    assert.equal(gcTtlFromZoneSql('ALTER RANGE default CONFIGURE ZONE USING GC.TTLSECONDS=14400'), 14_400);
    assert.equal(gcTtlFromZoneSql('ALTER RANGE default CONFIGURE ZONE USING num_replicas = 3'), null);
  });

  it('falls back to the documented default, saying so, and never frees sooner than the TTL', () => {
    const read = gcTtlDeferral(600, 'SHOW ZONE CONFIGURATION FROM TABLE x');
    assert.deepEqual([read.durationMs, read.notBefore, read.source], [600_000, true, 'SHOW ZONE CONFIGURATION FROM TABLE x']);
    const fallback = gcTtlDeferral(null, 'SHOW ZONE CONFIGURATION FROM TABLE x');
    assert.equal(fallback.durationMs, 14_400_000);
    assert.match(fallback.source, /CockroachDB default \(14400 s since v23\.1; 90000 s before\)/);
  });
});

describe('reclaim watch with a TTL beyond its window', () => {
  function fakeClock(): Clock {
    let now = 0;
    return { now: () => now, sleep: async (ms) => void (now += ms) };
  }

  it('does not wait 4 h: ends once the probe agrees and says the TTL exceeds the window', async () => {
    const clock = fakeClock();
    const watch = await watchReclaim({ read: async () => ({ bytes: 8_000_000 }), clock, windowMs: 600_000, deferrals: [gcTtlDeferral(null, 'zone')], minIntervalMs: 50 });
    assert.equal(watch.timeToReclaimMs, null);
    assert.equal(watch.reclaimNote, 'pending: GC TTL 14400 s exceeds the 600 s window');
    assert.ok(clock.now() < 60_000, `ended after ${clock.now()} ms of fake time`);
  });

  it('a purge still pending when the window ends is named as pending, not as "still changing"', async () => {
    const clock = fakeClock();
    const watch = await watchReclaim({ read: async () => ({ bytes: 4_000_000 }), clock, windowMs: 2_000, deferrals: innodbPurgeDeferral(7, async () => true), minIntervalMs: 50 });
    assert.equal(watch.timeToReclaimMs, null);
    assert.equal(watch.reclaimNote, 'not reclaimed within 2 s (still pending: innodb purge 0 s)');
  });

  it('a vacuum the server reports done ends the watch before the 840 s sweep interval', async () => {
    const clock = fakeClock();
    const read = async () => ({ bytes: clock.now() >= 30_000 ? 1_000_000 : 6_000_000 });
    const deferral = seaweedVacuumDeferral(840, 0.3, false, async () => clock.now() < 30_000);
    const watch = await watchReclaim({ read, clock, windowMs: 600_000, deferrals: [deferral], minIntervalMs: 50 });
    assert.equal(watch.reclaimNote, null);
    assert.equal(watch.timeToReclaimMs, 30_000);
    assert.ok(clock.now() < 40_000, `ended at ${clock.now()} ms, not at the sweep interval`);
  });

  it('a TTL inside the window is waited for like any deferral', async () => {
    const clock = fakeClock();
    const read = async () => ({ bytes: clock.now() >= 100_000 ? 1_000 : 9_000_000 });
    const watch = await watchReclaim({ read, clock, windowMs: 600_000, deferrals: [gcTtlDeferral(120, 'zone')], minIntervalMs: 50 });
    assert.equal(watch.reclaimNote, null);
    assert.equal(watch.reclaimCurve.at(-1)?.[1], 1_000);
    assert.ok((watch.timeToReclaimMs ?? 0) >= 100_000);
  });
});
